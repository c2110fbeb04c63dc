r"""Geometric decay: ExponentialLR multiplies the learning rate by :math:`\gamma` every step."""

from __future__ import annotations

from .. import _checks
from .scheduler import LRScheduler, _result, _times

__all__ = ["ExponentialLR", "geometric_decay"]


class ExponentialLR(LRScheduler):
    r"""Multiply the learning rate by :math:`\gamma` after every step.

    .. math::
        \eta_t = \eta_0\, \gamma^{t} = \eta_0\, e^{-k t}, \qquad k = -\ln\gamma

    The same schedule as the course's :class:`ExponentialDecayLR`, written
    with a factor per step instead of a rate.  Chainable, as in torch: each
    step multiplies the optimizer's current learning rate, so the stepped
    values equal :func:`geometric_decay` up to roundoff.

    Args:
        optimizer: a descentlab optimizer.
        gamma: :math:`\gamma > 0`, the factor per step.
        last_epoch: index of the last step; -1 starts the schedule.
    """

    def __init__(self, optimizer, gamma, last_epoch=-1):
        self.gamma = _checks.positive(gamma, "gamma", "ExponentialLR")
        super().__init__(optimizer, last_epoch)

    def _next(self, epoch, initial):
        # torch: when resuming with last_epoch >= 0, the step taken at
        # construction must not decay one step ahead
        if initial:
            return self.optimizer.lr, None
        return self.optimizer.lr * self.gamma, None

    def _at_restart(self):
        # torch's closed form at step 0: base_lr * gamma**0, exactly base_lr
        return self.base_lrs[0], None


def geometric_decay(t, base_lr, gamma):
    r"""ExponentialLR in closed form: :math:`\eta_0\,\gamma^{t}`."""
    t, scalar = _times(t, "geometric_decay")
    base_lr = _checks.nonnegative(base_lr, "base_lr", "geometric_decay")
    gamma = _checks.positive(gamma, "gamma", "geometric_decay")
    return _result(base_lr * gamma ** t, scalar)
