"""The surface explorer, driven headless: its pictures show exactly the
trajectories descentlab.surfaces computes, and it redraws in place."""

import base64
import io
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import assume, given, strategies as st  # noqa: E402
from PIL import Image  # noqa: E402

import descentlab.surfaces as S  # noqa: E402
from descentlab.widgets import ENTRIES, Entry, SurfaceExplorer  # noqa: E402

NOJIT = os.environ.get("NUMBA_DISABLE_JIT") == "1"
STEPS = 30 if NOJIT else 150


@pytest.fixture
def explorer():
    return SurfaceExplorer("rosenbrock", optimizers=["SGD", "SGD+momentum", "Adam"], steps=STEPS)


def shown(e, label):
    """What the figure shows for ``label``: path line, loss line."""
    line, loss = e.lines[label], e.loss_lines[label]
    assert line.get_visible() and loss.get_visible()
    return np.column_stack([line.get_xdata(), line.get_ydata()]), np.asarray(loss.get_ydata())


def gap(surface, path):
    g = S.losses(surface, path) - surface.min_value
    return np.where(g > 0, g, np.nan)


def test_lines_are_the_trajectories_of_the_settings(explorer):
    e = explorer
    e.set(lr={"SGD": 1e-3, "SGD+momentum": 2e-3, "Adam": 0.05}, momentum=0.8,
          betas=(0.8, 0.99), x0=(-1.5, 2.0))
    s = S.rosenbrock()
    expected = {
        "SGD": S.trajectory("SGD", s, (-1.5, 2.0), STEPS, lr=1e-3),
        "SGD+momentum": S.trajectory("SGD", s, (-1.5, 2.0), STEPS, lr=2e-3, momentum=0.8),
        "Adam": S.trajectory("Adam", s, (-1.5, 2.0), STEPS, lr=0.05, betas=(0.8, 0.99)),
    }
    for label, path in expected.items():
        line, loss = shown(e, label)
        np.testing.assert_array_equal(line, path)
        np.testing.assert_array_equal(loss, gap(s, path))
        np.testing.assert_array_equal(e.loss_lines[label].get_xdata(), np.arange(STEPS + 1))
    hidden = set(ENTRIES) - set(expected)
    assert not any(e.lines[label].get_visible() for label in hidden)
    # without gradient noise the update is deterministic: the legend says GD
    assert [t.get_text() for t in e.ax_loss.get_legend().get_texts()] == \
        ["GD", "GD+momentum", "Adam"]


def test_the_legend_says_sgd_only_when_the_gradients_are_noisy(explorer):
    e = explorer
    legend = lambda: [t.get_text() for t in e.ax_loss.get_legend().get_texts()]  # noqa: E731
    assert legend() == ["GD", "GD+momentum", "Adam"]
    e.set(noise=0.5)
    assert legend() == ["SGD", "SGD+momentum", "Adam"]
    e.set(noise=0.0)
    assert legend() == ["GD", "GD+momentum", "Adam"]
    assert e.ax_path.get_xlabel() and e.ax_path.get_ylabel(), "the path panel's axes are unlabelled"


def test_a_slider_move_recomputes_and_redraws_in_place(explorer):
    import matplotlib.pyplot as plt

    e = explorer
    figure, image, before = e.figure, e.image, e.png()
    line_before, _ = shown(e, "SGD+momentum")
    e.momentum_slider.value = 0.5  # what a student's drag does
    line_after, _ = shown(e, "SGD+momentum")
    assert not np.array_equal(line_before, line_after)
    np.testing.assert_array_equal(line_after, S.trajectory(
        "SGD", "rosenbrock", e.x0, STEPS, lr=e.lr_sliders["SGD+momentum"].value, momentum=0.5))
    assert e.png() != before
    assert e.figure is figure and e.image is image
    assert plt.get_fignums() == []  # nothing went through pyplot
    # the SGD line does not use momentum: unchanged
    np.testing.assert_array_equal(shown(e, "SGD")[0], S.trajectory(
        "SGD", "rosenbrock", e.x0, STEPS, lr=e.lr_sliders["SGD"].value))


def test_picture_is_the_figure_as_png(explorer):
    e = explorer
    e.set(momentum=0.5, lr={"Adam": 0.2})  # a redraw over an earlier picture leaves no trace
    picture = Image.open(io.BytesIO(e.png()))
    assert picture.format == "PNG"
    assert picture.size == tuple(int(v) for v in e.figure.get_size_inches() * e.figure.dpi)
    # the cached background plus the paths is what a full redraw of the figure gives
    e.figure.canvas.draw()
    full = np.asarray(e.figure.canvas.buffer_rgba())
    shown_pixels = np.asarray(picture.convert("RGBA"))  # an opaque RGB picture
    assert full.shape == shown_pixels.shape
    # animated artists are left out of a full draw, so compare where they are not
    for label in e.selected:
        for artist in (e.lines[label], e.ends[label], e.loss_lines[label]):
            artist.set_animated(False)
    e.start_marker.set_animated(False)
    e.figure.canvas.draw()
    full = np.asarray(e.figure.canvas.buffer_rgba())
    assert np.mean(np.any(full != shown_pixels, axis=-1)) < 0.001


