"""Adadelta (Zeiler 2012), as torch.optim.Adadelta."""

from __future__ import annotations

import numpy as np

from .. import _checks
from .._jit import kernel, prange
from .optimizer import Hyper, Optimizer, flat

__all__ = ["Adadelta", "adadelta_kernel"]


@kernel
def adadelta_kernel(p, g, square_avg, acc_delta, lr, rho, eps, weight_decay, maximize):
    """One Adadelta step on flat arrays."""
    f = p.dtype.type
    r = f(rho)
    c = f(1.0 - rho)
    eps_ = f(eps)
    wd = f(weight_decay)
    neg_lr = f(-lr)
    for i in prange(p.size):
        gi = -g[i] if maximize else g[i]
        pi = p[i]
        if weight_decay != 0.0:
            gi = gi + wd * pi
        sq = square_avg[i] * r + c * gi * gi
        square_avg[i] = sq
        std = np.sqrt(sq + eps_)
        delta = np.sqrt(acc_delta[i] + eps_) / std * gi
        acc_delta[i] = acc_delta[i] * r + c * delta * delta
        p[i] = pi + neg_lr * delta


class Adadelta(Optimizer):
    r"""Adadelta (Zeiler, *ADADELTA: An Adaptive Learning Rate Method*, 2012).

    .. math::
        \begin{aligned}
        g_t &= \nabla_\theta f_t(\theta_{t-1}) + \lambda\,\theta_{t-1} \\
        v_t &= \rho\, v_{t-1} + (1-\rho)\, g_t^2 \\
        \Delta_t &= \frac{\sqrt{u_{t-1} + \epsilon}}{\sqrt{v_t + \epsilon}}\; g_t \\
        u_t &= \rho\, u_{t-1} + (1-\rho)\, \Delta_t^2 \\
        \theta_t &= \theta_{t-1} - \eta\, \Delta_t
        \end{aligned}

    The ratio of two RMS values gives the step the units of :math:`\theta`
    (Zeiler's "correct units" argument), so the paper needs no learning rate.
    torch keeps one, default 1.0, and it scales only the applied step
    :math:`\Delta_t`: the accumulator :math:`u` stores the unscaled
    :math:`\Delta_t^2`.

    Args:
        params: list of float32/float64 C-contiguous arrays, updated in place.
        lr: :math:`\eta`, multiplies the step only.
        rho: decay :math:`\rho`, in [0, 1].
        eps: :math:`\epsilon`.
        weight_decay: :math:`\lambda` (L2 penalty).
        maximize: ascend instead of descend.

    State per parameter: ``step``, ``square_avg`` (:math:`v`), ``acc_delta`` (:math:`u`).
    """

    rho = Hyper(lambda v, n, o: _checks.unit_interval(v, n, o, closed=True))
    eps = Hyper(_checks.nonnegative)
    weight_decay = Hyper(_checks.nonnegative)
    maximize = Hyper(_checks.boolean)

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0, *, maximize=False):
        super().__init__(params, lr=lr, rho=rho, eps=eps, weight_decay=weight_decay,
                         maximize=maximize)

    def _init_state(self, p):
        return {"step": 0, "square_avg": np.zeros_like(p), "acc_delta": np.zeros_like(p)}

    def _arrays(self):
        return ("square_avg", "acc_delta")

    def _update(self, p, g, state):
        state["step"] += 1
        adadelta_kernel(flat(p), flat(g), flat(state["square_avg"]), flat(state["acc_delta"]),
                        self.lr, self.rho, self.eps, self.weight_decay, self.maximize)
