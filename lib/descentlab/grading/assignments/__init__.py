"""The exercises of every assignment, keyed ``"<assignment>.<function>"``.

One module per assignment, named as its folder in ``solutions/``; each
defines ``EXERCISES``, a list of :class:`~descentlab.grading.exercise.Exercise`.
"""

from __future__ import annotations

import importlib

from ..exercise import Exercise

ASSIGNMENTS = ("ps1_gradient_descent", "ps2_momentum", "ps3_adaptive", "ps4_schedules_and_state",
               "ps5_init_bn_dropout", "ps6_tuning")


def _load() -> dict[str, Exercise]:
    exercises = {}
    for name in ASSIGNMENTS:
        try:
            module = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
            continue  # not written yet
        for exercise in module.EXERCISES:
            exercises[exercise.id] = exercise
    return exercises


def __getattr__(name: str):
    if name == "EXERCISES":
        value = _load()
        globals()["EXERCISES"] = value
        return value
    raise AttributeError(name)


def of(assignment: str) -> list[Exercise]:
    """The exercises of one assignment, in notebook order."""
    from . import EXERCISES as all_exercises  # noqa: PLC0415 - lazily built

    return [e for e in all_exercises.values() if e.assignment == assignment]