def test_selection_changes_lines_sliders_and_legend(explorer):
    e = explorer
    e.optimizer_picker.value = ("RMSprop", "NAdam")
    assert set(e.paths) == {"RMSprop", "NAdam"}
    assert [w.children[0].description for w in e.lr_box.children] == ["lr RMSprop", "lr NAdam"]
    assert not e.lines["SGD"].get_visible() and e.lines["NAdam"].get_visible()
    np.testing.assert_array_equal(shown(e, "NAdam")[0], S.trajectory(
        "NAdam", "rosenbrock", e.x0, STEPS, lr=e.lr_sliders["NAdam"].value, betas=(0.9, 0.999)))


def test_noise_and_seed_reach_the_trajectories(explorer):
    e = explorer
    e.set(noise=5.0, seed=3)
    np.testing.assert_array_equal(shown(e, "SGD")[0], S.trajectory(
        "SGD", "rosenbrock", e.x0, STEPS, lr=e.lr_sliders["SGD"].value, noise=5.0, seed=3))


def test_changing_surface_redraws_the_contour_and_resets_the_start(explorer):
    e = explorer
    old_shade = e._surface_artists[0].get_array().copy()
    old_png = e.png()
    e.surface_picker.value = "himmelblau"
    s = S.himmelblau()
    assert e.surface.name == "himmelblau"
    assert e.ax_path.get_xlim() == s.xlim and e.ax_path.get_ylim() == s.ylim
    assert "Himmelblau" in e.ax_path.get_title()
    assert e.x0 == s.start
    shade = e._surface_artists[0].get_array()
    assert shade.shape != old_shade.shape or not np.array_equal(shade, old_shade)
    # the shading is the surface's values on the window
    X, Y, Z = s.grid(shade.shape[0])
    assert np.argmin(shade) == np.argmin(Z)
    stars = [a for a in e._surface_artists if getattr(a, "get_marker", lambda: None)() == "*"]
    assert sorted((a.get_xdata()[0], a.get_ydata()[0]) for a in stars) == sorted(s.minimisers)
    assert e.png() != old_png
    np.testing.assert_array_equal(shown(e, "Adam")[0], S.trajectory(
        "Adam", s, s.start, STEPS, lr=e.lr_sliders["Adam"].value))


def test_optimal_step_button_sets_two_over_the_eigenvalue_sum():
    e = SurfaceExplorer("quadratic", optimizers=["Adam"], kappa=37.0, steps=STEPS)
    assert not e.optimal_button.disabled
    # the eigenvalues, measured on the surface shown: its Hessian by differences
    f, h = e.surface.value, 1e-3
    H = np.array([[f(h, 0) - 2 * f(0, 0) + f(-h, 0),
                   (f(h, h) - f(h, -h) - f(-h, h) + f(-h, -h)) / 4],
                  [0.0, f(0, h) - 2 * f(0, 0) + f(0, -h)]]) / h ** 2
    H[1, 0] = H[0, 1]
    lam_min, lam_max = np.linalg.eigvalsh(H)
    assert lam_max / lam_min == pytest.approx(37.0, rel=1e-6)
    e.optimal_button.click()
    assert e.lr_sliders["SGD"].value == pytest.approx(2 / (lam_min + lam_max), rel=1e-6)
    assert e.lr_sliders["SGD"].value == 2 / (1 / 37 + 1)
    assert "SGD" in e.selected and "Adam" in e.selected
    assert f"{2 / (1 / 37 + 1):.4g}" in e.optimal_label.value
    # at alpha* the path contracts by (kappa - 1) / (kappa + 1) per step
    path, _ = shown(e, "SGD")
    norms = np.hypot(path[:, 0], path[:, 1])
    np.testing.assert_allclose(norms[1:] / norms[:-1], 36 / 38, rtol=1e-9)


def test_kappa_slider_rebuilds_the_quadratic_and_the_optimal_step_follows():
    e = SurfaceExplorer("quadratic", optimizers=["SGD"], steps=STEPS)
    e.kappa_slider.value = 100.0
    assert e.surface.kappa == 100.0
    e.heavy_ball_button.click()
    q = S.quadratic(kappa=100.0)
    assert e.lr_sliders["SGD+momentum"].value == q.heavy_ball["lr"]
    assert e.momentum_slider.value == q.heavy_ball["momentum"]
    np.testing.assert_array_equal(shown(e, "SGD+momentum")[0], S.trajectory(
        "SGD", q, q.start, STEPS, **q.heavy_ball))


