r"""Descent paths on the test surfaces, run entirely in compiled code.

``trajectory("Adam", "rosenbrock", x0, steps, lr=0.05)`` runs the loop over
steps, the gradient evaluation and the update in one compiled function.  The
update is the optimizer's own kernel (``adam_kernel.serial`` for
:class:`descentlab.optim.Adam`), so a path equals stepping the class by hand
on the same gradients, bit for bit::

    opt = Adam([p], lr=0.05)
    for t in range(steps):
        gx, gy = surface.grad(p[0], p[1])
        opt.step([np.array([gx, gy]) + noise[t]])

Gradient noise, a stand-in for minibatch noise, is drawn in advance with
:func:`gradient_noise` (``numpy.random.default_rng(seed)``), so a noisy run is
reproducible and the same noise can be replayed outside the loop.

A run that diverges is not an error: the first row that is not finite is
kept, and every row after it is NaN (matplotlib leaves NaN out of a line).

Compilation and caching.  There is one compiled loop per update rule; each
is compiled on first use and cached on disk, keyed (like every descentlab
kernel, see :mod:`descentlab._jit`) on the source of all the compiled code it
calls, so editing an optimizer's kernel never leaves a stale loop behind.
"""

from __future__ import annotations

import math

import numpy as np

from .. import _checks, optim
from .._jit import inline, jit
from ..optim.adadelta import adadelta_kernel
from ..optim.adagrad import adagrad_kernel
from ..optim.adam import adam_kernel
from ..optim.adamax import adamax_kernel
from ..optim.classic_momentum import classic_momentum_kernel
from ..optim.local_gains import local_gains_kernel
from ..optim.nadam import nadam_kernel
from ..optim.radam import radam_kernel
from ..optim.rmsprop import rmsprop_kernel
from ..optim.sgd import sgd_kernel
from ._formulas import evaluate
from .catalog import Surface, get

__all__ = ["trajectory", "losses", "gradient_noise", "OPTIMIZERS"]

# Compiled code calls a kernel through a global bound to its dispatcher.
_sgd = sgd_kernel.serial
_adagrad = adagrad_kernel.serial
_rmsprop = rmsprop_kernel.serial
_adadelta = adadelta_kernel.serial
_adam = adam_kernel.serial
_adamax = adamax_kernel.serial
_nadam = nadam_kernel.serial
_radam = radam_kernel.serial
_classic_momentum = classic_momentum_kernel.serial
_local_gains = local_gains_kernel.serial


# -- the compiled loops ---------------------------------------------------------

@inline
def _begin(x0, steps):
    path = np.full((steps + 1, 2), np.nan)
    path[0, 0] = x0[0]
    path[0, 1] = x0[1]
    return path, x0.copy(), np.empty(2)


@inline
def _gradient(kind, c, p, noise, t, g):
    """Write the (noisy) gradient at p into g; False once p is not finite."""
    if not (math.isfinite(p[0]) and math.isfinite(p[1])):
        return False
    _, gx, gy = evaluate(kind, c, p[0], p[1])
    if noise.shape[0] > 0:
        gx += noise[t, 0]
        gy += noise[t, 1]
    g[0] = gx
    g[1] = gy
    return True


@inline
def _record(path, t, p):
    path[t + 1, 0] = p[0]
    path[t + 1, 1] = p[1]


@jit
def _sgd_path(kind, c, x0, lrs, noise, momentum, dampening, weight_decay, nesterov, maximize):
    path, p, g = _begin(x0, lrs.size)
    buf = np.zeros(2 if momentum != 0.0 else 0)
    for t in range(lrs.size):
        if not _gradient(kind, c, p, noise, t, g):
            break
        _sgd(p, g, buf, t == 0, lrs[t], momentum, dampening, weight_decay, nesterov, maximize)
        _record(path, t, p)
    return path


