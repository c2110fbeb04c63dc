r"""LinearLR: scale the learning rate by a factor that moves linearly, e.g. a warm-up."""

from __future__ import annotations

import numpy as np

from .. import _checks
from .scheduler import LRScheduler, _result, _times

__all__ = ["LinearLR", "linear_ramp"]


def _factors(start_factor, end_factor, total_iters, owner):
    start = _checks.real(start_factor, "start_factor", owner)
    if not 0.0 < start <= 1.0:
        raise ValueError(f"{owner}: start_factor must lie in (0, 1], got {start_factor!r}")
    end = _checks.unit_interval(end_factor, "end_factor", owner, closed=True)
    total = _checks.integer(total_iters, "total_iters", owner, minimum=1)
    return start, end, total


class LinearLR(LRScheduler):
    r"""Multiply the initial learning rate by a factor that moves linearly
    from ``start_factor`` to ``end_factor`` over ``total_iters`` steps, then
    stays there.

    .. math::
        \eta_t = \eta_0 \left( f_0 + (f_1 - f_0)\, \frac{\min(t, T)}{T} \right)

    With :math:`f_0 < f_1 = 1` this is the linear learning-rate warm-up of
    Goyal et al., *Accurate, Large Minibatch SGD: Training ImageNet in 1 Hour*
    (2017), usually followed by a decay through :class:`SequentialLR`.

    As in torch the rule is chainable: step :math:`t \le T` multiplies the
    current learning rate by

    .. math::
        1 + \frac{f_1 - f_0}{T f_0 + (t-1)(f_1 - f_0)},

    the ratio of consecutive factors, so the stepped values equal
    :func:`linear_ramp` up to roundoff.  With ``end_factor=0`` that roundoff
    can take the last value a hair below zero (-1.8e-17 for
    :math:`\eta_0 = 1`), which torch keeps; descentlab optimizers refuse a
    negative rate, so it is set as 0 (any schedule's negative value within
    ``1e-12`` of its base rate is).

    Args:
        optimizer: a descentlab optimizer.
        start_factor: :math:`f_0 \in (0, 1]`.
        end_factor: :math:`f_1 \in [0, 1]`.
        total_iters: :math:`T \ge 1`, the length of the ramp.
        last_epoch: index of the last step; -1 starts the schedule.
    """

    def __init__(self, optimizer, start_factor=1.0 / 3, end_factor=1.0, total_iters=5,
                 last_epoch=-1):
        self.start_factor, self.end_factor, self.total_iters = _factors(
            start_factor, end_factor, total_iters, "LinearLR")
        super().__init__(optimizer, last_epoch)

    def _next(self, epoch, initial):
        lr = self.optimizer.lr
        if epoch == 0:
            return lr * self.start_factor, None
        if initial or epoch > self.total_iters:
            return lr, None
        slope = self.end_factor - self.start_factor
        return lr * (1.0 + slope / (self.total_iters * self.start_factor + (epoch - 1) * slope)), None

    def _at_restart(self):
        # torch's closed form at step 0
        return self.base_lrs[0] * (self.start_factor + (self.end_factor - self.start_factor)
                                   * min(self.total_iters, 0) / self.total_iters), None


def linear_ramp(t, base_lr, start_factor=1.0 / 3, end_factor=1.0, total_iters=5):
    r"""LinearLR in closed form:
    :math:`\eta_0\,(f_0 + (f_1 - f_0)\min(t, T)/T)`."""
    t, scalar = _times(t, "linear_ramp")
    base_lr = _checks.nonnegative(base_lr, "base_lr", "linear_ramp")
    start, end, total = _factors(start_factor, end_factor, total_iters, "linear_ramp")
    return _result(base_lr * (start + (end - start) * np.minimum(total, t) / total), scalar)
