"""The scheduler base class, and the argument checks every scheduler shares.

A scheduler owns no parameters.  It holds a step counter (``last_epoch``) and
writes the learning rate of a descentlab optimizer, ``optimizer.lr``, after
each ``optimizer.step``; CyclicLR and OneCycleLR also write its momentum
(``optimizer.momentum``, or ``optimizer.betas[0]`` for the Adam family).

The arithmetic is torch.optim.lr_scheduler's, operation for operation, so the
learning rates are the same floats torch puts in ``param_groups[0]["lr"]``.
That includes torch's habits:

* Building a scheduler takes one step at once (``last_epoch`` goes from -1 to
  0), which sets the optimizer's learning rate to the schedule's first value.
* Most schedules are *chainable*: each step multiplies the optimizer's current
  learning rate by a factor, rather than recomputing it from ``base_lrs``.
  Their closed forms (the functions next to each class) differ from the
  stepped values by roundoff only.
* The first scheduler built on an optimizer records its learning rate as
  ``optimizer.initial_lr`` (torch: ``param_groups[0]["initial_lr"]``); later
  schedulers on the same optimizer take their ``base_lrs`` from it.  That is
  what lets SequentialLR chain a warm-up and a decay.

Resuming: build the optimizer and the scheduler as at the start, then call
``optimizer.load_state_dict`` and ``scheduler.load_state_dict``.  Building a
scheduler overwrites the optimizer's learning rate, so load the optimizer
*after* building the scheduler, as torch's documentation also asks.
"""

from __future__ import annotations

import copy
import numbers
import types
from typing import Any, Callable

import numpy as np

from .. import _checks
from ..optim.optimizer import Hyper, Optimizer

__all__ = ["LRScheduler", "ROUNDOFF"]

#: State entries with one value per parameter group (descentlab has one group).
_PER_GROUP = ("base_lrs", "_last_lr", "min_lrs", "max_lrs", "base_momentums", "max_momentums")

#: A negative learning rate no larger than this, relative to the base rate,
#: is a rounding error and is set as 0 (see ``LRScheduler._commit``).
ROUNDOFF = 1e-12


