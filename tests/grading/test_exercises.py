"""Every assignment's exercises against its notebooks: the solution passes, stubs
and catalogued mistakes fail, and each mistake is recognised by name."""

import re

import pytest

from descentlab.grading import GradingFailure, check, evaluate, find
from descentlab.grading.assignments import of
from descentlab.grading.verify import part_of

from .notebooks import ROOT, assignments, meta, run_cells, source_notebooks

import nbformat

ASSIGNMENTS = assignments()
CALL = re.compile(r'check\("(?P<exercise>[\w.]+)", (?P<fn>\w+), "(?P<part>\w+)"(?P<hidden>, hidden=True)?\)')


def test_every_assignment_has_exercises():
    assert ASSIGNMENTS, "solutions/ holds no assignment"
    for assignment in ASSIGNMENTS:
        assert of(assignment), f"{assignment} has no exercises in descentlab.grading.assignments"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_test_cells_match_the_exercise_parts_and_points(assignment):
    exercises = {e.function: e for e in of(assignment)}
    seen = set()
    for path in source_notebooks(assignment):
        for cell in nbformat.read(str(path), as_version=4).cells:
            m = meta(cell)
            if not m.get("grade") or m.get("solution"):
                continue
            exercise, part = part_of(m["grade_id"], exercises)
            assert exercise is not None, f"{m['grade_id']}: no exercise part of that name"
            assert m["points"] == exercise.parts[part], f"{m['grade_id']}: points disagree"
            calls = [c.groupdict() for c in CALL.finditer(cell.source)]
            assert [(c["exercise"], c["fn"], c["part"], bool(c["hidden"])) for c in calls] == [
                (exercise.id, exercise.function, part, False),
                (exercise.id, exercise.function, part, True)], cell.source
            assert "### BEGIN HIDDEN TESTS" in cell.source and m.get("locked")
            seen.add((exercise.function, part))
    expected = {(e.function, p) for e in exercises.values() for p in e.parts}
    assert seen == expected, f"parts without a test cell: {sorted(expected - seen)}"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_each_answer_cell_is_named_after_its_function(assignment):
    for path in source_notebooks(assignment):
        for cell in nbformat.read(str(path), as_version=4).cells:
            m = meta(cell)
            if cell.cell_type == "code" and m.get("solution"):
                assert re.search(rf"^def {m['grade_id']}\(", cell.source, re.M), m["grade_id"]
                assert '"""' in cell.source, f"{m['grade_id']}: the stub must document itself"


@pytest.fixture(scope="module", params=ASSIGNMENTS)
def solved(request):
    return request.param, run_cells(source_notebooks(request.param)[0])


@pytest.fixture(scope="module", params=ASSIGNMENTS)
def released(request):
    path = sorted((ROOT / "assignments" / request.param).glob("*.ipynb"))[0]
    return request.param, run_cells(path)


def test_the_solutions_pass_every_part(solved):
    assignment, namespace = solved
    for exercise in of(assignment):
        for part in exercise.parts:
            for hidden in (False, True):
                mismatch = evaluate(exercise, namespace[exercise.function], part, hidden)
                assert mismatch is None, mismatch.describe(exercise.function)


def test_the_stubs_fail_every_part(released):
    assignment, namespace = released
    for exercise in of(assignment):
        for part in exercise.parts:
            mismatch = evaluate(exercise, namespace[exercise.function], part)
            assert mismatch is not None and mismatch.problem == "not-implemented", mismatch
            message = mismatch.describe(exercise.function)
            assert "not implemented yet" in message.splitlines()[0], message
            assert not message.rstrip().endswith(":"), message


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_catalogued_mistake_fails_a_part_and_is_named(assignment):
    for exercise in of(assignment):
        assert exercise.mistakes, f"{exercise.id} has no mistake catalogue"
        for mistake in exercise.mistakes:
            named = False
            for part in exercise.parts:
                for hidden in (False, True):
                    found = exercise.check(mistake.implementation, part, hidden)
                    named |= found is not None and found.mistake == mistake.name
            assert named, f"{exercise.id}: '{mistake.name}' is never diagnosed by name"


# -- argument checks of the public helpers (found by tests/fuzz) ----------------

def _noop(*args, **kwargs):
    return None


@pytest.mark.parametrize("call, error, fragment", [
    (lambda: evaluate("ps3_adaptive.adam_step", _noop, "first_step"), TypeError,
     "exercise must be an Exercise, as find"),
    # ps1's exercises override Exercise.check, which used to raise KeyError('')
    (lambda: evaluate(find("ps1_gradient_descent.minibatch_indices"), _noop, ""), ValueError,
     r"part must be one of \['one_epoch', 'reshuffled'\]"),
    (lambda: check("ps1_gradient_descent.step_decay", _noop, ["values"]), ValueError,
     "part must be one of"),
    (lambda: evaluate(find("ps3_adaptive.adam_step"), _noop, "state", hidden="yes"), TypeError,
     "evaluate: hidden must be True or False"),
    (lambda: evaluate(find("ps5_init_bn_dropout.batchnorm_backward"), _noop, "train_gradients",
                      in_process=False), TypeError, "in_process=False is for functions proxied"),
])
def test_malformed_arguments_are_refused_by_name(call, error, fragment):
    with pytest.raises(error, match=fragment):
        call()


def test_a_valid_part_still_gives_the_verdict():
    # the same exercise and part as above, with a wrong answer: a Mismatch, not an error
    mismatch = evaluate(find("ps1_gradient_descent.minibatch_indices"), _noop, "one_epoch")
    assert mismatch is not None and mismatch.variable
    with pytest.raises(GradingFailure):
        check("ps1_gradient_descent.minibatch_indices", _noop, "one_epoch")


def test_ps6_graders_give_right_answers_written_differently_full_credit():
    """Correct code unlike the reference (other rng calls, other loops) passes every part."""
    from descentlab.grading.assignments.ps6_tuning import (lr_range_test, log_uniform,
                                                            random_search, stratified_batches)
    import math as m
    import numpy as np

    def lu(low, high, size, rng):
        return 10.0 ** rng.uniform(m.log10(low), m.log10(high), size=size)

    def rs(objective, space, trials, rng):
        pts = [{k: float(10 ** rng.uniform(m.log10(a), m.log10(b)) if s == "log"
                         else rng.uniform(a, b)) for k, (a, b, s) in space.items()}
               for _ in range(trials)]
        return max(pts, key=lambda p: objective(**p))

    def sb(y, b, rng):
        order = np.concatenate([rng.permutation(np.flatnonzero(y == c)) for c in np.unique(y)])
        # deal the class-sorted order into slots spread evenly over the epoch
        slots = np.empty(len(y))
        start = 0
        for c in np.unique(y):
            k = np.sum(y == c)
            slots[start:start + k] = (np.arange(k) + rng.random(k)) / k
            start += k
        order = order[np.argsort(slots)]
        return [order[i:i + b] for i in range(0, len(y), b)]

    for exercise, fn in ((log_uniform, lu), (random_search, rs), (stratified_batches, sb)):
        for part in exercise.parts:
            for hidden in (False, True):
                found = exercise.check(fn, part, hidden)
                assert found is None, found.describe(exercise.function)
    assert lr_range_test.check(lr_range_test.reference, "usable", True) is None
