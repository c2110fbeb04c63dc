"""Exercises: a function students write, its reference, its graded parts and
the catalogue of mistakes students are known to make.

An exercise *plays* a function through a case (a sequence of calls, e.g. 30
optimizer steps on fixed gradients) and records what it observes after each
call (the returned parameters, every state entry).  Grading a part plays the
reference and the student's function through the part's cases and reports
the first observation that differs.  If the student's observations instead
match one of the catalogued wrong variants, the feedback names that mistake.

Subclasses implement :meth:`Exercise.cases` and :meth:`Exercise.play`;
exercises whose answers are random (initialisers, dropout masks, shuffling)
override :meth:`Exercise.check_case` with property checks instead.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .guard import ReferenceUsed
from .report import Mismatch, compare
from .sandbox import RemoteError

__all__ = ["Case", "Mistake", "Exercise", "MISSING", "Raised", "snapshot"]


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


#: Observation of a state entry the student's function never created.
MISSING = _Missing()


@dataclass(frozen=True)
class Raised:
    """The student's function raised instead of returning."""

    error: str

    def __str__(self) -> str:
        return self.error


@dataclass(frozen=True)
class Case:
    """One scenario: a label for the feedback and the data to play it."""

    label: str
    data: dict[str, Any]


@dataclass(frozen=True)
class Mistake:
    """A known wrong variant, with the same signature as the student's function."""

    name: str
    hint: str
    implementation: Callable


def snapshot(value):
    """A deep copy, so later in-place updates cannot rewrite what was observed."""
    if isinstance(value, np.ndarray):
        return value.copy()
    try:
        return copy.deepcopy(value)
    except Exception:  # noqa: BLE001 - an uncopyable student object is still observed
        return value


Observations = list[dict[str, Any]]


@dataclass
class Exercise:
    """Base class; see the module docstring.

    ``parts`` maps each graded part to its points: the nbgrader test cell
    ``test_<function>_<part>`` carries exactly those points.
    """

    assignment: str
    function: str
    reference: Callable
    parts: dict[str, int] = field(default_factory=dict)
    mistakes: list[Mistake] = field(default_factory=list)
    #: other functions of the student's that grading this one needs (e.g. the
    #: forward pass whose cache a backward pass takes); see :attr:`partners`
    needs: tuple[str, ...] = ()
    #: modules whose use inside the student's function earns no credit
    forbidden: tuple[str, ...] = ("descentlab.optim", "descentlab.schedulers", "descentlab.init",
                                  "descentlab.layers", "descentlab.grading", "descentlab._jit",
                                  "torch")

    @property
    def id(self) -> str:
        return f"{self.assignment}.{self.function}"

    # -- what a subclass provides --------------------------------------
    def cases(self, part: str, hidden: bool) -> list[Case]:
        raise NotImplementedError

    def play(self, fn: Callable, case: Case) -> Observations:
        """Call ``fn`` through ``case``; one dict of observations per call.

        Implementations call ``fn`` through :meth:`call` so that an exception
        becomes an observation instead of ending the grading.
        """
        raise NotImplementedError

    # -- machinery ---------------------------------------------------------
    @staticmethod
    def call(fn: Callable, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except ReferenceUsed:
            raise
        except RemoteError as exc:
            if "not available to graded code" in str(exc):
                raise ReferenceUsed(str(exc).split(" is not available")[0].split(": ")[-1]) from None
            return Raised(str(exc))
        except Exception as exc:  # noqa: BLE001 - any student error is feedback
            return Raised(f"{type(exc).__name__}: {exc}")

    def check_case(self, fn: Callable, case: Case) -> Mismatch | None:
        expected = self.play(self.reference, case)
        actual = self.play(fn, case)
        mismatch = first_difference(expected, actual)
        if mismatch is None:
            return None
        mismatch.case = case.label
        if mismatch.problem not in ("error", "not-implemented"):
            for mistake in self.mistakes:
                if first_difference(self.play(mistake.implementation, case), actual) is None:
                    mismatch.mistake, mismatch.hint = mistake.name, mistake.hint
                    break
        return mismatch

    #: the student's functions named in ``needs``, set by :func:`descentlab.grading.evaluate`
    partners: dict[str, Callable] = field(default_factory=dict, repr=False)

    def check(self, fn: Callable, part: str, hidden: bool = False) -> Mismatch | None:
        """The first problem with ``fn`` on ``part``'s cases, or None if it passes."""
        if part not in self.parts:
            raise ValueError(f"part must be one of {sorted(self.parts)} for {self.id}, got {part!r}")
        if not callable(fn):
            return Mismatch(self.function, "type", f"expected a function, got {type(fn).__name__}")
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            for case in self.cases(part, hidden):
                mismatch = self.check_case(fn, case)
                if mismatch is not None:
                    return mismatch
        return None


def first_difference(expected: Observations, actual: Observations) -> Mismatch | None:
    """Walk two runs step by step and report the first differing observation."""
    for step, (exp, act) in enumerate(zip(expected, actual), start=1):
        for variable, want in exp.items():
            got = act.get(variable, MISSING)
            if isinstance(got, Raised):
                return Mismatch(variable, "error", f"the function raised {got}", step=step)
            if isinstance(want, Raised):  # the reference itself refuses this input
                continue
            if got is MISSING and want is not MISSING:
                return Mismatch(variable, "missing", "it was never set", step=step)
            found = compare(variable, want, got)
            if found is not None:
                found.step = step
                return found
    if len(actual) < len(expected):
        return Mismatch("the run", "error", f"stopped after {len(actual)} of {len(expected)} steps",
                        step=len(actual) + 1)
    return None


def observe_state(state: Any, keys: Iterable[str]) -> dict[str, Any]:
    """Observations of a student's state dict, entry by entry."""
    if not isinstance(state, dict):
        return {f"state[{k!r}]": Raised(f"state is a {type(state).__name__}, not a dict")
                for k in keys}
    return {f"state[{k!r}]": snapshot(state[k]) if k in state else MISSING for k in keys}
