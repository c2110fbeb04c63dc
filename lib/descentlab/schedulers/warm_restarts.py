r"""CosineAnnealingWarmRestarts: SGDR, a cosine that jumps back to the top at each restart."""

from __future__ import annotations

import math
import numbers

import numpy as np

from .. import _checks
from .scheduler import LRScheduler, _result, _times

__all__ = ["CosineAnnealingWarmRestarts", "cosine_warm_restarts"]

_OWNER = "CosineAnnealingWarmRestarts"


class CosineAnnealingWarmRestarts(LRScheduler):
    r"""Anneal along a cosine for :math:`T_i` steps, then restart at
    :math:`\eta_0`, with cycles :math:`T_0, T_0 m, T_0 m^2, \dots`.

    .. math::
        \eta_t = \eta_{\min} + \tfrac12 (\eta_0 - \eta_{\min})
                 \left(1 + \cos\frac{\pi T_{\mathrm{cur}}}{T_i}\right)

    :math:`T_{\mathrm{cur}}` counts the steps since the last restart and
    :math:`T_i` is the length of the current cycle; after a restart
    :math:`T_{i+1} = m\,T_i`.  Loshchilov & Hutter, *SGDR: Stochastic Gradient
    Descent with Warm Restarts*, ICLR 2017.  Each value is computed from
    :math:`T_{\mathrm{cur}}` and :math:`T_i` (not chained), so stepping one
    step at a time gives :func:`cosine_warm_restarts` up to the last bit of
    the cosine.  The rate never reaches :math:`\eta_{\min}` exactly: the step
    that would is the restart.

    ``step(epoch)`` accepts torch's fractional epochs (``epoch + i / iters``
    inside an epoch) and jumps to that point; a later ``step()`` carries on
    from ``floor(epoch) + 1``.  With :math:`m > 1` it finds the cycle as
    torch does, with ``int(math.log(epoch / T_0 * (m - 1) + 1, m))``.  That
    logarithm can round down at a restart (for :math:`T_0 = 1, m = 10`,
    ``step(111)`` gives :math:`\eta_{\min}` where stepping one by one gives
    :math:`\eta_0`); descentlab keeps torch's value, since the contract is
    to equal it.

    Args:
        optimizer: a descentlab optimizer.
        T_0: :math:`T_0 \ge 1`, the steps until the first restart.
        T_mult: :math:`m \ge 1`, an integer: each cycle is :math:`m` times the previous.
        eta_min: :math:`\eta_{\min} \ge 0`, the floor.
        last_epoch: index of the last step; -1 starts the schedule.
    """

    def __init__(self, optimizer, T_0, T_mult=1, eta_min=0.0, last_epoch=-1):
        self.T_0 = _checks.integer(T_0, "T_0", _OWNER, minimum=1)
        self.T_i = self.T_0
        self.T_mult = _checks.integer(T_mult, "T_mult", _OWNER, minimum=1)
        self.eta_min = _checks.nonnegative(eta_min, "eta_min", _OWNER)
        # torch starts T_cur at last_epoch; the base class validates it
        self.T_cur = last_epoch if isinstance(last_epoch, numbers.Integral) else -1
        super().__init__(optimizer, last_epoch)

    def step(self, epoch=None) -> None:
        """Advance one step, or, with ``epoch`` (a number >= 0, fractional
        allowed), jump to that point of the schedule, as torch does."""
        if epoch is None and self.last_epoch < 0:
            epoch = 0
        T_cur, T_i, T_0, m = self.T_cur, self.T_i, self.T_0, self.T_mult
        if epoch is None:
            epoch = self.last_epoch + 1
            T_cur = T_cur + 1
            if T_cur >= T_i:
                T_cur = T_cur % T_i
                T_i = T_i * m
        else:
            epoch = _epoch_argument(epoch)
            if epoch >= T_0:
                if m == 1:
                    T_cur = epoch % T_0
                else:
                    # torch's arithmetic, operation for operation
                    n = int(math.log((epoch / T_0 * (m - 1) + 1), m))
                    T_cur = epoch - T_0 * (m ** n - 1) / (m - 1)
                    T_i = T_0 * m ** n
            else:
                T_i = T_0
                T_cur = epoch
        # _commit refuses a bad value before anything changes
        self._commit(math.floor(epoch), self._lr(T_cur, T_i))
        self.T_cur, self.T_i = T_cur, T_i

    def _initial_step(self) -> None:
        self.step()  # torch's _initial_step is a plain step()

    def _lr(self, T_cur, T_i) -> float:
        base, eta_min = self.base_lrs[0], self.eta_min
        return eta_min + (base - eta_min) * (1 + math.cos(math.pi * T_cur / T_i)) / 2

    def _next(self, epoch, initial):
        raise AssertionError("CosineAnnealingWarmRestarts computes its steps in step()")

    def _at_restart(self):
        # SequentialLR's hand-over: torch's _update_lr(0) evaluates get_lr()
        # at the current T_cur and T_i, which it does not reset
        return self._lr(self.T_cur, self.T_i), None

    def _can_dry_run(self):
        return False  # it steps in step(), not _next(); its periods are checked below

    def _check_resumable(self, state):
        super()._check_resumable(state)
        for key in ("T_0", "T_i", "T_mult"):  # T_cur / T_i divides by the period
            if key in state:
                _checks.integer(state[key], f"state_dict[{key!r}]", _OWNER, minimum=1)

    def _checked_state(self, state_dict):
        # T_cur is an integer after plain steps and a float after a
        # fractional step(epoch); either kind may be loaded into either
        if isinstance(state_dict, dict) and "T_cur" in state_dict:
            T_cur = state_dict["T_cur"]
            if isinstance(T_cur, (bool, np.bool_)) or not isinstance(T_cur, numbers.Real) \
                    or not math.isfinite(T_cur):
                raise ValueError(f"{_OWNER}: state_dict['T_cur'] = {T_cur!r} is not a finite "
                                 "number")
            checked = super()._checked_state({**state_dict, "T_cur": self.T_cur})
            checked["T_cur"] = T_cur
            return checked
        return super()._checked_state(state_dict)


