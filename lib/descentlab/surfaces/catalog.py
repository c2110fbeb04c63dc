r"""The catalogue of 2-D test functions.

Each factory returns a :class:`Surface`: the function (vectorised value and
analytic gradient, compiled), its formula in LaTeX, its minimisers and
saddles, a plotting window and a default start point.  ``get(name, **params)``
builds one by name; ``SURFACES`` lists them.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import _checks
from . import _formulas as F

__all__ = ["Surface", "Quadratic", "SURFACES", "get", "quadratic", "rosenbrock", "beale",
           "himmelblau", "saddle", "rastrigin", "gaussians", "ravine", "GAUSSIAN_WELLS"]

Point = tuple[float, float]


@dataclass(frozen=True, eq=False)
class Surface:
    r"""A function :math:`f:\mathbb{R}^2 \to \mathbb{R}` with its analytic gradient.

    Attributes:
        name: registry key, e.g. ``"rosenbrock"``.
        title: display name, e.g. ``"Rosenbrock"``.
        latex: the formula, for ``$...$`` in a notebook or a plot title.
        params: the parameters it was built with.
        xlim, ylim: a plotting window that shows the interesting part.
        start: a default start point for descent.
        minimisers: the local minima worth marking, global one first (for
            Rastrigin only the global one; it has a minimum near every
            integer point).
        saddles: saddle points worth marking.
        min_value: :math:`f` at the global minimum, or None when :math:`f`
            is unbounded below.
    """

    name: str
    title: str
    latex: str
    params: dict[str, Any]
    xlim: Point
    ylim: Point
    start: Point
    minimisers: tuple[Point, ...]
    saddles: tuple[Point, ...] = ()
    min_value: float | None = None
    kind: int = field(default=-1, repr=False)
    coef: np.ndarray = field(default=None, repr=False)

    def __post_init__(self) -> None:
        # The compiled formulas index coef without bounds checks, so a Surface
        # built by hand (it is public) is checked like any other input.
        kind = _checks.integer(self.kind, "kind", "Surface")
        if kind not in _COEFFICIENTS:
            raise ValueError(f"Surface: kind must be one of the formulas "
                             f"{sorted(_COEFFICIENTS)}, got {kind}")
        coef = _checks.float_array(self.coef, "coef", "Surface")
        need = _COEFFICIENTS[kind]
        fits = coef.size == need if kind != F.GAUSSIANS else coef.size % 4 == need
        if coef.dtype != np.float64 or coef.ndim != 1 or not fits:
            what = (f"{need} values" if kind != F.GAUSSIANS
                    else "1 + 4 * (number of wells) values")
            raise ValueError(f"Surface: coef of a {self.name!r} surface (kind {kind}) must be "
                             f"a 1-D float64 array of {what}, got {coef.dtype} of shape "
                             f"{coef.shape}")

    # -- evaluation ---------------------------------------------------------
    def value(self, x, y):
        """:math:`f(x, y)`; ``x`` and ``y`` are numbers or arrays that broadcast."""
        return self._evaluate(x, y)[0]

    def grad(self, x, y):
        r"""The analytic gradient :math:`(\partial f/\partial x,\ \partial f/\partial y)`."""
        return self._evaluate(x, y)[1:]

    def value_and_grad(self, x, y):
        """``(f, df/dx, df/dy)`` in one pass."""
        return self._evaluate(x, y)

    def __call__(self, x, y):
        return self.value(x, y)

    def grid(self, n: int = 200, xlim: Point | None = None, ylim: Point | None = None):
        """``(X, Y, Z)`` on an n-by-n grid over the window, ready for ``contour``."""
        n = _checks.integer(n, "n", "Surface.grid", minimum=2)
        if n > _GRID_MAX:  # numpy's linspace fails with IndexError near 2**63
            raise ValueError(f"Surface.grid: n must be <= {_GRID_MAX} (an n-by-n grid), got {n}")
        xlim = self.xlim if xlim is None else _interval(xlim, "xlim")
        ylim = self.ylim if ylim is None else _interval(ylim, "ylim")
        X, Y = np.meshgrid(np.linspace(*xlim, n), np.linspace(*ylim, n))
        return X, Y, self.value(X, Y)

    def _evaluate(self, x, y):
        if _is_scalar(x) and _is_scalar(y):
            # the scalar path is the very code the compiled trajectories run,
            # so a gradient taken here equals the one a trajectory uses
            x = _checks.real(x, "x", self.title)
            y = _checks.real(y, "y", self.title)
            f, gx, gy = F.evaluate(self.kind, self.coef, x, y)
            return float(f), float(gx), float(gy)
        xs, ys = (_as_float_array(v, name, self.title) for v, name in ((x, "x"), (y, "y")))
        try:
            xs, ys = np.broadcast_arrays(xs, ys)
        except ValueError:
            raise ValueError(f"{self.title}: x of shape {xs.shape} and y of shape {ys.shape} "
                             "do not broadcast") from None
        shape = xs.shape
        xs, ys = np.ascontiguousarray(xs).reshape(-1), np.ascontiguousarray(ys).reshape(-1)
        out = np.empty((3, xs.size))
        with np.errstate(all="ignore"):  # the pure-Python fallback warns on overflow
            F.evaluate_many(self.kind, self.coef, xs, ys, out[0], out[1], out[2])
        return tuple(a.reshape(shape) for a in out)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"<Surface {self.name}({args}) on {self.xlim} x {self.ylim}>"


@dataclass(frozen=True, eq=False, repr=False)
class Quadratic(Surface):
    r"""A quadratic bowl whose Hessian has eigenvalues :math:`\lambda_{\min} \le \lambda_{\max}`.

    Gradient descent :math:`\theta_t = \theta_{t-1} - \eta\nabla f(\theta_{t-1})`
    contracts the error along each eigenvector by :math:`|1 - \eta\lambda|`,
    so it converges iff :math:`\eta < 2/\lambda_{\max}`, and the worst
    factor is smallest at

    .. math::
        \eta^* = \frac{2}{\lambda_{\min} + \lambda_{\max}}, \qquad
        \max_\lambda |1 - \eta^*\lambda| = \frac{\kappa - 1}{\kappa + 1},
        \quad \kappa = \lambda_{\max}/\lambda_{\min}.

    Heavy-ball momentum (Polyak 1964) does better, with
    :math:`\eta = 4/(\sqrt{\lambda_{\max}} + \sqrt{\lambda_{\min}})^2` and
    :math:`\mu = \bigl((\sqrt\kappa - 1)/(\sqrt\kappa + 1)\bigr)^2`, giving the
    rate :math:`(\sqrt\kappa - 1)/(\sqrt\kappa + 1)`.
    """

    lam_min: float = 0.0
    lam_max: float = 0.0

    @property
    def kappa(self) -> float:
        """The condition number :math:`\\lambda_{\\max}/\\lambda_{\\min}`."""
        return self.lam_max / self.lam_min

    @property
    def optimal_lr(self) -> float:
        r"""The best constant step of gradient descent,
        :math:`\eta^* = 2/(\lambda_{\min}+\lambda_{\max})`."""
        return 2.0 / (self.lam_min + self.lam_max)

    @property
    def gd_rate(self) -> float:
        r"""The error's contraction per step of gradient descent at
        :math:`\eta^*`: :math:`(\kappa-1)/(\kappa+1)`."""
        return (self.kappa - 1.0) / (self.kappa + 1.0)

    @property
    def heavy_ball(self) -> dict[str, float]:
        """Polyak's optimal ``lr`` and ``momentum``, as arguments for :class:`descentlab.optim.SGD`.

        torch's SGD (no dampening, constant lr) is exactly the heavy-ball
        method: unrolling its buffer gives
        :math:`\\theta_t - \\theta_{t-1} = \\mu(\\theta_{t-1} - \\theta_{t-2}) - \\eta g_t`.
        """
        root = math.sqrt(self.kappa)
        return {"lr": 4.0 / (math.sqrt(self.lam_max) + math.sqrt(self.lam_min)) ** 2,
                "momentum": ((root - 1.0) / (root + 1.0)) ** 2}

    @property
    def heavy_ball_rate(self) -> float:
        root = math.sqrt(self.kappa)
        return (root - 1.0) / (root + 1.0)


# -- the catalogue ------------------------------------------------------------

def quadratic(kappa: float = 10.0, lam_max: float = 1.0, angle: float = 0.0) -> Quadratic:
    r"""An ill-conditioned quadratic bowl, optionally rotated.

    .. math::
        f(x, y) = \tfrac12\bigl(\lambda_{\min} u^2 + \lambda_{\max} v^2\bigr), \qquad
        \begin{pmatrix} u \\ v \end{pmatrix} =
        \begin{pmatrix} \cos\phi & \sin\phi \\ -\sin\phi & \cos\phi \end{pmatrix}
        \begin{pmatrix} x \\ y \end{pmatrix}

    with :math:`\lambda_{\min} = \lambda_{\max}/\kappa`.  With ``angle`` 0 the
    shallow direction is x and the steep one is y.  The minimum is at the
    origin.  See :class:`Quadratic` for the optimal step sizes.

    Args:
        kappa: condition number :math:`\kappa \ge 1`.
        lam_max: the largest eigenvalue of the Hessian, > 0.
        angle: rotation :math:`\phi` of the eigenvectors, in radians.
    """
    owner = "quadratic"
    kappa = _checks.real(kappa, "kappa", owner)
    if not 1.0 <= kappa < math.inf:
        raise ValueError(f"{owner}: kappa must be finite and >= 1, got {kappa!r}")
    lam_max = _checks.positive(lam_max, "lam_max", owner)
    angle = _finite(angle, "angle", owner)
    lam_min = lam_max / kappa
    # a window that shows about 3 length scales of the shallow direction
    half = 10.0 / math.sqrt(lam_max)
    return Quadratic(
        name="quadratic", title=f"Quadratic, κ = {kappa:g}",
        latex=r"f(x, y) = \frac{1}{2}\left(\lambda_{\min} u^2 + \lambda_{\max} v^2\right),\ "
              r"(u, v) = R_\phi^\top (x, y)",
        params={"kappa": kappa, "lam_max": lam_max, "angle": angle},
        xlim=(-half, half), ylim=(-half, half),
        start=_rotate((-0.8 * half, 0.3 * half), angle),
        minimisers=((0.0, 0.0),), min_value=0.0, kind=F.QUADRATIC,
        coef=_coef(lam_min, lam_max, math.cos(angle), math.sin(angle)),
        lam_min=lam_min, lam_max=lam_max)


def rosenbrock(a: float = 1.0, b: float = 100.0) -> Surface:
    r"""Rosenbrock's banana valley (Rosenbrock, *The Computer Journal* 3, 1960).

    .. math:: f(x, y) = (a - x)^2 + b\,(y - x^2)^2

    The minimum :math:`(a, a^2)` lies in a long, curved, flat-bottomed valley:
    finding the valley is easy, following it is slow.
    """
    owner = "rosenbrock"
    a = _finite(a, "a", owner)
    b = _checks.positive(b, "b", owner)
    span = max(2.0, 1.5 * abs(a))
    return Surface(
        name="rosenbrock", title="Rosenbrock", latex=r"f(x, y) = (a - x)^2 + b\,(y - x^2)^2",
        params={"a": a, "b": b}, xlim=(-span, span), ylim=(-1.0, a * a + 2.0),
        start=(-1.2, 1.0), minimisers=((a, a * a),), min_value=0.0,
        kind=F.ROSENBROCK, coef=_coef(a, b))


def beale() -> Surface:
    r"""Beale's function (Beale 1958): flat plateaus and sharp ridges.

    .. math:: f(x, y) = (1.5 - x + xy)^2 + (2.25 - x + xy^2)^2 + (2.625 - x + xy^3)^2

    Minimum :math:`f(3, 0.5) = 0`; a saddle at :math:`(0, 1)`.
    """
    return Surface(
        name="beale", title="Beale",
        latex=r"f(x, y) = (1.5 - x + xy)^2 + (2.25 - x + xy^2)^2 + (2.625 - x + xy^3)^2",
        params={}, xlim=(-4.5, 4.5), ylim=(-4.5, 4.5), start=(1.0, 1.4),
        minimisers=((3.0, 0.5),), saddles=((0.0, 1.0),), min_value=0.0,
        kind=F.BEALE, coef=_coef())


def himmelblau() -> Surface:
    r"""Himmelblau's function (Himmelblau, *Applied Nonlinear Programming*, 1972).

    .. math:: f(x, y) = (x^2 + y - 11)^2 + (x + y^2 - 7)^2

    Four minima, all with :math:`f = 0`: which one a run finds depends on the
    start and on the optimizer.
    """
    surface = Surface(
        name="himmelblau", title="Himmelblau",
        latex=r"f(x, y) = (x^2 + y - 11)^2 + (x + y^2 - 7)^2",
        params={}, xlim=(-5.0, 5.0), ylim=(-5.0, 5.0), start=(-0.3, -0.9),
        minimisers=(), min_value=0.0, kind=F.HIMMELBLAU, coef=_coef())
    # (3, 2) is exact; the other three (published to 6 digits) are roots of
    # a quartic, polished here to double precision
    guesses = ((3.0, 2.0), (-2.805118, 3.131312), (-3.779310, -3.283186), (3.584428, -1.848126))
    return _replace(surface, minimisers=tuple(_newton(surface, p) for p in guesses))


def saddle() -> Surface:
    r"""The saddle :math:`f(x, y) = x^2 - y^2`.

    The origin is a critical point that is not a minimum, and :math:`f` is
    unbounded below, so every run that escapes diverges along y.  Starting
    close to the x axis, plain gradient descent lingers near the saddle for
    a long time, since the escaping component grows only like
    :math:`(1 + 2\eta)^t`.
    """
    return Surface(
        name="saddle", title="Saddle", latex=r"f(x, y) = x^2 - y^2", params={},
        xlim=(-2.0, 2.0), ylim=(-2.0, 2.0), start=(-1.8, 1e-3), minimisers=(),
        saddles=((0.0, 0.0),), min_value=None, kind=F.SADDLE, coef=_coef())


def rastrigin(A: float = 10.0) -> Surface:
    r"""Rastrigin's function (Rastrigin 1974): a bowl covered in regular bumps.

    .. math:: f(x, y) = 2A + \sum_{z \in \{x, y\}} \bigl(z^2 - A\cos(2\pi z)\bigr)

    The global minimum is :math:`f(0, 0) = 0`; for :math:`A > 0` there is a
    local minimum near every integer point, and a descent method stops in
    whichever one it reaches first.
    """
    A = _checks.nonnegative(A, "A", "rastrigin")
    return Surface(
        name="rastrigin", title="Rastrigin",
        latex=r"f(x, y) = 2A + x^2 - A\cos 2\pi x + y^2 - A\cos 2\pi y",
        params={"A": A}, xlim=(-5.12, 5.12), ylim=(-5.12, 5.12), start=(-3.3, 2.7),
        minimisers=((0.0, 0.0),), min_value=0.0, kind=F.RASTRIGIN, coef=_coef(A))


#: A wide shallow basin and a narrow deep well, on a faint bowl.
GAUSSIAN_WELLS = ((1.0, -1.0, -0.6, 1.2), (2.0, 1.6, 1.2, 0.35))


def gaussians(wells=GAUSSIAN_WELLS, bowl: float = 0.02) -> Surface:
    r"""Steep optima: Gaussian wells on a faint quadratic bowl.

    .. math::
        f(x, y) = c\,(x^2 + y^2) - \sum_k d_k
        \exp\Bigl(-\frac{(x - a_k)^2 + (y - b_k)^2}{2 s_k^2}\Bigr)

    ``wells`` holds one ``(depth d, centre a, centre b, width s)`` per well;
    ``bowl`` is the bowl's weight :math:`c`.
    The default is a wide shallow basin beside a narrow deep (sharp) well.
    From the default start, on the narrow well's rim, gradient descent and
    Adam drop into the sharp well, while heavy momentum (0.9) overshoots it
    and settles in the wide basin; large steps or gradient noise also throw
    a run out of the sharp well (Keskar et al., *On Large-Batch Training for
    Deep Learning: Generalization Gap and Sharp Minima*, ICLR 2017).  Far
    from both wells the gradient is small, where adaptive methods, which
    divide by its running size, keep moving.

    The minimisers (global first) are each well's minimum, polished by
    Newton's method, since the wells and the bowl pull on one another.
    """
    owner = "gaussians"
    bowl = _checks.nonnegative(bowl, "bowl", owner)
    try:
        wells = tuple(tuple(float(v) for v in w) for w in wells)
    except (TypeError, ValueError):
        raise TypeError(f"{owner}: wells must be a sequence of (depth, x, y, width), "
                        f"got {wells!r}") from None
    except OverflowError:  # an int beyond the float range
        raise ValueError(f"{owner}: wells holds a number too large for a float") from None
    if not wells or any(len(w) != 4 for w in wells):
        raise ValueError(f"{owner}: wells must be a non-empty sequence of "
                         f"(depth, x, y, width), got {wells!r}")
    for i, (depth, cx, cy, width) in enumerate(wells):
        _checks.positive(depth, f"wells[{i}] depth", owner)
        _finite(cx, f"wells[{i}] x", owner)
        _finite(cy, f"wells[{i}] y", owner)
        _checks.positive(width, f"wells[{i}] width", owner)
    surface = Surface(
        name="gaussians", title="Steep optima",
        latex=r"f(x, y) = c\,\|p\|^2 - \sum_k d_k\, e^{-\|p - c_k\|^2 / 2 s_k^2}",
        params={"wells": wells, "bowl": bowl}, xlim=(-3.0, 3.0), ylim=(-3.0, 3.0),
        start=(2.0, 2.4), minimisers=(), kind=F.GAUSSIANS,
        coef=_coef(bowl, *(v for w in wells for v in w)))
    found = []
    for depth, cx, cy, width in wells:
        p = _newton(surface, (cx, cy))
        if all(math.dist(p, q) > 1e-6 for q in found) and _is_local_min(surface, p):
            found.append(p)
    found.sort(key=lambda p: surface.value(*p))
    return _replace(surface, minimisers=tuple(found), min_value=surface.value(*found[0]))


def ravine(wall: float = 20.0, floor: float = 0.1, amplitude: float = 1.0,
           frequency: float = 1.0) -> Surface:
    r"""A narrow valley that winds along :math:`y = a\sin(\omega x)`.

    .. math:: f(x, y) = \tfrac12\bigl(\phi\, x^2 + w\,(y - a\sin \omega x)^2\bigr)

    Across the valley the curvature is about :math:`w`, along its floor
    :math:`\phi`, so a stable step for gradient descent (below
    :math:`2/w`) crawls along the floor: the setting where momentum helps
    most.  The only critical point is the minimum at the origin.
    """
    owner = "ravine"
    wall = _checks.positive(wall, "wall", owner)
    floor = _checks.positive(floor, "floor", owner)
    amplitude = _finite(amplitude, "amplitude", owner)
    frequency = _finite(frequency, "frequency", owner)
    return Surface(
        name="ravine", title="Ravine",
        latex=r"f(x, y) = \frac{1}{2}\left(\phi\, x^2 + w\,(y - a \sin \omega x)^2\right)",
        params={"wall": wall, "floor": floor, "amplitude": amplitude, "frequency": frequency},
        xlim=(-6.0, 6.0), ylim=(-3.0, 3.0), start=(-5.5, -2.0),
        minimisers=((0.0, 0.0),), min_value=0.0, kind=F.RAVINE,
        coef=_coef(wall, floor, amplitude, frequency))


#: name -> factory; ``get(name, **params)`` calls it.
SURFACES = {f.__name__: f for f in (quadratic, rosenbrock, beale, himmelblau, saddle,
                                      rastrigin, gaussians, ravine)}


def get(name: str | Surface, **params) -> Surface:
    """The surface called ``name`` (see ``SURFACES``), built with ``params``.

    A :class:`Surface` is returned as it is (``params`` must then be empty).
    """
    if isinstance(name, Surface):
        if params:
            raise TypeError(f"get: params {sorted(params)} given with a built Surface")
        return name
    if not isinstance(name, str):
        raise TypeError(f"surface must be a Surface or one of {sorted(SURFACES)}, got {name!r}")
    if name not in SURFACES:
        raise ValueError(f"surface must be one of {sorted(SURFACES)}, got {name!r}")
    return SURFACES[name](**params)


# -- helpers ------------------------------------------------------------------

#: The largest grid side: 10**8 points per array, far more than a contour plot needs.
_GRID_MAX = 10_000

#: The number of coefficients each formula reads (GAUSSIANS: modulo 4).
_COEFFICIENTS = {F.QUADRATIC: 4, F.ROSENBROCK: 2, F.BEALE: 0, F.HIMMELBLAU: 0, F.SADDLE: 0,
                 F.RASTRIGIN: 1, F.GAUSSIANS: 1, F.RAVINE: 4}

def _coef(*values: float) -> np.ndarray:
    return np.array(values, dtype=np.float64)


def _finite(value, name: str, owner: str) -> float:
    x = _checks.real(value, name, owner)
    if math.isinf(x):
        raise ValueError(f"{owner}: {name} must be finite, got {value!r}")
    return x


def _interval(value, name: str) -> Point:
    lo, hi = (_finite(v, name, "Surface.grid") for v in value)
    if not lo < hi:
        raise ValueError(f"Surface.grid: {name} must be (low, high) with low < high, got {value!r}")
    return lo, hi


def _rotate(p: Point, angle: float) -> Point:
    c, s = math.cos(angle), math.sin(angle)
    # (u, v) = R^T (x, y), so (x, y) = R (u, v)
    return (c * p[0] - s * p[1], s * p[0] + c * p[1])


def _is_scalar(v) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_))


def _as_float_array(v, name: str, owner: str) -> np.ndarray:
    a = np.asarray(v)
    if a.dtype.kind not in "fiu":
        raise TypeError(f"{owner}: {name} must be a number or an array of numbers, "
                        f"got {type(v).__name__} of dtype {a.dtype}")
    return a.astype(np.float64, copy=False)


def _replace(surface: Surface, **changes) -> Surface:
    import dataclasses

    return dataclasses.replace(surface, **changes)


def _hessian(surface: Surface, p: Point, h: float = 1e-5) -> np.ndarray:
    """Central differences of the analytic gradient, symmetrised."""
    H = np.empty((2, 2))
    for j in range(2):
        e = np.zeros(2)
        e[j] = h * max(1.0, abs(p[j]))
        plus = np.array(surface.grad(p[0] + e[0], p[1] + e[1]))
        minus = np.array(surface.grad(p[0] - e[0], p[1] - e[1]))
        H[:, j] = (plus - minus) / (2.0 * e[j])
    return 0.5 * (H + H.T)


def _newton(surface: Surface, guess: Point, iterations: int = 50) -> Point:
    """A critical point near ``guess``: Newton's method on the analytic
    gradient.  The Jacobian is a finite difference, which only slows the
    final digits; the residual is exact, so the result is a zero of the
    gradient to rounding."""
    p = np.array(guess, dtype=np.float64)
    for _ in range(iterations):
        g = np.array(surface.grad(p[0], p[1]))
        step = np.linalg.solve(_hessian(surface, (p[0], p[1])), g)
        p -= step
        if np.max(np.abs(step)) <= 4.0 * np.finfo(float).eps * max(1.0, np.max(np.abs(p))):
            break
    return float(p[0]), float(p[1])


def _is_local_min(surface: Surface, p: Point) -> bool:
    return bool(np.all(np.linalg.eigvalsh(_hessian(surface, p)) > 0))
