"""A real training run (softmax regression on the digits) on sliders."""

from __future__ import annotations

import time
from typing import Any

import ipywidgets as widgets
import numpy as np

from .. import _checks
from ._base import _FigureExplorer, _positive


class TrainingExplorer(_FigureExplorer):
    r"""Learning rate, batch size and sampling over a real training run.

    Trains a fresh model (same initialisation for a given seed) with
    :func:`descentlab.training.fit` whenever a control changes, and plots
    the training and validation loss and accuracy against the epoch.  A grey
    curve shows batch gradient descent with the same learning rate, for
    comparison: per epoch, a minibatch run takes ``n / batch_size`` steps to
    its one.

    Args:
        data: an object with ``X_train``, ``y_train``, ``X_val``, ``y_val``
            (default: :func:`descentlab.data.digits`).
        model: a function ``seed -> model`` (default: softmax regression).
        lr, batch_size (an int, or None for the whole set), epochs,
        momentum, sampling (``"shuffle"`` or ``"replacement"``), seed: the
            starting values of the controls.
        reference: draw the batch-gradient-descent curve.

    Attributes: ``widget``, ``figure``, ``ax_loss``, ``ax_acc``,
    ``history`` and ``reference_history`` (:class:`descentlab.training.History`),
    ``lines`` (``{"train", "val", "reference"}`` loss lines),
    ``acc_lines`` (``{"train", "val"}``).
    """

    _owner = "TrainingExplorer"
    _KEYS = ("lr", "batch_size", "epochs", "momentum", "sampling", "seed")
    BATCH_SIZES = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, "full")

    def __init__(self, data=None, model=None, *, lr: float = 0.1, batch_size: int | None = 32,
                 epochs: int = 20, momentum: float = 0.0, sampling: str = "shuffle",
                 seed: int = 0, reference: bool = True, figsize=(10.0, 3.8), dpi: int = 100):
        from .. import data as datasets
        from .. import models

        self.data = datasets.digits() if data is None else data
        for attr in ("X_train", "y_train", "X_val", "y_val"):
            if not hasattr(self.data, attr):
                raise TypeError(f"{self._owner}: data must have X_train, y_train, X_val and "
                                f"y_val, got {type(self.data).__name__} without {attr}")
        n_features = self.data.X_train.shape[1]
        n_classes = int(np.max(self.data.y_train)) + 1
        self.model_factory = model or (lambda seed: models.SoftmaxRegression(
            n_features, n_classes, seed=seed, dtype=self.data.X_train.dtype))
        if not callable(self.model_factory):
            raise TypeError(f"{self._owner}: model must be a function seed -> model, "
                            f"got {model!r}")
        self.show_reference = _checks.boolean(reference, "reference", self._owner)
        self.ax_loss, self.ax_acc = self._start(figsize, dpi, 2)
        self.figure.subplots_adjust(left=0.07, right=0.98, bottom=0.14, top=0.88, wspace=0.25)
        self._build_artists()
        self._build_controls()
        self.history = self.reference_history = None
        with self.hold():
            self.set(lr=lr, batch_size=batch_size, epochs=epochs, momentum=momentum,
                     sampling=sampling, seed=seed)
            self._request("compute")
        self._finish()
        c = self.controls
        self.widget = widgets.VBox([
            widgets.HBox([widgets.VBox([c["lr"].widget, self.batch_slider, c["epochs"].widget]),
                          widgets.VBox([c["momentum"].widget, self.sampling_buttons,
                                        c["seed"].widget, self.reset_button])],
                         layout=widgets.Layout(flex_flow="row wrap")),
            self.report, self.status, self.image])

    def set(self, **settings) -> None:
        """Change several controls with one training run.  Keys: ``lr``,
        ``batch_size`` (an int from :attr:`BATCH_SIZES`, or None for the
        whole set), ``epochs``, ``momentum``, ``sampling``, ``seed``."""
        self._check_keys(settings, self._KEYS)
        with self.hold():
            if "batch_size" in settings:
                value = settings["batch_size"]
                self.controls["batch_size"].set("full" if value is None else value)
            for key in ("lr", "epochs", "momentum", "sampling", "seed"):
                if key in settings:
                    self.controls[key].set(settings[key])

    @property
    def batch_size(self) -> int | None:
        value = self.controls["batch_size"].value
        return None if value == "full" else value

    @property
    def lr(self) -> float:
        """The learning rate, exactly as set."""
        return self.controls["lr"].value

    @property
    def momentum(self) -> float:
        """The momentum, exactly as set."""
        return self.controls["momentum"].value

    def arguments(self) -> dict[str, Any]:
        """What the explorer passes to :func:`descentlab.training.fit` (with
        the model, the optimizer ``SGD(lr, momentum)`` and the data)."""
        c = self.controls
        return {"epochs": c["epochs"].value, "batch_size": self.batch_size,
                "sampling": c["sampling"].value, "seed": c["seed"].value}

    def _build_artists(self) -> None:
        ax = self.ax_loss
        self.lines = {"train": ax.plot([], [], "-", color="C0", lw=1.6, label="training")[0],
                      "val": ax.plot([], [], "--", color="C1", lw=1.6, label="validation")[0],
                      "reference": ax.plot([], [], "-", color="0.6", lw=1.2,
                                           label="batch GD, same lr")[0]}
        ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.set_title("loss", fontsize=9)
        ax.legend(loc="upper right", fontsize=8)
        self.acc_lines = {"train": self.ax_acc.plot([], [], "-", color="C0", lw=1.6,
                                                    label="training")[0],
                          "val": self.ax_acc.plot([], [], "--", color="C1", lw=1.6,
                                                  label="validation")[0]}
        self.ax_acc.set_xlabel("epoch")
        self.ax_acc.set_title("accuracy", fontsize=9)
        self.ax_acc.legend(loc="lower right", fontsize=8)

    def _build_controls(self) -> None:
        # a run takes up to a second or two: train on release, not while dragging
        style = dict(continuous_update=False, style={"description_width": "90px"},
                     layout=widgets.Layout(width="360px"))
        self.lr_slider = widgets.FloatLogSlider(value=0.1, min=-4, max=1, step=0.05,
                                                description="learning rate", readout_format=".3g",
                                                **style)
        self.batch_slider = widgets.SelectionSlider(options=list(self.BATCH_SIZES), value=32,
                                                    description="batch size", **style)
        self.epochs_slider = widgets.IntSlider(value=20, min=1, max=60, description="epochs",
                                               **style)
        self.momentum_slider = widgets.FloatSlider(value=0.0, min=0.0, max=0.99, step=0.01,
                                                   description="momentum", **style)
        self.sampling_buttons = widgets.ToggleButtons(
            options=["shuffle", "replacement"], value="shuffle", description="sampling",
            style={"description_width": "90px", "button_width": "110px"})
        self.seed_slider = widgets.IntSlider(value=0, min=0, max=20, description="seed", **style)
        self.report = widgets.HTML()
        both = "SGD: the run and the batch-GD curve"
        self._control("lr", self.lr_slider, affects=both)
        self._control("batch_size", self.batch_slider, label="batch_size")
        self._control("epochs", self.epochs_slider)
        self._control("momentum", self.momentum_slider, affects=both)
        self._control("sampling", self.sampling_buttons)
        self._control("seed", self.seed_slider)

    def _flush(self, pending) -> None:
        from .. import optim, training

        t0 = time.perf_counter()
        d, args = self.data, self.arguments()
        validation = (d.X_val, d.y_val)
        model = self.model_factory(args["seed"])
        opt = optim.SGD(model.params, lr=self.lr, momentum=self.momentum)
        self.history = training.fit(model, opt, d.X_train, d.y_train, validation=validation,
                                    **args)
        self.reference_history = None
        if self.show_reference:
            ref = self.model_factory(args["seed"])
            self.reference_history = training.fit(
                ref, optim.SGD(ref.params, lr=self.lr, momentum=self.momentum),
                d.X_train, d.y_train, epochs=args["epochs"], batch_size=None,
                validation=validation)
        t1 = time.perf_counter()
        self._render()
        self.timings["compute"], self.timings["draw"] = t1 - t0, time.perf_counter() - t1

    def _render(self) -> None:
        h = self.history
        self.lines["train"].set_data(h.epoch, _positive(h.train_loss))
        self.lines["val"].set_data(h.epoch, _positive(h.val_loss))
        ref = self.reference_history
        self.lines["reference"].set_visible(ref is not None)
        if ref is not None:
            self.lines["reference"].set_data(ref.epoch, _positive(ref.train_loss))
        self.acc_lines["train"].set_data(h.epoch, h.train_accuracy)
        self.acc_lines["val"].set_data(h.epoch, h.val_accuracy)
        epochs = float(h.epoch[-1]) or 1.0
        self.ax_loss.set_xlim(0, epochs)
        self.ax_acc.set_xlim(0, epochs)
        self.ax_acc.set_ylim(0, 1.02)
        curves = [h.train_loss, h.val_loss] + ([ref.train_loss] if ref is not None else [])
        values = np.concatenate([_positive(c) for c in curves])
        values = values[np.isfinite(values)]
        if values.size:
            # a diverging run leaves through the top
            hi = min(float(values.max()), 1e3 * float(h.train_loss[0]))
            lo = max(float(values.min()), hi * 1e-8)
            self.ax_loss.set_ylim(lo / 1.5, hi * 1.5)
        self.report.value = self._describe()
        self.figure.canvas.draw()
        self._show()

    def _describe(self) -> str:
        h = self.history
        if not np.isfinite(h.train_loss[-1]):
            return "<b>The run diverged</b>: the loss overflowed. Lower the learning rate."
        return (f"after {h.epoch[-1]:g} epochs ({int(h.updates[-1])} updates, "
                f"{h.seconds[-1]:.2f} s): training loss {h.train_loss[-1]:.4f}, validation "
                f"loss {h.val_loss[-1]:.4f}, validation accuracy {h.val_accuracy[-1]:.1%}")