def test_optimal_step_is_for_the_quadratic_only(explorer):
    assert explorer.optimal_button.disabled and explorer.kappa_slider.disabled
    with pytest.raises(ValueError, match="quadratic"):
        explorer.use_optimal_lr()


def test_a_built_surface_can_be_explored():
    q = S.quadratic(kappa=20.0, angle=0.6, lam_max=2.0)
    e = SurfaceExplorer(q, optimizers=["SGD"], steps=STEPS)
    assert e.surface.params == q.params and e.kappa_slider.value == 20.0
    np.testing.assert_array_equal(shown(e, "SGD")[0], S.trajectory(
        "SGD", q, q.start, STEPS, lr=e.lr_sliders["SGD"].value))


def test_rejected_settings_are_reported_not_raised(explorer):
    e = explorer
    e.set(optimizers=["SGD+Nesterov", "Adam"], momentum=0.0)
    assert "nesterov" in e.status.value
    assert e.lines["Adam"].get_visible() and e.paths["Adam"].shape == (STEPS + 1, 2)
    e.set(momentum=0.5)
    assert e.status.value == ""


def test_diverging_runs_draw_without_warnings(recwarn):
    e = SurfaceExplorer("quadratic", optimizers=["SGD"], lr=5.0, steps=2000)
    assert np.isnan(e.paths["SGD"][-1]).all()
    bottom, top = e.ax_loss.get_ylim()
    assert np.isfinite(top) and top < 1e10
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


@pytest.mark.parametrize("settings, error, match", [
    (dict(learning_rate=0.1), TypeError, "learning_rate"),
    (dict(lr=100.0), ValueError, r"lr.*100"),
    (dict(lr={"Adamm": 0.1}), ValueError, "Adamm"),
    (dict(optimizers=["Adamm"]), ValueError, "Adamm"),
    (dict(surface="rosenbrok"), ValueError, "rosenbrok"),
    (dict(momentum=1.5), ValueError, "momentum"),
    (dict(steps=2.5), TypeError, "steps"),
    (dict(x0=(100.0, 0.0)), ValueError, r"x0\[0\]"),
    (dict(seed=-1), ValueError, "seed"),
    (dict(x0=3.0), TypeError, "x0"),
])
def test_bad_settings(explorer, settings, error, match):
    with pytest.raises(error, match=match):
        explorer.set(**settings)


def test_custom_entries():
    extra = {"RMSprop centred": Entry("RMSprop", {"centered": True}, (), "adaptive")}
    e = SurfaceExplorer("beale", optimizers=["RMSprop centred"], entries=extra, steps=STEPS)
    np.testing.assert_array_equal(shown(e, "RMSprop centred")[0], S.trajectory(
        "RMSprop", "beale", e.x0, STEPS, lr=e.lr_sliders["RMSprop centred"].value, centered=True))
    with pytest.raises(ValueError, match="entries"):
        SurfaceExplorer(entries={"bad": Entry("Adamm", {}, (), "adaptive")})


def test_display_bundle_has_the_widget_and_a_static_picture(explorer):
    bundle = explorer._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert base64.b64decode(bundle["image/png"]) == explorer.png()


def test_the_update_times_its_parts(explorer):
    explorer.update()
    assert set(explorer.timings) == {"compute", "draw", "encode"}


NOTEBOOK_CELLS = [
    "import matplotlib.pyplot as plt\n%matplotlib inline\n"
    "from descentlab.widgets import SurfaceExplorer",
    f"e = SurfaceExplorer('beale', optimizers=['SGD', 'Adam'], steps={STEPS})\ne",
    "e.set(surface='quadratic', kappa=20)\ne.optimal_button.click()\n"
    "print(e.lr_sliders['SGD'].value)",
    "e.momentum_slider.value = 0.3\ndisplay(e)\nprint(len(plt.get_fignums()))",
]


