r"""The course's classic decay schedules, with no torch counterpart.

Stochastic approximation needs step sizes that shrink, but not too fast:
Robbins & Monro (*A Stochastic Approximation Method*, Ann. Math. Statist.
22(3), 1951) ask for

.. math::
    \sum_t \eta_t = \infty, \qquad \sum_t \eta_t^2 < \infty,

which :math:`1/t` and :math:`t^{-p}` with :math:`\tfrac12 < p \le 1` satisfy,
while exponential and step decays stop moving after a while (their sum is
finite), which is what makes them practical for a fixed budget.  Goodfellow,
Bengio & Courville (*Deep Learning*, MIT Press 2016, §8.3.1) discuss why SGD
needs a decaying rate at all: the gradient noise does not vanish at a minimum.

Each class is a scheduler like the torch ones (build it, call ``step()``
after ``optimizer.step``) and computes every step from its formula, so the
stepped values *are* the closed form; the functions below evaluate it on
arrays, for plotting.  :math:`t` is the step index, 0 when the scheduler is
built.
"""

from __future__ import annotations

import math

import numpy as np

from .. import _checks
from .scheduler import LRScheduler, _result, _times

__all__ = ["ExponentialDecayLR", "HalvingLR", "InverseTimeLR", "PowerLR",
           "exponential_decay", "halving", "inverse_time", "power_decay"]


class ExponentialDecayLR(LRScheduler):
    r"""Exponential decay at a continuous rate :math:`k`.

    .. math::
        \eta_t = \eta_0\, e^{-k t}

    The same curve as torch's :class:`ExponentialLR` with
    :math:`\gamma = e^{-k}`; the rate form makes the half-life plain,
    :math:`\ln 2 / k` steps.  See Goodfellow et al. (2016), §8.3.1.

    Args:
        optimizer: a descentlab optimizer.
        decay_rate: :math:`k \ge 0` (0 keeps the rate constant).
        last_epoch: index of the last step; -1 starts the schedule.
    """

    def __init__(self, optimizer, decay_rate, last_epoch=-1):
        self.decay_rate = _checks.nonnegative(decay_rate, "decay_rate", "ExponentialDecayLR")
        super().__init__(optimizer, last_epoch)

    def _next(self, epoch, initial):
        return self.base_lrs[0] * math.exp(-self.decay_rate * epoch), None


class HalvingLR(LRScheduler):
    r"""Halve the learning rate every ``step_size`` steps.

    .. math::
        \eta_t = \eta_0\, 2^{-\lfloor t / s \rfloor}

    The rule of thumb "halve the rate every few epochs" (e.g. Bengio,
    *Practical Recommendations for Gradient-Based Training of Deep
    Architectures*, 2012): :class:`StepLR` with :math:`\gamma = 1/2`, whose
    values are exactly these, since halving is exact in floating point.

    Args:
        optimizer: a descentlab optimizer.
        step_size: :math:`s \ge 1`, the steps between halvings.
        last_epoch: index of the last step; -1 starts the schedule.
    """

    def __init__(self, optimizer, step_size, last_epoch=-1):
        self.step_size = _checks.integer(step_size, "step_size", "HalvingLR", minimum=1)
        super().__init__(optimizer, last_epoch)

    def _next(self, epoch, initial):
        return self.base_lrs[0] * 0.5 ** (epoch // self.step_size), None


class InverseTimeLR(LRScheduler):
    r"""Inverse-time decay, the :math:`1/t` schedule of stochastic approximation.

    .. math::
        \eta_t = \frac{\eta_0}{1 + k t}

    It meets the Robbins–Monro conditions (Robbins & Monro 1951), and is the
    schedule Bottou recommends for SGD on strongly convex problems, with
    :math:`k = \eta_0 \lambda` for a regulariser :math:`\lambda` (*Stochastic
    Gradient Descent Tricks*, in Neural Networks: Tricks of the Trade, 2012).

    Args:
        optimizer: a descentlab optimizer.
        decay_rate: :math:`k \ge 0`; the rate halves after :math:`1/k` steps.
        last_epoch: index of the last step; -1 starts the schedule.
    """

    def __init__(self, optimizer, decay_rate, last_epoch=-1):
        self.decay_rate = _checks.nonnegative(decay_rate, "decay_rate", "InverseTimeLR")
        super().__init__(optimizer, last_epoch)

    def _next(self, epoch, initial):
        return self.base_lrs[0] / (1.0 + self.decay_rate * epoch), None


class PowerLR(LRScheduler):
    r"""Power decay, e.g. :math:`0.1\, t^{-0.3}`.

    .. math::
        \eta_t = \eta_0\, (t + 1)^{-p}

    The step is counted from 1 (:math:`t + 1`), so the first learning rate
    is :math:`\eta_0` rather than :math:`0^{-p} = \infty`; the next is
    :math:`\eta_0 2^{-p}`.  With :math:`\tfrac12 < p \le 1` this meets the
    Robbins–Monro conditions; smaller :math:`p` decays more slowly and,
    with iterate averaging, still converges at the optimal rate (Polyak &
    Juditsky, *Acceleration of Stochastic Approximation by Averaging*, SIAM J.
    Control Optim. 30(4), 1992; Moulines & Bach, *Non-Asymptotic Analysis of
    Stochastic Approximation Algorithms for Machine Learning*, NeurIPS 2011).

    Args:
        optimizer: a descentlab optimizer.
        power: :math:`p \ge 0` (0 keeps the rate constant).
        last_epoch: index of the last step; -1 starts the schedule.
    """

    def __init__(self, optimizer, power, last_epoch=-1):
        self.power = _checks.nonnegative(power, "power", "PowerLR")
        super().__init__(optimizer, last_epoch)

    def _next(self, epoch, initial):
        return self.base_lrs[0] * (epoch + 1.0) ** -self.power, None


def exponential_decay(t, base_lr, decay_rate):
    r"""ExponentialDecayLR in closed form: :math:`\eta_0 e^{-k t}`."""
    t, scalar = _times(t, "exponential_decay")
    base_lr = _checks.nonnegative(base_lr, "base_lr", "exponential_decay")
    k = _checks.nonnegative(decay_rate, "decay_rate", "exponential_decay")
    return _result(base_lr * np.exp(-k * t), scalar)


def halving(t, base_lr, step_size):
    r"""HalvingLR in closed form: :math:`\eta_0\, 2^{-\lfloor t/s \rfloor}`."""
    t, scalar = _times(t, "halving")
    base_lr = _checks.nonnegative(base_lr, "base_lr", "halving")
    step_size = _checks.integer(step_size, "step_size", "halving", minimum=1)
    return _result(base_lr * 0.5 ** (t // step_size), scalar)


def inverse_time(t, base_lr, decay_rate):
    r"""InverseTimeLR in closed form: :math:`\eta_0 / (1 + k t)`."""
    t, scalar = _times(t, "inverse_time")
    base_lr = _checks.nonnegative(base_lr, "base_lr", "inverse_time")
    k = _checks.nonnegative(decay_rate, "decay_rate", "inverse_time")
    return _result(base_lr / (1.0 + k * t), scalar)


def power_decay(t, base_lr, power):
    r"""PowerLR in closed form: :math:`\eta_0 (t+1)^{-p}`, the step counted from 1."""
    t, scalar = _times(t, "power_decay")
    base_lr = _checks.nonnegative(base_lr, "base_lr", "power_decay")
    p = _checks.nonnegative(power, "power", "power_decay")
    return _result(base_lr * (t + 1.0) ** -p, scalar)
