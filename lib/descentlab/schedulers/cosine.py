r"""CosineAnnealingLR: half a cosine from the initial learning rate down to a floor."""

from __future__ import annotations

import math

import numpy as np

from .. import _checks
from .scheduler import LRScheduler, _result, _times

__all__ = ["CosineAnnealingLR", "cosine_annealing"]


class CosineAnnealingLR(LRScheduler):
    r"""Anneal the learning rate along a cosine, from :math:`\eta_0` at step 0
    to :math:`\eta_{\min}` at step :math:`T_{\max}`.

    .. math::
        \eta_t = \eta_{\min} + \tfrac12 (\eta_0 - \eta_{\min})
                 \left(1 + \cos\frac{\pi t}{T_{\max}}\right)

    This is SGDR without the restarts (Loshchilov & Hutter, *SGDR: Stochastic
    Gradient Descent with Warm Restarts*, ICLR 2017).  Past :math:`T_{\max}`
    the cosine carries on, back up towards :math:`\eta_0`, as in torch.

    As in torch the rule is chainable:

    .. math::
        \eta_{t} = \eta_{\min} + (\eta_{t-1} - \eta_{\min})\,
            \frac{1 + \cos(\pi t / T_{\max})}{1 + \cos(\pi (t-1) / T_{\max})},

    except at the step after a trough, where the denominator vanishes and
    torch adds :math:`\tfrac12(\eta_0 - \eta_{\min})(1 - \cos(\pi/T_{\max}))`.
    The stepped values equal :func:`cosine_annealing` up to roundoff.

    Args:
        optimizer: a descentlab optimizer.
        T_max: :math:`T_{\max} \ge 1`, the number of steps down.
        eta_min: :math:`\eta_{\min} \ge 0`, the floor.
        last_epoch: index of the last step; -1 starts the schedule.
    """

    def __init__(self, optimizer, T_max, eta_min=0.0, last_epoch=-1):
        self.T_max = _checks.integer(T_max, "T_max", "CosineAnnealingLR", minimum=1)
        self.eta_min = _checks.nonnegative(eta_min, "eta_min", "CosineAnnealingLR")
        super().__init__(optimizer, last_epoch)

    def _next(self, epoch, initial):
        lr, base, eta_min, T = self.optimizer.lr, self.base_lrs[0], self.eta_min, self.T_max
        if initial:
            return lr, None
        if (epoch - 1 - T) % (2 * T) == 0:
            return lr + (base - eta_min) * (1 - math.cos(math.pi / T)) / 2, None
        return ((1 + math.cos(math.pi * epoch / T)) / (1 + math.cos(math.pi * (epoch - 1) / T))
                * (lr - eta_min) + eta_min), None

    def _at_restart(self):
        # torch's closed form at step 0
        base, eta_min = self.base_lrs[0], self.eta_min
        return eta_min + (base - eta_min) * (1 + math.cos(math.pi * 0 / self.T_max)) / 2, None


def cosine_annealing(t, base_lr, T_max, eta_min=0.0):
    r"""CosineAnnealingLR in closed form:
    :math:`\eta_{\min} + \tfrac12(\eta_0 - \eta_{\min})(1 + \cos(\pi t/T_{\max}))`."""
    t, scalar = _times(t, "cosine_annealing")
    base_lr = _checks.nonnegative(base_lr, "base_lr", "cosine_annealing")
    T_max = _checks.integer(T_max, "T_max", "cosine_annealing", minimum=1)
    eta_min = _checks.nonnegative(eta_min, "eta_min", "cosine_annealing")
    return _result(eta_min + (base_lr - eta_min) * (1 + np.cos(np.pi * t / T_max)) / 2, scalar)