def test_runs_headless_under_nbclient(tmp_path):
    """What `descentlab lectures` does to a lecture that uses the explorer."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in NOTEBOOK_CELLS])
    lib = str(Path(__file__).resolve().parents[1] / "lib")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([lib, os.environ.get("PYTHONPATH", "")])}
    env.pop("MPLBACKEND", None)
    client = NotebookClient(nb, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}})
    client.execute(env=env)
    outputs = [o for c in nb.cells for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    displays = [o for o in outputs if o.output_type in ("display_data", "execute_result")]
    assert len(displays) == 2
    for o in displays:
        assert "application/vnd.jupyter.widget-view+json" in o.data and "image/png" in o.data
    printed = "".join(o.text for o in outputs if o.output_type == "stream")
    assert printed.split() == [repr(2 / (1 / 20 + 1)), "0"]


# -- MomentumExplorer ------------------------------------------------------------

from descentlab import training  # noqa: E402
from descentlab.widgets import MomentumExplorer, TrainingExplorer, heavy_ball_rates  # noqa: E402


def hessian(surface):
    """The quadratic's Hessian, column by column from its (linear) gradient."""
    return np.column_stack([surface.grad(1.0, 0.0), surface.grad(0.0, 1.0)])


def spectral_radius(lr, momentum, lam):
    R = np.array([[momentum, lam], [-lr * momentum, 1.0 - lr * lam]])
    return np.max(np.abs(np.linalg.eigvals(R)))


@given(lr=st.floats(0.0, 5.0), momentum=st.floats(0.0, 0.999), lam=st.floats(1e-3, 2.0))
def test_heavy_ball_rates_are_spectral_radii(lr, momentum, lam):
    assert heavy_ball_rates(lr, momentum, lam) == pytest.approx(
        spectral_radius(lr, momentum, lam), rel=1e-6, abs=1e-7)


def test_heavy_ball_rate_is_the_measured_decay():
    # an underdamped and an overdamped setting: the error's decay over the
    # second half of a long run, measured on the path, is the predicted rate
    q = S.quadratic(kappa=50.0)
    for lr, momentum in ((0.5, 0.9), (0.2, 0.1)):
        path = S.trajectory("SGD", q, (3.0, 2.0), 400, lr=lr, momentum=momentum)
        r = np.hypot(path[:, 0], path[:, 1])
        measured = (np.max(r[350:]) / np.max(r[150:200])) ** (1 / 200)
        predicted = max(heavy_ball_rates(lr, momentum, [q.lam_min, q.lam_max]))
        assert measured == pytest.approx(predicted, rel=2e-3)


@pytest.fixture
def momentum_explorer():
    return MomentumExplorer(kappa=30.0, angle=0.5, steps=STEPS)


def test_momentum_sliders_redraw_the_path_the_modes_and_the_setting(momentum_explorer):
    e = momentum_explorer
    before = e.png()
    old_path = e.path_line.get_xydata().copy()
    e.lr_slider.value = 1.2
    e.momentum_slider.value = 0.6
    assert e.png() != before
    q = S.quadratic(kappa=30.0, angle=0.5)
    path = S.trajectory("SGD", q, q.start, STEPS, lr=1.2, momentum=0.6)
    np.testing.assert_array_equal(e.path_line.get_xydata(), path)
    assert not np.array_equal(old_path, path)
    # the error along each eigenvector: projections on numpy's eigenvectors
    lams, vecs = np.linalg.eigh(hessian(q))
    for i in range(2):
        shown_err = np.asarray(e.mode_lines[i].get_ydata())
        np.testing.assert_allclose(shown_err, np.abs(path @ vecs[:, i]), rtol=1e-9, atol=1e-12)
        assert e.rates[i] == pytest.approx(spectral_radius(1.2, 0.6, lams[i]), rel=1e-7)
        slope = np.diff(np.log(e.rate_lines[i].get_ydata()))
        np.testing.assert_allclose(slope, np.log(e.rates[i]), rtol=1e-9)
    np.testing.assert_array_equal(e.setting_marker.get_xydata(), [[1.2, 0.6]])
    assert f"{e.rates[1]:.4f}" in e.report.value


def test_rate_map_colours_steps_at_the_worst_rate_and_greys_divergence(momentum_explorer):
    e = momentum_explorer
    e.kappa_slider.value = 200.0
    lams = np.linalg.eigvalsh(hessian(S.quadratic(kappa=200.0, angle=0.5)))
    shown_map = np.asarray(e.rate_image.get_array())
    a, b = e.rate_grid
    rng = np.random.default_rng(0)
    for j, i in zip(rng.integers(0, b.size, 40), rng.integers(0, a.size, 40)):
        rho = max(spectral_radius(a[i], b[j], lam) for lam in lams)
        if rho >= 1.0 + 1e-9:
            assert np.isnan(shown_map[j, i]) or np.ma.is_masked(shown_map[j, i])
        elif rho < 1.0 - 1e-9:
            want = max(1.0, np.log(1e-3) / np.log(rho)) if rho > 0 else 1.0
            assert shown_map[j, i] == pytest.approx(want, rel=1e-5)
    # for alpha > 0 the stable region is alpha * lam_max < 2 (1 + beta)
    # (alpha = 0 stands still: rate 1 up to rounding)
    stable = np.isfinite(np.ma.filled(shown_map, np.nan))
    A, B = np.meshgrid(a, b)
    clear = (A > 0) & (np.abs(A * lams[1] - 2 * (1 + B)) > 1e-6)
    np.testing.assert_array_equal(stable[clear], (A * lams[1] < 2 * (1 + B))[clear])


