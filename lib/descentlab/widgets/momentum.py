"""Goh's *Why Momentum Really Works* (Distill 2017) as sliders."""

from __future__ import annotations

import math
import time

import ipywidgets as widgets
import numpy as np

from .. import _checks
from .. import surfaces as S
from ._base import _FigureExplorer


def heavy_ball_rates(lr, momentum, lam) -> np.ndarray:
    r"""How fast heavy-ball momentum shrinks the error along an eigenvector.

    On a quadratic with Hessian eigenvalue :math:`\lambda`, torch's SGD with
    constant learning rate :math:`\alpha` and momentum :math:`\beta` moves the
    buffer :math:`b` and the error :math:`x` along that eigenvector by a
    linear map (Goh, *Why Momentum Really Works*, Distill 2017):

    .. math::
        \begin{pmatrix} b_{t+1} \\ x_{t+1} \end{pmatrix} = R
        \begin{pmatrix} b_t \\ x_t \end{pmatrix}, \qquad
        R = \begin{pmatrix} \beta & \lambda \\ -\alpha\beta & 1 - \alpha\lambda \end{pmatrix}

    so :math:`|x_t|` shrinks like :math:`\rho(R)^t`, the spectral radius of
    :math:`R`: the larger modulus of the roots of
    :math:`z^2 - (1 + \beta - \alpha\lambda)\,z + \beta`.  When the roots are
    complex (the error oscillates) both have modulus :math:`\sqrt\beta`.
    The run converges iff :math:`\rho < 1`, i.e.
    :math:`0 < \alpha\lambda < 2(1 + \beta)`.  With :math:`\beta = 0` this is
    gradient descent's :math:`|1 - \alpha\lambda|`.

    ``lr``, ``momentum`` and ``lam`` are numbers or arrays that broadcast.
    """
    a = np.asarray(lr, dtype=np.float64)
    b = np.asarray(momentum, dtype=np.float64)
    lam = np.asarray(lam, dtype=np.float64)
    if not (np.all(np.isfinite(a)) and np.all(a >= 0)):
        raise ValueError(f"heavy_ball_rates: lr must be finite and >= 0, got {lr!r}")
    if not np.all((b >= 0) & (b < 1)):
        raise ValueError(f"heavy_ball_rates: momentum must lie in [0, 1), got {momentum!r}")
    if not (np.all(np.isfinite(lam)) and np.all(lam > 0)):
        raise ValueError(f"heavy_ball_rates: lam must be finite and > 0, got {lam!r}")
    trace = 1.0 + b - a * lam
    disc = trace * trace - 4.0 * b
    root = np.sqrt(np.abs(disc))
    real = np.maximum(np.abs(trace + root), np.abs(trace - root)) / 2.0
    return np.where(disc >= 0, real, np.sqrt(b))


