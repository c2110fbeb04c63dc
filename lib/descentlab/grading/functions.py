"""Exercises where students write a plain function of its arguments.

A case is a list of calls (e.g. a schedule evaluated at t = 0, 1, ..., 60);
each call's return value is compared with the reference's, and the feedback
names the call that first differs (``"value at t=12"``).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field


from .exercise import Case, Exercise, Raised, snapshot


@dataclass(frozen=True)
class FunctionPart:
    """One graded part: its points and the calls of its visible and hidden cases."""

    points: int
    cases: tuple[tuple[str, tuple[dict, ...]], ...]          # (label, calls)
    hidden_cases: tuple[tuple[str, tuple[dict, ...]], ...]


@dataclass
class FunctionExercise(Exercise):
    plan: dict[str, FunctionPart] = field(default_factory=dict)
    #: how a call is named in feedback, from its arguments
    describe_call: Callable[[dict], str] = lambda kwargs: "returned value"
    #: arguments the contract leaves untouched ("returns a new array"): each is
    #: observed after the call, so overwriting the caller's array is a difference
    untouched: tuple[str, ...] = ()

    def __post_init__(self):
        self.parts = {name: part.points for name, part in self.plan.items()}

    def cases(self, part: str, hidden: bool) -> list[Case]:
        chosen = self.plan[part].hidden_cases if hidden else self.plan[part].cases
        return [Case(("hidden " if hidden else "") + label, {"calls": calls})
                for label, calls in chosen]

    def check_case(self, fn: Callable, case: Case):
        mismatch = super().check_case(fn, case)
        if mismatch is not None:
            mismatch.step = None  # the variable's name already says which call it was
        return mismatch

    def play(self, fn: Callable, case: Case):
        observed = []
        for kwargs in case.data["calls"]:
            name = self.describe_call(kwargs)
            given = copy.deepcopy(kwargs)
            out = self.call(fn, **given)
            seen = {name: out if isinstance(out, Raised) else snapshot(out)}
            for arg in self.untouched:
                seen[f"the caller's {arg} after the call (the contract leaves it untouched)"] = \
                    snapshot(given[arg])
            observed.append(seen)
            if isinstance(out, Raised):
                break
        return observed