def test_momentum_buttons_set_the_optimal_settings(momentum_explorer):
    e = momentum_explorer
    e.heavy_ball_button.click()
    k = 30.0
    assert e.lr == pytest.approx(4 / (1 + 1 / np.sqrt(k)) ** 2, rel=1e-9)
    assert e.momentum == pytest.approx(((np.sqrt(k) - 1) / (np.sqrt(k) + 1)) ** 2, abs=1e-3)
    e.optimal_button.click()
    assert e.momentum == 0.0 and e.lr == pytest.approx(2 / (1 + 1 / k), abs=1e-3)
    assert e.rate == pytest.approx((k - 1) / (k + 1), abs=1e-3)


def test_momentum_explorer_reports_divergence_and_rejects_bad_settings(recwarn):
    e = MomentumExplorer(kappa=10.0, lr=3.0, momentum=0.1, steps=STEPS)
    assert e.rate > 1 and "diverges" in e.report.value
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]
    for settings, error, match in ((dict(lr=5.0), ValueError, "lr"),
                                   (dict(momentum=1.0), ValueError, "momentum"),
                                   (dict(beta=0.5), TypeError, "beta"),
                                   (dict(x0=(1.0,)), TypeError, "x0")):
        with pytest.raises(error, match=match):
            e.set(**settings)
    with pytest.raises(ValueError, match="momentum"):
        heavy_ball_rates(0.1, 1.0, 1.0)
    with pytest.raises(TypeError, match="angle"):
        MomentumExplorer(angle="steep")


# -- TrainingExplorer ------------------------------------------------------------

EPOCHS = 2 if NOJIT else 4


@pytest.fixture(scope="module")
def digits():
    from descentlab.data import digits
    return digits(seed=0)


def test_training_sliders_retrain_and_plot_the_run(digits):
    import descentlab.optim as dlo
    from descentlab.models import SoftmaxRegression

    e = TrainingExplorer(digits, lr=0.1, batch_size=64, epochs=EPOCHS)
    before = e.png()
    e.set(lr=0.02, momentum=0.5, sampling="replacement", seed=3)
    e.batch_slider.value = 16
    assert e.png() != before
    model = SoftmaxRegression(64, 10, seed=3)
    h = training.fit(model, dlo.SGD(model.params, lr=0.02, momentum=0.5), digits.X_train,
                     digits.y_train, epochs=EPOCHS, batch_size=16, sampling="replacement",
                     seed=3, validation=(digits.X_val, digits.y_val))
    ref_model = SoftmaxRegression(64, 10, seed=3)
    ref = training.fit(ref_model, dlo.SGD(ref_model.params, lr=0.02, momentum=0.5),
                       digits.X_train, digits.y_train, epochs=EPOCHS, batch_size=None)
    for line, (x, y) in ((e.lines["train"], (h.epoch, h.train_loss)),
                         (e.lines["val"], (h.epoch, h.val_loss)),
                         (e.lines["reference"], (ref.epoch, ref.train_loss)),
                         (e.acc_lines["val"], (h.epoch, h.val_accuracy))):
        np.testing.assert_array_equal(line.get_xdata(), x)
        np.testing.assert_allclose(line.get_ydata(), y, rtol=1e-12)
    assert f"{h.val_accuracy[-1]:.1%}" in e.report.value


def test_full_batch_is_gradient_descent(digits):
    e = TrainingExplorer(digits, lr=0.5, batch_size=None, epochs=EPOCHS)
    assert e.batch_slider.value == "full" and e.batch_size is None
    np.testing.assert_array_equal(e.history.updates, np.arange(EPOCHS + 1))
    np.testing.assert_allclose(e.history.train_loss, e.reference_history.train_loss, rtol=1e-12)


def test_training_explorer_custom_model_and_bad_settings(digits, recwarn):
    from descentlab.models import MLP

    e = TrainingExplorer(digits, lambda seed: MLP(64, 8, 10, seed=seed), lr=10.0, epochs=2,
                         reference=False)
    assert not e.lines["reference"].get_visible()
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]
    for settings, error, match in ((dict(batch_size=3), ValueError, "batch_size"),
                                   (dict(lr=100.0), ValueError, "lr"),
                                   (dict(sampling="bootstrap"), ValueError, "sampling"),
                                   (dict(optimizer="Adam"), TypeError, "optimizer")):
        with pytest.raises(error, match=match):
            e.set(**settings)
    with pytest.raises(TypeError, match="data"):
        TrainingExplorer(object())


