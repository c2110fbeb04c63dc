"""PS4's checkpoint/resume are graded as the student's own pair (issue 11): any
layout that round-trips passes, and each mistake costs points once, where it is."""

import copy

import numpy as np

from descentlab.grading import evaluate, find

CHECKPOINT = find("ps4_schedules_and_state.checkpoint")
RESUME = find("ps4_schedules_and_state.resume")


def other_keys_checkpoint(w, state, step):
    return {"params": w.copy(), "opt": copy.deepcopy(state), "t": step}


def other_keys_resume(checkpoint):
    saved = copy.deepcopy(checkpoint)
    return saved["params"], saved["opt"], saved["t"]


def tuple_checkpoint(w, state, step):
    return (w.copy(), {k: np.copy(v) for k, v in state.items()}, step)


def tuple_resume(checkpoint):
    w, state, step = checkpoint
    return w.copy(), {k: np.copy(v) for k, v in state.items()}, step


def shallow_checkpoint(w, state, step):
    return {"params": w, "opt": dict(state), "t": step}


def mutating_checkpoint(w, state, step):
    saved = {"w": w.copy(), "buf": state.pop("momentum_buffer").copy(), "step": step}
    return saved


def test_a_correct_pair_in_any_layout_gets_every_point():
    # the failing example, then a tuple layout: the text fixes no key names
    for make, load in ((other_keys_checkpoint, other_keys_resume), (tuple_checkpoint, tuple_resume)):
        for hidden in (False, True):
            assert evaluate(CHECKPOINT, make, "snapshot", hidden) is None
            found = _resume_with(load, make, hidden)
            assert found is None, found.describe("resume")


def _resume_with(resume, checkpoint, hidden=False):
    # evaluate() finds the partner in the function's module namespace, as in a notebook
    namespace = {"checkpoint": checkpoint, "resume": resume}
    bound = type(resume)(resume.__code__, {**resume.__globals__, **namespace}, resume.__name__)
    return evaluate(RESUME, bound, "continues", hidden)


def test_a_shallow_checkpoint_fails_its_own_part_only():
    found = evaluate(CHECKPOINT, shallow_checkpoint, "snapshot")
    assert found is not None and "shallow copy" in found.mistake
    assert found.variable.startswith("checkpoint['params']")
    shallow_resume = other_keys_resume  # correct, reading the shallow pair's keys
    assert _resume_with(shallow_resume, shallow_checkpoint) is None


def test_a_checkpoint_that_changes_the_live_run_is_failed():
    found = evaluate(CHECKPOINT, mutating_checkpoint, "snapshot")
    assert found is not None and found.variable == "state" and "changed" in found.detail


def test_resume_handing_out_the_checkpoints_arrays_is_named():
    def sharing(checkpoint):
        return checkpoint["params"], checkpoint["opt"], checkpoint["t"]
    found = _resume_with(sharing, other_keys_checkpoint)
    assert found is not None and found.mistake == "resume hands out the checkpoint's own arrays"


def test_a_stored_step_plus_one_is_reported_as_the_step_not_as_a_shallow_copy():
    def ahead(w, state, step):
        return other_keys_checkpoint(w, state, step + 1)
    assert evaluate(CHECKPOINT, ahead, "snapshot") is None
    found = _resume_with(other_keys_resume, ahead)
    assert found is not None and found.variable == "the resumed step" and found.mistake is None
    assert "expected 5, got 6" in found.detail
