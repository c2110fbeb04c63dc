"""ScheduleExplorer, headless: what it draws is the schedule's closed form and
the training run that schedule produces, recomputed here independently."""

import base64
import io

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

import descentlab.schedulers as S  # noqa: E402
from descentlab import data, models, optim, training  # noqa: E402
from descentlab.widgets import SCHEDULES, ScheduleExplorer  # noqa: E402


@pytest.fixture(scope="module")
def digits():
    return data.digits(seed=0)


@pytest.fixture
def explorer(digits):
    return ScheduleExplorer(digits, schedule="step", lr=0.1, epochs=4, gamma=0.5, period=1,
                            batch_size=128, n_hidden=16)


def rerun(d, lr, epochs, momentum, seed, build, batch_size=128, n_hidden=16):
    """The run the explorer should show, built here without the explorer."""
    model = models.MLP(64, n_hidden, 10, seed=seed)
    opt = optim.SGD(model.params, lr=lr, momentum=momentum)
    return training.fit(model, opt, d.X_train, d.y_train, epochs=epochs, batch_size=batch_size,
                        validation=(d.X_val, d.y_val), seed=seed, records_per_epoch=2,
                        scheduler=build(opt))


def test_step_schedule_lines_are_the_closed_form_and_the_run(explorer, digits):
    per = 9  # ceil(1077 / 128)
    assert explorer.updates_per_epoch == per
    t = np.arange(4 * per)
    # halving every epoch, written from the math, not from the library
    expected = 0.1 * 0.5 ** (t // per)
    np.testing.assert_allclose(explorer.lines["lr"].get_ydata(), expected, rtol=1e-12)
    np.testing.assert_allclose(explorer.lines["lr"].get_xdata(), t / per)
    np.testing.assert_allclose(explorer.lrs, expected, rtol=1e-12)
    h = rerun(digits, 0.1, 4, 0.9, 0, lambda o: S.StepLR(o, step_size=per, gamma=0.5))
    np.testing.assert_array_equal(explorer.lines["train"].get_ydata(), h.train_loss)
    np.testing.assert_array_equal(explorer.lines["val"].get_ydata(), h.val_loss)
    np.testing.assert_array_equal(explorer.lines["train"].get_xdata(), h.epoch)
    ref = rerun(digits, 0.1, 4, 0.9, 0, lambda o: None)
    np.testing.assert_array_equal(explorer.lines["reference"].get_ydata(), ref.train_loss)
    assert "step, lr 0.1, 4 epochs" in explorer.describe()


@pytest.fixture(scope="module")
def quick(digits):
    """No reference run: one training run per setting."""
    return ScheduleExplorer(digits, schedule="constant", epochs=4, batch_size=128, n_hidden=16,
                            reference=False)


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_every_schedule_steps_as_its_closed_form(quick, schedule):
    explorer = quick
    kw = dict(schedule=schedule, epochs=4, period=2, warmup=1, gamma=0.7, lr=0.2)
    explorer.set(**kw)
    assert explorer.settings["schedule"] == schedule
    n = 4 * explorer.updates_per_epoch
    assert explorer.lrs.shape == (n,)
    # stepped rates (recorded from the optimizer) against the closed form
    scale = np.max(explorer.closed)
    assert np.max(np.abs(explorer.lrs - explorer.closed)) <= 1e-12 * scale
    np.testing.assert_array_equal(explorer.lines["lr"].get_ydata(), explorer.lrs)
    assert explorer.lrs[0] == pytest.approx(
        {"warm-up + cosine": 0.02, "triangular": 0.02}.get(schedule, 0.2), rel=1e-12) \
        or schedule == "one-cycle"


def test_closed_forms_against_formulas_written_here(explorer):
    per = explorer.updates_per_epoch
    t = np.arange(8 * per, dtype=float)
    explorer.set(schedule="warm restarts (SGDR)", epochs=8, period=3, lr=0.1)
    P = 3 * per
    np.testing.assert_allclose(explorer.closed, 0.05 * (1 + np.cos(np.pi * (t % P) / P)),
                               rtol=1e-12, atol=1e-15)
    explorer.set(schedule="cosine")
    np.testing.assert_allclose(explorer.closed, 0.05 * (1 + np.cos(np.pi * t / (8 * per))),
                               rtol=1e-12, atol=1e-15)
    explorer.set(schedule="inverse-time", period=2)
    np.testing.assert_allclose(explorer.closed, 0.1 / (1 + t / (2 * per)), rtol=1e-13)
    explorer.set(schedule="exponential", gamma=0.5)
    np.testing.assert_allclose(explorer.closed, 0.1 * 0.5 ** (t / per), rtol=1e-12)


def test_momentum_and_seed_reach_the_run(explorer, digits):
    explorer.set(schedule="cosine", epochs=3, momentum=0.5, seed=3, lr=0.05)
    per = explorer.updates_per_epoch
    h = rerun(digits, 0.05, 3, 0.5, 3, lambda o: S.CosineAnnealingLR(o, T_max=3 * per))
    np.testing.assert_array_equal(explorer.history.train_loss, h.train_loss)


def test_picture_is_the_figure(explorer):
    png = explorer.png()
    assert Image.open(io.BytesIO(png)).size == explorer.figure.canvas.get_width_height()
    bundle = explorer._repr_mimebundle_()
    assert base64.b64decode(bundle["image/png"]) == png
    assert "application/vnd.jupyter.widget-view+json" in bundle


def test_hold_batches_into_one_run(explorer):
    runs = []
    original = explorer._flush
    explorer._flush = lambda pending: (runs.append(pending), original(pending))
    with explorer.hold():
        explorer.set(schedule="cosine")
        explorer.set(lr=0.05)
        explorer.controls["epochs"].set(3)
    assert len(runs) == 1
    assert explorer.history.epoch[-1] == 3


@pytest.mark.parametrize("settings, error, match", [
    (dict(schedule="linear"), ValueError, "schedule"),
    (dict(lr=-0.1), ValueError, "lr"),
    (dict(lr="0.1"), TypeError, "lr"),
    (dict(epochs=1), ValueError, "epochs"),
    (dict(epochs=2.5), TypeError, "epochs"),
    (dict(gamma=0.0), ValueError, "gamma"),
    (dict(period=0), ValueError, "period"),
    (dict(momentum=1.5), ValueError, "momentum"),
    (dict(speed=3), TypeError, "speed"),
    (dict(schedule="one-cycle", warmup=4, epochs=4), ValueError, "warmup=4"),
])
def test_bad_settings_name_the_setting_and_change_nothing(explorer, settings, error, match):
    before = explorer.settings
    with pytest.raises(error, match=match):
        explorer.set(**settings)
    assert explorer.settings == before


def test_the_kernel_holds_exact_values_and_reset_restores_them(explorer):
    explorer.set(lr=0.123456789)                # off the slider's grid
    assert explorer.settings["lr"] == 0.123456789
    assert explorer.history is not None and explorer.lrs[0] == 0.123456789
    explorer.reset()
    assert explorer.settings["lr"] == 0.1 and explorer.settings["schedule"] == "step"


def test_bad_construction(digits):
    with pytest.raises(TypeError, match="data"):
        ScheduleExplorer(object())
    with pytest.raises(ValueError, match="batch_size"):
        ScheduleExplorer(digits, batch_size=0)
