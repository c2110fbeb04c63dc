"""Comparing a student's value with the reference: type, then shape, then value.

The first problem found is reported as a :class:`Mismatch`, which turns into
the sentence a student reads in the feedback: which variable, which step of
which case, what was expected and what came back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Mismatch", "tolerance", "compare", "short"]

#: (rtol, atol relative to the reference's scale), by dtype.  Loose enough for
#: correct code written differently (loops, reordered algebra, float64
#: roundoff accumulated over many steps), tight enough that every catalogued
#: mistake is far outside.
TOLERANCES = {np.dtype(np.float64): (1e-6, 1e-9), np.dtype(np.float32): (1e-3, 1e-5)}


def tolerance(expected) -> tuple[float, float]:
    dtype = getattr(expected, "dtype", np.dtype(np.float64))
    rtol, atol = TOLERANCES.get(np.dtype(dtype), TOLERANCES[np.dtype(np.float64)])
    # scaled by the finite entries only: an inf among them would make any value pass
    finite = np.abs(np.asarray(expected)).astype(np.float64).ravel()
    finite = finite[np.isfinite(finite)]
    scale = float(finite.max()) if finite.size else 0.0
    return rtol, atol * max(1.0, scale)


def short(x: Any, limit: int = 6) -> str:
    """A compact rendering of a value for a feedback message."""
    if isinstance(x, np.ndarray):
        if x.size <= limit:
            body = np.array2string(x, precision=6, separator=", ", threshold=limit)
        else:
            body = np.array2string(x.ravel()[:limit], precision=6, separator=", ")[:-1] + ", ...]"
        return f"array{body if x.ndim <= 1 else ' ' + body} (shape {x.shape}, {x.dtype})"
    if isinstance(x, (float, np.floating)):
        return f"{float(x):.8g}"
    return repr(x)


NOT_IMPLEMENTED = re.compile(r"\braised NotImplementedError\b")
PARTNER = re.compile(r"\(in your (\w+)")
STUB_HINT = ("Replace `raise NotImplementedError()` in the answer cell with your code, "
             "run that cell, then run this test again.")


@dataclass
class Mismatch:
    """The first difference between a student's answer and the reference."""

    variable: str
    # "type", "shape", "dtype", "value", "error", "not-implemented", "missing", "property"
    problem: str
    detail: str
    step: int | None = None
    case: str = ""
    mistake: str | None = None  # a catalogued mistake the answer matches
    hint: str | None = None
    extra: list[str] = field(default_factory=list)

    def __post_init__(self):
        if self.problem != "error":
            return
        stub = NOT_IMPLEMENTED.search(self.detail)
        if stub:
            # the released stub raises a bare NotImplementedError(): its empty
            # message would end the sentence on a colon, and what a student
            # needs to hear is that the function is still to be written
            needed = PARTNER.search(self.detail)
            self.problem = "not-implemented"
            self.detail = (f"your {needed.group(1)} is not implemented yet" if needed
                           else "not implemented yet")
            self.hint = self.hint or STUB_HINT
        elif self.detail.rstrip().endswith(":"):  # an exception raised with no message
            self.detail = self.detail.rstrip().rstrip(":") + " (with no message)"

    def describe(self, function: str) -> str:
        where = []
        if self.case:
            where.append(self.case)
        if self.step is not None:
            where.append(f"step {self.step}")
        place = f" ({', '.join(where)})" if where else ""
        if self.problem == "not-implemented":
            # where it stopped (case, step) does not matter to a stub
            lines = [f"{function}: {self.detail}"]
        elif self.variable == function:
            lines = [f"{function}: {self.detail}"]
        else:
            lines = [f"{function}: {self.variable} is wrong{place}: {self.detail}"]
        if self.mistake:
            lines.append(f"This matches a known mistake: {self.mistake}.")
        if self.hint:
            lines.append(self.hint)
        lines += self.extra
        return "\n".join(lines)


def compare(variable: str, expected: Any, actual: Any) -> Mismatch | None:
    """Check ``actual`` against ``expected``: type, then shape and dtype, then value."""
    if isinstance(expected, np.ndarray):
        if isinstance(actual, np.ma.MaskedArray):
            # masked entries compare as neither equal nor different: never a pass
            return Mismatch(variable, "type", "expected a plain numpy array, got a masked array")
        if not isinstance(actual, np.ndarray):
            return Mismatch(variable, "type", f"expected a numpy array, got {type(actual).__name__} "
                            f"{short(actual)}")
        if actual.shape != expected.shape:
            return Mismatch(variable, "shape", f"expected shape {expected.shape}, got {actual.shape}")
        if actual.dtype != expected.dtype:
            return Mismatch(variable, "dtype", f"expected dtype {expected.dtype}, got {actual.dtype}")
        if actual.dtype.kind in "fc":
            rtol, atol = tolerance(expected)
            with np.errstate(all="ignore"):
                bad = ~np.isclose(actual, expected, rtol=rtol, atol=atol, equal_nan=True)
        else:
            bad = actual != expected
        bad = np.asarray(bad, dtype=bool)
        if bool(bad.any()):
            index = tuple(int(i) for i in np.argwhere(bad)[0])
            at = f" at index {index}" if expected.ndim else ""
            return Mismatch(variable, "value",
                            f"{int(bad.sum())} of {bad.size} entries differ; first{at}: "
                            f"expected {short(expected[index])}, got {short(actual[index])}")
        return None
    if isinstance(expected, (float, np.floating)):
        if isinstance(actual, (bool, np.bool_)) or not isinstance(actual, (int, float, np.integer,
                                                                           np.floating)):
            if isinstance(actual, np.ndarray) and actual.shape == ():
                actual = actual.item()
            else:
                return Mismatch(variable, "type", f"expected a number, got {type(actual).__name__} "
                                f"{short(actual)}")
        rtol, atol = tolerance(np.float64(expected))
        if not (np.isclose(float(actual), float(expected), rtol=rtol, atol=atol)
                or (np.isnan(actual) and np.isnan(expected))):
            return Mismatch(variable, "value", f"expected {short(expected)}, got {short(actual)}")
        return None
    if isinstance(expected, (bool, np.bool_, int, np.integer)):
        # a count stored as 3.0 is still 3; a bool is a different thing
        if isinstance(actual, (bool, np.bool_)) != isinstance(expected, (bool, np.bool_)) or \
                not isinstance(actual, (int, float, np.integer, np.floating, bool, np.bool_)):
            return Mismatch(variable, "type", f"expected {type(expected).__name__} {expected!r}, "
                            f"got {type(actual).__name__} {short(actual)}")
        if actual != expected:
            return Mismatch(variable, "value", f"expected {expected!r}, got {short(actual)}")
        return None
    if actual != expected:
        return Mismatch(variable, "value", f"expected {short(expected)}, got {short(actual)}")
    return None
