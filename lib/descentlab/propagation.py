r"""Signal propagation through a deep MLP at initialisation (lecture 06).

A stack of ``depth`` square layers :math:`h_\ell = a_{\ell-1} W_\ell^{\mathsf T}`,
:math:`a_\ell = \phi(h_\ell)` (no biases), with :math:`W_\ell` drawn by one
of the schemes below.  :func:`layer_statistics` pushes a batch through and a
gradient back, and returns every layer's activations and the gradient with
respect to them, for the per-layer spread plots and the InitExplorer.

Schemes, for a (width, width) layer (fan_in = fan_out = n):

* ``"constant"``: every weight :math:`1/n` (the symmetry problem);
* ``"small"``: :math:`\mathcal N(0, 0.01^2)`;
* ``"large"``: :math:`\mathcal N(0, 1)`;
* ``"xavier"``: :math:`\mathcal N(0, 2/(n_{in}+n_{out}))`, Glorot's gain 1;
* ``"kaiming"``: :math:`\mathcal N(0, \text{gain}^2/n_{in})` with torch's
  ``calculate_gain`` (:math:`\sqrt 2` for relu, 5/3 for tanh).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from . import _checks
from .init import calculate_gain

__all__ = ["SCHEMES", "ACTIVATIONS", "scheme_std", "init_weights", "LayerStatistics",
           "layer_statistics", "deep_mlp", "mlp_loss_and_grads", "train_curve"]

SCHEMES = ("constant", "small", "large", "xavier", "kaiming")
ACTIVATIONS = ("tanh", "relu")


def _scheme(scheme, activation, owner):
    if scheme not in SCHEMES:
        raise ValueError(f"{owner}: scheme must be one of {SCHEMES}, got {scheme!r}")
    if activation not in ACTIVATIONS:
        raise ValueError(f"{owner}: activation must be one of {ACTIVATIONS}, got {activation!r}")


def scheme_std(scheme: str, activation: str, fan_in: int, fan_out: int) -> float:
    """The standard deviation of a scheme's weights (0 for ``"constant"``)."""
    _scheme(scheme, activation, "scheme_std")
    fan_in = _checks.integer(fan_in, "fan_in", "scheme_std", minimum=1)
    fan_out = _checks.integer(fan_out, "fan_out", "scheme_std", minimum=1)
    return {"constant": 0.0, "small": 0.01, "large": 1.0,
            "xavier": math.sqrt(2.0 / (fan_in + fan_out)),
            "kaiming": calculate_gain(activation) / math.sqrt(fan_in)}[scheme]


def init_weights(scheme: str, activation: str, shape, rng) -> np.ndarray:
    """A (fan_out, fan_in) weight matrix drawn by ``scheme`` from the Generator ``rng``."""
    _scheme(scheme, activation, "init_weights")
    fan_out, fan_in = shape
    if scheme == "constant":
        return np.full(shape, 1.0 / fan_in)
    return rng.normal(0.0, scheme_std(scheme, activation, fan_in, fan_out), shape)


class LayerStatistics(NamedTuple):
    """Per layer l = 1..depth: ``activations[l-1]`` (batch, width), and
    ``gradients[l-1]`` = dL/da_l for the loss L = sum(a_depth * g) with a
    fixed random g; ``act_std`` and ``grad_std`` their standard deviations."""

    activations: list
    gradients: list
    act_std: np.ndarray
    grad_std: np.ndarray


def _phi(h, activation):
    return np.maximum(h, 0.0) if activation == "relu" else np.tanh(h)


def _dphi(h, a, activation):
    return (h > 0).astype(h.dtype) if activation == "relu" else 1.0 - a * a


def layer_statistics(scheme: str, activation: str, depth: int = 20, width: int = 256,
                     batch: int = 256, seed: int = 0) -> LayerStatistics:
    """Forward a standard normal batch through ``depth`` layers initialised by
    ``scheme``, then back-propagate a standard normal gradient from the top."""
    owner = "layer_statistics"
    _scheme(scheme, activation, owner)
    depth = _checks.integer(depth, "depth", owner, minimum=1)
    width = _checks.integer(width, "width", owner, minimum=1)
    batch = _checks.integer(batch, "batch", owner, minimum=2)
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((batch, width))
    weights, pres, acts = [], [], []
    for _ in range(depth):
        w = init_weights(scheme, activation, (width, width), rng)
        h = a @ w.T
        a = _phi(h, activation)
        weights.append(w)
        pres.append(h)
        acts.append(a)
    g = rng.standard_normal((batch, width))
    grads = [None] * depth
    for layer in range(depth - 1, -1, -1):
        grads[layer] = g
        g = (g * _dphi(pres[layer], acts[layer], activation)) @ weights[layer]
    return LayerStatistics(acts, grads, np.array([x.std() for x in acts]),
                           np.array([x.std() for x in grads]))


def deep_mlp(scheme: str, activation: str, sizes, seed: int = 0) -> list[np.ndarray]:
    """Weights ``[W_1, ..., W_L]`` of an MLP with layer sizes ``sizes`` (input
    first), W_l of shape (sizes[l], sizes[l-1]), drawn by ``scheme``; no biases."""
    _scheme(scheme, activation, "deep_mlp")
    rng = np.random.default_rng(seed)
    return [init_weights(scheme, activation, (n_out, n_in), rng)
            for n_in, n_out in zip(sizes[:-1], sizes[1:])]


def mlp_loss_and_grads(weights, X, y, activation: str):
    """Mean cross-entropy of the MLP (hidden layers phi, linear output) and its
    gradients with respect to every weight matrix."""
    acts, pres = [X], []
    a = X
    for w in weights[:-1]:
        h = a @ w.T
        a = _phi(h, activation)
        pres.append(h)
        acts.append(a)
    z = a @ weights[-1].T
    z = z - z.max(axis=1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=1, keepdims=True)
    n = X.shape[0]
    loss = float(-np.mean(np.log(p[np.arange(n), y] + 1e-300)))
    d = p
    d[np.arange(n), y] -= 1.0
    d /= n
    grads = [None] * len(weights)
    grads[-1] = d.T @ acts[-1]
    g = d @ weights[-1]
    for layer in range(len(weights) - 2, -1, -1):
        g = g * _dphi(pres[layer], acts[layer + 1], activation)
        grads[layer] = g.T @ acts[layer]
        g = g @ weights[layer]
    return loss, grads


def train_curve(weights, X, y, activation: str, steps: int, lr: float) -> np.ndarray:
    """Full-batch gradient descent (GD) on a copy of ``weights``; the loss before each step
    and after the last (``steps + 1`` values)."""
    steps = _checks.integer(steps, "steps", "train_curve", minimum=0)
    lr = _checks.nonnegative(lr, "lr", "train_curve")
    weights = [w.copy() for w in weights]
    losses = []
    for _ in range(steps):
        loss, grads = mlp_loss_and_grads(weights, X, y, activation)
        losses.append(loss)
        for w, g in zip(weights, grads):
            w -= lr * g
    losses.append(mlp_loss_and_grads(weights, X, y, activation)[0])
    return np.array(losses)
