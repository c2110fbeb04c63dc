"""BatchSizeExplorer and SearchExplorer, headless: set values, compare the figure's
artists with reference values recomputed here, and refuse bad settings by name."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from descentlab import batching, data, models, training, tuning  # noqa: E402
from descentlab.optim import SGD  # noqa: E402
from descentlab.widgets import BatchSizeExplorer, SearchExplorer  # noqa: E402


@pytest.fixture(scope="module")
def digits():
    d = data.digits()
    # a small slice keeps each run fast; the explorer takes any data of this shape
    return d._replace(X_train=d.X_train[:200], y_train=d.y_train[:200])


def factory(seed):
    return models.MLP(64, 8, 10, seed=seed)


def reference(d, lr, b, epochs, seed):
    m = factory(seed)
    return training.fit(m, SGD(m.params, lr=lr), d.X_train, d.y_train, epochs=epochs,
                        batch_size=b, seed=seed, validation=(d.X_val, d.y_val),
                        records_per_epoch=2)


@pytest.mark.parametrize("rule", ["none", "linear", "sqrt"])
def test_batch_size_explorer_plots_the_scaled_run_on_three_clocks(digits, rule):
    e = BatchSizeExplorer(digits, factory, lr=0.05, batch_size=128, rule=rule, epochs=2)
    want_lr = batching.scaled_lr(0.05, 32, 128, rule)
    assert e.lr == pytest.approx(want_lr)
    h = reference(digits, want_lr, 128, 2, 0)
    ref = reference(digits, 0.05, 32, 2, 0)
    for clock in ("epoch", "updates"):
        x, y = e.lines[clock]["run"].get_data()
        np.testing.assert_allclose(x, getattr(h, clock))
        np.testing.assert_allclose(y, h.train_loss, rtol=1e-12)
        x, y = e.lines[clock]["reference"].get_data()
        np.testing.assert_allclose(x, getattr(ref, clock))
        np.testing.assert_allclose(y, ref.train_loss, rtol=1e-12)
    seconds = e.lines["seconds"]["run"].get_data()[0]
    assert seconds[0] == 0 and np.all(np.diff(seconds) >= 0)
    assert f"lr = {want_lr:.3g}" in e.describe()
    assert e.png()[:4] == b"\x89PNG"


def test_batch_size_explorer_hold_runs_once(one_epoch, monkeypatch):
    e = one_epoch
    calls = []
    original = e._fit
    monkeypatch.setattr(e, "_fit", lambda *a, **k: calls.append(a) or original(*a, **k))
    with e.hold():
        e.set(batch_size=64)
        e.set(lr=0.2, rule="sqrt")
    assert len(calls) == 2  # the run and its reference, once


def test_batch_size_explorer_reports_divergence(digits):
    e = BatchSizeExplorer(digits, factory, lr=10.0, batch_size=1024, rule="linear", epochs=2)
    assert "diverged" in e.describe() or np.isfinite(e.history.train_loss[-1])
    assert e.lr == pytest.approx(10.0 * 1024 / 32)


@pytest.fixture(scope="module")
def one_epoch(digits):
    return BatchSizeExplorer(digits, factory, epochs=1)


@pytest.mark.parametrize("settings, error, match", [
    ({"batch_size": 100}, ValueError, "batch_size"),
    ({"rule": "cubic"}, ValueError, "rule"),
    ({"lr": 100.0}, ValueError, "lr"),
    ({"epochs": 0}, ValueError, "epochs"),
    ({"lr": "fast"}, TypeError, "lr"),
    ({"momentum": 0.9}, TypeError, "momentum"),
])
def test_batch_size_explorer_bad_settings(one_epoch, settings, error, match):
    before = (one_epoch.lr, one_epoch.history)
    with pytest.raises(error, match=match):
        one_epoch.set(**settings)
    assert (one_epoch.lr, one_epoch.history) == before  # refused before any run


@pytest.mark.parametrize("trials, seed, peak", [(9, 0, 0.63), (16, 3, 0.2), (25, 7, 0.9)])
def test_search_explorer_shows_the_grid_and_random_points(trials, seed, peak):
    e = SearchExplorer(trials=4)
    e.set(trials=trials, seed=seed, peak=peak)
    space = {"x": (0.0, 1.0, "linear"), "y": (0.0, 1.0, "linear")}
    k = int(np.sqrt(trials))
    grid = np.array([[p["x"], p["y"]] for p in tuning.grid_points(space, k)])
    rand = np.array([[p["x"], p["y"]] for p in tuning.random_points(space, trials, seed)])
    for name, want in (("grid", grid), ("random", rand)):
        x, y = e.markers[name].get_data()
        np.testing.assert_allclose(np.column_stack([x, y]), want)
    assert e.grid_best == pytest.approx(max(tuning.needle(*p, peak=peak) for p in grid))
    assert e.random_best == pytest.approx(max(tuning.needle(*p, peak=peak) for p in rand))
    assert f"{len(np.unique(grid[:, 0]))} values of x" in e.axes[0].get_title()
    heat = np.asarray(e.heat[0].get_array())
    assert heat.max() == pytest.approx(max(tuning.needle(x, 1.0, peak=peak)
                                           for x in np.linspace(0, 1, 81)))


@pytest.mark.parametrize("settings, error, match", [
    ({"trials": 10}, ValueError, "trials"),
    ({"peak": 1.5}, ValueError, "peak"),
    ({"seed": -1}, ValueError, "seed"),
    ({"budget": 9}, TypeError, "budget"),
])
def test_search_explorer_bad_settings(settings, error, match):
    with pytest.raises(error, match=match):
        SearchExplorer().set(**settings)
