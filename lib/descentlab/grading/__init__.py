"""Checks used by the assignments' test cells, and the grading pipeline.

A test cell calls::

    from descentlab.grading import check
    check("ps3_adaptive.adam_step", adam_step, "first_step")

which plays the student's ``adam_step`` and descentlab's reference through
the part's cases and, on the first difference, fails with a message that
names the variable, the step and the case, and the known mistake it matches
if there is one.  A function that calls the reference instead of
implementing it earns no credit for the part, and the message says why.

The exercises live in :mod:`descentlab.grading.assignments`; the nbgrader
pipeline (release, autograde, out-of-process verification, feedback) in
:mod:`descentlab.grading.pipeline`.
"""

from __future__ import annotations

import functools
import inspect
import textwrap

from .. import _checks
from .exercise import Exercise
from .guard import ReferenceUsed, Tripwire, static_uses
from .report import Mismatch

__all__ = ["check", "evaluate", "find", "GradingFailure", "wrap"]


#: Feedback lines are wrapped to this many characters: nbgrader's Validate
#: output indents by 4 and cuts lines past 87 with "...", and a notebook's
#: output area wraps long monospace lines mid-word.
WIDTH = 76


def wrap(message: str, width: int = WIDTH) -> str:
    """``message`` with every line wrapped at word boundaries to ``width`` columns.

    Continuation lines are indented by two spaces so a wrapped sentence still
    reads as one item; words longer than a line (an array's repr) are kept whole.
    """
    if not isinstance(message, str):  # found by the fuzz: AttributeError on a list
        raise TypeError(f"message must be a string, got {type(message).__name__}")
    width = _checks.integer(width, "width")
    if width < 20:
        raise ValueError(f"width must be >= 20 columns, got {width}")
    out = []
    for line in message.splitlines() or [""]:
        lead = line[:len(line) - len(line.lstrip())]
        out += textwrap.wrap(line, width, subsequent_indent=lead + "  ", break_long_words=False,
                             break_on_hyphens=False) or [""]
    return "\n".join(out)


class GradingFailure(AssertionError):
    """A graded part failed; the message is the student's feedback.

    In a notebook, IPython shows what :meth:`_render_traceback_` returns
    instead of a traceback: the message alone, wrapped to :data:`WIDTH`, so
    the diagnostic comes first and nothing points into descentlab's own files.
    nbgrader's Validate reads the same lines.
    """

    def _render_traceback_(self) -> list[str]:
        # the message stays one line per sentence (feedback and the gradebook
        # keep it whole); only its display is wrapped
        lines = wrap(str(self)).splitlines() or [""]
        # red first line, as IPython colours an exception's name
        return [f"\x1b[0;31m{lines[0]}\x1b[0m"] + lines[1:]


def find(exercise_id: str) -> Exercise:
    """The exercise ``"<assignment>.<function>"``."""
    from .assignments import EXERCISES

    if exercise_id not in EXERCISES:
        raise ValueError(f"exercise must be one of {sorted(EXERCISES)}, got {exercise_id!r}")
    return EXERCISES[exercise_id]


def _guarded(fn, forbidden):
    @functools.wraps(fn)
    def guarded(*args, **kwargs):
        with Tripwire(forbidden) as wire:
            result = fn(*args, **kwargs)
        if wire.hits:
            raise ReferenceUsed(wire.hits[0])
        return result
    return guarded


def _partner(fn, name: str, in_process: bool):
    """Another function from the same notebook as ``fn`` (None if it has none)."""
    if not in_process:
        if not hasattr(fn, "process"):
            raise TypeError(f"in_process=False is for functions proxied from the sandbox, "
                            f"got {type(fn).__name__}")
        return fn.process.function(name)
    namespace = getattr(inspect.unwrap(fn), "__globals__", {})
    partner = namespace.get(name)
    return partner if callable(partner) else None


def evaluate(exercise: Exercise, fn, part: str, hidden: bool = False, *,
             in_process: bool = True) -> Mismatch | None:
    """Grade one part; None means it passes.

    ``in_process=False`` is for functions proxied from the sandbox, where the
    reference cannot even be imported and tracing would only see the proxy.
    """
    if not isinstance(exercise, Exercise):
        raise TypeError(f"exercise must be an Exercise, as find() returns, got "
                        f"{type(exercise).__name__}")
    # several exercises override Exercise.check, so the part is checked here
    if not isinstance(part, str) or part not in exercise.parts:
        raise ValueError(f"part must be one of {sorted(exercise.parts)} for {exercise.id}, "
                         f"got {part!r}")
    hidden = _checks.boolean(hidden, "hidden", "evaluate")
    in_process = _checks.boolean(in_process, "in_process", "evaluate")
    functions = {exercise.function: fn}
    for name in exercise.needs:
        partner = _partner(fn, name, in_process)
        if partner is None:
            return Mismatch(name, "missing", f"grading {exercise.function} needs your {name}, "
                            "and the notebook defines no function of that name")
        functions[name] = partner
    if in_process:
        for name, f in functions.items():
            uses = static_uses(f, exercise.forbidden)
            if uses:
                return _reference_mismatch(exercise, ", ".join(uses))
        functions = {name: _guarded(f, exercise.forbidden) for name, f in functions.items()}
    exercise.partners = {name: functions[name] for name in exercise.needs}
    try:
        return exercise.check(functions[exercise.function], part, hidden)
    except ReferenceUsed as used:
        return _reference_mismatch(exercise, str(used))
    finally:
        exercise.partners = {}


def _reference_mismatch(exercise: Exercise, what: str) -> Mismatch:
    return Mismatch(exercise.function, "reference",
                    f"it uses {what}, which is descentlab's or torch's reference implementation",
                    hint="This part earns no credit: the exercise is to implement the update "
                         "yourself, in numpy. Remove the call and write the formula out.")


def check(exercise_id: str, fn, part: str, *, hidden: bool = False) -> None:
    """Pass silently (with a one-line note) or fail with the feedback message."""
    __tracebackhide__ = True  # noqa: F841 - IPython hides this frame from the traceback
    exercise = find(exercise_id)
    mismatch = evaluate(exercise, fn, part, hidden)
    if mismatch is not None:
        raise GradingFailure(mismatch.describe(exercise.function))
    print(f"{exercise.function}: {part.replace('_', ' ')} {'(hidden cases) ' if hidden else ''}passed")
