"""RMSprop (Tieleman & Hinton 2012; centred form from Graves 2013), as torch.optim.RMSprop."""

from __future__ import annotations

import numpy as np

from .. import _checks
from .._jit import kernel, prange
from ._elementwise import lerp
from .optimizer import Hyper, Optimizer, flat, unused

__all__ = ["RMSprop", "rmsprop_kernel"]


@kernel
def rmsprop_kernel(p, g, square_avg, grad_avg, momentum_buffer, lr, alpha, eps, weight_decay,
                   momentum, centered, maximize):
    """One RMSprop step on flat arrays.  ``grad_avg`` is used when centred,
    ``momentum_buffer`` when momentum > 0."""
    f = p.dtype.type
    a = f(alpha)
    w = f(1.0 - alpha)
    w_m1 = w - f(1.0)
    eps_ = f(eps)
    wd = f(weight_decay)
    mu = f(momentum)
    neg_lr = f(-lr)
    minus_one = f(-1.0)
    for i in prange(p.size):
        gi = -g[i] if maximize else g[i]
        pi = p[i]
        if weight_decay != 0.0:
            gi = gi + wd * pi
        sq = square_avg[i] * a + w * gi * gi
        square_avg[i] = sq
        if centered:
            ga = lerp(grad_avg[i], gi, w, w_m1)
            grad_avg[i] = ga
            avg = np.sqrt(sq + minus_one * ga * ga)
        else:
            avg = np.sqrt(sq)
        avg = avg + eps_
        if momentum > 0.0:
            b = momentum_buffer[i] * mu + gi / avg
            momentum_buffer[i] = b
            p[i] = pi + neg_lr * b
        else:
            p[i] = pi + neg_lr * gi / avg


class RMSprop(Optimizer):
    r"""RMSprop (Tieleman & Hinton, *Lecture 6.5, Neural Networks for Machine
    Learning*, Coursera 2012; centred variant from Graves, *Generating Sequences
    with Recurrent Neural Networks*, 2013).

    .. math::
        \begin{aligned}
        g_t &= \nabla_\theta f_t(\theta_{t-1}) + \lambda\,\theta_{t-1} \\
        v_t &= \rho\, v_{t-1} + (1-\rho)\, g_t^2 \\
        \bar g_t &= \rho\, \bar g_{t-1} + (1-\rho)\, g_t
            \quad\text{(centred only)} \\
        \sigma_t &= \sqrt{v_t - \bar g_t^2} + \epsilon
            \quad\text{(centred; else } \sqrt{v_t} + \epsilon) \\
        d_t &= \mu\, d_{t-1} + g_t / \sigma_t, \qquad
        \theta_t = \theta_{t-1} - \eta\, d_t \quad\text{(momentum > 0)} \\
        \theta_t &= \theta_{t-1} - \eta\, g_t / \sigma_t \quad\text{(otherwise)}
        \end{aligned}

    Adagrad's ever-growing sum becomes an exponential moving average, so the
    step size recovers when gradients shrink.  Centring divides by an estimate
    of the gradient's standard deviation rather than its root mean square.

    Args:
        params: list of float32/float64 C-contiguous arrays, updated in place.
        lr: :math:`\eta`.
        alpha: smoothing constant :math:`\rho` (the course's letter; torch calls it ``alpha``), in [0, 1].
        eps: :math:`\epsilon`.
        weight_decay: :math:`\lambda` (L2 penalty).
        momentum: :math:`\mu \ge 0`.
        centered: divide by the centred second moment.
        maximize: ascend instead of descend.

    State per parameter: ``step``, ``square_avg`` (:math:`v`), ``grad_avg``
    (centred) and ``momentum_buffer`` (momentum > 0).
    """

    alpha = Hyper(lambda v, n, o: _checks.unit_interval(v, n, o, closed=True))
    eps = Hyper(_checks.nonnegative)
    weight_decay = Hyper(_checks.nonnegative)
    momentum = Hyper(_checks.nonnegative)
    centered = Hyper(_checks.boolean)
    maximize = Hyper(_checks.boolean)

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                 centered=False, *, maximize=False):
        super().__init__(params, lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                         momentum=momentum, centered=centered, maximize=maximize)

    def _init_state(self, p):
        state = {"step": 0, "square_avg": np.zeros_like(p)}
        if self.momentum > 0:
            state["momentum_buffer"] = np.zeros_like(p)
        if self.centered:
            state["grad_avg"] = np.zeros_like(p)
        return state

    def _arrays(self):
        return (("square_avg",) + (("momentum_buffer",) if self.momentum > 0 else ())
                + (("grad_avg",) if self.centered else ()))

    def _update(self, p, g, state):
        state["step"] += 1
        ga = flat(state["grad_avg"]) if self.centered else unused(p)
        buf = flat(state["momentum_buffer"]) if self.momentum > 0 else unused(p)
        rmsprop_kernel(flat(p), flat(g), flat(state["square_avg"]), ga, buf, self.lr, self.alpha,
                       self.eps, self.weight_decay, self.momentum, self.centered, self.maximize)