@jit
def _adagrad_path(kind, c, x0, lrs, noise, lr_decay, weight_decay, initial_accumulator_value,
                  eps, maximize):
    path, p, g = _begin(x0, lrs.size)
    state_sum = np.full(2, initial_accumulator_value)
    for t in range(lrs.size):
        if not _gradient(kind, c, p, noise, t, g):
            break
        _adagrad(p, g, state_sum, t + 1, lrs[t], lr_decay, weight_decay, eps, maximize)
        _record(path, t, p)
    return path


@jit
def _rmsprop_path(kind, c, x0, lrs, noise, alpha, eps, weight_decay, momentum, centered,
                  maximize):
    path, p, g = _begin(x0, lrs.size)
    square_avg = np.zeros(2)
    grad_avg = np.zeros(2 if centered else 0)
    buf = np.zeros(2 if momentum > 0.0 else 0)
    for t in range(lrs.size):
        if not _gradient(kind, c, p, noise, t, g):
            break
        _rmsprop(p, g, square_avg, grad_avg, buf, lrs[t], alpha, eps, weight_decay, momentum,
                 centered, maximize)
        _record(path, t, p)
    return path


@jit
def _adadelta_path(kind, c, x0, lrs, noise, rho, eps, weight_decay, maximize):
    path, p, g = _begin(x0, lrs.size)
    square_avg = np.zeros(2)
    acc_delta = np.zeros(2)
    for t in range(lrs.size):
        if not _gradient(kind, c, p, noise, t, g):
            break
        _adadelta(p, g, square_avg, acc_delta, lrs[t], rho, eps, weight_decay, maximize)
        _record(path, t, p)
    return path


@jit
def _adam_path(kind, c, x0, lrs, noise, beta1, beta2, eps, weight_decay, amsgrad, maximize,
               decoupled):
    path, p, g = _begin(x0, lrs.size)
    exp_avg = np.zeros(2)
    exp_avg_sq = np.zeros(2)
    max_exp_avg_sq = np.zeros(2 if amsgrad else 0)
    for t in range(lrs.size):
        if not _gradient(kind, c, p, noise, t, g):
            break
        _adam(p, g, exp_avg, exp_avg_sq, max_exp_avg_sq, t + 1, lrs[t], beta1, beta2, eps,
              weight_decay, amsgrad, maximize, decoupled)
        _record(path, t, p)
    return path


@jit
def _adamax_path(kind, c, x0, lrs, noise, beta1, beta2, eps, weight_decay, maximize):
    path, p, g = _begin(x0, lrs.size)
    exp_avg = np.zeros(2)
    exp_inf = np.zeros(2)
    for t in range(lrs.size):
        if not _gradient(kind, c, p, noise, t, g):
            break
        _adamax(p, g, exp_avg, exp_inf, t + 1, lrs[t], beta1, beta2, eps, weight_decay, maximize)
        _record(path, t, p)
    return path


@jit
def _nadam_path(kind, c, x0, lrs, noise, beta1, beta2, eps, weight_decay, momentum_decay,
                decoupled, maximize):
    path, p, g = _begin(x0, lrs.size)
    exp_avg = np.zeros(2)
    exp_avg_sq = np.zeros(2)
    mu_product = 1.0
    for t in range(lrs.size):
        if not _gradient(kind, c, p, noise, t, g):
            break
        mu_product = float(_nadam(p, g, exp_avg, exp_avg_sq, mu_product, t + 1, lrs[t], beta1,
                                  beta2, eps, weight_decay, momentum_decay, decoupled, maximize))
        _record(path, t, p)
    return path


@jit
def _radam_path(kind, c, x0, lrs, noise, beta1, beta2, eps, weight_decay, decoupled, maximize):
    path, p, g = _begin(x0, lrs.size)
    exp_avg = np.zeros(2)
    exp_avg_sq = np.zeros(2)
    for t in range(lrs.size):
        if not _gradient(kind, c, p, noise, t, g):
            break
        _radam(p, g, exp_avg, exp_avg_sq, t + 1, lrs[t], beta1, beta2, eps, weight_decay,
               decoupled, maximize)
        _record(path, t, p)
    return path


