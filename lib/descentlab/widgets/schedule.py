"""A learning-rate schedule next to the training run it produces (lecture 4)."""

from __future__ import annotations

import functools
import math
import numbers
import time
from typing import Any

import ipywidgets as widgets
import numpy as np

from .. import _checks
from ._base import _FigureExplorer, _positive

#: The schedules on offer, by the name the dropdown shows.
SCHEDULES = ("constant", "step", "exponential", "inverse-time", "cosine", "warm-up + cosine",
             "warm restarts (SGDR)", "one-cycle", "triangular")


class ScheduleExplorer(_FigureExplorer):
    r"""Pick a schedule and its parameters; see the learning rate per update
    (left) next to the training and validation loss it produces (right).

    The run is :func:`descentlab.training.fit` of a small MLP on the digits,
    SGD with momentum, minibatches of ``batch_size``, the scheduler stepped
    after every update.  A grey curve is the same run at the constant base
    rate, so the effect of the schedule is what separates the two.

    Parameters shared by the schedules (all counted in epochs, converted to
    updates with ``updates_per_epoch = ceil(n / batch_size)``):

    - ``lr``: the base (peak) rate :math:`\eta_0`;
    - ``gamma``: the factor per ``period`` (step) or per epoch (exponential);
    - ``period``: epochs between drops (step), to halve (inverse-time), per
      cycle (SGDR, triangular);
    - ``warmup``: epochs of linear warm-up from :math:`\eta_0/10`
      (warm-up + cosine) or of rise (one-cycle).

    Attributes: ``widget``, ``figure``, ``ax_lr``, ``ax_loss``, ``history``
    and ``reference_history`` (:class:`descentlab.training.History`),
    ``lrs`` (the rate used by each update, recorded from the optimizer),
    ``closed`` (the same from the schedule's closed form),
    ``lines`` (``{"lr", "train", "val", "reference"}``), ``status``.
    """

    _owner = "ScheduleExplorer"
    _KEYS = ("schedule", "lr", "epochs", "gamma", "period", "warmup", "momentum", "seed")

    def __init__(self, data=None, *, schedule: str = "cosine", lr: float = 0.1, epochs: int = 12,
                 gamma: float = 0.5, period: int = 4, warmup: int = 2, momentum: float = 0.9,
                 seed: int = 0, batch_size: int = 64, n_hidden: int = 32, reference: bool = True,
                 figsize=(10.0, 3.6), dpi: int = 90):
        from .. import data as datasets

        self.data = datasets.digits() if data is None else data
        for attr in ("X_train", "y_train", "X_val", "y_val"):
            if not hasattr(self.data, attr):
                raise TypeError(f"{self._owner}: data must have X_train, y_train, X_val and "
                                f"y_val, got {type(self.data).__name__} without {attr}")
        self.batch_size = _checks.integer(batch_size, "batch_size", self._owner, minimum=1)
        self.n_hidden = _checks.integer(n_hidden, "n_hidden", self._owner, minimum=1)
        self.show_reference = _checks.boolean(reference, "reference", self._owner)
        n = self.data.X_train.shape[0]
        self.updates_per_epoch = math.ceil(n / min(self.batch_size, n))
        self.ax_lr, self.ax_loss = self._start(figsize, dpi, 2)
        self.figure.subplots_adjust(left=0.08, right=0.98, bottom=0.15, top=0.88, wspace=0.28)
        self._build_artists()
        self._build_controls()
        self.history = self.reference_history = None
        self.lrs = self.closed = None
        with self.hold():
            self.set(schedule=schedule, lr=lr, epochs=epochs, gamma=gamma, period=period,
                     warmup=warmup, momentum=momentum, seed=seed)
            self._request("compute")
        self._finish()
        c = self.controls
        self.report = widgets.HTML(self.describe())
        self.widget = widgets.VBox([
            widgets.HBox([widgets.VBox([c["schedule"].widget, c["lr"].widget, c["epochs"].widget,
                                        c["momentum"].widget]),
                          widgets.VBox([c["gamma"].widget, c["period"].widget,
                                        c["warmup"].widget, c["seed"].widget,
                                        self.reset_button])],
                         layout=widgets.Layout(flex_flow="row wrap")),
            self.report, self.status, self.image])

    # -- public --------------------------------------------------------------
    def set(self, **settings) -> None:
        """Change several settings with one training run.  Keys: ``schedule``
        (one of :data:`SCHEDULES`), ``lr``, ``epochs``, ``gamma``, ``period``,
        ``warmup``, ``momentum``, ``seed``."""
        self._check_keys(settings, self._KEYS)
        after = {**self.settings, **settings}
        if after["schedule"] in ("warm-up + cosine", "one-cycle") and \
                all(isinstance(after[k], numbers.Integral) for k in ("warmup", "epochs")) and \
                after["warmup"] >= after["epochs"]:
            # checked before anything changes
            raise ValueError(f"{self._owner}: warmup={after['warmup']!r} must be shorter than "
                             f"epochs={after['epochs']!r} for {after['schedule']!r}")
        with self.hold():
            for key in self._KEYS:
                if key in settings:
                    self.controls[key].set(settings[key])

    @property
    def settings(self) -> dict[str, Any]:
        """The current settings, as :meth:`set` takes them."""
        return {k: self.controls[k].value for k in self._KEYS}

    def closed_form(self, t) -> np.ndarray:
        """The schedule's rate after ``t`` scheduler steps (the rate of update
        ``t + 1``), from the closed forms of :mod:`descentlab.schedulers`."""
        return self._closed(**self.settings)(np.asarray(t, dtype=np.float64))

    def make_scheduler(self, optimizer):
        """The :mod:`descentlab.schedulers` object for the current settings."""
        return self._scheduler(optimizer, **self.settings)

    def describe(self) -> str:
        """One line: the schedule and what the run reached."""
        h, s = self.history, self.settings
        if h is None:
            return ""
        if not np.isfinite(h.train_loss[-1]):
            return f"{s['schedule']}, lr {s['lr']:.3g}: the run diverged"
        ref = self.reference_history
        tail = "" if ref is None else (f" (constant rate: {ref.train_loss[-1]:.4f}, "
                                       f"{ref.val_accuracy[-1]:.1%})")
        return (f"{s['schedule']}, lr {s['lr']:.3g}, {s['epochs']} epochs: final rate "
                f"{self.lrs[-1]:.3g}, training loss {h.train_loss[-1]:.4f}, validation accuracy "
                f"{h.val_accuracy[-1]:.1%}{tail}")

    # -- schedules -----------------------------------------------------------
    def _lengths(self, epochs, period, warmup):
        per = self.updates_per_epoch
        return epochs * per, period * per, warmup * per

    def _closed(self, schedule, lr, epochs, gamma, period, warmup, **_):
        from .. import schedulers as S

        T, P, W = self._lengths(epochs, period, warmup)
        per = self.updates_per_epoch
        forms = {
            "constant": lambda t: np.full_like(t, lr),
            "step": functools.partial(S.step_decay, base_lr=lr, step_size=P, gamma=gamma),
            "exponential": functools.partial(S.geometric_decay, base_lr=lr,
                                             gamma=gamma ** (1.0 / per)),
            "inverse-time": functools.partial(S.inverse_time, base_lr=lr, decay_rate=1.0 / P),
            "cosine": functools.partial(S.cosine_annealing, base_lr=lr, T_max=T),
            "warm-up + cosine": functools.partial(S.sequential, schedules=[
                functools.partial(S.linear_ramp, base_lr=lr, start_factor=0.1, total_iters=W),
                functools.partial(S.cosine_annealing, base_lr=lr, T_max=T - W)], milestones=[W]),
            "warm restarts (SGDR)": functools.partial(S.cosine_warm_restarts, base_lr=lr, T_0=P),
            "one-cycle": functools.partial(S.one_cycle, max_lr=lr, total_steps=T,
                                           pct_start=W / T),
            "triangular": functools.partial(S.cyclic, base_lr=lr / 10, max_lr=lr,
                                            step_size_up=max(P // 2, 1)),
        }
        return forms[schedule]

    def _scheduler(self, opt, schedule, lr, epochs, gamma, period, warmup, **_):
        from .. import schedulers as S

        T, P, W = self._lengths(epochs, period, warmup)
        per = self.updates_per_epoch
        if schedule == "constant":
            return None
        if schedule == "step":
            return S.StepLR(opt, step_size=P, gamma=gamma)
        if schedule == "exponential":
            return S.ExponentialLR(opt, gamma=gamma ** (1.0 / per))
        if schedule == "inverse-time":
            return S.InverseTimeLR(opt, decay_rate=1.0 / P)
        if schedule == "cosine":
            return S.CosineAnnealingLR(opt, T_max=T)
        if schedule == "warm-up + cosine":
            return S.SequentialLR(opt, [S.LinearLR(opt, start_factor=0.1, total_iters=W),
                                        S.CosineAnnealingLR(opt, T_max=T - W)], milestones=[W])
        if schedule == "warm restarts (SGDR)":
            return S.CosineAnnealingWarmRestarts(opt, T_0=P)
        if schedule == "one-cycle":
            # momentum stays at the slider's value, so only the rate differs
            return S.OneCycleLR(opt, max_lr=lr, total_steps=T, pct_start=W / T,
                                cycle_momentum=False)
        return S.CyclicLR(opt, base_lr=lr / 10, max_lr=lr, step_size_up=max(P // 2, 1),
                          cycle_momentum=False)

    # -- widgets -------------------------------------------------------------
    def _build_artists(self) -> None:
        self.lines = {
            "lr": self.ax_lr.plot([], [], "-", color="#0072B2", lw=1.6, label="schedule")[0],
            "train": self.ax_loss.plot([], [], "-", color="#0072B2", lw=1.6,
                                       label="training, scheduled")[0],
            "val": self.ax_loss.plot([], [], "--", color="#D55E00", lw=1.6,
                                     label="validation, scheduled")[0],
            "reference": self.ax_loss.plot([], [], ":", color="0.5", lw=1.4,
                                           label="training, constant rate")[0]}
        self.ax_lr.set(xlabel="epoch", ylabel="learning rate η", yscale="log",
                       title="the rate each update uses")
        self.ax_lr.legend(loc="lower left", fontsize=8)
        self.ax_loss.set(xlabel="epoch", ylabel="cross-entropy loss (nats)", yscale="log",
                         title="the run it produces (MLP on the digits)")
        self.ax_loss.legend(loc="upper right", fontsize=8)

    def _build_controls(self) -> None:
        # a run takes a second or so: train on release, not while dragging
        style = dict(continuous_update=False, style={"description_width": "80px"},
                     layout=widgets.Layout(width="300px"))
        views = {
            "schedule": widgets.Dropdown(options=list(SCHEDULES), value="cosine",
                                         description="schedule",
                                         style={"description_width": "80px"}),
            "lr": widgets.FloatLogSlider(value=0.1, min=-3, max=0.5, step=0.05,
                                         description="lr η₀", readout_format=".3g", **style),
            "epochs": widgets.IntSlider(value=12, min=2, max=60, description="epochs", **style),
            "momentum": widgets.FloatSlider(value=0.9, min=0.0, max=0.99, step=0.01,
                                            description="momentum μ", **style),
            "gamma": widgets.FloatSlider(value=0.5, min=0.05, max=1.0, step=0.05,
                                         description="γ", **style),
            "period": widgets.IntSlider(value=4, min=1, max=30, description="period (ep)",
                                        **style),
            "warmup": widgets.IntSlider(value=2, min=1, max=20, description="warm-up (ep)",
                                        **style),
            "seed": widgets.IntSlider(value=0, min=0, max=20, description="seed", **style)}
        # each a Control: the kernel holds the exact value, the slider is a view
        for name, view in views.items():
            self._control(name, view)

    def _flush(self, pending) -> None:
        from .. import models, optim, training

        t0 = time.perf_counter()
        s, d = self.settings, self.data
        if s["warmup"] >= s["epochs"] and s["schedule"] in ("warm-up + cosine", "one-cycle"):
            self._report_error("warm-up must be shorter than the run: lower it or add epochs")
            return
        self._report_error("")
        n_classes = int(np.max(d.y_train)) + 1

        def run(scheduled: bool):
            model = models.MLP(d.X_train.shape[1], self.n_hidden, n_classes, seed=s["seed"],
                               dtype=d.X_train.dtype)
            opt = optim.SGD(model.params, lr=s["lr"], momentum=s["momentum"])
            sched = self._scheduler(opt, **s) if scheduled else None
            used = _RateLog(opt, sched)
            h = training.fit(model, opt, d.X_train, d.y_train, epochs=s["epochs"],
                             batch_size=self.batch_size, validation=(d.X_val, d.y_val),
                             seed=s["seed"], records_per_epoch=2, scheduler=used)
            return h, np.array(used.lrs[:-1])

        self.history, self.lrs = run(True)
        self.reference_history = run(False)[0] if self.show_reference else None
        self.closed = self.closed_form(np.arange(len(self.lrs)))
        t1 = time.perf_counter()
        self._render()
        self.timings["compute"], self.timings["draw"] = t1 - t0, time.perf_counter() - t1

    def _render(self) -> None:
        h, ref = self.history, self.reference_history
        epochs_axis = np.arange(len(self.lrs)) / self.updates_per_epoch
        self.lines["lr"].set_data(epochs_axis, _positive(self.lrs))
        self.lines["train"].set_data(h.epoch, _positive(h.train_loss))
        self.lines["val"].set_data(h.epoch, _positive(h.val_loss))
        self.lines["reference"].set_visible(ref is not None)
        if ref is not None:
            self.lines["reference"].set_data(ref.epoch, _positive(ref.train_loss))
        top = float(h.epoch[-1]) or 1.0
        for ax in (self.ax_lr, self.ax_loss):
            ax.set_xlim(0, top)
        lrs = _positive(self.lrs)
        lrs = lrs[np.isfinite(lrs)]
        if lrs.size:
            self.ax_lr.set_ylim(lrs.min() / 1.5, lrs.max() * 1.5)
        curves = [h.train_loss, h.val_loss] + ([ref.train_loss] if ref is not None else [])
        values = np.concatenate([_positive(c) for c in curves])
        values = values[np.isfinite(values)]
        if values.size:
            hi = min(float(values.max()), 1e3 * float(h.train_loss[0]))
            lo = max(float(values.min()), hi * 1e-8)
            self.ax_loss.set_ylim(lo / 1.5, hi * 1.5)
        if hasattr(self, "report"):
            self.report.value = self.describe()
        self.figure.canvas.draw()
        self._show()


class _RateLog:
    """Steps a scheduler (or none) and records the rate each update will use."""

    def __init__(self, optimizer, scheduler):
        self.optimizer, self.scheduler = optimizer, scheduler
        self.lrs = [optimizer.lr]

    def step(self):
        if self.scheduler is not None:
            self.scheduler.step()
        self.lrs.append(self.optimizer.lr)