class LRScheduler:
    """Base class, as torch.optim.lr_scheduler.LRScheduler.

    A subclass sets its own attributes, then calls ``super().__init__``,
    which takes the initial step.  It provides :meth:`_next`, the value of
    the schedule at a step, and chainable schedules also :meth:`_at_restart`,
    torch's closed form at step 0.

    Args:
        optimizer: a descentlab optimizer.
        last_epoch: index of the last step taken.  -1 (the default) starts the
            schedule; another value resumes it from the optimizer's
            ``initial_lr``, as in torch.
    """

    def __init__(self, optimizer, last_epoch: int = -1) -> None:
        owner = type(self).__name__
        optimizer = _optimizer(optimizer, owner)
        last_epoch = _epoch(last_epoch, owner)
        if last_epoch == -1:
            vars(optimizer).setdefault("initial_lr", optimizer.lr)
        elif "initial_lr" not in vars(optimizer):
            raise ValueError(
                f"{owner}: last_epoch={last_epoch} resumes a schedule from the optimizer's "
                "initial_lr, but no scheduler with last_epoch=-1 has been built on this "
                "optimizer; build one, or restore a run with state_dict()/load_state_dict()")
        self.optimizer = optimizer
        self.base_lrs: list[float] = [vars(optimizer)["initial_lr"]]
        self.last_epoch = last_epoch
        self._initial_step()

    # -- what a subclass provides ---------------------------------------
    def _next(self, epoch: int, initial: bool) -> tuple[float, float | None]:
        """The learning rate (and the momentum, or None) at step ``epoch``.

        Chainable schedules read the optimizer's current learning rate.
        ``initial`` is true for the step taken when the scheduler is built
        (torch's ``_is_initial``).  Nothing may be changed here: the caller
        commits the values once they are known to be valid.
        """
        raise NotImplementedError

    def _at_restart(self) -> tuple[float, float | None]:
        """The values SequentialLR sets when it hands over to this scheduler.

        torch's ``_update_lr(0)``: its closed form at step 0 where the class
        has one (the chainable schedules override this), else :meth:`_next`.
        """
        return self._next(0, initial=False)

    # -- public API -----------------------------------------------------
    def step(self) -> None:
        """Advance the schedule by one step; call it after ``optimizer.step``."""
        epoch = self.last_epoch + 1
        self._commit(epoch, *self._next(epoch, initial=False))

    def get_last_lr(self) -> list[float]:
        """The learning rate this scheduler set last, as a one-element list
        (torch has one entry per parameter group; descentlab has one group)."""
        return list(self._last_lr)

    def state_dict(self) -> dict[str, Any]:
        """A deep copy of every attribute but the optimizer, as torch saves it."""
        return self._plain_state()

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore from :meth:`state_dict`.

        The dict must have the same keys as this scheduler's, and values of
        the same kinds (numbers, strings, lists of ...); if not, nothing is
        changed.  The scheduler's arguments are part of its state, so the
        restored scheduler continues as the saved one would have, whatever it
        was built with.  Load the optimizer too (see the module docstring):
        chainable schedules read its learning rate.
        """
        self.__dict__.update(self._checked_state(state_dict))

    # -- helpers ----------------------------------------------------------
    def _initial_step(self) -> None:
        epoch = self.last_epoch + 1
        self._commit(epoch, *self._next(epoch, initial=True))

    def _restart(self) -> None:
        self._commit(0, *self._at_restart())

    def _commit(self, epoch: int, lr: float, momentum: float | None = None) -> None:
        """Check the new values against the optimizer's own rules, then set them."""
        opt = self.optimizer
        if lr < 0 and -lr <= ROUNDOFF * self.base_lrs[0]:
            # A recursion that decays to 0 can overshoot by a rounding error
            # (torch's LinearLR with end_factor=0 gives -1.8e-17 for lr=1).
            # torch keeps it; descentlab optimizers refuse a negative rate.
            lr = 0.0
        lr = _accepted(opt, "lr", lr, type(self).__name__, epoch)
        if momentum is not None:
            attr = "betas" if self.use_beta1 else "momentum"
            value = (momentum, opt.betas[1]) if self.use_beta1 else momentum
            value = _accepted(opt, attr, value, type(self).__name__, epoch)
            setattr(opt, attr, value)
        opt.lr = lr
        self.last_epoch = epoch
        self._last_lr = [opt.lr]

    def _plain_state(self, *exclude: str) -> dict[str, Any]:
        return {k: copy.deepcopy(v) for k, v in vars(self).items()
                if k != "optimizer" and k not in exclude}

    def _checked_state(self, state_dict) -> dict[str, Any]:
        """A deep copy of ``state_dict`` once it is known to fit (same keys,
        values of the same kinds as :meth:`state_dict` gives now)."""
        owner = type(self).__name__
        if not isinstance(state_dict, dict):
            raise TypeError(f"{owner}: state_dict must be a dict, got {type(state_dict).__name__}")
        mine = self.state_dict()
        if set(state_dict) != set(mine):
            missing = sorted(set(mine) - set(state_dict))
            unknown = sorted(map(str, set(state_dict) - set(mine)))
            raise ValueError(f"{owner}: state_dict does not fit this scheduler "
                             f"(missing {missing}, unknown {unknown})")
        for key, value in state_dict.items():
            if not _same_kind(value, mine[key]):
                raise ValueError(f"{owner}: state_dict[{key!r}] = {value!r} is not like "
                                 f"this scheduler's {mine[key]!r}")
        state = {k: copy.deepcopy(v) for k, v in state_dict.items()}
        self._check_resumable(state)
        return state

    #: state keys whose saved form is not the attribute itself (user callables,
    #: sub-schedulers); the subclass restores them
    _not_plain: tuple[str, ...] = ()

    def _can_dry_run(self) -> bool:
        """Whether :meth:`_next` may be called on a trial copy: not when it
        calls a user's function (which may keep state) or steps on a metric."""
        return True

    def _check_resumable(self, state: dict[str, Any]) -> None:
        """Refuse a state of the right kinds that the schedule still cannot step
        from (a zero step size, an empty list of rates ...), before it is loaded
        rather than at the next step().

        The next step is computed on a copy; nothing is committed.  It is not
        taken when it would call a user's function, which may keep state.
        """
        owner = type(self).__name__
        for key in _PER_GROUP:
            if key not in state:
                continue
            value = state[key]
            if not isinstance(value, list) or len(value) != 1:
                raise ValueError(f"{owner}: state_dict[{key!r}] must hold one value "
                                 f"(descentlab optimizers have one parameter group), "
                                 f"got {value!r}")
            check = _checks.nonnegative if key.endswith("lrs") or key == "_last_lr" else _checks.real
            check(value[0], f"state_dict[{key!r}][0]", owner)
        _checks.integer(state.get("last_epoch", -1), "state_dict['last_epoch']", owner,
                        minimum=-1)
        if state.get("cycle_momentum"):
            attr = "betas" if state.get("use_beta1") else "momentum"
            if attr not in self.optimizer.hyperparameters:
                raise ValueError(f"{owner}: this state_dict cycles {attr}, which "
                                 f"{type(self.optimizer).__name__} does not have")
        if not self._can_dry_run():
            return
        trial = copy.copy(self)
        trial.__dict__.update({k: v for k, v in state.items() if k not in self._not_plain})
        try:
            trial._next(trial.last_epoch + 1, initial=False)
        except (ArithmeticError, LookupError, AssertionError) as err:
            raise ValueError(f"{owner}: this state_dict gives a schedule that cannot step "
                             f"({type(err).__name__}: {err}); nothing was loaded") from None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(last_epoch={self.last_epoch}, lr={self._last_lr[0]!r})"


