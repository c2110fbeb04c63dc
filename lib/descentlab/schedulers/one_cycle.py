r"""OneCycleLR: one warm-up to a large learning rate, then a long anneal (Smith & Topin 2019)."""

from __future__ import annotations

import math

import numpy as np

from .. import _checks
from .scheduler import (LRScheduler, _choice, _epoch, _momentum_attr, _momentum_value, _one,
                        _optimizer, _result, _times)

__all__ = ["OneCycleLR", "one_cycle", "one_cycle_momentum"]

STRATEGIES = ("cos", "linear")


def _annealing_cos(start, end, pct, cos=math.cos):
    """Cosine from ``start`` to ``end`` as ``pct`` goes from 0 to 1 (torch's arithmetic)."""
    cos_out = cos(math.pi * pct) + 1
    return end + (start - end) / 2.0 * cos_out


def _annealing_linear(start, end, pct, cos=None):
    return (end - start) * pct + start


_ANNEAL = {"cos": _annealing_cos, "linear": _annealing_linear}


def _total_steps(total_steps, epochs, steps_per_epoch, owner):
    if total_steps is not None:
        return _checks.integer(total_steps, "total_steps", owner, minimum=1)
    if epochs is not None and steps_per_epoch is not None:
        return (_checks.integer(epochs, "epochs", owner, minimum=1)
                * _checks.integer(steps_per_epoch, "steps_per_epoch", owner, minimum=1))
    raise ValueError(f"{owner}: give total_steps, or both epochs and steps_per_epoch "
                     f"(got total_steps={total_steps!r}, epochs={epochs!r}, "
                     f"steps_per_epoch={steps_per_epoch!r})")


def _phases(total_steps, pct_start, three_phase, owner):
    """torch's phase table: where each phase ends, and what it anneals between."""
    p = _checks.real(pct_start, "pct_start", owner)
    if not 0.0 < p < 1.0:
        raise ValueError(f"{owner}: pct_start must lie in (0, 1), got {pct_start!r}")
    three_phase = _checks.boolean(three_phase, "three_phase", owner)
    if three_phase and p > 0.5:
        raise ValueError(f"{owner}: with three_phase=True the warm-up and its mirror image "
                         f"take 2 * pct_start of the steps, so pct_start must be <= 0.5, "
                         f"got {pct_start!r}")
    T = total_steps
    if three_phase:
        phases = [
            dict(end_step=float(p * T) - 1, start_lr="initial_lr", end_lr="max_lr",
                 start_momentum="max_momentum", end_momentum="base_momentum"),
            dict(end_step=float(2 * p * T) - 2, start_lr="max_lr", end_lr="initial_lr",
                 start_momentum="base_momentum", end_momentum="max_momentum"),
            dict(end_step=T - 1, start_lr="initial_lr", end_lr="min_lr",
                 start_momentum="max_momentum", end_momentum="max_momentum"),
        ]
    else:
        phases = [
            dict(end_step=float(p * T) - 1, start_lr="initial_lr", end_lr="max_lr",
                 start_momentum="max_momentum", end_momentum="base_momentum"),
            dict(end_step=T - 1, start_lr="max_lr", end_lr="min_lr",
                 start_momentum="base_momentum", end_momentum="max_momentum"),
        ]
    start = 0.0
    for i, phase in enumerate(phases):
        if phase["end_step"] == start:
            # torch divides by the length of the phase: ZeroDivisionError
            raise ValueError(f"{owner}: pct_start={pct_start!r} with total_steps={T} gives "
                             f"phase {i + 1} of the cycle zero steps "
                             f"(pct_start * total_steps = {p * T!r} must not be 1)")
        start = phase["end_step"]
    return phases


def _locate(step, phases):
    """The phase that holds ``step``, and how far into it (``pct``)."""
    start_step = 0.0
    for i, phase in enumerate(phases):
        end_step = phase["end_step"]
        if step <= end_step or i == len(phases) - 1:
            return phase, (step - start_step) / (end_step - start_step)
        start_step = end_step
    raise AssertionError("unreachable")


