r"""Interactive explorers for the lectures: ipywidgets controls, matplotlib views.

:class:`SurfaceExplorer` runs several optimizers on a 2-D test surface
(:mod:`descentlab.surfaces`) and shows their paths over the contour plot, and
their losses against the step::

    from descentlab.widgets import SurfaceExplorer
    SurfaceExplorer("rosenbrock", optimizers=["SGD", "SGD+momentum", "Adam"])

:class:`MomentumExplorer` is Goh's *Why Momentum Really Works* (Distill 2017)
as sliders: step size and momentum on an ill-conditioned quadratic, with the
error along each eigenvector and the map of convergence rates over both.
:class:`TrainingExplorer` puts the learning rate, batch size and sampling of
a real training run (softmax regression on the digits) on sliders.

How the figure is shown, and why.  matplotlib's default inline backend
cannot update a figure in place: every redraw is a new image in the cell
output, and re-displaying a figure inside an ``Output`` widget flickers and
is slow.  The interactive ``ipympl`` backend would work, but it is one more
JupyterLab extension to install and keep in step.  So the explorer owns one
figure, rendered off screen by Agg, and shows it as PNG bytes in an
``ipywidgets.Image``.  That works wherever ipywidgets does, including
headless runs under nbclient, and a static export still shows the last
picture (the explorer's display bundle carries it as ``image/png``).

What a change redraws.  A slider move never creates a figure.  It
recomputes the paths (compiled, well under a millisecond for four optimizers
by 500 steps), moves the lines' data, and redraws only what changed: the
contour panel's background (colour map, contours, minimisers, axes) is
rendered once per surface and kept as a bitmap; each update restores that
bitmap, draws the paths on top and redraws the loss panel, whose axes
follow the data.  The PNG is written at zlib level 1: about half the time of
the default level for a file about 20% larger.  ``descentlab bench
surfaces`` times every part against the 100 ms target.

Learning rates: one slider per optimizer.  A learning rate does not mean the
same thing for every method: for SGD it has the units of an inverse
curvature (stable below :math:`2/\lambda_{\max}`), while Adam's step is
about ``lr`` in the parameters' own units whatever the gradient's size.  A
shared slider could not be right for both on any surface, so each selected
optimizer gets its own, with a per-surface default.

Every control is a widget whose ``value`` can be set from code, and
:meth:`SurfaceExplorer.set` sets several at once with one redraw; tests and
lecture cells drive the explorer that way, headless.
"""

from __future__ import annotations

import math
import time
from typing import Any, NamedTuple

import ipywidgets as widgets
import numpy as np

from .. import _checks
from .. import surfaces as S
from ._base import _Picture, _escape


class Entry(NamedTuple):
    """An optimizer as the explorer offers it.

    ``optimizer`` names a class of descentlab.optim; ``fixed`` are arguments
    always passed; ``tied`` names the shared sliders it uses ("momentum",
    "betas"); ``family`` picks its default learning rate from
    :data:`DEFAULT_LRS` ("sgd", "adaptive" or "adadelta").
    """

    optimizer: str
    fixed: dict[str, Any]
    tied: tuple[str, ...]
    family: str


#: The optimizers on offer, by label.
ENTRIES: dict[str, Entry] = {
    "SGD": Entry("SGD", {}, (), "sgd"),
    "SGD+momentum": Entry("SGD", {}, ("momentum",), "sgd"),
    "SGD+Nesterov": Entry("SGD", {"nesterov": True}, ("momentum",), "sgd"),
    "ClassicMomentum": Entry("ClassicMomentum", {}, ("momentum",), "sgd"),
    "LocalGains": Entry("LocalGains", {}, (), "sgd"),
    "Adagrad": Entry("Adagrad", {}, (), "adaptive"),
    "RMSprop": Entry("RMSprop", {}, (), "adaptive"),
    "Adadelta": Entry("Adadelta", {}, (), "adadelta"),
    "Adam": Entry("Adam", {}, ("betas",), "adaptive"),
    "AdamW": Entry("AdamW", {}, ("betas",), "adaptive"),
    "Adamax": Entry("Adamax", {}, ("betas",), "adaptive"),
    "NAdam": Entry("NAdam", {}, ("betas",), "adaptive"),
    "RAdam": Entry("RAdam", {}, ("betas",), "adaptive"),
}