# -- argument checks ---------------------------------------------------------
def _optimizer(optimizer, owner: str) -> Optimizer:
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"{owner}: optimizer must be a descentlab.optim optimizer, got "
                        f"{type(optimizer).__module__}.{type(optimizer).__name__}")
    return optimizer


def _epoch(last_epoch, owner: str) -> int:
    return _checks.integer(last_epoch, "last_epoch", owner, minimum=-1)


def _one(value, name: str, owner: str, check: Callable[[Any, str, str], float]) -> float:
    """A per-group argument (a number, or torch's list with one per group)."""
    if isinstance(value, (list, tuple)):
        if len(value) != 1:
            raise ValueError(f"{owner}: {name} has {len(value)} values, but a descentlab "
                             f"optimizer has one parameter group; got {value!r}")
        return check(value[0], f"{name}[0]", owner)
    return check(value, name, owner)


def _choice(value, name: str, options: tuple[str, ...], owner: str) -> str:
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"{owner}: {name} must be one of {', '.join(map(repr, options))}, "
                         f"got {value!r}")
    return value


def _milestones(value, name: str, owner: str) -> list[int]:
    """Strictly increasing positive step indices."""
    if isinstance(value, (str, bytes, np.ndarray)) or not hasattr(value, "__iter__"):
        raise TypeError(f"{owner}: {name} must be a list of integers, got {value!r}")
    out = [_checks.integer(m, f"{name}[{i}]", owner, minimum=1) for i, m in enumerate(value)]
    for i in range(1, len(out)):
        if out[i] <= out[i - 1]:
            raise ValueError(f"{owner}: {name} must be strictly increasing, got {out!r}")
    return out


def _momentum_attr(optimizer: Optimizer, owner: str) -> bool:
    """Whether the optimizer cycles ``betas[0]`` (True) or ``momentum`` (False).

    torch asks the same of ``optimizer.defaults``, preferring betas.
    """
    names = optimizer.hyperparameters
    if "betas" not in names and "momentum" not in names:
        raise ValueError(f"{owner}: cycle_momentum=True needs an optimizer with momentum or "
                         f"betas, and {type(optimizer).__name__} has neither; "
                         "pass cycle_momentum=False")
    return "betas" in names