def _epoch_argument(epoch):
    """A finite number >= 0; integers stay integers, as in torch."""
    if isinstance(epoch, (bool, np.bool_)) or not isinstance(epoch, numbers.Real):
        raise TypeError(f"{_OWNER}.step: epoch must be a number, got {epoch!r}")
    epoch = int(epoch) if isinstance(epoch, numbers.Integral) else float(epoch)
    if not math.isfinite(epoch) or epoch < 0:
        raise ValueError(f"{_OWNER}.step: epoch must be finite and >= 0, got {epoch!r}")
    return epoch


def cosine_warm_restarts(t, base_lr, T_0, T_mult=1, eta_min=0.0):
    r"""CosineAnnealingWarmRestarts in closed form, at step(s) ``t``.

    The restarts fall at :math:`S_k = T_0 (m^k - 1)/(m - 1)` (at
    :math:`k T_0` for :math:`m = 1`); between :math:`S_k` and
    :math:`S_{k+1}`, :math:`T_{\mathrm{cur}} = t - S_k` and
    :math:`T_i = T_0 m^k`.  The cycle is found exactly, with integers, not
    with torch's logarithm.
    """
    owner = "cosine_warm_restarts"
    t, scalar = _times(t, owner)
    base_lr = _checks.nonnegative(base_lr, "base_lr", owner)
    T_0 = _checks.integer(T_0, "T_0", owner, minimum=1)
    m = _checks.integer(T_mult, "T_mult", owner, minimum=1)
    eta_min = _checks.nonnegative(eta_min, "eta_min", owner)
    if m == 1:
        T_cur, T_i = t % T_0, np.full_like(t, float(T_0))
    else:
        starts, lengths = [0], [T_0]
        top = float(np.max(t)) if t.size else 0.0
        while starts[-1] + lengths[-1] <= top:
            starts.append(starts[-1] + lengths[-1])
            lengths.append(lengths[-1] * m)
        k = np.searchsorted(np.asarray(starts, dtype=np.float64), t, side="right") - 1
        T_cur = t - np.asarray(starts, dtype=np.float64)[k]
        T_i = np.asarray(lengths, dtype=np.float64)[k]
    return _result(eta_min + (base_lr - eta_min) * (1 + np.cos(np.pi * T_cur / T_i)) / 2, scalar)