#: Default learning rates per surface and family: (sgd, adaptive).  SGD's
#: must stay below 2 / (largest curvature along the path); the adaptive ones
#: are step lengths, a small fraction of the window.  Adadelta's lr is a
#: multiplier of a unit-free step, 1.0 (torch's default) everywhere.
DEFAULT_LRS = {
    "quadratic": (0.5, 0.3), "rosenbrock": (1e-3, 0.1), "beale": (1e-2, 0.1),
    "himmelblau": (1e-2, 0.1), "saddle": (0.05, 0.05), "rastrigin": (5e-3, 0.1),
    "gaussians": (0.1, 0.05), "ravine": (0.04, 0.1),
}
_FALLBACK_LRS = (1e-2, 0.05)

_LR_EXPONENTS = (-5.0, 1.0)  # the lr sliders span 1e-5 .. 10
_KAPPA_EXPONENTS = (0.0, 3.0)
# one fixed colour per entry, so a line keeps its colour when others come and go
_COLORS = {"SGD": "C0", "SGD+momentum": "C1", "SGD+Nesterov": "C2", "ClassicMomentum": "C9",
           "LocalGains": "C7", "Adagrad": "C5", "RMSprop": "C6", "Adadelta": "C8", "Adam": "C3",
           "AdamW": "C4", "Adamax": "black", "NAdam": "#393b79", "RAdam": "#8c6d31"}
_SPARE_COLORS = ["#637939", "#7b4173", "#843c39", "#3182bd", "#e6550d", "#31a354"]
_KEYS = ("surface", "kappa", "x0", "optimizers", "lr", "momentum", "beta1", "beta2", "betas",
         "steps", "noise", "seed")


