"""The classes of check issue 11 asked for, on PS1: each written against a realistic
mistake that used to pass and a correct answer written another way that must still pass."""

import numpy as np

from descentlab.grading import evaluate, find
from descentlab.grading.assignments import ps1_gradient_descent as ps1
from descentlab.models import SoftmaxRegression

MINIBATCH = find("ps1_gradient_descent.minibatch_indices")
TRAIN = find("ps1_gradient_descent.train_softmax")
SGD_STEP = find("ps1_gradient_descent.sgd_step")


def _with(fn, **namespace):
    """fn with other notebook functions beside it, as evaluate() finds partners."""
    return type(fn)(fn.__code__, {**fn.__globals__, **namespace}, fn.__name__, fn.__defaults__)


def choice_batches(n, batch_size, rng):
    # a correct shuffle that draws another stream than rng.permutation
    order = rng.choice(n, size=n, replace=False)
    return [order[i:i + batch_size] for i in range(0, n, batch_size)]


def rotated_batches(n, batch_size, rng):
    order = np.roll(np.arange(n), int(rng.integers(n)))
    return [order[i:i + batch_size] for i in range(0, n, batch_size)]


def train_with_given_batches(X, y, epochs=10, batch_size=32, lr=0.1, seed=0):
    model = SoftmaxRegression(X.shape[1], 10, seed=seed)
    rng = np.random.default_rng(seed)
    losses = []
    for _ in range(epochs):
        seen = []
        for idx in minibatch_indices(len(y), batch_size, rng):  # noqa: F821 - bound by _with
            loss, grads = model.loss_and_grads(X[idx], y[idx])
            for p, g in zip(model.params, grads):
                p -= lr * g
            seen.append(loss)
        losses.append(float(np.mean(seen)))
    return model.params, losses


def test_a_block_shuffle_is_caught_by_independence_and_named():
    found = MINIBATCH.check(ps1._mb_blocks, "reshuffled")  # evaluate() would see the
    # grading module's own imports as a reference call
    assert found is not None and found.mistake.startswith("only the order of the batches")


def test_a_rotation_is_caught_and_described_without_a_guessed_name():
    found = evaluate(MINIBATCH, rotated_batches, "reshuffled")
    assert found is not None and found.mistake is None and "followed by the next one" in found.detail


def test_correct_shuffles_pass_the_independence_check_on_many_seeds():
    # the bound is 1e-9 per case; 40 seeds of two correct streams never come near it
    for seed in range(40):
        for draw in (ps1._mb_shuffled, choice_batches):
            assert ps1._independence(draw, 20, 4, np.random.default_rng(seed)) is None


def test_the_history_is_compared_with_the_reference_run_on_the_same_seed():
    ok = _with(train_with_given_batches, minibatch_indices=ps1._mb_shuffled)
    TRAIN.partners = {"minibatch_indices": ps1._mb_shuffled}
    try:
        assert TRAIN.check(ok, "loss_history") is None
        assert TRAIN.check(ok, "loss_history", hidden=True) is None
        for kind, name in (("reseeded", "the generator re-created every epoch"),
                           ("model_seed", "the model not seeded with seed"),
                           ("after_update", "the loss recorded after the update")):
            found = TRAIN.check(ps1._train_variant(kind), "loss_history")
            assert found is not None and found.mistake.startswith(name), (kind, found)
    finally:
        TRAIN.partners = {}


def test_another_correct_shuffle_is_not_held_to_the_references_stream():
    mine = _with(train_with_given_batches, minibatch_indices=choice_batches)
    TRAIN.partners = {"minibatch_indices": choice_batches}
    try:
        assert TRAIN.check(mine, "loss_history") is None
    finally:
        TRAIN.partners = {}


def test_sgd_step_that_overwrites_the_callers_w_is_named():
    found = SGD_STEP.check(ps1._sgd_in_place, "plain")
    assert found is not None and found.mistake.startswith("w updated in place")


def test_train_softmax_that_changes_its_data_is_failed():
    def scaled(X, y, **kw):
        X /= 1.0 + 1e-3   # "normalising" the caller's array in place
        return ps1._train_reference(X, y, **kw)
    found = TRAIN.check(scaled, "accuracy")
    assert found is not None and found.variable == "X and y"


def test_ps2s_stability_bound_is_where_heavy_ball_starts_to_diverge():
    # the reference formula against the recurrence itself: the spectral radius of the
    # 2x2 map (theta_t, theta_{t-1}) crosses 1 at the bound, from below to above
    from descentlab.grading.assignments.ps2_momentum import STABLE, STABLE_HIDDEN, _max_stable_lr
    for case in STABLE + STABLE_HIDDEN:
        h, mu = case["curvature"], case["momentum"]
        bound = _max_stable_lr(h, mu)
        for factor, stable in ((0.999, True), (1.001, False)):
            a = 1 + mu - factor * bound * h
            radius = max(abs(np.roots([1.0, -a, mu])))
            assert (radius < 1) == stable, (case, factor, radius)
