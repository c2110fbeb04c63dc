r"""CyclicLR: the learning rate goes back and forth between two bounds (Smith 2017)."""

from __future__ import annotations

import math

import numpy as np

from .. import _checks
from .scheduler import (LRScheduler, _choice, _epoch, _momentum_attr, _momentum_value, _one,
                        _optimizer, _restore_callable, _result, _saved_callable, _times,
                        _user_values)

__all__ = ["CyclicLR", "cyclic"]

MODES = ("triangular", "triangular2", "exp_range")
SCALE_MODES = ("cycle", "iterations")


def _half_cycles(step_size_up, step_size_down, owner):
    up = _checks.integer(step_size_up, "step_size_up", owner, minimum=1)
    down = up if step_size_down is None else _checks.integer(
        step_size_down, "step_size_down", owner, minimum=1)
    # torch works with them as floats
    total_size = float(up) + float(down)
    return total_size, float(up) / total_size


def _scale_args(mode, gamma, scale_fn, scale_mode, owner):
    mode = _choice(mode, "mode", MODES, owner)
    gamma = _checks.positive(gamma, "gamma", owner)
    if scale_fn is not None and not callable(scale_fn):
        raise TypeError(f"{owner}: scale_fn must be callable or None, got {scale_fn!r}")
    scale_mode = _choice(scale_mode, "scale_mode", SCALE_MODES, owner)
    if scale_fn is None:
        # the built-in policies fix their own scale_mode, as in torch
        scale_mode = "iterations" if mode == "exp_range" else "cycle"
    return mode, gamma, scale_mode


def _builtin_scale(mode, gamma, x):
    """The amplitude factor of the built-in policies, at cycle or step ``x``."""
    if mode == "triangular":
        return 1.0
    try:
        if mode == "triangular2":
            # torch writes 1 / 2.0 ** (x - 1), the same power of two wherever it
            # does not overflow: from cycle 1025 on (2050 steps at step_size_up=1)
            # it raised OverflowError, where this underflows to 0 (found by the fuzz)
            return 2.0 ** -(x - 1)
        return gamma ** x
    except OverflowError:  # e.g. gamma > 1 after many steps: the optimizer refuses an infinite lr
        return math.inf