class SurfaceExplorer(_Picture):
    """Optimizers racing on a 2-D surface; see the module docstring.

    Args:
        surface: a name from ``descentlab.surfaces.SURFACES`` or a built
            :class:`~descentlab.surfaces.Surface` (it replaces the default
            one of that name in the picker).
        optimizers: labels from :data:`ENTRIES` (or ``entries``) to show.
        steps: number of updates per path.
        x0: the start point (default: the surface's).
        lr: one learning rate for every optimizer, or ``{label: lr}``;
            unset ones get :data:`DEFAULT_LRS`.
        momentum, betas: the shared momentum and ``(beta1, beta2)`` sliders.
        noise, seed: gradient noise :math:`\\sigma` and its seed.
        kappa: the condition number when the surface is the quadratic.
        entries: extra ``{label: Entry}`` to offer besides :data:`ENTRIES`.
        figsize, dpi: the figure's size.

    Attributes (read them; change things through the controls or :meth:`set`):
        widget: the whole control panel and picture, an ``ipywidgets.VBox``.
        figure, ax_path, ax_loss: the matplotlib figure and its two panels.
        image: the ``ipywidgets.Image`` showing the figure.
        surface: the current :class:`~descentlab.surfaces.Surface`.
        paths, losses: ``{label: array}`` for the shown optimizers.
        lines, loss_lines: ``{label: Line2D}`` for every entry (hidden when
            not selected).
        timings: seconds spent on the last update: compute, draw, encode.
        status: an HTML widget that reports rejected settings.
    """

    def __init__(self, surface: str | S.Surface = "rosenbrock",
                 optimizers=("SGD", "SGD+momentum", "Adam"), *, steps: int = 200, x0=None,
                 lr: float | dict[str, float] | None = None, momentum: float = 0.9,
                 betas=(0.9, 0.999), noise: float = 0.0, seed: int = 0, kappa: float | None = None,
                 entries: dict[str, Entry] | None = None, figsize=(10.0, 4.2), dpi: int = 100):
        self.entries = {**ENTRIES, **(entries or {})}
        for label, entry in self.entries.items():
            if not isinstance(entry, Entry) or entry.optimizer not in S.OPTIMIZERS \
                    or entry.family not in ("sgd", "adaptive", "adadelta"):
                raise ValueError(f"SurfaceExplorer: entries[{label!r}] must be an Entry of an "
                                 f"optimizer in {list(S.OPTIMIZERS)} and a family 'sgd', "
                                 f"'adaptive' or 'adadelta', got {entry!r}")
        self._surfaces: dict[str, S.Surface | None] = {name: None for name in S.SURFACES}
        self.surface: S.Surface | None = None
        self.seed = seed
        self.paths: dict[str, np.ndarray] = {}
        self.losses: dict[str, np.ndarray] = {}
        self._init_controls()
        self._build_figure(figsize, dpi)
        self._build_controls()
        with self.hold():
            if isinstance(surface, S.Surface):
                self._register(surface)
                surface = surface.name
            if kappa is not None:
                self.controls["kappa"].set(kappa)
            self.controls["surface"].set(surface)
            self._change_surface()
            self.set(optimizers=optimizers, steps=steps, momentum=momentum, betas=betas,
                     noise=noise, seed=seed)
            if x0 is not None:
                self.set(x0=x0)
            if lr is not None:
                self.set(lr=lr)
        self._finish()
        self._initial_seed = self.seed
        self._watch_clicks()
        self.hint = widgets.HTML("<span style='font-size:11px;color:#555'>click on the map to "
                                 "start the paths there</span>")
        self.widget = widgets.VBox([self._controls_box, self.status, self.hint, self.image])

    # -- public API -------------------------------------------------------
    def set(self, **settings) -> None:
        """Change several controls at once, with one redraw.

        Keys: ``surface``, ``kappa``, ``x0`` (a pair), ``optimizers`` (labels),
        ``lr`` (one number for every optimizer shown, or ``{label: lr}``),
        ``momentum``, ``beta1``, ``beta2``, ``betas``, ``steps``, ``noise``,
        ``seed``.  A value outside a slider's range is a ValueError (a
        slider would silently clip it).
        """
        unknown = sorted(set(settings) - set(_KEYS))
        if unknown:
            raise TypeError(f"SurfaceExplorer.set: unknown settings {unknown}; "
                            f"known: {list(_KEYS)}")
        with self.hold():
            # the surface first: it resets the start point and learning rates
            if "surface" in settings:
                value = settings["surface"]
                if isinstance(value, S.Surface):
                    self._register(value)
                    if self.controls["surface"].value == value.name:
                        self.surface = None  # rebuilt below as if newly picked
                        self._change_surface()
                    value = value.name
                self.controls["surface"].set(value)
            if "kappa" in settings:
                self.controls["kappa"].set(settings["kappa"])
            if "optimizers" in settings:
                self.controls["optimizers"].set(settings["optimizers"])
            if "x0" in settings:
                try:
                    x, y = settings["x0"]
                except (TypeError, ValueError):
                    raise TypeError(f"SurfaceExplorer: x0 must be a pair (x, y), "
                                    f"got {settings['x0']!r}") from None
                # both checked before either is held
                x, y = self.controls["x"].check(x), self.controls["y"].check(y)
                self.controls["x"].set(x)
                self.controls["y"].set(y)
            if "lr" in settings:
                lr = settings["lr"]
                targets = lr if isinstance(lr, dict) else dict.fromkeys(self.selected, lr)
                for label, value in targets.items():
                    if label not in self.lr_sliders:
                        raise ValueError(f"SurfaceExplorer: lr given for {label!r}, which is "
                                         f"not among {list(self.entries)}")
                    self.controls[f"lr {label}"].set(value)
            if "betas" in settings:
                b1, b2 = settings["betas"]
                settings = {**settings, "beta1": b1, "beta2": b2}
            for key in ("momentum", "beta1", "beta2", "steps", "noise"):
                if key in settings:
                    self.controls[key].set(settings[key])
            if "seed" in settings:
                self.seed = _checks.integer(settings["seed"], "seed", "SurfaceExplorer", minimum=0)
                self._request("paths")

    def _reset_extra(self) -> None:
        self.set(seed=self._initial_seed)

    def click(self, px: float, py: float) -> bool:
        """Start every path where the student clicked on the contour map
        (``(px, py)``: pixels of the picture, origin top left)."""
        point = self._data_at(self.ax_path, px, py)
        if point is None:
            return False
        (x0, x1), (y0, y1) = self.surface.xlim, self.surface.ylim
        self.set(x0=(min(max(point[0], x0), x1), min(max(point[1], y0), y1)))
        return True

    @property
    def selected(self) -> tuple[str, ...]:
        return tuple(self.controls["optimizers"].value)

    @property
    def x0(self) -> tuple[float, float]:
        """The start point, exactly as set (or clicked)."""
        return (self.controls["x"].value, self.controls["y"].value)

    @property
    def lr(self) -> dict[str, float]:
        """``{label: learning rate}`` of the optimizers shown, exactly as set."""
        return {label: self.controls[f"lr {label}"].value for label in self.selected}

    def arguments(self, label: str) -> dict[str, Any]:
        """The keyword arguments the explorer passes to
        :func:`descentlab.surfaces.trajectory` for ``label``'s path (after
        ``name``, ``surface``, ``x0`` and ``steps``)."""
        entry = self.entries[label]
        c = self.controls
        hyper = {"lr": c[f"lr {label}"].value, **entry.fixed}
        if "momentum" in entry.tied:
            hyper["momentum"] = c["momentum"].value
        if "betas" in entry.tied:
            hyper["betas"] = (c["beta1"].value, c["beta2"].value)
        return {**hyper, "noise": c["noise"].value, "seed": self.seed}

    def update(self) -> None:
        """Recompute every path and redraw (what any control change does)."""
        self._request("paths")

    # -- building -----------------------------------------------------------
    def _build_figure(self, figsize, dpi) -> None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        # a bare Figure, not pyplot: nothing is registered with a backend, so
        # the inline backend never shows (or leaks) a copy of it
        self.figure = fig = Figure(figsize=figsize, dpi=dpi)
        FigureCanvasAgg(fig)
        self.ax_path, self.ax_loss = fig.subplots(1, 2, width_ratios=(1.05, 1.0))
        fig.subplots_adjust(left=0.06, right=0.985, bottom=0.12, top=0.86, wspace=0.22)
        self.ax_loss.set_xlabel("step")
        # the loss panel's frame (axes, ticks, labels) is part of the cached
        # background while its limits hold; its lines and legend are drawn
        # on top at every update
        self._frame_key = None
        self.lines, self.ends, self.loss_lines = {}, {}, {}
        spare = iter(_SPARE_COLORS * len(self.entries))
        for label in self.entries:
            color = _COLORS.get(label) or next(spare)
            self.lines[label], = self.ax_path.plot([], [], "-", lw=1.6, color=color,
                                                   label=label, animated=True, visible=False)
            self.ends[label], = self.ax_path.plot([], [], "o", ms=4, color=color,
                                                  animated=True, visible=False)
            self.loss_lines[label], = self.ax_loss.plot([], [], "-", lw=1.4, color=color,
                                                        label=label, visible=False,
                                                        animated=True)
        self.start_marker, = self.ax_path.plot([], [], "o", ms=7, mfc="white", mec="black",
                                               animated=True, zorder=5)
        self._surface_artists: list = []
        self._background = None
        self.image = widgets.Image(format="jpeg")

    def _build_controls(self) -> None:
        slider = dict(continuous_update=True, style={"description_width": "70px"},
                      layout=widgets.Layout(width="320px"))
        self.surface_picker = widgets.Dropdown(options=list(self._surfaces), description="surface",
                                               style=slider["style"])
        self.kappa_slider = widgets.FloatLogSlider(value=10.0, min=_KAPPA_EXPONENTS[0],
                                                   max=_KAPPA_EXPONENTS[1], step=0.05,
                                                   description="κ", readout_format=".3g", **slider)
        self.x0_slider = widgets.FloatSlider(description="start x", readout_format=".3g", **slider)
        self.y0_slider = widgets.FloatSlider(description="start y", readout_format=".3g", **slider)
        self.steps_slider = widgets.IntSlider(value=200, min=10, max=2000, step=10,
                                              description="steps", **slider)
        self.noise_slider = widgets.FloatSlider(value=0.0, min=0.0, max=1.0, step=0.01,
                                                description="noise σ", readout_format=".3g",
                                                **slider)
        self.momentum_slider = widgets.FloatSlider(value=0.9, min=0.0, max=0.99, step=0.01,
                                                   description="momentum", **slider)
        self.beta1_slider = widgets.FloatSlider(value=0.9, min=0.0, max=0.99, step=0.01,
                                                description="β1", **slider)
        self.beta2_slider = widgets.FloatSlider(value=0.999, min=0.5, max=0.9999, step=0.0001,
                                                description="β2", readout_format=".4f", **slider)
        self.optimizer_picker = widgets.SelectMultiple(
            options=list(self.entries), rows=min(len(self.entries), 9), description="optimizers",
            style=slider["style"], layout=widgets.Layout(width="230px"))
        self.lr_sliders = {label: widgets.FloatLogSlider(
            value=1e-2, min=_LR_EXPONENTS[0], max=_LR_EXPONENTS[1], step=0.02,
            description=f"lr {label}", readout_format=".3g", continuous_update=True,
            style={"description_width": "130px"}, layout=widgets.Layout(width="380px"))
            for label in self.entries}
        self.lr_box = widgets.VBox([])
        self.optimal_button = widgets.Button(
            description="SGD: α* = 2/(λmin+λmax)", layout=widgets.Layout(width="230px"),
            tooltip="the best constant step of gradient descent on this quadratic")
        self.heavy_ball_button = widgets.Button(
            description="SGD+momentum: Polyak", layout=widgets.Layout(width="230px"),
            tooltip="Polyak's optimal heavy-ball lr and momentum for this quadratic")
        self.optimal_label = widgets.HTML()

        # every setting is a Control: the kernel holds it exactly (see _base)
        new_surface = lambda _: self._change_surface()  # noqa: E731
        control = self._control
        c = {"surface": control("surface", self.surface_picker, request=new_surface),
             "kappa": control("kappa", self.kappa_slider, request=new_surface),
             "optimizers": control("optimizers", self.optimizer_picker, request="selection"),
             "x": control("x", self.x0_slider, request="paths", label="x0[0]"),
             "y": control("y", self.y0_slider, request="paths", label="x0[1]"),
             "steps": control("steps", self.steps_slider, request="paths"),
             "noise": control("noise", self.noise_slider, request="paths")}
        for key in ("momentum", "beta1", "beta2"):
            c[key] = control(key, getattr(self, f"{key}_slider"), request="paths")
        for label, slider in self.lr_sliders.items():
            control(f"lr {label}", slider, request="paths", label=f"lr[{label!r}]")
        self.optimal_button.on_click(lambda _: self.use_optimal_lr())
        self.heavy_ball_button.on_click(lambda _: self.use_heavy_ball())

        self._controls_box = widgets.HBox([
            widgets.VBox([self.surface_picker, c["kappa"].widget, c["x"].widget, c["y"].widget,
                          c["steps"].widget, c["noise"].widget]),
            widgets.VBox([self.optimizer_picker, self.optimal_button, self.heavy_ball_button,
                          self.optimal_label, self.reset_button]),
            widgets.VBox([c["momentum"].widget, c["beta1"].widget, c["beta2"].widget,
                          self.lr_box]),
        ], layout=widgets.Layout(flex_flow="row wrap"))

    # -- the quadratic's optimal settings ---------------------------------------
    def use_optimal_lr(self) -> float:
        r"""Set SGD's learning rate to :math:`\alpha^* = 2/(\lambda_{\min}+\lambda_{\max})`
        (the quadratic only), show SGD, and return :math:`\alpha^*`."""
        q = self._quadratic()
        with self.hold():
            self.set(optimizers=dict.fromkeys((*self.selected, "SGD")), lr={"SGD": q.optimal_lr})
        self.optimal_label.value = (f"α* = 2/(λmin+λmax) = {q.optimal_lr:.4g}; "
                                    f"error × {q.gd_rate:.3g} per step")
        return q.optimal_lr

    def use_heavy_ball(self) -> dict[str, float]:
        """Set SGD+momentum to Polyak's optimal lr and momentum (the quadratic only)."""
        q = self._quadratic()
        hb = q.heavy_ball
        with self.hold():
            self.set(optimizers=dict.fromkeys((*self.selected, "SGD+momentum")),
                     lr={"SGD+momentum": hb["lr"]}, momentum=hb["momentum"])
        self.optimal_label.value = (f"heavy ball: lr = {hb['lr']:.4g}, "
                                    f"momentum = {hb['momentum']:.4g}; "
                                    f"error × {q.heavy_ball_rate:.3g} per step")
        return hb

    def _quadratic(self) -> S.Quadratic:
        if not isinstance(self.surface, S.Quadratic):
            raise ValueError(f"SurfaceExplorer: the optimal step needs the quadratic surface, "
                             f"the current one is {self.surface.name!r}")
        return self.surface

    # -- reacting to changes ----------------------------------------------------
    def _register(self, surface: S.Surface) -> None:
        """Offer a built surface under its name; a quadratic brings its kappa."""
        self._surfaces[surface.name] = surface
        if isinstance(surface, S.Quadratic):
            self.controls["kappa"].set(surface.kappa)

    def _change_surface(self) -> None:
        with self.hold():
            c = self.controls
            name = c["surface"].value
            built = self._surfaces[name]
            if name == "quadratic":
                # kappa comes from its control, lam_max and angle from a built one
                params = dict(built.params) if built is not None else {}
                surface = S.quadratic(**{**params, "kappa": c["kappa"].value})
            else:
                surface = built if built is not None else S.get(name)
            renamed = getattr(self, "surface", None) is None or self.surface.name != name
            self.surface = surface
            self.optimal_label.value = ""
            self._pending.add("surface")
            if not renamed:
                return  # a new kappa keeps the start point and the learning rates
            self.kappa_slider.disabled = name != "quadratic"
            self.optimal_button.disabled = self.heavy_ball_button.disabled = name != "quadratic"
            for key, (lo, hi), v in (("x", surface.xlim, surface.start[0]),
                                     ("y", surface.ylim, surface.start[1])):
                c[key].rescale(lo, hi, (hi - lo) / 500, v)
            scale = math.hypot(*surface.grad(*surface.start))
            top = max(1.0, float(f"{scale:.1g}"))
            c["noise"].rescale(0.0, top, top / 200, min(c["noise"].value, top))
            sgd, adaptive = DEFAULT_LRS.get(name, _FALLBACK_LRS)
            for label, entry in self.entries.items():
                c[f"lr {label}"].set({"sgd": sgd, "adaptive": adaptive}.get(entry.family, 1.0))

    def _flush(self, pending) -> None:
        if "surface" in pending:
            self._draw_surface()
        if pending & {"surface", "selection"}:
            self._show_selection()
        self._compute()
        self._render()

    def _show_selection(self) -> None:
        selected = set(self.selected)
        for label in self.entries:
            for artist in (self.lines[label], self.ends[label], self.loss_lines[label]):
                artist.set_visible(label in selected)
        self.lr_box.children = [self.controls[f"lr {label}"].widget for label in self.selected]
        for key, tie in (("momentum", "momentum"), ("beta1", "betas"), ("beta2", "betas")):
            users = [label for label in self.selected if tie in self.entries[label].tied]
            self.controls[key].affects = ", ".join(users) if users else "no optimizer shown"
        self.controls["noise"].affects = "every optimizer shown"
        handles = [self.loss_lines[label] for label in self.selected]
        if handles:
            self.ax_loss.legend(handles=handles, loc="upper right", fontsize=8,
                                framealpha=0.8).set_animated(True)
        elif self.ax_loss.get_legend() is not None:
            self.ax_loss.get_legend().remove()

    def _compute(self) -> None:
        t0 = time.perf_counter()
        s, x0, steps = self.surface, self.x0, self.controls["steps"].value
        self.paths, self.losses, problems = {}, {}, []
        for label in self.selected:
            try:
                path = S.trajectory(self.entries[label].optimizer, s, x0, steps,
                                    **self.arguments(label))
            except (ValueError, TypeError) as e:
                # e.g. SGD+Nesterov with momentum 0: torch's rule, reported, not raised
                problems.append(f"{label}: {e}")
                path = np.full((1, 2), np.nan)
            self.paths[label] = path
            self.losses[label] = S.losses(s, path)
        self.status.value = "<br>".join(f"<span style='color:#b00'>{_escape(p)}</span>"
                                        for p in problems)
        self.timings["compute"] = time.perf_counter() - t0

    def _draw_surface(self) -> None:
        """The static background: colour map, contours, minimisers, saddles."""
        for artist in self._surface_artists:
            artist.remove()
        s, ax = self.surface, self.ax_path
        X, Y, Z = s.grid(160)
        if s.min_value is not None:
            # log levels: most of these surfaces span many decades
            gap = Z - s.min_value
            shade = np.log10(gap + 1e-3 * (np.max(gap) + 1e-12))
        else:
            shade = Z
        artists = [ax.imshow(shade, extent=(*s.xlim, *s.ylim), origin="lower", cmap="viridis",
                             aspect="auto", alpha=0.55, interpolation="bilinear")]
        contours = ax.contour(X, Y, shade, levels=18, colors="black", linewidths=0.4, alpha=0.45)
        artists.append(contours)
        for p in s.minimisers:
            artists += ax.plot(*p, "*", ms=11, mfc="gold", mec="black", mew=0.6)
        for p in s.saddles:
            artists += ax.plot(*p, "X", ms=8, mfc="white", mec="black", mew=0.6)
        self._surface_artists = artists
        ax.set_xlim(*s.xlim)
        ax.set_ylim(*s.ylim)
        ax.set_title(f"{s.title}:  ${s.latex}$", fontsize=8.5)
        log = s.min_value is not None
        if log:
            self.ax_loss.set_yscale("log")
        else:
            self.ax_loss.set_yscale("symlog", linthresh=1.0)
        self.ax_loss.set_ylabel(r"$f(x_t) - f^*$" if log else r"$f(x_t)$")
        self.ax_loss.set_title("loss", fontsize=9)
        self._frame_key = None  # the background is drawn again at the next render

    def _loss_curve(self, label: str) -> np.ndarray:
        f = self.losses[label]
        if self.surface.min_value is None:
            return f
        gap = f - self.surface.min_value
        # a loss at the minimum to the last bit has no place on a log axis
        return np.where(gap > 0, gap, np.nan)

    def _render(self) -> None:
        t0 = time.perf_counter()
        steps = self.controls["steps"].value
        self.start_marker.set_data([self.x0[0]], [self.x0[1]])
        ys = []
        for label in self.selected:
            path = self.paths[label]
            self.lines[label].set_data(path[:, 0], path[:, 1])
            finite = np.flatnonzero(np.all(np.isfinite(path), axis=1))
            last = path[finite[-1]] if finite.size else (np.nan, np.nan)
            self.ends[label].set_data([last[0]], [last[1]])
            y = self._loss_curve(label)
            self.loss_lines[label].set_data(np.arange(y.size), y)
            ys.append(y)
        canvas = self.figure.canvas
        key = (self._frame_limits(ys, steps), id(self.surface))
        if key != self._frame_key:
            # new limits: draw the frame once (everything not animated) and keep it
            (xlim, ylim), _ = key
            self.ax_loss.set_xlim(*xlim)
            self.ax_loss.set_ylim(*ylim)
            canvas.draw()
            self._background = canvas.copy_from_bbox(self.figure.bbox)
            self._frame_key = key
        canvas.restore_region(self._background)
        for label in self.selected:
            self.ax_path.draw_artist(self.lines[label])
            self.ax_path.draw_artist(self.ends[label])
            self.ax_loss.draw_artist(self.loss_lines[label])
        self.ax_path.draw_artist(self.start_marker)
        legend = self.ax_loss.get_legend()
        if legend is not None:
            self.ax_loss.draw_artist(legend)
        t1 = time.perf_counter()
        self._show()
        t2 = time.perf_counter()
        self.timings["draw"], self.timings["encode"] = t1 - t0, t2 - t1

    def _frame_limits(self, ys, steps):
        """The loss panel's limits: the data's (:meth:`_loss_limits`), kept
        while they still fit snugly, so that moving a slider rarely redraws
        the frame (its tick labels are most of a full draw's cost)."""
        lo, hi = self._loss_limits(ys)
        scale = self.ax_loss.yaxis.get_transform()
        t_lo, t_hi = np.ravel(scale.transform(np.array([lo, hi], dtype=np.float64)))
        span = max(t_hi - t_lo, 0.5)
        if self._frame_key is not None and self._frame_key[0][0] == (0, steps):
            (_, (c_lo, c_hi)) = self._frame_key[0]
            k_lo, k_hi = np.ravel(scale.transform(np.array([c_lo, c_hi], dtype=np.float64)))
            if k_lo <= t_lo and t_hi <= k_hi and k_hi - k_lo <= 2.5 * span:
                return self._frame_key[0]
        pad = min(0.2 * span, 1.0)
        new_lo, new_hi = np.ravel(scale.inverted().transform(
            np.array([t_lo - pad, t_hi + pad], dtype=np.float64)))
        return (0, steps), (float(new_lo), float(new_hi))

    def _loss_limits(self, ys) -> tuple[float, float]:
        """The range of the loss curves worth showing."""
        values = np.concatenate([y[np.isfinite(y)] for y in ys]) if ys else np.empty(0)
        if self.ax_loss.get_yscale() == "log":
            values = values[values > 0]
            if values.size == 0:
                return 1e-3, 1.0
            # a diverging run leaves through the top (the escape, not the
            # overflow), and at most 20 decades show: below that only runs
            # that hit the minimum exactly go on, squashing every other curve
            hi = min(float(values.max()), 1e6 * float(values[0]))
            lo = max(float(values.min()), hi * 1e-20)
            return lo / 3, (hi * 3 if hi > lo else lo * 10)
        if values.size == 0:
            return -1.0, 1.0
        # unbounded below (the saddle): show the escape, not the overflow
        f0 = float(np.abs(values[0]))
        lo = max(float(values.min()), -1e6 * (1.0 + f0))
        hi = min(float(values.max()), 1e6 * (1.0 + f0))
        pad = 0.05 * (hi - lo) + 1e-12 * (abs(hi) + 1.0)
        return lo - pad, hi + pad
