"""Interactive explorers for the lectures, one per module on a small shared base
(:mod:`._base`): the kernel holds the exact values, the sliders are views.

- :class:`SurfaceExplorer` (:mod:`.surface`): optimizers racing on a 2-D surface.
- :class:`MomentumExplorer` (:mod:`.momentum`): Goh's momentum explorer.
- :class:`TrainingExplorer` (:mod:`.training`): a real training run on sliders.
- :class:`ScheduleExplorer` (:mod:`.schedule`): a learning-rate schedule and the run it produces.
- :class:`BatchSizeExplorer` (:mod:`.batch_size`): batch size and lr scaling, three clocks.
- :class:`SearchExplorer` (:mod:`.search`): grid against random search.
"""

from ._base import Control
from .batch_size import BatchSizeExplorer
from .momentum import MomentumExplorer, heavy_ball_rates
from .search import SearchExplorer
from .surface import DEFAULT_LRS, ENTRIES, Entry, SurfaceExplorer
from .schedule import SCHEDULES, ScheduleExplorer
from .training import TrainingExplorer

__all__ = ["Control", "SurfaceExplorer", "Entry", "ENTRIES", "DEFAULT_LRS", "MomentumExplorer",
           "TrainingExplorer", "ScheduleExplorer", "SCHEDULES", "heavy_ball_rates",
           "BatchSizeExplorer", "SearchExplorer"]