def _momentum_value(optimizer: Optimizer, use_beta1: bool, value, name: str, owner: str) -> float:
    """A momentum bound the optimizer accepts (checked with its own rule)."""
    m = _one(value, name, owner, _checks.real)
    attr = "betas" if use_beta1 else "momentum"
    try:
        getattr(type(optimizer), attr).check((m, optimizer.betas[1]) if use_beta1 else m,
                                             attr, type(optimizer).__name__)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{owner}: {name}={value!r} is not a valid {attr} for "
                         f"{type(optimizer).__name__} ({err})") from None
    return m


def _accepted(optimizer: Optimizer, attr: str, value, owner: str, epoch: int):
    hyper = getattr(type(optimizer), attr)
    assert isinstance(hyper, Hyper)
    try:
        return hyper.check(value, attr, type(optimizer).__name__)
    except (TypeError, ValueError) as err:
        raise type(err)(f"{owner}: at step {epoch} the schedule gives {attr}={value!r}, "
                        f"which the optimizer rejects ({err})") from None


def _saved_callable(fn) -> dict[str, Any] | None:
    """What torch saves of a user callable: nothing for a plain function (it
    cannot be pickled reliably), the attributes of a callable object."""
    if fn is None or isinstance(fn, types.FunctionType) or not hasattr(fn, "__dict__"):
        return None
    return copy.deepcopy(vars(fn))


def _restore_callable(fn, attrs: dict[str, Any] | None, name: str, owner: str) -> None:
    if attrs is None:
        return
    if fn is None or isinstance(fn, types.FunctionType) or not hasattr(fn, "__dict__"):
        raise ValueError(f"{owner}: state_dict holds the attributes of a callable object for "
                         f"{name}, but this scheduler's {name} is {fn!r}")
    vars(fn).update(copy.deepcopy(attrs))


def _same_kind(new, old) -> bool:
    if isinstance(old, (bool, np.bool_)):
        return isinstance(new, (bool, np.bool_))
    if isinstance(new, (bool, np.bool_)):
        return False
    if isinstance(old, numbers.Integral):  # step counts stay integers
        return isinstance(new, numbers.Integral)
    if isinstance(old, numbers.Real):
        return isinstance(new, numbers.Real)
    if isinstance(old, str):
        return isinstance(new, str)
    if isinstance(old, (list, tuple)):
        # lengths may differ: arguments such as milestones are state too
        return isinstance(new, (list, tuple)) and (
            not old or all(_same_kind(a, old[0]) for a in new))
    if old is None or isinstance(old, dict):
        # saved state of a callable (LambdaLR, CyclicLR's scale_fn), or nested
        return new is None or isinstance(new, dict)
    return type(new) is type(old)


# -- closed forms --------------------------------------------------------------
def _times(t, owner: str) -> tuple[np.ndarray, bool]:
    """Step indices for a closed form: a number or an array of them, all
    finite and >= 0, as float64 (non-integer t interpolates)."""
    try:
        raw = np.asarray(t)
    except (TypeError, ValueError):
        raw = np.asarray(None)
    if raw.dtype.kind not in "iuf":  # not bool, str, object, complex
        raise TypeError(f"{owner}: t must be a number or an array of numbers, got {t!r}")
    scalar = raw.ndim == 0
    a = raw.astype(np.float64, copy=False)
    if not np.all(np.isfinite(a)) or np.any(a < 0):
        bad = a[~(np.isfinite(a) & (a >= 0))].ravel()[0]
        raise ValueError(f"{owner}: t must be finite and >= 0, got {bad!r}")
    return a, scalar


def _user_values(values, name: str, owner: str) -> np.ndarray:
    """What a user's function returned to a closed form, as float64 numbers."""
    try:
        return np.asarray(values, dtype=np.float64)
    except OverflowError:  # an int beyond the float range
        raise ValueError(f"{owner}: {name} returned a number too large for a float, "
                         f"{_checks._short(values)}") from None
    except (TypeError, ValueError):
        raise TypeError(f"{owner}: {name} must return numbers, got "
                        f"{_checks._short(values)}") from None


def _result(values, scalar: bool):
    values = np.asarray(values, dtype=np.float64)
    return float(values) if scalar else values