# -- exact values: the kernel holds them, sliders are views ------------------------
#
# A JupyterLab slider snaps what the kernel sends to its grid and sends the
# snapped value back (noUiSlider's "update" event fires on every set and when
# a view is drawn).  These tests play the front end: they write the snapped
# value into the slider, as the comm message would, and check that nothing the
# code set moves.

from descentlab.widgets import Control  # noqa: E402


def snapped(slider, value):
    """What the front end sends back for ``value``: noUiSlider's grid."""
    import ipywidgets as widgets

    if isinstance(slider, widgets.FloatLogSlider):
        k = round((np.log(value) / np.log(slider.base) - slider.min) / slider.step)
        return float(slider.base ** (slider.min + k * slider.step))
    k = round((value - slider.min) / slider.step)
    return type(value)(slider.min + k * slider.step)


def echo(control, value=None):
    control.view.value = snapped(control.view, control.value if value is None else value)


def test_echo_of_a_snapped_value_does_not_overwrite_what_code_set():
    e = SurfaceExplorer("quadratic", optimizers=["SGD", "SGD+momentum"], kappa=50, steps=STEPS,
                        lr=0.05)
    kappa, lr = e.controls["kappa"], e.controls["lr SGD"]
    assert snapped(kappa.view, 50.0) != 50.0 and snapped(lr.view, 0.05) != 0.05  # real echoes
    before = e.png()
    echo(kappa)
    echo(lr)
    assert e.surface.kappa == 50.0 and kappa.value == 50.0
    assert e.lr["SGD"] == 0.05 and e.png() == before
    np.testing.assert_array_equal(shown(e, "SGD")[0], S.trajectory(
        "SGD", S.quadratic(kappa=50.0), e.x0, STEPS, lr=0.05))
    # the text box shows the exact value
    assert kappa.text.value == "50.0" and lr.text.value == "0.05"


def test_saddle_start_survives_the_echo_and_the_paths_escape():
    e = SurfaceExplorer("saddle", optimizers=["SGD", "Adam"], steps=120, lr=0.05)
    y0 = S.saddle().start[1]
    assert y0 != 0.0 and snapped(e.controls["y"].view, y0) == 0.0  # the echo would stop it
    echo(e.controls["y"])
    assert e.x0[1] == y0
    for label in e.selected:
        assert np.max(np.abs(e.paths[label][:, 1])) > 1.0  # left the saddle


def test_late_echoes_of_earlier_sets_are_ignored():
    # lecture 02 under Run All: the explorer is displayed in one cell, set in
    # the next, and the echoes (of the value its view was drawn with, then of
    # each set) reach the kernel only after both cells have run
    goh = MomentumExplorer(kappa=100, momentum=0.0, steps=STEPS)
    drawn_with = goh.lr
    goh._repr_mimebundle_()
    goh.use_optimal_lr()
    heavy = goh.use_heavy_ball()
    goh.set(lr=1.0, momentum=0.9)
    picture = goh.png()
    for lr in (drawn_with, heavy["lr"]):
        echo(goh.controls["lr"], lr)
    echo(goh.controls["momentum"], heavy["momentum"])
    assert (goh.lr, goh.momentum) == (1.0, 0.9) and goh.png() == picture
    assert goh.rates[1] == pytest.approx(np.sqrt(0.9), rel=1e-12)
    # the slider is sent the current value again, so the page cannot keep
    # showing the stale one
    assert goh.controls["lr"].view.value == 1.0 and goh.controls["momentum"].view.value == 0.9
    # and the student's next move is taken
    goh.controls["lr"].view.value = 1.5
    assert goh.lr == 1.5


def test_a_students_slider_move_is_taken_exactly():
    goh = MomentumExplorer(kappa=100, momentum=0.0, steps=STEPS)
    lr = goh.controls["lr"]
    one_step = float(f"{snapped(lr.view, goh.lr) + lr.view.step:.12g}")  # a key press
    lr.view.value = snapped(lr.view, goh.lr) + lr.view.step
    assert goh.lr == one_step and lr.text.value == repr(one_step)
    np.testing.assert_array_equal(goh.path_line.get_xydata(), S.trajectory(
        "SGD", goh.surface, goh.x0, STEPS, lr=one_step, momentum=0.0))


@given(exponent=st.floats(-4.99, 0.99), step=st.sampled_from([0.01, 0.02, 0.05, 0.1]),
       moves=st.integers(-3, 3))