class MomentumExplorer(_FigureExplorer):
    r"""Step size :math:`\alpha` and momentum :math:`\beta` on an ill-conditioned
    quadratic, after Goh, *Why Momentum Really Works* (Distill 2017).

    Three panels: the path of torch's SGD with momentum (the heavy ball;
    :math:`\beta = 0` is gradient descent) over the contours; the error
    along each eigenvector of the Hessian against the step, with the rate
    :func:`heavy_ball_rates` predicts as a dashed slope; and a map of the
    :math:`(\alpha, \beta)` plane coloured by the steps a 1000-fold reduction
    of the error takes at the worst rate :math:`\max_i \rho_i`, where grey
    means divergence, the star is Polyak's optimum, the diamond gradient
    descent's :math:`\alpha^*`, and the white dot the current setting.

    Args:
        kappa: the condition number :math:`\lambda_{\max}/\lambda_{\min}`
            (:math:`\lambda_{\max} = 1`).
        lr, momentum: :math:`\alpha` (default: gradient descent's
            :math:`\alpha^*`) and :math:`\beta`.
        steps: updates per path.
        angle: rotation of the eigenvectors (see
            :func:`descentlab.surfaces.quadratic`).
        x0: start point (default: the quadratic's).

    Attributes: ``widget``, ``figure``, ``ax_path``, ``ax_modes``,
    ``ax_rate``, ``surface``, ``path``, ``modes`` (the error's coordinates
    along the eigenvectors of :math:`\lambda_{\min}` and :math:`\lambda_{\max}`,
    shape ``(steps + 1, 2)``), ``rates`` (:math:`(\rho_{\min}, \rho_{\max})`),
    ``rate`` (the larger), ``path_line``, ``mode_lines``, ``rate_lines``,
    ``setting_marker``, ``rate_image``.
    """

    _owner = "MomentumExplorer"
    _KEYS = ("kappa", "lr", "momentum", "steps", "x0")
    LR_MAX = 4.0  # 2 (1 + beta) / lam_max with beta -> 1: the whole stable range
    _GRID = (241, 200)

    def __init__(self, kappa: float = 100.0, *, lr: float | None = None,
                 momentum: float = 0.0, steps: int = 100, angle: float = 0.0, x0=None,
                 figsize=(12.0, 3.9), dpi: int = 100):
        self.angle = _checks.real(angle, "angle", self._owner)
        if not math.isfinite(self.angle):
            raise ValueError(f"{self._owner}: angle must be finite, got {angle!r}")
        self.ax_path, self.ax_modes, self.ax_rate = self._start(
            figsize, dpi, 3, width_ratios=(1.1, 1.0, 1.0))
        self.figure.subplots_adjust(left=0.045, right=0.95, bottom=0.13, top=0.9, wspace=0.3)
        self._build_artists()
        self._build_controls()
        self.surface = None
        self._x0 = None
        with self.hold():
            self.controls["kappa"].set(kappa)
            self._request("surface")
            self.set(momentum=momentum, steps=steps,
                     lr=self._surface_for(self.controls["kappa"].value).optimal_lr
                     if lr is None else lr)
            if x0 is not None:
                self.set(x0=x0)
        self._finish()
        self._initial_x0 = self._x0
        self._watch_clicks()
        c = self.controls
        self.widget = widgets.VBox([
            widgets.HBox([widgets.VBox([c["lr"].widget, c["momentum"].widget]),
                          widgets.VBox([c["kappa"].widget, c["steps"].widget]),
                          widgets.VBox([self.optimal_button, self.heavy_ball_button,
                                        self.reset_button])],
                         layout=widgets.Layout(flex_flow="row wrap")),
            self.report, self.status, self.image])

    # -- public API ---------------------------------------------------------------
    def set(self, **settings) -> None:
        """Change several controls at once, with one redraw.  Keys: ``kappa``,
        ``lr``, ``momentum``, ``steps``, ``x0`` (a pair)."""
        self._check_keys(settings, self._KEYS)
        with self.hold():
            for key in ("kappa", "lr", "momentum", "steps"):
                if key in settings:
                    self.controls[key].set(settings[key])
            if "x0" in settings:
                try:
                    x, y = settings["x0"]
                except (TypeError, ValueError):
                    raise TypeError(f"{self._owner}: x0 must be a pair (x, y), "
                                    f"got {settings['x0']!r}") from None
                self._x0 = (_checks.real(x, "x0[0]", self._owner),
                            _checks.real(y, "x0[1]", self._owner))
                self._request("compute")

    @property
    def x0(self) -> tuple[float, float]:
        return self._x0 if self._x0 is not None else self.surface.start

    @property
    def lr(self) -> float:
        """The step size, exactly as set."""
        return self.controls["lr"].value

    @property
    def momentum(self) -> float:
        """The momentum, exactly as set."""
        return self.controls["momentum"].value

    @property
    def kappa(self) -> float:
        """The condition number, exactly as set."""
        return self.controls["kappa"].value

    def click(self, px: float, py: float) -> bool:
        """Start the path where the student clicked on the contour map."""
        point = self._data_at(self.ax_path, px, py)
        if point is None:
            return False
        (x0, x1), (y0, y1) = self.surface.xlim, self.surface.ylim
        self.set(x0=(min(max(point[0], x0), x1), min(max(point[1], y0), y1)))
        return True

    def _reset_extra(self) -> None:
        if self._x0 != self._initial_x0:
            self._x0 = self._initial_x0
            self._request("compute")

    def use_optimal_lr(self) -> float:
        r"""Gradient descent at its best: :math:`\beta = 0`,
        :math:`\alpha^* = 2/(\lambda_{\min} + \lambda_{\max})`."""
        self.set(momentum=0.0, lr=self.surface.optimal_lr)
        return self.surface.optimal_lr

    def use_heavy_ball(self) -> dict[str, float]:
        """Polyak's optimal :math:`\\alpha` and :math:`\\beta` for this quadratic."""
        hb = self.surface.heavy_ball
        self.set(lr=hb["lr"], momentum=hb["momentum"])
        return hb

    # -- building -----------------------------------------------------------------
    def _surface_for(self, kappa: float) -> S.Quadratic:
        return S.quadratic(kappa=kappa, angle=self.angle)

    def _build_artists(self) -> None:
        ax = self.ax_path
        self.path_line, = ax.plot([], [], "-", lw=1.4, color="C3", animated=True)
        self.path_dots, = ax.plot([], [], "o", ms=2.2, color="C3", animated=True)
        self.start_marker, = ax.plot([], [], "o", ms=7, mfc="white", mec="black", animated=True,
                                     zorder=5)
        ax.plot([0.0], [0.0], "*", ms=11, mfc="gold", mec="black", mew=0.6)
        ax.set_aspect("equal", adjustable="box")
        self.ax_modes.set_animated(True)
        self.ax_modes.set_yscale("log")
        self.ax_modes.set_xlabel("step")
        self.ax_modes.set_title("error along each eigenvector", fontsize=9)
        labels = (r"$\lambda_{\min}$ (shallow)", r"$\lambda_{\max}$ (steep)")
        self.mode_lines = [self.ax_modes.plot([], [], "-", lw=1.4, color=c, label=lab)[0]
                           for c, lab in zip(("C0", "C1"), labels)]
        self.rate_lines = [self.ax_modes.plot([], [], "--", lw=1.0, color=c)[0]
                           for c in ("C0", "C1")]
        self.ax_modes.legend(handles=self.mode_lines, loc="lower left", fontsize=8)
        a = np.linspace(0.0, self.LR_MAX, self._GRID[0])
        b = np.linspace(0.0, 0.999, self._GRID[1])
        self.rate_grid = (a, b)
        import matplotlib
        from matplotlib.colors import LogNorm

        # colour = steps for a 1000-fold reduction of the error, log scale;
        # divergent settings are NaN and take the "bad" grey
        cmap = matplotlib.colormaps["viridis_r"].with_extremes(bad="#d9d9d9", over="#2a0a3a")
        self.rate_image = self.ax_rate.imshow(
            np.ones((b.size, a.size)), origin="lower", aspect="auto", cmap=cmap,
            norm=LogNorm(vmin=1.0, vmax=1e4),
            extent=(a[0], a[-1], b[0], b[-1]), interpolation="nearest")
        self.figure.colorbar(self.rate_image, ax=self.ax_rate, fraction=0.07, pad=0.03,
                             label="steps to shrink the error 1000×")
        self.ax_rate.set_xlabel(r"step size $\alpha$")
        self.ax_rate.set_ylabel(r"momentum $\beta$")
        self._rate_artists: list = []
        self.setting_marker, = self.ax_rate.plot([], [], "o", ms=8, mfc="white", mec="black",
                                                 animated=True)

    def _build_controls(self) -> None:
        style = dict(continuous_update=True, style={"description_width": "90px"},
                     layout=widgets.Layout(width="360px"))
        self.lr_slider = widgets.FloatSlider(value=1.0, min=0.0, max=self.LR_MAX, step=0.001,
                                             description="step size α", readout_format=".3f",
                                             **style)
        self.momentum_slider = widgets.FloatSlider(value=0.0, min=0.0, max=0.999, step=0.001,
                                                   description="momentum β",
                                                   readout_format=".3f", **style)
        self.kappa_slider = widgets.FloatLogSlider(value=100.0, min=0.0, max=3.0, step=0.05,
                                                   description="κ", readout_format=".3g",
                                                   **style)
        self.steps_slider = widgets.IntSlider(value=100, min=10, max=1000, step=10,
                                              description="steps", **style)
        self.optimal_button = widgets.Button(description="gradient descent: α*, β = 0",
                                             layout=widgets.Layout(width="240px"))
        self.heavy_ball_button = widgets.Button(description="Polyak's optimal α, β",
                                                layout=widgets.Layout(width="240px"))
        self.report = widgets.HTML()
        heavy_ball = "SGD with momentum (the heavy ball)"
        self._control("lr", self.lr_slider, affects=heavy_ball)
        self._control("momentum", self.momentum_slider, affects=heavy_ball)
        self._control("kappa", self.kappa_slider, request="surface")
        self._control("steps", self.steps_slider)
        self.optimal_button.on_click(lambda _: self.use_optimal_lr())
        self.heavy_ball_button.on_click(lambda _: self.use_heavy_ball())

    # -- reacting -----------------------------------------------------------------
    def _flush(self, pending) -> None:
        if "surface" in pending:
            self.surface = self._surface_for(self.controls["kappa"].value)
            self._draw_static()
        self._compute()
        self._render()

    def _draw_static(self) -> None:
        q, ax = self.surface, self.ax_path
        for artist in self._rate_artists:
            artist.remove()
        X, Y, Z = q.grid(120)
        artists = [ax.contour(X, Y, np.log10(Z + 1e-3), levels=14, colors="black",
                              linewidths=0.4, alpha=0.5)]
        ax.set_xlim(*q.xlim)
        ax.set_ylim(*q.ylim)
        ax.set_title(f"quadratic, κ = {q.kappa:.3g}", fontsize=9)
        a, b = self.rate_grid
        A, B = np.meshgrid(a, b)
        rho = np.maximum(heavy_ball_rates(A, B, q.lam_min), heavy_ball_rates(A, B, q.lam_max))
        self.rate_map = rho
        self.rate_image.set_data(_steps_to_shrink(rho))
        artists.append(self.ax_rate.contour(A, B, rho, levels=[1.0], colors="black",
                                            linewidths=0.8))
        hb = q.heavy_ball
        artists += self.ax_rate.plot([hb["lr"]], [hb["momentum"]], "*", ms=12, mfc="gold",
                                     mec="black")
        artists += self.ax_rate.plot([q.optimal_lr], [0.0], "D", ms=7, mfc="C3", mec="black",
                                     clip_on=False)
        self.ax_rate.set_title("speed over (α, β); grey: diverges", fontsize=9)
        self._rate_artists = artists
        self.figure.canvas.draw()
        self._background = self.figure.canvas.copy_from_bbox(self.figure.bbox)

    def _compute(self) -> None:
        t0 = time.perf_counter()
        q, steps = self.surface, self.controls["steps"].value
        self.path = S.trajectory("SGD", q, self.x0, steps, lr=self.lr, momentum=self.momentum)
        c, s = math.cos(self.angle), math.sin(self.angle)
        # (u, v) = R^T (x, y): coordinates along the eigenvectors of lam_min, lam_max
        self.modes = np.column_stack([c * self.path[:, 0] + s * self.path[:, 1],
                                      -s * self.path[:, 0] + c * self.path[:, 1]])
        self.rates = tuple(float(r) for r in heavy_ball_rates(
            self.lr, self.momentum, np.array([q.lam_min, q.lam_max])))
        self.rate = max(self.rates)
        self.timings["compute"] = time.perf_counter() - t0

    def _render(self) -> None:
        t0 = time.perf_counter()
        steps = self.controls["steps"].value
        self.path_line.set_data(self.path[:, 0], self.path[:, 1])
        self.path_dots.set_data(self.path[:, 0], self.path[:, 1])
        self.start_marker.set_data([self.x0[0]], [self.x0[1]])
        t = np.arange(steps + 1)
        ys = []
        for i in range(2):
            err = np.abs(self.modes[:, i])
            err = np.where(err > 0, err, np.nan)
            self.mode_lines[i].set_data(t, err)
            # the predicted slope rho_i^t, as the lowest such line above the
            # second half of the run: the measured peaks touch it once the
            # transient has died out
            envelope = np.full(t.size, np.nan)
            late = np.flatnonzero(np.isfinite(err) & (t >= steps // 2))
            if late.size and 0.0 < self.rates[i]:
                slope = math.log(self.rates[i])
                offset = np.max(np.log(err[late]) - slope * t[late])
                with np.errstate(all="ignore"):
                    envelope = np.exp(offset + slope * t)
            self.rate_lines[i].set_data(t, envelope)
            ys.append(err)
        self.ax_modes.set_xlim(0, steps)
        values = np.concatenate(ys)
        values = values[np.isfinite(values) & (values > 0)]
        if values.size:
            hi = min(float(values.max()), 1e6 * max(abs(self.modes[0, 0]), abs(self.modes[0, 1])))
            lo = max(float(values.min()), hi * 1e-16)
            self.ax_modes.set_ylim(lo / 3, hi * 3)
        self.setting_marker.set_data([self.lr], [self.momentum])
        self.report.value = self._describe()
        canvas = self.figure.canvas
        canvas.restore_region(self._background)
        for artist in (self.path_line, self.path_dots, self.start_marker):
            self.ax_path.draw_artist(artist)
        self.figure.draw_artist(self.ax_modes)
        self.ax_rate.draw_artist(self.setting_marker)
        t1 = time.perf_counter()
        self._show()
        self.timings["draw"], self.timings["encode"] = t1 - t0, time.perf_counter() - t1

    def _describe(self) -> str:
        lo, hi = self.rates
        text = (f"α = {self.lr:.4g}, β = {self.momentum:.3g}: per step the error shrinks by "
                f"ρ<sub>min</sub> = {lo:.4f} along the shallow eigenvector and "
                f"ρ<sub>max</sub> = {hi:.4f} along the steep one; ")
        if self.rate >= 1.0:
            return text + "<b>ρ ≥ 1: the run diverges</b>."
        if self.rate == 0.0:
            return text + "converged exactly."
        steps = math.log(1e-3) / math.log(self.rate)
        return text + f"a 1000-fold reduction takes about <b>{steps:.0f} steps</b>."


def _steps_to_shrink(rho, factor: float = 1e3) -> np.ndarray:
    r"""Steps for a ``factor``-fold reduction at rate :math:`\rho`:
    :math:`\ln(1/\text{factor})/\ln\rho`; NaN where :math:`\rho \ge 1`."""
    rho = np.asarray(rho, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        steps = np.log(1.0 / factor) / np.log(rho)
    steps = np.where(rho <= 0.0, 1.0, steps)
    return np.where(rho < 1.0, np.maximum(steps, 1.0), np.nan)


