"""Batch size and learning-rate scaling on a real run, against lecture 1's three clocks."""

from __future__ import annotations

import time
from typing import Any

import ipywidgets as widgets
import numpy as np

from ._base import _FigureExplorer, _assign, _png, _positive

CLOCKS = ("epoch", "updates", "seconds")


class BatchSizeExplorer(_FigureExplorer):
    r"""Batch size, base learning rate and the scaling rule to apply, over a real run.

    The rate used is :func:`descentlab.batching.scaled_lr`\ ``(lr, base_batch,
    batch_size, rule)``: "linear" (Goyal et al. 2017), "sqrt" (Hoffer et al.
    2017) or "none".  The run (an MLP on the digits, :func:`descentlab.training.fit`)
    is plotted against each of the three clocks, epochs, updates and seconds,
    next to a grey reference run at ``base_batch`` with the base rate.

    Args:
        data: ``X_train``, ``y_train``, ``X_val``, ``y_val`` (default: the digits).
        model: a function ``seed -> model`` (default: a 32-unit MLP).
        lr, base_batch, batch_size, rule, epochs, seed: starting values.

    Attributes: ``widget``, ``figure``, ``axes`` (one per clock), ``history`` and
    ``reference_history``, ``lines[clock]`` (``{"run", "reference"}``), ``lr``
    (the scaled rate of the last run).
    """

    _owner = "BatchSizeExplorer"
    _KEYS = ("lr", "batch_size", "rule", "epochs", "seed")
    BATCH_SIZES = (8, 16, 32, 64, 128, 256, 512, 1024)

    def __init__(self, data=None, model=None, *, lr: float = 0.1, base_batch: int = 32,
                 batch_size: int = 128, rule: str = "linear", epochs: int = 10, seed: int = 0,
                 figsize=(11.0, 3.4), dpi: int = 100):
        from .. import _checks
        from .. import data as datasets
        from .. import models

        self.data = datasets.digits() if data is None else data
        for attr in ("X_train", "y_train", "X_val", "y_val"):
            if not hasattr(self.data, attr):
                raise TypeError(f"{self._owner}: data must have X_train, y_train, X_val and "
                                f"y_val, got {type(self.data).__name__} without {attr}")
        n_features = self.data.X_train.shape[1]
        n_classes = int(np.max(self.data.y_train)) + 1
        self.model_factory = model or (lambda s: models.MLP(n_features, 32, n_classes, seed=s))
        if not callable(self.model_factory):
            raise TypeError(f"{self._owner}: model must be a function seed -> model, got {model!r}")
        self.base_batch = _checks.integer(base_batch, "base_batch", self._owner, minimum=1)
        self.axes = self._start(figsize, dpi, 3, sharey=True)
        self.figure.subplots_adjust(left=0.06, right=0.99, bottom=0.16, top=0.86, wspace=0.08)
        self._build_artists()
        self._build_controls()
        self.history = self.reference_history = None
        self.lr = None
        with self.hold():
            self.set(lr=lr, batch_size=batch_size, rule=rule, epochs=epochs, seed=seed)
            self._request("compute")
        self.widget = widgets.VBox([
            widgets.HBox([widgets.VBox([self.lr_slider, self.batch_slider, self.epochs_slider]),
                          widgets.VBox([self.rule_buttons, self.seed_slider])]),
            self.report, self.status, self.image])

    def set(self, **settings) -> None:
        """Change several controls with one run.  Keys: ``lr`` (the base rate at
        ``base_batch``), ``batch_size`` (from :attr:`BATCH_SIZES`), ``rule``
        ("none", "linear", "sqrt"), ``epochs``, ``seed``."""
        self._check_keys(settings, self._KEYS)
        with self.hold():
            for key, control in (("lr", self.lr_slider), ("batch_size", self.batch_slider),
                                 ("rule", self.rule_buttons), ("epochs", self.epochs_slider),
                                 ("seed", self.seed_slider)):
                if key in settings:
                    _assign(control, settings[key], key, self._owner)

    def arguments(self) -> dict[str, Any]:
        from ..batching import scaled_lr

        return {"lr": scaled_lr(self.lr_slider.value, self.base_batch, self.batch_slider.value,
                                self.rule_buttons.value),
                "batch_size": self.batch_slider.value, "epochs": self.epochs_slider.value,
                "seed": self.seed_slider.value}

    def _build_artists(self) -> None:
        self.lines = {}
        for ax, clock in zip(self.axes, CLOCKS):
            self.lines[clock] = {
                "run": ax.plot([], [], "-", color="#0072B2", lw=1.6, label="this run")[0],
                "reference": ax.plot([], [], "--", color="0.55", lw=1.2,
                                     label=f"b = {self.base_batch}, base rate")[0]}
            ax.set_xlabel({"epoch": "epochs", "updates": "updates (steps)",
                           "seconds": "seconds (gradient work)"}[clock])
            ax.set_yscale("log")
        self.axes[0].set_ylabel("training loss")
        self.axes[0].legend(loc="upper right", fontsize=8)

    def _build_controls(self) -> None:
        style = dict(continuous_update=False, style={"description_width": "90px"},
                     layout=widgets.Layout(width="360px"))
        self.lr_slider = widgets.FloatLogSlider(value=0.1, min=-4, max=1, step=0.05,
                                                description="base lr", readout_format=".3g",
                                                **style)
        self.batch_slider = widgets.SelectionSlider(options=list(self.BATCH_SIZES), value=128,
                                                    description="batch size", **style)
        self.epochs_slider = widgets.IntSlider(value=10, min=1, max=60, description="epochs",
                                               **style)
        self.rule_buttons = widgets.ToggleButtons(
            options=["none", "linear", "sqrt"], value="linear", description="scaling rule",
            style={"description_width": "90px", "button_width": "70px"})
        self.seed_slider = widgets.IntSlider(value=0, min=0, max=20, description="seed", **style)
        self.report = widgets.HTML()
        for w in (self.lr_slider, self.batch_slider, self.epochs_slider, self.rule_buttons,
                  self.seed_slider):
            w.observe(lambda _: self._request("compute"), "value")

    def _fit(self, lr, batch_size, epochs, seed):
        from .. import optim, training

        d = self.data
        model = self.model_factory(seed)
        return training.fit(model, optim.SGD(model.params, lr=lr), d.X_train, d.y_train,
                            epochs=epochs, batch_size=batch_size, seed=seed,
                            validation=(d.X_val, d.y_val), records_per_epoch=2)

    def _flush(self, pending) -> None:
        t0 = time.perf_counter()
        args = self.arguments()
        self.lr = args["lr"]
        self.history = self._fit(**args)
        self.reference_history = self._fit(self.lr_slider.value, self.base_batch, args["epochs"],
                                           args["seed"])
        t1 = time.perf_counter()
        self._render()
        self.timings["compute"], self.timings["draw"] = t1 - t0, time.perf_counter() - t1

    def _render(self) -> None:
        for ax, clock in zip(self.axes, CLOCKS):
            for key, h in (("run", self.history), ("reference", self.reference_history)):
                self.lines[clock][key].set_data(getattr(h, clock), _positive(h.train_loss))
            ax.relim()
            ax.autoscale_view()
        values = np.concatenate([_positive(self.history.train_loss),
                                 _positive(self.reference_history.train_loss)])
        values = values[np.isfinite(values)]
        if values.size:
            hi = min(float(values.max()), 1e3 * float(self.history.train_loss[0]))
            self.axes[0].set_ylim(max(float(values.min()), hi * 1e-8) / 1.5, hi * 1.5)
        self.figure.suptitle(f"b = {self.batch_slider.value}, {self.rule_buttons.value} rule: "
                             f"lr = {self.lr:.3g}", fontsize=10)
        self.report.value = self.describe()
        self.figure.canvas.draw()
        self.image.value = _png(self.figure.canvas)

    def describe(self) -> str:
        """One line on the run against the reference."""
        h, r = self.history, self.reference_history
        if not np.isfinite(h.train_loss[-1]):
            return (f"<b>The run diverged</b> at lr = {self.lr:.3g}: the scaling rule asked "
                    "for more than this batch size can take.")
        return (f"lr = {self.lr:.3g}: {int(h.updates[-1])} updates, final training loss "
                f"{h.train_loss[-1]:.4f}, validation accuracy {h.val_accuracy[-1]:.1%} "
                f"(reference b = {self.base_batch}: {int(r.updates[-1])} updates, "
                f"{r.val_accuracy[-1]:.1%})")