def test_log_slider_echoes_are_ignored_and_moves_taken(exponent, step, moves):
    import ipywidgets as widgets

    seen = []
    c = Control(widgets.FloatLogSlider(value=1e-2, min=-5, max=1, step=step), name="lr")
    c.observe(lambda control: seen.append(control.value))
    value = 10.0 ** exponent
    # a value halfway between two grid points may be snapped to either, and then the
    # front end's "one step up from the lower one" and its echo of the upper one are the
    # same message: nothing can tell them apart (found by hypothesis: 10 ** 0.55, step 0.1)
    grid = (np.log(value) / np.log(10.0) + 5) / step
    assume(abs(grid - np.floor(grid) - 0.5) > 1e-6)
    c.set(value)
    echo(c)
    assert c.value == value and seen == ([value] if value != 1e-2 else [])
    position = snapped(c.view, value) * 10.0 ** (moves * step)
    if moves and 1e-5 <= position <= 10.0:
        c.view.value = position
        assert c.value == float(f"{position:.12g}")  # the grid point, to 12 digits
    else:
        c.view.value = position if moves == 0 else c.view.value
        assert c.value == value


def test_typing_a_value_sets_it_exactly_and_bad_text_is_reported(explorer):
    e = explorer
    text = e.controls["lr Adam"].text
    text.value = "0.0123"
    assert e.lr["Adam"] == 0.0123
    np.testing.assert_array_equal(shown(e, "Adam")[0], S.trajectory(
        "Adam", "rosenbrock", e.x0, STEPS, lr=0.0123))
    for typed, match in (("fast", "lr"), ("100", "100")):
        text.value = typed
        assert e.lr["Adam"] == 0.0123 and text.value == "0.0123"
        assert match in e.status.value and "lr" in e.status.value
    e.controls["steps"].text.value = "155"  # off the slider's grid of 10: held exactly
    assert e.paths["Adam"].shape == (156, 2) and e.status.value == ""
    e.controls["steps"].text.value = "15.5"
    assert "steps" in e.status.value and e.paths["Adam"].shape == (156, 2)


def test_reset_goes_back_to_the_settings_the_explorer_started_with(explorer):
    e = explorer
    start = (e.x0, e.lr, e.selected, e.png())
    e.set(surface="beale", optimizers=["RMSprop"], seed=4, noise=0.5)
    e.set(x0=(0.5, 0.5), momentum=0.3)
    e.reset_button.click()
    assert (e.x0, e.lr, e.selected, e.png()) == start
    assert e.seed == 0 and e.controls["momentum"].value == 0.9
    goh = MomentumExplorer(kappa=30.0, steps=STEPS)
    before = (goh.lr, goh.momentum, goh.kappa, goh.x0, goh.png())
    goh.set(lr=1.5, momentum=0.4, kappa=200.0, x0=(1.0, 1.0))
    goh.reset()
    assert (goh.lr, goh.momentum, goh.kappa, goh.x0, goh.png()) == before


def test_labels_name_the_optimizers_a_setting_affects(explorer):
    c = explorer.controls
    assert "SGD+momentum" in c["momentum"].affects and "Adam" not in c["momentum"].affects
    assert c["beta1"].affects == "Adam" == c["beta2"].affects
    explorer.set(optimizers=["SGD", "SGD+Nesterov", "NAdam", "Adam"])
    assert c["momentum"].affects == "SGD+Nesterov"
    assert c["beta2"].affects == "NAdam, Adam"
    explorer.set(optimizers=["SGD"])
    assert c["momentum"].affects == "no optimizer shown"
    assert "no optimizer shown" in c["momentum"].affects_label.value


# -- clicking on the map -------------------------------------------------------------

def pixel_of(e, ax, x, y):
    """The picture's pixel (origin top left) where ``ax`` draws data (x, y)."""
    dx, dy = ax.transData.transform((x, y))
    return dx, e.figure.canvas.get_width_height()[1] - dy


