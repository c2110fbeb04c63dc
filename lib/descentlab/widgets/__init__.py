"""Interactive explorers for the lectures, one per module on a small shared base
(:mod:`._base`): the kernel holds the exact values, the sliders are views.

- :class:`SurfaceExplorer` (:mod:`.surface`): optimizers racing on a 2-D surface.
- :class:`MomentumExplorer` (:mod:`.momentum`): Goh's momentum explorer.
- :class:`TrainingExplorer` (:mod:`.training`): a real training run on sliders.
- :class:`ScheduleExplorer` (:mod:`.schedule`): a learning-rate schedule and the run it produces.
"""

from ._base import Control
from .momentum import MomentumExplorer, heavy_ball_rates
from .surface import DEFAULT_LRS, ENTRIES, Entry, SurfaceExplorer
from .schedule import SCHEDULES, ScheduleExplorer
from .training import TrainingExplorer

__all__ = ["Control", "SurfaceExplorer", "Entry", "ENTRIES", "DEFAULT_LRS", "MomentumExplorer",
           "TrainingExplorer", "ScheduleExplorer", "SCHEDULES", "heavy_ball_rates"]
