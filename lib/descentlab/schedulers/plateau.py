r"""ReduceLROnPlateau: cut the learning rate when a monitored metric stops improving."""

from __future__ import annotations

import math

import numpy as np

from .. import _checks
from .scheduler import LRScheduler, _choice, _one, _optimizer

__all__ = ["ReduceLROnPlateau"]


class ReduceLROnPlateau(LRScheduler):
    r"""Multiply the learning rate by ``factor`` once the metric has not
    improved for more than ``patience`` steps.

    Call ``step(metric)`` once per evaluation, e.g. with the validation loss.
    In ``"min"`` mode a value :math:`a` improves on the best so far,
    :math:`a^\star`, when

    .. math::
        a < a^\star (1 - \tau) \quad (\text{"rel"}) \qquad\text{or}\qquad
        a < a^\star - \tau \quad (\text{"abs"}),

    and in ``"max"`` mode when :math:`a > a^\star(1+\tau)` or
    :math:`a > a^\star + \tau`, with :math:`\tau` the ``threshold``.  Each step
    that does not improve is a *bad* step; after ``patience + 1`` bad steps in
    a row the learning rate becomes

    .. math::
        \eta \leftarrow \max(\eta \cdot \text{factor},\ \eta_{\min}),

    unless that changes it by no more than ``eps``, and the count starts
    again.  For ``cooldown`` steps after a cut, bad steps are not counted.
    A NaN metric never improves, so it counts as a bad step, as in torch.

    This automates the hand-tuned rule of dividing the rate by 10 when the
    validation error stalls (Krizhevsky, Sutskever & Hinton, *ImageNet
    Classification with Deep Convolutional Neural Networks*, NeurIPS 2012).

    Args:
        optimizer: a descentlab optimizer.
        mode: ``"min"`` (a loss) or ``"max"`` (an accuracy).
        factor: the cut, in (0, 1).
        patience: bad steps tolerated before a cut, >= 0.
        threshold: :math:`\tau \ge 0`, the improvement that counts.
        threshold_mode: ``"rel"`` or ``"abs"``.
        cooldown: steps to wait after a cut before counting again, >= 0.
        min_lr: :math:`\eta_{\min} \ge 0`, the floor.
        eps: cuts smaller than this are skipped, >= 0.

    Unlike the other schedulers it takes no step when built and leaves the
    learning rate as it finds it.
    """

    def __init__(self, optimizer, mode="min", factor=0.1, patience=10, threshold=1e-4,
                 threshold_mode="rel", cooldown=0, min_lr=0, eps=1e-8):
        owner = "ReduceLROnPlateau"
        factor = _checks.real(factor, "factor", owner)
        if not 0.0 < factor < 1.0:
            raise ValueError(f"{owner}: factor must lie in (0, 1), got {factor!r}; "
                             "the new learning rate is lr * factor")
        optimizer = _optimizer(optimizer, owner)
        self.factor = factor
        self.optimizer = optimizer
        # torch remembers whether min_lr was one number or a list per group
        if isinstance(min_lr, (list, tuple)):
            self.default_min_lr = None
            self.min_lrs = [_one(min_lr, "min_lr", owner, _checks.nonnegative)]
        else:
            self.default_min_lr = _checks.nonnegative(min_lr, "min_lr", owner)
            self.min_lrs = [self.default_min_lr]
        self.patience = _checks.integer(patience, "patience", owner, minimum=0)
        self.cooldown = _checks.integer(cooldown, "cooldown", owner, minimum=0)
        self.eps = _checks.nonnegative(eps, "eps", owner)
        self.last_epoch = 0
        self._last_lr = [optimizer.lr]
        self.mode = _choice(mode, "mode", ("min", "max"), owner)
        self.threshold = _checks.nonnegative(threshold, "threshold", owner)
        self.threshold_mode = _choice(threshold_mode, "threshold_mode", ("rel", "abs"), owner)
        self.mode_worse = math.inf if self.mode == "min" else -math.inf
        self.best = self.mode_worse
        self.cooldown_counter = 0
        self.num_bad_epochs = 0

    @property
    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def is_better(self, a: float, best: float) -> bool:
        """Whether the metric value ``a`` improves on ``best``."""
        a, best = _metric(a, "a"), _metric(best, "best")
        if self.mode == "min" and self.threshold_mode == "rel":
            return a < best * (1.0 - self.threshold)
        if self.mode == "min":
            return a < best - self.threshold
        if self.threshold_mode == "rel":
            return a > best * (self.threshold + 1.0)
        return a > best + self.threshold

    def step(self, metrics) -> None:
        """Record one value of the monitored metric, and cut the learning
        rate if it has stalled."""
        current = _metric(metrics)
        self.last_epoch += 1
        if self.is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # bad steps during a cooldown do not count
        if self.num_bad_epochs > self.patience:
            self._reduce_lr()
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = [self.optimizer.lr]

    def _reduce_lr(self) -> None:
        old_lr = float(self.optimizer.lr)
        new_lr = max(old_lr * self.factor, self.min_lrs[0])
        if old_lr - new_lr > self.eps:
            self.optimizer.lr = new_lr

    def _next(self, epoch, initial):
        raise TypeError("ReduceLROnPlateau steps on a metric: call step(metric)")

    def _can_dry_run(self):
        return False


def _metric(value, name: str = "metrics") -> float:
    """A metric value as a float; NaN is allowed (it never improves)."""
    if isinstance(value, (str, bytes, bool, np.bool_)):
        raise TypeError(f"ReduceLROnPlateau: {name} must be a number, got {value!r}")
    try:
        return float(value)  # a number, a 0-d array, or a one-element tensor
    except OverflowError:  # an int or Fraction beyond the float range (found by the fuzz)
        raise ValueError(f"ReduceLROnPlateau: {name} is too large for a float") from None
    except (TypeError, ValueError):
        raise TypeError(f"ReduceLROnPlateau: {name} must be a number, got "
                        f"{type(value).__name__}") from None
