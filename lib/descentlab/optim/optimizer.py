"""The optimizer base class: explicit, inspectable state in plain numpy arrays.

An optimizer owns a list of parameter arrays and updates them in place.  Its
hyperparameters are ordinary attributes (a scheduler sets ``opt.lr`` between
steps), checked whenever they are set.  Its state is a list with one dict per
parameter, named as torch names it (``opt.state[i]["exp_avg"]``).
"""

from __future__ import annotations

import numbers
from typing import Any, Callable

import numpy as np

from .. import _checks

__all__ = ["Optimizer", "Hyper", "flat", "unused"]


def flat(a: np.ndarray) -> np.ndarray:
    """The 1-D view of a C-contiguous array that the kernels loop over (no copy)."""
    return a.reshape(-1)


_UNUSED = {np.dtype(np.float32): np.empty(0, np.float32),
           np.dtype(np.float64): np.empty(0, np.float64)}


def unused(like: np.ndarray) -> np.ndarray:
    """An empty stand-in for a state array that an option turns off.

    Kernels index it only behind the flag that enables it.  Passing another
    live array instead would alias two kernel arguments, which the parallel
    kernels are compiled to assume never happens.
    """
    return _UNUSED[like.dtype]


class Hyper:
    """A hyperparameter attribute whose value is validated on every assignment.

    ``check(value, name, owner)`` returns the normalised value or raises
    ValueError/TypeError naming the argument.
    """

    def __init__(self, check: Callable[[Any, str, str], Any]):
        self.check = check

    def __set_name__(self, owner, name: str) -> None:
        self.name = name

    def __get__(self, obj, objtype=None):
        if obj is None:
            return self
        return obj.__dict__[self.name]

    def __set__(self, obj, value) -> None:
        obj.__dict__[self.name] = self.check(value, self.name, type(obj).__name__)


def _copy(value):
    return value.copy() if isinstance(value, np.ndarray) else value


