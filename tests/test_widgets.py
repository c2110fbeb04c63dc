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
    assert [t.get_text() for t in e.ax_loss.get_legend().get_texts()] == list(expected)


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
    shown_pixels = np.asarray(picture)
    assert full.shape == shown_pixels.shape
    # animated artists are left out of a full draw, so compare where they are not
    e.ax_loss.set_animated(False)
    for label in e.selected:
        for artist in (e.lines[label], e.ends[label]):
            artist.set_animated(False)
    e.start_marker.set_animated(False)
    e.figure.canvas.draw()
    full = np.asarray(e.figure.canvas.buffer_rgba())
    assert np.mean(np.any(full != shown_pixels, axis=-1)) < 0.001


def test_selection_changes_lines_sliders_and_legend(explorer):
    e = explorer
    e.optimizer_picker.value = ("RMSprop", "NAdam")
    assert set(e.paths) == {"RMSprop", "NAdam"}
    assert [w.description for w in e.lr_box.children] == ["lr RMSprop", "lr NAdam"]
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
