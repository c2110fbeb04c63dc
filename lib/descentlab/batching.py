r"""Batch size: the noise a minibatch gradient carries, scaling rules for the
learning rate, and what stale (asynchronous) gradients do to stability.

The minibatch gradient :math:`g_B = \frac1b\sum_{i\in B} g_i` of a batch
drawn *without replacement* from :math:`n` examples is unbiased, with total
variance

.. math::
    \mathbb E\,\|g_B - \bar g\|^2 = \frac{\sigma^2}{b}\,\frac{n-b}{n-1},
    \qquad \sigma^2 = \frac1n\sum_{i=1}^n \|g_i - \bar g\|^2

(the :math:`1/b` law with the finite-population correction, which is 0 at
:math:`b = n`: the full batch has no noise).  With replacement the
correction is absent.  SGD's noise scale (Smith & Le 2018) is
:math:`g \approx \eta\, n / b`: runs with equal :math:`\eta/b` behave alike,
which is where the linear scaling rule comes from.
"""

from __future__ import annotations

import math

import numpy as np

from . import _checks

__all__ = ["per_example_gradients", "gradient_variance", "predicted_variance", "noise_scale",
           "scaled_lr", "SCALING_RULES", "delayed_gd", "stable_lr_bound", "largest_stable_lr",
           "sharpness"]

SCALING_RULES = ("none", "linear", "sqrt")


def _flat(grads) -> np.ndarray:
    return np.concatenate([np.asarray(g, dtype=np.float64).ravel() for g in grads])


def per_example_gradients(model, X, y) -> np.ndarray:
    """``(n, n_params)``: the flattened gradient of each example's loss."""
    X = _checks.float_array(X, "X", "per_example_gradients")
    y = np.asarray(y)
    if X.ndim != 2 or y.shape[:1] != X.shape[:1] or len(y) == 0:
        raise ValueError(f"per_example_gradients: X must be (n, features) and y (n,) with n >= 1, "
                         f"got shapes {X.shape} and {y.shape}")
    return np.stack([_flat(model.loss_and_grads(X[i:i + 1], y[i:i + 1])[1])
                     for i in range(len(y))])


def predicted_variance(sigma2: float, n: int, b: int, *, replacement: bool = False) -> float:
    r""":math:`\sigma^2/b \cdot (n-b)/(n-1)` without replacement, :math:`\sigma^2/b` with."""
    sigma2 = _checks.nonnegative(sigma2, "sigma2", "predicted_variance")
    n = _checks.integer(n, "n", "predicted_variance", minimum=1)
    b = _checks.integer(b, "b", "predicted_variance", minimum=1)
    if b > n and not replacement:
        raise ValueError(f"predicted_variance: b must be <= n without replacement, got b={b}, n={n}")
    if replacement or n == 1:
        return sigma2 / b
    return sigma2 / b * (n - b) / (n - 1)


def gradient_variance(G: np.ndarray, batch_size: int, *, draws: int = 200, rng=None,
                      sampler: str = "random", y=None, with_error: bool = False):
    r"""Measured :math:`\mathbb E\|g_B - \bar g\|^2` over ``draws`` batches.

    ``G`` holds per-example gradients (:func:`per_example_gradients`).
    ``sampler``: "random" (without replacement), "replacement", or
    "stratified" (:func:`descentlab.data.stratified_minibatches`, which
    needs the labels ``y``).  With ``with_error=True`` the result is
    ``(mean, standard error of the mean)`` over the draws.
    """
    from .data import stratified_minibatches

    owner = "gradient_variance"
    G = np.asarray(G, dtype=np.float64)
    if G.ndim != 2 or G.shape[0] < 1:
        raise ValueError(f"{owner}: G must be (n, n_params), got shape {G.shape}")
    n = G.shape[0]
    b = _checks.integer(batch_size, "batch_size", owner, minimum=1)
    draws = _checks.integer(draws, "draws", owner, minimum=1)
    if sampler not in ("random", "replacement", "stratified"):
        raise ValueError(f"{owner}: sampler must be 'random', 'replacement' or 'stratified', "
                         f"got {sampler!r}")
    if b > n and sampler != "replacement":
        raise ValueError(f"{owner}: batch_size must be <= n={n}, got {b}")
    if sampler == "stratified" and (y is None or len(y) != n):
        raise ValueError(f"{owner}: sampler='stratified' needs y with one label per row of G")
    rng = _checks.generator(rng, "rng", owner)
    with_error = _checks.boolean(with_error, "with_error", owner)
    mean = G.mean(axis=0)
    samples = np.empty(draws)
    for k in range(draws):
        if sampler == "random":
            idx = rng.choice(n, b, replace=False)
        elif sampler == "replacement":
            idx = rng.integers(0, n, b)
        else:
            idx = next(stratified_minibatches(y, b, rng))
        samples[k] = float(np.sum((G[idx].mean(axis=0) - mean) ** 2))
    value = float(samples.mean())
    if with_error:
        return value, float(samples.std(ddof=1) / math.sqrt(draws)) if draws > 1 else math.inf
    return value


def noise_scale(lr: float, n: int, batch_size: int) -> float:
    r"""SGD's noise scale :math:`\eta\,n/b` (Smith & Le 2018)."""
    lr = _checks.positive(lr, "lr", "noise_scale")
    n = _checks.integer(n, "n", "noise_scale", minimum=1)
    b = _checks.integer(batch_size, "batch_size", "noise_scale", minimum=1)
    return lr * n / b


