"""Grid against random search on a 2-D objective where one axis barely matters."""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np

from ._base import _FigureExplorer, _assign, _png


class SearchExplorer(_FigureExplorer):
    r"""Bergstra & Bengio's figure 1 on sliders: the same budget of trials as a
    grid (left) and at random (right) over :func:`descentlab.tuning.needle`,
    whose score depends on x (the important hyperparameter) and hardly on y.

    Attributes: ``widget``, ``figure``, ``axes`` (grid, random),
    ``grid_points``/``random_points`` (``(trials, 2)`` arrays),
    ``grid_best``/``random_best`` (the best scores found), ``markers``
    (``{"grid", "random"}`` scatter artists), ``profiles`` (the score against
    x drawn under each panel).
    """

    _owner = "SearchExplorer"
    _KEYS = ("trials", "peak", "seed")
    TRIALS = (4, 9, 16, 25, 36)

    def __init__(self, *, trials: int = 9, peak: float = 0.63, seed: int = 0,
                 figsize=(10.0, 4.2), dpi: int = 100):
        self.axes = self._start(figsize, dpi, 2, sharey=True)
        self.figure.subplots_adjust(left=0.07, right=0.98, bottom=0.13, top=0.86, wspace=0.08)
        xs = np.linspace(0, 1, 121)
        self._xs = xs
        self.heat = [ax.imshow(np.zeros((2, 2)), extent=(0, 1, 0, 1), origin="lower",
                               cmap="viridis", vmin=0, vmax=1.02, aspect="auto")
                     for ax in self.axes]
        self.markers = {name: ax.plot([], [], "o", mfc="white", mec="k", ms=7,
                                      label=f"{name} trials")[0]
                        for name, ax in zip(("grid", "random"), self.axes)}
        self.profiles = {name: ax.plot(xs, np.zeros_like(xs), "-", color="#E69F00", lw=1.5,
                                       label="score against x")[0]
                         for name, ax in zip(("grid", "random"), self.axes)}
        for ax in self.axes:
            ax.set_xlabel("x (important hyperparameter)")
            ax.legend(loc="upper left", fontsize=7)
        self.axes[0].set_ylabel("y (unimportant hyperparameter)")
        style = dict(continuous_update=False, style={"description_width": "70px"},
                     layout=widgets.Layout(width="330px"))
        self.trials_slider = widgets.SelectionSlider(options=list(self.TRIALS), value=9,
                                                     description="trials", **style)
        self.peak_slider = widgets.FloatSlider(value=0.63, min=0.0, max=1.0, step=0.01,
                                               description="peak at x", **style)
        self.seed_slider = widgets.IntSlider(value=0, min=0, max=50, description="seed", **style)
        self.report = widgets.HTML()
        for w in (self.trials_slider, self.peak_slider, self.seed_slider):
            w.observe(lambda _: self._request("compute"), "value")
        with self.hold():
            self.set(trials=trials, peak=peak, seed=seed)
            self._request("compute")
        self.widget = widgets.VBox([widgets.HBox([self.trials_slider, self.peak_slider,
                                                  self.seed_slider]),
                                    self.report, self.status, self.image])

    def set(self, **settings) -> None:
        """Keys: ``trials`` (from :attr:`TRIALS`, square numbers so the grid is
        square), ``peak`` (in [0, 1]), ``seed``."""
        self._check_keys(settings, self._KEYS)
        with self.hold():
            for key, control in (("trials", self.trials_slider), ("peak", self.peak_slider),
                                 ("seed", self.seed_slider)):
                if key in settings:
                    _assign(control, settings[key], key, self._owner)

    def score(self, x, y) -> float:
        from ..tuning import needle

        return needle(float(x), float(y), peak=self.peak_slider.value)

    def _flush(self, pending) -> None:
        from ..tuning import grid_points, random_points

        space = {"x": (0.0, 1.0, "linear"), "y": (0.0, 1.0, "linear")}
        k = int(round(np.sqrt(self.trials_slider.value)))
        self.grid_points = np.array([[p["x"], p["y"]] for p in grid_points(space, k)])
        self.random_points = np.array([[p["x"], p["y"]] for p in random_points(
            space, self.trials_slider.value, self.seed_slider.value)])
        self.grid_best = max(self.score(*p) for p in self.grid_points)
        self.random_best = max(self.score(*p) for p in self.random_points)
        grid = np.linspace(0, 1, 81)
        surface = np.array([[self.score(x, y) for x in grid] for y in grid])
        profile = np.array([self.score(x, 0.0) for x in self._xs])
        for name, pts, best, heat in (("grid", self.grid_points, self.grid_best, self.heat[0]),
                                      ("random", self.random_points, self.random_best,
                                       self.heat[1])):
            heat.set_data(surface)
            self.markers[name].set_data(pts[:, 0], pts[:, 1])
            self.profiles[name].set_data(self._xs, 0.3 * profile)
        self.axes[0].set_title(f"grid: {len(np.unique(self.grid_points[:, 0]))} values of x, "
                               f"best {self.grid_best:.3f}", fontsize=9)
        self.axes[1].set_title(f"random: {len(np.unique(self.random_points[:, 0]))} values of x, "
                               f"best {self.random_best:.3f}", fontsize=9)
        self.figure.suptitle("with the same budget, random search tries more values of x",
                             fontsize=10)
        self.report.value = self.describe()
        self.figure.canvas.draw()
        self.image.value = _png(self.figure.canvas)

    def describe(self) -> str:
        return (f"{self.trials_slider.value} trials: best score {self.grid_best:.3f} on the "
                f"grid, {self.random_best:.3f} at random (the maximum is "
                f"{self.score(self.peak_slider.value, 1.0):.3f})")