@jit
def _classic_momentum_path(kind, c, x0, lrs, noise, momentum, weight_decay):
    path, p, g = _begin(x0, lrs.size)
    velocity = np.zeros(2)
    for t in range(lrs.size):
        if not _gradient(kind, c, p, noise, t, g):
            break
        _classic_momentum(p, g, velocity, lrs[t], momentum, weight_decay)
        _record(path, t, p)
    return path


@jit
def _local_gains_path(kind, c, x0, lrs, noise, beta, gain_min, gain_max):
    path, p, g = _begin(x0, lrs.size)
    gain = np.ones(2)
    prev_grad = np.zeros(2)
    for t in range(lrs.size):
        if not _gradient(kind, c, p, noise, t, g):
            break
        _local_gains(p, g, gain, prev_grad, lrs[t], beta, gain_min, gain_max)
        _record(path, t, p)
    return path


# name -> (compiled loop, the loop's hyperparameters read off a validated optimizer).
# Each tuple follows the kernel's argument order; the initial state follows the
# class's _init_state.
_LOOPS = {
    "SGD": (_sgd_path, lambda o: (o.momentum, o.dampening, o.weight_decay, o.nesterov,
                                  o.maximize)),
    "Adagrad": (_adagrad_path, lambda o: (o.lr_decay, o.weight_decay,
                                          o.initial_accumulator_value, o.eps, o.maximize)),
    "RMSprop": (_rmsprop_path, lambda o: (o.alpha, o.eps, o.weight_decay, o.momentum,
                                          o.centered, o.maximize)),
    "Adadelta": (_adadelta_path, lambda o: (o.rho, o.eps, o.weight_decay, o.maximize)),
    "Adam": (_adam_path, lambda o: (*o.betas, o.eps, o.weight_decay, o.amsgrad, o.maximize,
                                    o._decoupled())),
    "AdamW": (_adam_path, lambda o: (*o.betas, o.eps, o.weight_decay, o.amsgrad, o.maximize,
                                     o._decoupled())),
    "Adamax": (_adamax_path, lambda o: (*o.betas, o.eps, o.weight_decay, o.maximize)),
    "NAdam": (_nadam_path, lambda o: (*o.betas, o.eps, o.weight_decay, o.momentum_decay,
                                      o.decoupled_weight_decay, o.maximize)),
    "RAdam": (_radam_path, lambda o: (*o.betas, o.eps, o.weight_decay,
                                      o.decoupled_weight_decay, o.maximize)),
    "ClassicMomentum": (_classic_momentum_path, lambda o: (o.momentum, o.weight_decay)),
    "LocalGains": (_local_gains_path, lambda o: (o.beta, o.gain_min, o.gain_max)),
}

#: Every optimizer a trajectory can use: all of descentlab.optim's.
OPTIMIZERS = optim.TORCH_OPTIMIZERS + optim.EXTRAS
assert set(_LOOPS) == set(OPTIMIZERS)


# -- public API -----------------------------------------------------------------

def gradient_noise(steps: int, sigma: float, seed: int = 0) -> np.ndarray:
    r"""The ``(steps, 2)`` noise that :func:`trajectory` adds to the gradients:
    :math:`\sigma z_t` with :math:`z_t \sim \mathcal N(0, I)` drawn by
    ``numpy.random.default_rng(seed)``."""
    steps = _checks.integer(steps, "steps", "gradient_noise", minimum=0)
    sigma = _checks.nonnegative(sigma, "sigma", "gradient_noise")
    seed = _checks.integer(seed, "seed", "gradient_noise", minimum=0)
    return _noise(steps, sigma, seed)


def _noise(steps: int, sigma: float, seed: int) -> np.ndarray:
    return sigma * np.random.default_rng(seed).standard_normal((steps, 2))


