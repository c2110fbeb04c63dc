"""Initialisation schemes on sliders: per-layer spread and a short training run."""

from __future__ import annotations

import time

import ipywidgets as widgets
import numpy as np

from ._base import _FigureExplorer, _positive


class InitExplorer(_FigureExplorer):
    r"""Choose an initialisation scheme, an activation, a depth and a width.

    Left: the standard deviation of every layer's activations (solid) and of
    the gradient with respect to them (dashed), for a batch of standard
    normal inputs through ``depth`` square layers of ``width`` units
    (:func:`descentlab.propagation.layer_statistics`).  Right: the training
    loss of full-batch gradient descent (GD) on the digits for an MLP
    64 → width × depth → 10 initialised the same way
    (:func:`descentlab.propagation.train_curve`).

    Attributes: ``widget``, ``figure``, ``ax_std``, ``ax_loss``,
    ``statistics`` (:class:`descentlab.propagation.LayerStatistics`),
    ``curve`` (the losses), ``lines`` (``{"activations", "gradients",
    "loss"}``), and ``describe()`` (the status text).
    """

    _owner = "InitExplorer"
    _KEYS = ("scheme", "activation", "depth", "width", "seed")
    WIDTHS = (16, 32, 64, 128, 256)

    def __init__(self, data=None, *, scheme: str = "kaiming", activation: str = "tanh",
                 depth: int = 20, width: int = 64, seed: int = 0, steps: int = 30,
                 lr: float = 0.1, figsize=(10.0, 3.6), dpi: int = 100):
        from .. import _checks
        from .. import data as datasets
        from ..propagation import ACTIVATIONS, SCHEMES

        self.data = datasets.digits() if data is None else data
        self.steps = _checks.integer(steps, "steps", self._owner, minimum=1)
        self.lr = _checks.positive(lr, "lr", self._owner)
        self.ax_std, self.ax_loss = self._start(figsize, dpi, 2)
        self.figure.subplots_adjust(left=0.08, right=0.98, bottom=0.15, top=0.88, wspace=0.28)
        style = dict(style={"description_width": "80px"}, layout=widgets.Layout(width="330px"))
        self._control("scheme", widgets.Dropdown(options=list(SCHEMES), value="kaiming",
                                                 description="scheme", **style))
        self._control("activation", widgets.ToggleButtons(options=list(ACTIVATIONS),
                                                          value="tanh", description="activation",
                                                          style={"description_width": "80px"}))
        self._control("depth", widgets.IntSlider(value=20, min=1, max=40, description="depth",
                                                 continuous_update=False, **style))
        self._control("width", widgets.SelectionSlider(options=list(self.WIDTHS), value=64,
                                                       description="width",
                                                       continuous_update=False, **style))
        self._control("seed", widgets.IntSlider(value=0, min=0, max=20, description="seed",
                                                continuous_update=False, **style))
        ax = self.ax_std
        self.lines = {"activations": ax.plot([], [], "-o", color="#0072B2", ms=3,
                                             label="activations a_l")[0],
                      "gradients": ax.plot([], [], "--s", color="#D55E00", ms=3,
                                           label="gradients dL/da_l")[0]}
        ax.set_yscale("log")
        ax.set_xlabel("layer l")
        ax.set_ylabel("standard deviation")
        ax.legend(loc="best", fontsize=8)
        self.lines["loss"] = self.ax_loss.plot([], [], "-", color="#009E73", lw=1.6,
                                               label="training loss (GD)")[0]
        self.ax_loss.set_xlabel("GD step")
        self.ax_loss.set_ylabel("cross-entropy")
        self.ax_loss.legend(loc="upper right", fontsize=8)
        self.report = widgets.HTML()
        with self.hold():
            self.set(scheme=scheme, activation=activation, depth=depth, width=width, seed=seed)
            self._request("compute")
        self._finish()
        c = self.controls
        self.widget = widgets.VBox([
            widgets.HBox([widgets.VBox([c["scheme"].widget, c["activation"].widget]),
                          widgets.VBox([c["depth"].widget, c["width"].widget, c["seed"].widget,
                                        self.reset_button])],
                         layout=widgets.Layout(flex_flow="row wrap")),
            self.report, self.status, self.image])

    def set(self, **settings) -> None:
        """Change several settings with one redraw.  Keys: ``scheme``,
        ``activation``, ``depth``, ``width`` (one of :attr:`WIDTHS`), ``seed``."""
        self._set_controls(settings)

    def settings(self) -> dict:
        return {name: c.value for name, c in self.controls.items()}

    def _flush(self, pending) -> None:
        from ..propagation import deep_mlp, layer_statistics, train_curve

        t0 = time.perf_counter()
        s = self.settings()
        self.statistics = layer_statistics(s["scheme"], s["activation"], depth=s["depth"],
                                           width=s["width"], batch=256, seed=s["seed"])
        d = self.data
        sizes = [d.X_train.shape[1], *[s["width"]] * s["depth"], int(np.max(d.y_train)) + 1]
        weights = deep_mlp(s["scheme"], s["activation"], sizes, seed=s["seed"])
        with np.errstate(all="ignore"):
            self.curve = train_curve(weights, d.X_train, d.y_train, s["activation"],
                                     steps=self.steps, lr=self.lr)
        t1 = time.perf_counter()
        layers = np.arange(1, s["depth"] + 1)
        self.lines["activations"].set_data(layers, _positive(self.statistics.act_std))
        self.lines["gradients"].set_data(layers, _positive(self.statistics.grad_std))
        self.ax_std.set_xlim(0.5, s["depth"] + 0.5)
        values = np.concatenate([_positive(self.statistics.act_std),
                                 _positive(self.statistics.grad_std)])
        values = values[np.isfinite(values)]
        if values.size:
            self.ax_std.set_ylim(values.min() / 2, values.max() * 2)
        self.ax_std.set_title(f"{s['scheme']} init, {s['activation']}: spread through depth",
                              fontsize=9)
        self.lines["loss"].set_data(np.arange(self.curve.size), _positive(self.curve))
        self.ax_loss.set_xlim(0, self.steps)
        finite = self.curve[np.isfinite(self.curve)]
        if finite.size:
            self.ax_loss.set_ylim(0, max(1.0, float(finite.max()) * 1.1))
        self.ax_loss.set_title(f"digits, {self.steps} GD steps at lr {self.lr:g}", fontsize=9)
        self.report.value = self.describe()
        self.figure.canvas.draw()
        self._show()
        self.timings["compute"], self.timings["draw"] = t1 - t0, time.perf_counter() - t1

    def describe(self) -> str:
        a, g = self.statistics.act_std, self.statistics.grad_std
        with np.errstate(all="ignore"):
            spread = float(a.max() / a.min()) if a.min() > 0 else float("inf")
        return (f"activation std: layer 1 {a[0]:.3g}, layer {a.size} {a[-1]:.3g} "
                f"(spread {spread:.3g}x); gradient std: layer 1 {g[0]:.3g}, layer {g.size} "
                f"{g[-1]:.3g}; training loss {self.curve[0]:.3f} -> {self.curve[-1]:.3f}")