class Optimizer:
    """Base class.  Subclasses define the hyperparameters (as :class:`Hyper`
    attributes), ``_init_state``, ``_arrays`` and ``_update``."""

    lr = Hyper(_checks.nonnegative)

    def __init__(self, params, **hyper):
        owner = type(self).__name__
        self.params: list[np.ndarray] = _checks.params(params, owner)
        self._hyper_names = tuple(hyper)
        for name, value in hyper.items():
            setattr(self, name, value)
        self._check_hyper()
        self.state: list[dict[str, Any]] = [self._init_state(p) for p in self.params]

    # -- what a subclass provides ---------------------------------------
    def _init_state(self, p: np.ndarray) -> dict[str, Any]:
        raise NotImplementedError

    def _arrays(self) -> tuple[str, ...]:
        """Names of the state arrays the next update reads and writes."""
        raise NotImplementedError

    def _update(self, p: np.ndarray, g: np.ndarray, state: dict[str, Any]) -> None:
        """One step on a parameter and its gradient (checked, contiguous, same
        shape and dtype); kernels take their :func:`flat` views."""
        raise NotImplementedError

    def _check_hyper(self) -> None:
        """Rules that tie several hyperparameters together."""

    # -- public API -----------------------------------------------------
    @property
    def hyperparameters(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self._hyper_names}

    def step(self, grads) -> None:
        """Update every parameter in place from its gradient.

        ``grads`` is a list of arrays, one per parameter, with the same shape
        and dtype.
        """
        owner = type(self).__name__
        grads = _checks.like(grads, "grads", self.params, "params", owner)
        self._check_hyper()
        for i, (p, g) in enumerate(zip(self.params, grads)):
            state = self.state[i]
            self._check_state(i, state, p)
            self._update(p, g, state)

    def state_dict(self) -> dict[str, Any]:
        """A deep copy of the state and hyperparameters, laid out as torch lays it out."""
        return {
            "state": {i: {k: _copy(v) for k, v in s.items()} for i, s in enumerate(self.state)},
            "param_groups": [{**self.hyperparameters, "params": list(range(len(self.params)))}],
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore from :meth:`state_dict`; the run then continues bit for bit.

        Everything is checked before anything is changed, so a bad dict leaves
        the optimizer as it was.
        """
        owner = type(self).__name__
        if not isinstance(state_dict, dict) or set(state_dict) != {"state", "param_groups"}:
            raise ValueError(f"{owner}: state_dict must be a dict with keys 'state' and "
                             f"'param_groups', got {_describe(state_dict)}")
        groups = state_dict["param_groups"]
        if not isinstance(groups, list) or len(groups) != 1 or not isinstance(groups[0], dict):
            raise ValueError(f"{owner}: state_dict['param_groups'] must be a list of one dict")
        group = dict(groups[0])
        indices = group.pop("params", None)
        if indices != list(range(len(self.params))):
            raise ValueError(f"{owner}: state_dict is for {len(indices or [])} parameters, "
                             f"this optimizer has {len(self.params)}")
        if set(group) != set(self._hyper_names):
            missing = sorted(set(self._hyper_names) - set(group))
            unknown = sorted(set(group) - set(self._hyper_names))
            raise ValueError(f"{owner}: state_dict hyperparameters do not match "
                             f"(missing {missing}, unknown {unknown})")
        hyper = {name: getattr(type(self), name).check(value, name, owner)
                 for name, value in group.items()}

        saved = state_dict["state"]
        if not isinstance(saved, dict) or set(saved) != set(range(len(self.params))):
            raise ValueError(f"{owner}: state_dict['state'] must map every parameter "
                             f"index 0..{len(self.params) - 1} to its state")
        new_state = []
        for i, p in enumerate(self.params):
            template = self._init_state(p)
            entry = saved[i]
            if not isinstance(entry, dict) or set(entry) != set(template):
                raise ValueError(f"{owner}: state_dict['state'][{i}] must have keys "
                                 f"{sorted(template)}, got {_describe(entry)}")
            new_state.append({k: _checked_entry(entry[k], template[k], p, f"state[{i}][{k!r}]", owner)
                              for k in template})

        for name, value in hyper.items():
            self.__dict__[name] = value
        self._check_hyper()
        self.state = new_state

    # -- helpers ----------------------------------------------------------
    def _check_state(self, i: int, state: dict[str, Any], p: np.ndarray) -> None:
        # The kernels write through these arrays without bounds checks.
        owner = type(self).__name__
        for key in self._arrays():
            a = state.get(key)
            where = f"state[{i}][{key!r}]"
            if a is None:
                raise ValueError(f"{owner}: {where} is missing; it is created when the "
                                 "optimizer is built with the option that needs it")
            _checks.float_array(a, where, owner, writeable=True)
            if a.shape != p.shape or a.dtype != p.dtype:
                raise ValueError(f"{owner}: {where} has shape {a.shape} and dtype {a.dtype}, "
                                 f"but params[{i}] has {p.shape} and {p.dtype}")

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.hyperparameters.items())
        return f"{type(self).__name__}({len(self.params)} params, {args})"


def _describe(x) -> str:
    return f"keys {sorted(map(str, x))}" if isinstance(x, dict) else type(x).__name__


def _checked_entry(value, template, p: np.ndarray, where: str, owner: str):
    if isinstance(template, np.ndarray) or (template is None and value is not None):
        _checks.float_array(value, where, owner)
        if value.shape != p.shape or value.dtype != p.dtype:
            raise ValueError(f"{owner}: {where} has shape {value.shape} and dtype "
                             f"{value.dtype}, expected {p.shape} and {p.dtype}")
        return value.copy()
    if template is None:
        return None
    if isinstance(template, bool) or not isinstance(template, numbers.Number):
        raise AssertionError(f"unexpected state template {template!r}")
    if isinstance(template, numbers.Integral):
        return _checks.integer(value, where, owner, minimum=0)
    # float state such as NAdam's mu_product keeps its own precision
    return type(template)(_checks.real(value, where, owner))