def scaled_lr(base_lr: float, base_batch: int, batch_size: int, rule: str = "linear") -> float:
    r"""The learning rate for ``batch_size`` given a tuned ``base_lr`` at ``base_batch``.

    * "linear": :math:`\eta\, b/b_0` (Goyal et al. 2017; with a warm-up);
    * "sqrt": :math:`\eta\,\sqrt{b/b_0}` (Hoffer et al. 2017; keeps the
      variance of the step constant);
    * "none": :math:`\eta`.
    """
    owner = "scaled_lr"
    base_lr = _checks.positive(base_lr, "base_lr", owner)
    b0 = _checks.integer(base_batch, "base_batch", owner, minimum=1)
    b = _checks.integer(batch_size, "batch_size", owner, minimum=1)
    if rule not in SCALING_RULES:
        raise ValueError(f"{owner}: rule must be one of {SCALING_RULES}, got {rule!r}")
    ratio = b / b0
    return base_lr * {"none": 1.0, "linear": ratio, "sqrt": math.sqrt(ratio)}[rule]


def delayed_gd(curvature: float, lr: float, delay: int, steps: int, x0: float = 1.0) -> np.ndarray:
    r"""Gradient descent on :math:`f(x) = \tfrac h2 x^2` with gradients ``delay``
    steps stale, as an asynchronous worker applies them:
    :math:`x_{t+1} = x_t - \eta\,h\,x_{t-\tau}` (with :math:`x_{t} = x_0` for
    :math:`t \le 0`).  Returns :math:`x_0, \dots, x_{\text{steps}}`."""
    owner = "delayed_gd"
    h = _checks.positive(curvature, "curvature", owner)
    lr = _checks.nonnegative(lr, "lr", owner)
    tau = _checks.integer(delay, "delay", owner, minimum=0)
    steps = _checks.integer(steps, "steps", owner, minimum=0)
    x0 = _checks.real(x0, "x0", owner)
    xs = np.empty(steps + 1)
    xs[0] = x0
    with np.errstate(all="ignore"):
        for t in range(steps):
            xs[t + 1] = xs[t] - lr * h * xs[max(t - tau, 0)]
    return xs


def stable_lr_bound(curvature: float, delay: int) -> float:
    r"""The largest stable step for :func:`delayed_gd`:
    :math:`\eta h < 2\sin\!\big(\pi / (2(2\tau+1))\big)` (the stability region of
    :math:`x_{t+1} = x_t - a\,x_{t-\tau}`; Levin & May 1976).  It is
    :math:`2/h` without delay and shrinks like :math:`\pi/(2\tau h)`."""
    h = _checks.positive(curvature, "curvature", "stable_lr_bound")
    tau = _checks.integer(delay, "delay", "stable_lr_bound", minimum=0)
    return 2.0 * math.sin(math.pi / (2 * (2 * tau + 1))) / h


def largest_stable_lr(curvature: float, delay: int, *, steps: int = 2000, tol: float = 1e-4,
                      hi: float | None = None) -> float:
    """The largest lr at which :func:`delayed_gd` still shrinks x over
    ``steps`` steps, found by bisection on simulations (no formula used)."""
    h = _checks.positive(curvature, "curvature", "largest_stable_lr")
    lo, hi = 0.0, (4.0 / h if hi is None else _checks.positive(hi, "hi", "largest_stable_lr"))
    while hi - lo > tol * hi:
        mid = (lo + hi) / 2
        xs = delayed_gd(h, mid, delay, steps)
        tail = np.abs(xs[-(delay + 1) * 4:])
        if np.all(np.isfinite(tail)) and tail.max() < 0.5:
            lo = mid
        else:
            hi = mid
    return lo


def sharpness(model, X, y, *, radius: float = 0.05, directions: int = 20, rng=None) -> float:
    r"""Mean rise of the loss when the parameters move a distance ``radius``
    in a random direction: :math:`\mathbb E_u[L(\theta + r u) - L(\theta)]`,
    with :math:`u` uniform on the unit sphere of all parameters.

    A flat minimum barely rises (Hochreiter & Schmidhuber 1997; Keskar et al.
    2017 measure the maximum in a box instead).  The measure is not invariant
    to reparametrisation: scaling a ReLU layer by α and the next by 1/α
    computes the same function with a different sharpness (Dinh et al. 2017).
    The model's parameters are restored afterwards.
    """
    owner = "sharpness"
    radius = _checks.positive(radius, "radius", owner)
    directions = _checks.integer(directions, "directions", owner, minimum=1)
    rng = _checks.generator(rng, "rng", owner)
    base = model.loss_and_grads(X, y)[0]
    saved = [p.copy() for p in model.params]
    total = 0.0
    try:
        for _ in range(directions):
            u = [rng.standard_normal(p.shape) for p in model.params]
            norm = math.sqrt(sum(float(np.sum(v * v)) for v in u))
            for p, v, p0 in zip(model.params, u, saved):
                p[...] = p0 + radius * v / norm
            total += model.loss_and_grads(X, y)[0] - base
    finally:
        for p, p0 in zip(model.params, saved):
            p[...] = p0
    return total / directions