def trajectory(name: str, surface: str | Surface, x0=None, steps: int = 100, *,
               noise: float = 0.0, seed: int = 0, **hyper) -> np.ndarray:
    r"""The path of optimizer ``name`` on ``surface``: an array of shape ``(steps + 1, 2)``.

    Row 0 is ``x0``; row ``t`` is the point after ``t`` updates.

    Args:
        name: a class of :mod:`descentlab.optim`, e.g. ``"SGD"`` or ``"Adam"``
            (see ``OPTIMIZERS``).
        surface: a :class:`Surface`, or its name (``"rosenbrock"``).
        x0: the start point (default: ``surface.start``).
        steps: number of updates.
        noise: standard deviation :math:`\sigma` of Gaussian noise added to
            every gradient component, to mimic minibatch noise.
        seed: seeds the noise (see :func:`gradient_noise`).
        **hyper: the optimizer's arguments, with its names, defaults and
            checks (``lr``, ``momentum``, ``betas``, ...).  ``lr`` may also be
            an array of ``steps`` learning rates, one per update (a schedule).

    A path that diverges keeps its first non-finite row, then NaN.
    """
    if not isinstance(name, str):
        raise TypeError(f"trajectory: name must be an optimizer's name, got {name!r}")
    if name not in _LOOPS:
        raise ValueError(f"trajectory: name must be one of {list(OPTIMIZERS)}, got {name!r}")
    surface = get(surface)
    start = _start_point(surface.start if x0 is None else x0)
    steps = _checks.integer(steps, "steps", "trajectory", minimum=0)
    noise = _checks.nonnegative(noise, "noise", "trajectory")
    seed = _checks.integer(seed, "seed", "trajectory", minimum=0)
    cls = getattr(optim, name)
    lrs = None
    if isinstance(hyper.get("lr"), (np.ndarray, list, tuple)):
        lrs = _schedule(cls, hyper["lr"], steps)
        # the class checks the remaining arguments; any valid lr stands in
        hyper = {**hyper, "lr": float(lrs[0]) if steps else 0.0}
    opt = cls([np.zeros(2)], **hyper)  # the class's own defaults and checks
    if lrs is None:
        lrs = np.full(steps, opt.lr)
    # no noise: an empty array, which the loop skips (adding 0.0 would turn -0.0 into +0.0)
    noise_array = _noise(steps if noise else 0, noise, seed)
    loop, arguments = _LOOPS[name]
    with np.errstate(all="ignore"):  # the pure-Python fallback warns when a run overflows
        return loop(surface.kind, surface.coef, start, lrs, noise_array, *arguments(opt))


def losses(surface: str | Surface, path) -> np.ndarray:
    """:math:`f` at every row of a path, shape ``(len(path),)``."""
    surface = get(surface)
    path = np.asarray(path)
    if path.ndim != 2 or path.shape[1] != 2 or path.dtype.kind not in "fiu":
        raise ValueError(f"losses: path must be an array of shape (n, 2), got shape "
                         f"{path.shape} and dtype {path.dtype}")
    return surface.value(path[:, 0], path[:, 1])


def _start_point(x0) -> np.ndarray:
    try:
        values = [float(v) for v in x0]
    except (TypeError, ValueError):
        raise TypeError(f"trajectory: x0 must be a pair of numbers, got {x0!r}") from None
    if len(values) != 2 or not all(math.isfinite(v) for v in values):
        raise ValueError(f"trajectory: x0 must be a pair of finite numbers, got {x0!r}")
    return np.array(values)


def _schedule(cls, lr, steps: int) -> np.ndarray:
    try:
        lrs = np.array(lr, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{cls.__name__}: lr must be a number or an array of numbers, "
                        f"got {lr!r}") from None
    if lrs.shape != (steps,):
        raise ValueError(f"{cls.__name__}: a learning-rate schedule needs one lr per step "
                         f"(shape ({steps},)), got shape {lrs.shape}")
    if steps:
        # the class's rule on the two extremes covers every entry (and NaN
        # propagates into both)
        cls.lr.check(float(np.min(lrs)), "lr (smallest entry)", cls.__name__)
        cls.lr.check(float(np.max(lrs)), "lr (largest entry)", cls.__name__)
    return lrs