class CyclicLR(LRScheduler):
    r"""Cycle the learning rate between ``base_lr`` and ``max_lr`` (Smith,
    *Cyclical Learning Rates for Training Neural Networks*, WACV 2017).

    With :math:`c = \lfloor 1 + t/(u+d) \rfloor` the cycle number and
    :math:`x = 1 + t/(u+d) - c \in [0, 1)` the position in it, the triangle

    .. math::
        h(x) = \begin{cases} x / r & x \le r \\ (x-1)/(r-1) & x > r \end{cases},
        \qquad r = \frac{u}{u+d},

    rises from 0 to 1 over :math:`u` steps and falls back over :math:`d`, and

    .. math::
        \eta_t = \eta_{\text{base}} + (\eta_{\max} - \eta_{\text{base}})\, h(x)\, s,
        \qquad
        \mu_t = \mu_{\max} - (\mu_{\max} - \mu_{\text{base}})\, h(x)\, s

    where the amplitude :math:`s` is 1 (``"triangular"``), :math:`2^{1-c}`
    (``"triangular2"``, halved every cycle), :math:`\gamma^{t}`
    (``"exp_range"``), or ``scale_fn`` of :math:`c` or of :math:`t` (per
    ``scale_mode``).  The momentum moves against the learning rate, as Smith
    (2018, *A disciplined approach to neural network hyper-parameters*)
    recommends: high momentum while the rate is low.  It is the optimizer's
    ``momentum`` (SGD, RMSprop), or ``betas[0]`` for the Adam family.

    Building the scheduler sets ``optimizer.lr`` to ``base_lr`` and the
    momentum to ``max_momentum``, as torch does.  Not chainable: every step
    is computed from the formula, which :func:`cyclic` evaluates on arrays.

    Args:
        optimizer: a descentlab optimizer.
        base_lr: :math:`\eta_{\text{base}} \ge 0`, the lower bound.
        max_lr: :math:`\eta_{\max} \ge 0`, the upper bound.
        step_size_up: :math:`u \ge 1`, steps in the rising half.
        step_size_down: :math:`d \ge 1`, steps in the falling half (default :math:`u`).
        mode: ``"triangular"``, ``"triangular2"`` or ``"exp_range"``.
        gamma: :math:`\gamma > 0` for ``"exp_range"``.
        scale_fn: a custom amplitude policy, :math:`0 \le s(x) \le 1`; it
            overrides ``mode``.
        scale_mode: ``"cycle"`` or ``"iterations"``, what ``scale_fn`` is a
            function of (the built-in modes fix their own).
        cycle_momentum: cycle the momentum too.
        base_momentum: :math:`\mu_{\text{base}}`, the momentum at the peak learning rate.
        max_momentum: :math:`\mu_{\max}`, the momentum at the start of a cycle.
        last_epoch: index of the last step; -1 starts the schedule.

    Saving: like torch, :meth:`state_dict` stores a custom ``scale_fn`` only
    if it is a callable object (its attributes); rebuild with the same
    function before loading.
    """

    def __init__(self, optimizer, base_lr, max_lr, step_size_up=2000, step_size_down=None,
                 mode="triangular", gamma=1.0, scale_fn=None, scale_mode="cycle",
                 cycle_momentum=True, base_momentum=0.8, max_momentum=0.9, last_epoch=-1):
        owner = "CyclicLR"
        optimizer = _optimizer(optimizer, owner)
        base_lr = _one(base_lr, "base_lr", owner, _checks.nonnegative)
        max_lr = _one(max_lr, "max_lr", owner, _checks.nonnegative)
        total_size, step_ratio = _half_cycles(step_size_up, step_size_down, owner)
        mode, gamma, scale_mode = _scale_args(mode, gamma, scale_fn, scale_mode, owner)
        cycle_momentum = _checks.boolean(cycle_momentum, "cycle_momentum", owner)
        last_epoch = _epoch(last_epoch, owner)
        use_beta1 = _momentum_attr(optimizer, owner) if cycle_momentum else False
        if cycle_momentum:
            base_m = _momentum_value(optimizer, use_beta1, base_momentum, "base_momentum", owner)
            max_m = _momentum_value(optimizer, use_beta1, max_momentum, "max_momentum", owner)
        else:
            base_m = _one(base_momentum, "base_momentum", owner, _checks.real)
            max_m = _one(max_momentum, "max_momentum", owner, _checks.real)

        if last_epoch == -1:
            optimizer.lr = base_lr
            if cycle_momentum:
                if use_beta1:
                    optimizer.betas = (max_m, optimizer.betas[1])
                else:
                    optimizer.momentum = max_m
        self.max_lrs = [max_lr]
        self.total_size = total_size
        self.step_ratio = step_ratio
        self.mode = mode
        self.gamma = gamma
        self._scale_fn_custom = scale_fn
        self.scale_mode = scale_mode
        self.cycle_momentum = cycle_momentum
        self.use_beta1 = use_beta1
        self.base_momentums = [base_m]
        self.max_momentums = [max_m]
        # The initial step runs with base_lrs = [optimizer.initial_lr], as
        # in torch, which only then sets them to base_lr.  The two differ
        # when another scheduler was built on this optimizer first.
        super().__init__(optimizer, last_epoch)
        self.base_lrs = [base_lr]

    def scale_fn(self, x):
        """The amplitude policy :math:`s` at cycle or step ``x``."""
        if self._scale_fn_custom is not None:
            return self._scale_fn_custom(x)
        return _builtin_scale(self.mode, self.gamma, x)

    def _next(self, epoch, initial):
        cycle = math.floor(1 + epoch / self.total_size)
        x = 1.0 + epoch / self.total_size - cycle
        if x <= self.step_ratio:
            scale_factor = x / self.step_ratio
        else:
            scale_factor = (x - 1) / (self.step_ratio - 1)
        at = cycle if self.scale_mode == "cycle" else epoch
        base_lr, max_lr = self.base_lrs[0], self.max_lrs[0]
        lr = base_lr + (max_lr - base_lr) * scale_factor * self._scale(at)
        if not self.cycle_momentum:
            return lr, None
        # scale_fn is called again, as torch does (it may keep state)
        base_m, max_m = self.base_momentums[0], self.max_momentums[0]
        return lr, max_m - (max_m - base_m) * scale_factor * self._scale(at)

    def _scale(self, at) -> float:
        # a custom scale_fn may return anything; it must be a number (as LambdaLR's)
        return _checks.real(self.scale_fn(at), f"scale_fn({at})", "CyclicLR")

    _not_plain = ("_scale_fn_custom",)

    def _can_dry_run(self):
        return self._scale_fn_custom is None

    def state_dict(self):
        state = self._plain_state("_scale_fn_custom")
        state["_scale_fn_custom"] = _saved_callable(self._scale_fn_custom)
        return state

    def load_state_dict(self, state_dict):
        state = self._checked_state(state_dict)
        attrs = state.pop("_scale_fn_custom")
        if attrs is not None:
            _restore_callable(self._scale_fn_custom, {}, "scale_fn", "CyclicLR")
        self.__dict__.update(state)
        _restore_callable(self._scale_fn_custom, attrs, "scale_fn", "CyclicLR")


def cyclic(t, base_lr, max_lr, step_size_up=2000, step_size_down=None, mode="triangular",
           gamma=1.0, scale_fn=None, scale_mode="cycle"):
    r"""CyclicLR's learning rate in closed form (see :class:`CyclicLR`).

    The momentum follows the same curve upside down: it is
    ``cyclic(t, max_momentum, base_momentum, ...)``.  A custom ``scale_fn``
    must accept numpy arrays (of cycle numbers, or of steps).
    """
    owner = "cyclic"
    t, scalar = _times(t, owner)
    base_lr = _checks.nonnegative(base_lr, "base_lr", owner)
    max_lr = _checks.nonnegative(max_lr, "max_lr", owner)
    total_size, step_ratio = _half_cycles(step_size_up, step_size_down, owner)
    mode, gamma, scale_mode = _scale_args(mode, gamma, scale_fn, scale_mode, owner)
    cycle = np.floor(1 + t / total_size)
    x = 1.0 + t / total_size - cycle
    scale_factor = np.where(x <= step_ratio, x / step_ratio, (x - 1) / (step_ratio - 1))
    at = cycle if scale_mode == "cycle" else t
    scale = (_user_values(scale_fn(at), "scale_fn", owner) if scale_fn is not None
             else _builtin_scale(mode, gamma, at))
    return _result(base_lr + (max_lr - base_lr) * scale_factor * scale, scalar)