class OneCycleLR(LRScheduler):
    r"""The 1cycle policy (Smith & Topin, *Super-Convergence: Very Fast
    Training of Neural Networks Using Large Learning Rates*, 2019).

    Over ``total_steps`` steps the learning rate rises from
    :math:`\eta_0 = \eta_{\max}/\text{div\_factor}` to :math:`\eta_{\max}`
    during the first ``pct_start`` of the steps, then anneals to
    :math:`\eta_{\min} = \eta_0/\text{final\_div\_factor}`.  With
    ``three_phase=True`` (the paper's form) it first comes back down to
    :math:`\eta_0` symmetrically, and only then anneals to :math:`\eta_{\min}`.
    Within a phase from :math:`a` to :math:`b`, at fraction :math:`p` of it,

    .. math::
        \text{cos:}\quad b + \frac{a - b}{2}\,(1 + \cos \pi p), \qquad
        \text{linear:}\quad a + (b - a)\, p .

    Phase :math:`k` ends at step :math:`e_1 = \text{pct\_start}\cdot T - 1`,
    :math:`e_2 = 2\,\text{pct\_start}\cdot T - 2` (three phases), and the last at
    :math:`T - 1`; step :math:`T` is the last one allowed, and stepping past it
    raises ValueError, as in torch.

    The momentum moves the other way, from ``max_momentum`` down to
    ``base_momentum`` while the rate rises, and back.  It is the optimizer's
    ``momentum`` (SGD, RMSprop), or ``betas[0]`` for the Adam family.
    Building the scheduler sets the momentum to ``max_momentum`` and the
    learning rate to :math:`\eta_0`, and records :math:`\eta_0` as the
    optimizer's ``initial_lr``.  Not chainable: :func:`one_cycle` and
    :func:`one_cycle_momentum` give the same values on arrays.

    Args:
        optimizer: a descentlab optimizer.
        max_lr: :math:`\eta_{\max} \ge 0`, the peak.
        total_steps: :math:`T \ge 1`; or give ``epochs`` and ``steps_per_epoch``.
        epochs, steps_per_epoch: :math:`T` = their product when ``total_steps`` is None.
        pct_start: the fraction of the steps spent warming up, in (0, 1)
            (at most 0.5 with three phases).
        anneal_strategy: ``"cos"`` or ``"linear"``.
        cycle_momentum: cycle the momentum too.
        base_momentum: the momentum at the peak learning rate.
        max_momentum: the momentum at the start and the end.
        div_factor: :math:`\eta_{\max}/\eta_0 > 0`.
        final_div_factor: :math:`\eta_0/\eta_{\min} > 0`.
        three_phase: use the paper's three phases instead of fastai's two.
        last_epoch: index of the last step; -1 starts the schedule.

    Where descentlab departs from torch:

    * Step ``total_steps``: the last phase ends at step :math:`T - 1`, and
      torch's formula extrapolates it one step further.  With the cosine that
      is harmless (it turns back up by a hair), and descentlab follows it.
      The linear ramp overshoots: below ``min_lr``, and below zero with the
      default factors, a rate descentlab optimizers refuse.  So with
      ``anneal_strategy="linear"`` the schedule holds its end values there
      (``min_lr``, ``max_momentum``).  No optimizer step uses them in the
      usual loop (``opt.step(); sched.step()``, ``total_steps`` times).
    * torch keeps ``max_lr``, ``min_lr`` and the momentum bounds in the
      optimizer's param_group, where a OneCycleLR or momentum-cycling CyclicLR
      built later on the same optimizer (say, the next scheduler of a
      SequentialLR) overwrites them, and this scheduler then follows the
      other's bounds.  descentlab optimizers have no room for them, so each
      OneCycleLR keeps its own, and follows its own arguments.
    * A ``pct_start`` that makes a phase zero steps long
      (``pct_start * total_steps == 1``) is refused when the scheduler is
      built; torch divides by zero when it gets there.
    """

    def __init__(self, optimizer, max_lr, total_steps=None, epochs=None, steps_per_epoch=None,
                 pct_start=0.3, anneal_strategy="cos", cycle_momentum=True, base_momentum=0.85,
                 max_momentum=0.95, div_factor=25.0, final_div_factor=1e4, three_phase=False,
                 last_epoch=-1):
        owner = "OneCycleLR"
        optimizer = _optimizer(optimizer, owner)
        total_steps = _total_steps(total_steps, epochs, steps_per_epoch, owner)
        phases = _phases(total_steps, pct_start, three_phase, owner)
        anneal_strategy = _choice(anneal_strategy, "anneal_strategy", STRATEGIES, owner)
        max_lr = _one(max_lr, "max_lr", owner, _checks.nonnegative)
        div_factor = _checks.positive(div_factor, "div_factor", owner)
        final_div_factor = _checks.positive(final_div_factor, "final_div_factor", owner)
        cycle_momentum = _checks.boolean(cycle_momentum, "cycle_momentum", owner)
        last_epoch = _epoch(last_epoch, owner)
        use_beta1 = _momentum_attr(optimizer, owner) if cycle_momentum else False
        if cycle_momentum:
            base_m = _momentum_value(optimizer, use_beta1, base_momentum, "base_momentum", owner)
            max_m = _momentum_value(optimizer, use_beta1, max_momentum, "max_momentum", owner)
        else:
            base_m = _one(base_momentum, "base_momentum", owner, _checks.real)
            max_m = _one(max_momentum, "max_momentum", owner, _checks.real)

        # torch keeps initial_lr, max_lr, min_lr and the momentum bounds in
        # the optimizer's param_group; descentlab optimizers have no room
        # for them, so the scheduler keeps all but initial_lr (which other
        # schedulers read) itself.
        initial_lr = max_lr / div_factor
        if last_epoch == -1:
            vars(optimizer)["initial_lr"] = initial_lr
            if cycle_momentum:
                if use_beta1:
                    optimizer.betas = (max_m, optimizer.betas[1])
                else:
                    optimizer.momentum = max_m
        self.total_steps = total_steps
        self._schedule_phases = phases
        self._anneal_func_type = anneal_strategy
        self.max_lrs = [max_lr]
        self.min_lrs = [initial_lr / final_div_factor]
        self.cycle_momentum = cycle_momentum
        self.use_beta1 = use_beta1
        self.base_momentums = [base_m]
        self.max_momentums = [max_m]
        super().__init__(optimizer, last_epoch)

    def _next(self, epoch, initial):
        if epoch > self.total_steps:
            raise ValueError(f"OneCycleLR: tried to step {epoch} times, but total_steps is "
                             f"{self.total_steps}; the cycle is over")
        ends = {"initial_lr": self.base_lrs[0], "max_lr": self.max_lrs[0],
                "min_lr": self.min_lrs[0], "base_momentum": self.base_momentums[0],
                "max_momentum": self.max_momentums[0]}
        anneal = _ANNEAL[self._anneal_func_type]
        phase, pct = _locate(epoch, self._schedule_phases)
        if self._anneal_func_type == "linear":
            pct = min(pct, 1.0)  # see "Step total_steps" in the docstring
        lr = anneal(ends[phase["start_lr"]], ends[phase["end_lr"]], pct)
        if not self.cycle_momentum:
            return lr, None
        return lr, anneal(ends[phase["start_momentum"]], ends[phase["end_momentum"]], pct)


