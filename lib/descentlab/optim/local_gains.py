"""Per-weight adaptive gains that follow the sign of the gradient (Jacobs 1988)."""

from __future__ import annotations

import numpy as np

from .. import _checks
from .._jit import kernel, prange
from .optimizer import Hyper, Optimizer, flat

__all__ = ["LocalGains", "local_gains_kernel"]


@kernel
def local_gains_kernel(p, g, gain, prev_grad, lr, beta, gain_min, gain_max):
    """One local-gain step on flat arrays."""
    f = p.dtype.type
    grow = f(beta)
    shrink = f(1.0 - beta)
    lo = f(gain_min)
    hi = f(gain_max)
    neg_lr = f(-lr)
    zero = f(0.0)
    for i in prange(p.size):
        gi = g[i]
        agreement = gi * prev_grad[i]
        k = gain[i]
        if agreement > zero:
            k = k + grow
        elif agreement < zero:
            k = k * shrink
        k = min(max(k, lo), hi)
        gain[i] = k
        prev_grad[i] = gi
        p[i] = p[i] + neg_lr * k * gi


class LocalGains(Optimizer):
    r"""Gradient descent with a separate, adaptive gain for every weight
    (Jacobs, *Increased rates of convergence through learning rate
    adaptation*, Neural Networks 1, 1988; the form taught in Hinton,
    *Neural Networks for Machine Learning*, lecture 6d, 2012).

    .. math::
        \begin{aligned}
        k_{t} &= \operatorname{clip}\Bigl(\begin{cases}
            k_{t-1} + \delta & g_t\, g_{t-1} > 0 \\
            k_{t-1}\,(1-\delta) & g_t\, g_{t-1} < 0 \\
            k_{t-1} & \text{otherwise (a zero product: the first step, or a zero gradient)}
            \end{cases},\; k_{\min},\, k_{\max}\Bigr) \\
        \theta_t &= \theta_{t-1} - \eta\, k_t\, g_t
        \end{aligned}

    with :math:`k_0 = 1` and :math:`g_0 = 0`.  While a weight's gradient keeps
    its sign, its gain grows additively; when the sign flips (the weight is
    oscillating across a valley) the gain shrinks multiplicatively, so big
    gains collapse quickly.  Hinton suggests :math:`\delta = 0.05` and gains
    limited to [0.1, 10]; the rule suits full-batch or large-batch gradients,
    where sign flips are not mostly noise.

    Args:
        params: list of float32/float64 C-contiguous arrays, updated in place.
        lr: :math:`\eta`.
        beta: the gain increment :math:`\delta` (additive increase, multiplicative decrease), in [0, 1).
        gain_min, gain_max: the clipping range :math:`[k_{\min}, k_{\max}]`.

    State per parameter: ``gain`` (:math:`k`) and ``prev_grad`` (:math:`g_{t-1}`).
    """

    beta = Hyper(_checks.unit_interval)
    gain_min = Hyper(_checks.positive)
    gain_max = Hyper(_checks.positive)

    def __init__(self, params, lr=1e-3, beta=0.05, gain_min=0.1, gain_max=10.0):
        super().__init__(params, lr=lr, beta=beta, gain_min=gain_min, gain_max=gain_max)

    def _check_hyper(self):
        if not self.gain_min <= 1.0 <= self.gain_max:
            raise ValueError("LocalGains: gains start at 1, so gain_min <= 1 <= gain_max is "
                             f"required, got gain_min={self.gain_min!r}, gain_max={self.gain_max!r}")

    def _init_state(self, p):
        return {"gain": np.ones_like(p), "prev_grad": np.zeros_like(p)}

    def _arrays(self):
        return ("gain", "prev_grad")

    def _update(self, p, g, state):
        local_gains_kernel(flat(p), flat(g), flat(state["gain"]), flat(state["prev_grad"]),
                           self.lr, self.beta, self.gain_min, self.gain_max)
