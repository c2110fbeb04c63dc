r"""Piecewise-constant decay: StepLR and MultiStepLR.

The learning rate drops by a factor :math:`\gamma` at chosen steps and stays
flat in between: the classic "divide by 10 when progress stalls" recipe of
Krizhevsky, Sutskever & Hinton (2012) and He et al. (2016), fixed in advance.
"""

from __future__ import annotations

import numpy as np

from .. import _checks
from .scheduler import LRScheduler, _milestones, _result, _times

__all__ = ["StepLR", "MultiStepLR", "step_decay", "multistep_decay"]


class StepLR(LRScheduler):
    r"""Multiply the learning rate by :math:`\gamma` every ``step_size`` steps.

    .. math::
        \eta_t = \eta_0\, \gamma^{\lfloor t / s \rfloor}

    As in torch the rule is chainable: at each multiple of :math:`s` the
    optimizer's *current* learning rate is multiplied by :math:`\gamma`, so
    the stepped values equal :func:`step_decay` up to roundoff.

    Args:
        optimizer: a descentlab optimizer.
        step_size: :math:`s \ge 1`, the period of the decay.
        gamma: :math:`\gamma > 0`, the factor.
        last_epoch: index of the last step; -1 starts the schedule.
    """

    def __init__(self, optimizer, step_size, gamma=0.1, last_epoch=-1):
        self.step_size = _checks.integer(step_size, "step_size", "StepLR", minimum=1)
        self.gamma = _checks.positive(gamma, "gamma", "StepLR")
        super().__init__(optimizer, last_epoch)

    def _next(self, epoch, initial):
        lr = self.optimizer.lr
        if epoch == 0 or epoch % self.step_size != 0:
            return lr, None
        return lr * self.gamma, None

    def _at_restart(self):
        # torch's closed form at step 0: base_lr * gamma**0, exactly base_lr
        return self.base_lrs[0], None


class MultiStepLR(LRScheduler):
    r"""Multiply the learning rate by :math:`\gamma` at each milestone.

    .. math::
        \eta_t = \eta_0\, \gamma^{\#\{m_i \le t\}}

    Args:
        optimizer: a descentlab optimizer.
        milestones: strictly increasing step indices :math:`m_1 < m_2 < \dots`,
            each >= 1.  (torch also accepts repeats, which apply
            :math:`\gamma` twice; write the product into ``gamma`` instead.)
        gamma: :math:`\gamma > 0`, the factor.
        last_epoch: index of the last step; -1 starts the schedule.
    """

    def __init__(self, optimizer, milestones, gamma=0.1, last_epoch=-1):
        self.milestones = _milestones(milestones, "milestones", "MultiStepLR")
        self.gamma = _checks.positive(gamma, "gamma", "MultiStepLR")
        super().__init__(optimizer, last_epoch)

    def _next(self, epoch, initial):
        lr = self.optimizer.lr
        if epoch not in self.milestones:
            return lr, None
        return lr * self.gamma, None

    def _at_restart(self):
        # torch's closed form at step 0; milestones are >= 1, so gamma**0
        return self.base_lrs[0], None


def step_decay(t, base_lr, step_size, gamma=0.1):
    r"""StepLR in closed form: :math:`\eta_0\,\gamma^{\lfloor t/s \rfloor}`.

    ``t`` is a step index or an array of them (>= 0); returns a float or an
    array of the same shape.
    """
    t, scalar = _times(t, "step_decay")
    base_lr = _checks.nonnegative(base_lr, "base_lr", "step_decay")
    step_size = _checks.integer(step_size, "step_size", "step_decay", minimum=1)
    gamma = _checks.positive(gamma, "gamma", "step_decay")
    return _result(base_lr * gamma ** (t // step_size), scalar)


def multistep_decay(t, base_lr, milestones, gamma=0.1):
    r"""MultiStepLR in closed form: :math:`\eta_0\,\gamma^{\#\{m_i \le t\}}`."""
    t, scalar = _times(t, "multistep_decay")
    base_lr = _checks.nonnegative(base_lr, "base_lr", "multistep_decay")
    milestones = _milestones(milestones, "milestones", "multistep_decay")
    gamma = _checks.positive(gamma, "gamma", "multistep_decay")
    passed = np.searchsorted(np.asarray(milestones, dtype=np.float64), t, side="right")
    return _result(base_lr * gamma ** passed.astype(np.float64), scalar)
