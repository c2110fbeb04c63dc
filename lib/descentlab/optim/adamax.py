"""Adamax (Kingma & Ba 2015, section 7.1), as torch.optim.Adamax."""

from __future__ import annotations

import numpy as np

from .. import _checks
from .._jit import kernel, prange
from ._elementwise import lerp
from .optimizer import Hyper, Optimizer, flat

__all__ = ["Adamax", "adamax_kernel"]


@kernel
def adamax_kernel(p, g, exp_avg, exp_inf, step, lr, beta1, beta2, eps, weight_decay, maximize):
    """One Adamax step on flat arrays; ``step`` is the new step count."""
    clr = lr / (1.0 - beta1 ** float(step))
    f = p.dtype.type
    w = f(1.0 - beta1)
    w_m1 = w - f(1.0)
    b2 = f(beta2)
    eps_ = f(eps)
    wd = f(weight_decay)
    neg_clr = f(-clr)
    for i in prange(p.size):
        gi = -g[i] if maximize else g[i]
        pi = p[i]
        if weight_decay != 0.0:
            gi = gi + wd * pi
        m = lerp(exp_avg[i], gi, w, w_m1)
        u = np.maximum(exp_inf[i] * b2, np.abs(gi) + eps_)
        exp_avg[i] = m
        exp_inf[i] = u
        p[i] = pi + neg_clr * m / u


class Adamax(Optimizer):
    r"""Adamax, Adam with the infinity norm (Kingma & Ba, *Adam: A Method for
    Stochastic Optimization*, ICLR 2015, section 7.1).

    .. math::
        \begin{aligned}
        g_t &= \nabla_\theta f_t(\theta_{t-1}) + \lambda\,\theta_{t-1} \\
        m_t &= \beta_1 m_{t-1} + (1-\beta_1)\, g_t \\
        u_t &= \max(\beta_2\, u_{t-1},\; |g_t| + \epsilon) \\
        \theta_t &= \theta_{t-1} - \frac{\eta}{1-\beta_1^t}\, \frac{m_t}{u_t}
        \end{aligned}

    Letting the :math:`L^p` norm in Adam's second moment go to infinity gives
    an exponentially weighted maximum, which needs no bias correction.  torch
    puts :math:`\epsilon` inside the maximum.

    Args:
        params: list of float32/float64 C-contiguous arrays, updated in place.
        lr: :math:`\eta`.
        betas: :math:`(\beta_1, \beta_2)`, each in [0, 1).
        eps: :math:`\epsilon`.
        weight_decay: :math:`\lambda` (L2 penalty).
        maximize: ascend instead of descend.

    State per parameter: ``step``, ``exp_avg`` (:math:`m`), ``exp_inf`` (:math:`u`).
    """

    betas = Hyper(_checks.betas)
    eps = Hyper(_checks.nonnegative)
    weight_decay = Hyper(_checks.nonnegative)
    maximize = Hyper(_checks.boolean)

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, *,
                 maximize=False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         maximize=maximize)

    def _init_state(self, p):
        return {"step": 0, "exp_avg": np.zeros_like(p), "exp_inf": np.zeros_like(p)}

    def _arrays(self):
        return ("exp_avg", "exp_inf")

    def _update(self, p, g, state):
        state["step"] += 1
        adamax_kernel(flat(p), flat(g), flat(state["exp_avg"]), flat(state["exp_inf"]),
                      state["step"], self.lr, self.betas[0], self.betas[1], self.eps,
                      self.weight_decay, self.maximize)
