r"""Learning-rate schedulers with torch.optim.lr_scheduler's names, arguments
and arithmetic, driving descentlab optimizers.

::

    opt = SGD([w], lr=0.1, momentum=0.9)
    sched = StepLR(opt, step_size=30, gamma=0.1)
    for epoch in range(100):
        opt.step(grads(w))
        sched.step()            # ReduceLROnPlateau: sched.step(val_loss)

A scheduler sets ``opt.lr`` (and, for CyclicLR and OneCycleLR, the momentum
or ``betas[0]``) to exactly the floats torch puts in ``param_groups[0]``.
Each module holds one family: its classes and their closed forms, pure
functions of the step that take numpy arrays, for plotting::

    t = np.arange(100)
    plt.plot(t, cosine_annealing(t, base_lr=0.1, T_max=100))

The course adds the classic decays of stochastic approximation, which torch
does not have: exponential (rate form), halving, inverse-time and power.
"""

from .classic import (ExponentialDecayLR, HalvingLR, InverseTimeLR, PowerLR, exponential_decay,
                      halving, inverse_time, power_decay)
from .cosine import CosineAnnealingLR, cosine_annealing
from .cyclic import CyclicLR, cyclic
from .exponential import ExponentialLR, geometric_decay
from .lambda_lr import LambdaLR
from .linear import LinearLR, linear_ramp
from .one_cycle import OneCycleLR, one_cycle, one_cycle_momentum
from .plateau import ReduceLROnPlateau
from .scheduler import LRScheduler
from .sequential import SequentialLR, sequential
from .step import MultiStepLR, StepLR, multistep_decay, step_decay
from .warm_restarts import CosineAnnealingWarmRestarts, cosine_warm_restarts

#: The classes that mirror torch.optim.lr_scheduler, by torch's name.
TORCH_SCHEDULERS = ("StepLR", "MultiStepLR", "ExponentialLR", "LambdaLR", "CosineAnnealingLR",
                    "CosineAnnealingWarmRestarts", "LinearLR", "CyclicLR", "OneCycleLR",
                    "ReduceLROnPlateau", "SequentialLR")
#: Course extras with no torch counterpart.
EXTRAS = ("ExponentialDecayLR", "HalvingLR", "InverseTimeLR", "PowerLR")
#: Closed forms: pure functions of the step, vectorised over numpy arrays.
CLOSED_FORMS = ("step_decay", "multistep_decay", "geometric_decay", "cosine_annealing",
                "cosine_warm_restarts", "linear_ramp", "cyclic", "one_cycle",
                "one_cycle_momentum", "sequential",
                "exponential_decay", "halving", "inverse_time", "power_decay")

__all__ = ["LRScheduler", *TORCH_SCHEDULERS, *EXTRAS, *CLOSED_FORMS]
