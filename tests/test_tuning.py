"""descentlab.tuning: samplers checked statistically, searches and the range test by
what they must do."""

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy import stats

from descentlab import data, tuning
from descentlab.models import MLP


def test_log_uniform_has_uniform_logarithms():
    x = tuning.log_uniform(1e-5, 1e-1, 20_000, rng=0)
    assert x.min() >= 1e-5 and x.max() < 1e-1
    # Kolmogorov-Smirnov against U(log 1e-5, log 1e-1); p > 1e-4 fails wrongly 1 time in 1e4
    u = (np.log(x) - math.log(1e-5)) / (math.log(1e-1) - math.log(1e-5))
    assert stats.kstest(u, "uniform").pvalue > 1e-4
    # each of the four decades holds a quarter (binomial sd ~0.003)
    counts = np.histogram(np.log10(x), bins=[-5, -4, -3, -2, -1])[0] / x.size
    assert np.all(np.abs(counts - 0.25) < 0.015)


@settings(max_examples=20, deadline=None)
@given(per_axis=st.integers(1, 5), dims=st.integers(1, 3))
def test_grid_has_every_combination_with_the_ends(per_axis, dims):
    space = {f"x{i}": (1e-3, 1.0, "log") if i % 2 else (0.0, 2.0, "linear") for i in range(dims)}
    pts = tuning.grid_points(space, per_axis)
    assert len(pts) == per_axis ** dims
    assert len({tuple(p.values()) for p in pts}) == len(pts)
    for name, (low, high, _) in space.items():
        values = sorted({p[name] for p in pts})
        assert len(values) == per_axis
        if per_axis > 1:
            assert values[0] == pytest.approx(low) and values[-1] == pytest.approx(high)


def test_random_points_try_a_new_value_of_every_axis_each_trial():
    space = {"lr": (1e-4, 1.0, "log"), "wd": (0.0, 0.1, "linear")}
    pts = tuning.random_points(space, 9, rng=0)
    assert len({p["lr"] for p in pts}) == 9 and len({p["wd"] for p in pts}) == 9
    assert len({p["lr"] for p in tuning.grid_points(space, 3)}) == 3
    assert all(1e-4 <= p["lr"] <= 1.0 and 0 <= p["wd"] <= 0.1 for p in pts)


def test_search_and_best():
    trials = tuning.search(lambda a, b: -(a - 1) ** 2 - b, [{"a": 0.0, "b": 0.0},
                                                            {"a": 1.0, "b": 0.0},
                                                            {"a": 1.0, "b": 1.0}])
    assert [t.score for t in trials] == [-1.0, 0.0, -1.0]
    assert tuning.best(trials).point == {"a": 1.0, "b": 0.0}
    assert tuning.best([tuning.Trial({}, math.nan), tuning.Trial({"a": 1}, -5.0)]).score == -5.0


def test_on_edge():
    assert tuning.on_edge(1e-2, 1e-4, 1e-2) == "high"
    assert tuning.on_edge(1.2e-4, 1e-4, 1e-2) == "low"
    assert tuning.on_edge(1e-3, 1e-4, 1e-2) is None
    assert tuning.on_edge(0.95, 0.0, 1.0, "linear") == "high"


def test_range_test_suggests_a_rate_that_trains():
    d = data.digits()
    test = tuning.lr_range_test(MLP(64, 32, 10, seed=0), d.X_train, d.y_train, steps=80)
    assert np.all(np.diff(test.lrs) > 0)
    assert 1e-4 <= test.suggestion <= 1.0
    # the suggestion trains: the loss after 3 epochs of SGD at it is well below ln 10
    from descentlab.optim import SGD
    from descentlab.training import fit
    model = MLP(64, 32, 10, seed=1)
    h = fit(model, SGD(model.params, lr=test.suggestion), d.X_train, d.y_train, epochs=3,
            batch_size=32)
    assert h.train_loss[-1] < 0.5 * math.log(10)
    # and the test stopped because the loss blew up, before lr_max
    assert test.losses[-1] > 2 * test.losses.min()


@pytest.mark.parametrize("call, error, match", [
    (lambda: tuning.log_uniform(1.0, 0.5), ValueError, "low"),
    (lambda: tuning.log_uniform(0.0, 0.5), ValueError, "low"),
    (lambda: tuning.grid_points({"lr": (0.0, 1.0, "log")}, 3), ValueError, "lr"),
    (lambda: tuning.grid_points({"lr": (1e-3, 1.0)}, 3), ValueError, "lr"),
    (lambda: tuning.grid_points({}, 3), ValueError, "space"),
    (lambda: tuning.random_points({"a": (0.0, 1.0, "linear")}, 0), ValueError, "trials"),
    (lambda: tuning.search(3, [{}]), TypeError, "objective"),
    (lambda: tuning.best([]), ValueError, "score"),
    (lambda: tuning.lr_range_test(MLP(2, 2, 2), np.zeros((4, 2)), np.zeros(4, int),
                                  lr_min=1.0, lr_max=0.1), ValueError, "lr_min"),
])
def test_bad_arguments(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_needle_depends_on_x_only_up_to_the_tilt():
    assert tuning.needle(0.63, 0.0) == pytest.approx(1.0)
    assert tuning.needle(0.63, 1.0) - tuning.needle(0.63, 0.0) == pytest.approx(0.02)
    assert tuning.needle(0.63 + 0.05, 0.0) == pytest.approx(math.exp(-0.5))


@settings(max_examples=20, deadline=None)
@given(n=st.integers(2, 60), k=st.integers(2, 10))
def test_kfold_partitions_the_indices(n, k):
    if k > n:
        with pytest.raises(ValueError, match="k"):
            tuning.kfold(n, k)
        return
    folds = tuning.kfold(n, k, rng=0)
    vals = np.concatenate([va for _, va in folds])
    assert np.array_equal(np.sort(vals), np.arange(n))
    for tr, va in folds:
        assert np.array_equal(np.sort(np.concatenate([tr, va])), np.arange(n))
        assert abs(len(va) - n / k) < 1