@pytest.mark.parametrize("make", [
    lambda: SurfaceExplorer("rosenbrock", optimizers=["SGD", "Adam"], steps=STEPS),
    lambda: MomentumExplorer(kappa=30.0, steps=STEPS),
])
def test_a_click_on_the_map_moves_the_start_there(make):
    e = make()
    before = e.png()
    target = (-1.1, 1.7) if isinstance(e, SurfaceExplorer) else (-2.0, 1.5)
    px, py = pixel_of(e, e.ax_path, *target)
    # what ipyevents sends for a click on the Image widget: image pixels
    e._dom_click({"type": "click", "dataX": px, "dataY": py})
    # one pixel of the map, in data units: the click's resolution
    x_unit, y_unit = (np.diff(e.ax_path.get_xlim())[0] / e.ax_path.bbox.width,
                      np.diff(e.ax_path.get_ylim())[0] / e.ax_path.bbox.height)
    assert abs(e.x0[0] - target[0]) < 1e-9 * x_unit + 1e-12
    assert abs(e.x0[1] - target[1]) < 1e-9 * y_unit + 1e-12
    assert e.png() != before
    np.testing.assert_array_equal(e.start_marker.get_xydata(), [e.x0])
    if isinstance(e, SurfaceExplorer):
        np.testing.assert_array_equal(shown(e, "Adam")[0], S.trajectory(
            "Adam", "rosenbrock", e.x0, STEPS, lr=e.lr["Adam"]))
    else:
        np.testing.assert_array_equal(e.path_line.get_xydata()[0], e.x0)
    # a browser that reports only where in the drawn element it was clicked,
    # here drawn at half size
    w, h = e.figure.canvas.get_width_height()
    px, py = pixel_of(e, e.ax_path, 0.5 * target[0], 0.5 * target[1])
    e._dom_click({"type": "click", "relativeX": px / 2, "relativeY": py / 2,
                  "boundingRectWidth": w / 2, "boundingRectHeight": h / 2})
    assert e.x0 == pytest.approx((0.5 * target[0], 0.5 * target[1]), abs=2 * max(x_unit, y_unit))
    # outside the map (the loss panel, the margin): nothing moves
    start, picture = e.x0, e.png()
    assert not e.click(w - 5.0, h / 2) and not e.click(2.0, 2.0)
    assert e.x0 == start and e.png() == picture


def test_assign_on_a_controlled_slider_sets_the_control():
    # explorers written before Control call _assign(slider, ...): it must hold
    # the exact value too, and refuse what the slider would clip
    from descentlab.widgets._base import _assign

    goh = MomentumExplorer(kappa=10.0, steps=STEPS)
    _assign(goh.lr_slider, 0.1234567, "lr", "MomentumExplorer")
    assert goh.lr == 0.1234567 and goh.controls["lr"].text.value == "0.1234567"
    echo(goh.controls["lr"])
    assert goh.lr == 0.1234567
    with pytest.raises(ValueError, match=r"MomentumExplorer: lr must lie in \[0, 4\], got 9"):
        _assign(goh.lr_slider, 9, "lr", "MomentumExplorer")


def test_the_base_as_its_docstring_shows_it():
    """A new explorer on the base, written as _base's docstring says."""
    import ipywidgets as widgets

    from descentlab.widgets._base import _FigureExplorer

    class Ramp(_FigureExplorer):
        _owner, _KEYS = "Ramp", ("lr", "steps")

        def __init__(self, lr=0.1, steps=100):
            self.ax = self._start(figsize=(4, 3), dpi=50, ncols=1)
            self.line, = self.ax.plot([], [])
            self.flushes = []
            lr_control = self._control("lr", widgets.FloatLogSlider(
                value=lr, min=-4, max=1, step=0.02, description="lr"), affects="SGD")
            steps_control = self._control("steps", widgets.IntSlider(
                value=steps, min=10, max=1000, step=10, description="steps"))
            with self.hold():
                self.set(lr=lr, steps=steps)
            self._finish()
            self.widget = widgets.VBox([lr_control.widget, steps_control.widget,
                                        self.reset_button, self.status, self.image])

        def set(self, **settings):
            self._set_controls(settings)

        def _flush(self, pending):
            self.flushes.append(pending)
            n = self.controls["steps"].value
            self.line.set_data(np.arange(n), self.controls["lr"].value * np.arange(n))
            self.ax.relim()
            self.ax.autoscale_view()
            self.figure.canvas.draw()
            self._show()

    r = Ramp(lr=0.0123, steps=155)
    assert r.flushes == [{"compute"}]  # one picture for the whole construction
    assert r.line.get_ydata()[-1] == 0.0123 * 154
    assert Image.open(io.BytesIO(r.png())).format == "PNG" and r.image.format == "jpeg"
    assert r.controls["lr"].affects_label.value.count("SGD") == 1
    echo(r.controls["lr"])
    echo(r.controls["steps"])
    assert (r.controls["lr"].value, r.controls["steps"].value) == (0.0123, 155)
    r.set(lr=0.5, steps=20)
    with pytest.raises(TypeError, match="Ramp.set: unknown settings"):
        r.set(momentum=0.9)
    with pytest.raises(ValueError, match=r"Ramp: steps must lie in \[10, 1000\], got 5"):
        r.set(steps=5)
    r.reset_button.click()
    assert (r.controls["lr"].value, r.controls["steps"].value) == (0.0123, 155)
    assert len(r.flushes) == 3