def _closed(t, ends, total_steps, pct_start, anneal_strategy, three_phase, which, owner):
    t, scalar = _times(t, owner)
    if np.any(t > total_steps):
        raise ValueError(f"{owner}: t must be <= total_steps={total_steps}, got {t.max()!r}")
    phases = _phases(total_steps, pct_start, three_phase, owner)
    anneal = _ANNEAL[_choice(anneal_strategy, "anneal_strategy", STRATEGIES, owner)]
    out = np.empty_like(t)
    todo = np.ones(t.shape, dtype=bool)
    start_step = 0.0
    for i, phase in enumerate(phases):
        end_step = phase["end_step"]
        here = todo & ((t <= end_step) | (i == len(phases) - 1))
        pct = (t[here] - start_step) / (end_step - start_step)
        if anneal is _annealing_linear:
            pct = np.minimum(pct, 1.0)
        out[here] = anneal(ends[phase[f"start_{which}"]], ends[phase[f"end_{which}"]], pct,
                           cos=np.cos)
        todo &= ~here
        start_step = end_step
    return _result(out, scalar)


def one_cycle(t, max_lr, total_steps, pct_start=0.3, anneal_strategy="cos", div_factor=25.0,
              final_div_factor=1e4, three_phase=False):
    r"""OneCycleLR's learning rate in closed form, for steps
    :math:`0 \le t \le T` (see :class:`OneCycleLR`)."""
    owner = "one_cycle"
    total_steps = _checks.integer(total_steps, "total_steps", owner, minimum=1)
    max_lr = _checks.nonnegative(max_lr, "max_lr", owner)
    initial_lr = max_lr / _checks.positive(div_factor, "div_factor", owner)
    min_lr = initial_lr / _checks.positive(final_div_factor, "final_div_factor", owner)
    ends = {"initial_lr": initial_lr, "max_lr": max_lr, "min_lr": min_lr}
    return _closed(t, ends, total_steps, pct_start, anneal_strategy, three_phase, "lr", owner)


def one_cycle_momentum(t, total_steps, pct_start=0.3, anneal_strategy="cos",
                       base_momentum=0.85, max_momentum=0.95, three_phase=False):
    r"""OneCycleLR's momentum in closed form, for steps :math:`0 \le t \le T`."""
    owner = "one_cycle_momentum"
    total_steps = _checks.integer(total_steps, "total_steps", owner, minimum=1)
    ends = {"base_momentum": _checks.real(base_momentum, "base_momentum", owner),
            "max_momentum": _checks.real(max_momentum, "max_momentum", owner)}
    return _closed(t, ends, total_steps, pct_start, anneal_strategy, three_phase, "momentum",
                   owner)
