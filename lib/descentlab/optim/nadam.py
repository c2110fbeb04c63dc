"""NAdam (Dozat 2016), as torch.optim.NAdam."""

from __future__ import annotations

import numpy as np

from .. import _checks
from .._jit import kernel, prange
from ._elementwise import lerp
from .optimizer import Hyper, Optimizer, flat

__all__ = ["NAdam", "nadam_kernel"]


@kernel
def nadam_kernel(p, g, exp_avg, exp_avg_sq, mu_product, step, lr, beta1, beta2, eps,
                 weight_decay, momentum_decay, decoupled, maximize):
    """One NAdam step on flat arrays.  Returns the new ``mu_product``.

    torch keeps the running product of the momentum schedule in a float32
    tensor, so it is rounded to float32 at every step whatever the
    parameters' dtype.
    """
    t = float(step)
    bias_correction2 = 1.0 - beta2 ** t
    mu = beta1 * (1.0 - 0.5 * (0.96 ** (t * momentum_decay)))
    mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((t + 1.0) * momentum_decay)))
    product = np.float32(np.float32(mu_product) * np.float32(mu))
    mu_product_next = float(product) * mu_next
    coef_grad = -lr * (1.0 - mu) / (1.0 - float(product))
    coef_avg = (-lr * mu_next) / (1.0 - mu_product_next)
    f = p.dtype.type
    w = f(1.0 - beta1)
    w_m1 = w - f(1.0)
    b2 = f(beta2)
    c2 = f(1.0 - beta2)
    bc2 = f(bias_correction2)
    eps_ = f(eps)
    wd = f(weight_decay)
    shrink = f(1.0 - lr * weight_decay)
    cg = f(coef_grad)
    cm = f(coef_avg)
    for i in prange(p.size):
        gi = -g[i] if maximize else g[i]
        pi = p[i]
        if weight_decay != 0.0:
            if decoupled:
                pi = pi * shrink
            else:
                gi = gi + wd * pi
        m = lerp(exp_avg[i], gi, w, w_m1)
        v = exp_avg_sq[i] * b2 + c2 * gi * gi
        exp_avg[i] = m
        exp_avg_sq[i] = v
        denom = np.sqrt(v / bc2) + eps_
        pi = pi + cg * gi / denom
        p[i] = pi + cm * m / denom
    return product


class NAdam(Optimizer):
    r"""NAdam, Adam with Nesterov momentum (Dozat, *Incorporating Nesterov
    Momentum into Adam*, ICLR 2016 workshop).

    .. math::
        \begin{aligned}
        g_t &= \nabla_\theta f_t(\theta_{t-1}) + \lambda\,\theta_{t-1} \\
        \mu_t &= \beta_1\,\bigl(1 - \tfrac12\, 0.96^{\,t\psi}\bigr), \qquad
        \Pi_t = \textstyle\prod_{i \le t} \mu_i \\
        m_t &= \beta_1 m_{t-1} + (1-\beta_1)\, g_t, \qquad
        v_t = \beta_2 v_{t-1} + (1-\beta_2)\, g_t^2 \\
        \theta_t &= \theta_{t-1}
            - \eta\,\frac{1-\mu_t}{1-\Pi_t}\,\frac{g_t}{\sqrt{v_t/(1-\beta_2^t)}+\epsilon}
            - \eta\,\frac{\mu_{t+1}}{1-\Pi_t\mu_{t+1}}\,\frac{m_t}{\sqrt{v_t/(1-\beta_2^t)}+\epsilon}
        \end{aligned}

    The Nesterov look-ahead is folded into the update: the current gradient is
    weighted by the current momentum coefficient, the average by the next one.
    :math:`\psi` is ``momentum_decay``; :math:`\Pi_t` (``mu_product``) is kept
    in float32, as torch keeps it.  With ``decoupled_weight_decay`` the decay
    multiplies :math:`\theta` by :math:`1-\eta\lambda` instead (NAdamW).

    Args:
        params: list of float32/float64 C-contiguous arrays, updated in place.
        lr: :math:`\eta`.
        betas: :math:`(\beta_1, \beta_2)`, each in [0, 1).
        eps: :math:`\epsilon`.
        weight_decay: :math:`\lambda`.
        momentum_decay: :math:`\psi \ge 0`.
        decoupled_weight_decay: decay the weights directly, as AdamW does.
        maximize: ascend instead of descend.

    State per parameter: ``step``, ``mu_product`` (:math:`\Pi_t`, a float32
    scalar), ``exp_avg``, ``exp_avg_sq``.
    """

    betas = Hyper(_checks.betas)
    eps = Hyper(_checks.nonnegative)
    weight_decay = Hyper(_checks.nonnegative)
    momentum_decay = Hyper(_checks.nonnegative)
    decoupled_weight_decay = Hyper(_checks.boolean)
    maximize = Hyper(_checks.boolean)

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 momentum_decay=4e-3, decoupled_weight_decay=False, *, maximize=False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         momentum_decay=momentum_decay,
                         decoupled_weight_decay=decoupled_weight_decay, maximize=maximize)

    def _init_state(self, p):
        return {"step": 0, "mu_product": np.float32(1.0), "exp_avg": np.zeros_like(p),
                "exp_avg_sq": np.zeros_like(p)}

    def _arrays(self):
        return ("exp_avg", "exp_avg_sq")

    def _update(self, p, g, state):
        state["step"] += 1
        state["mu_product"] = np.float32(nadam_kernel(
            flat(p), flat(g), flat(state["exp_avg"]), flat(state["exp_avg_sq"]),
            float(state["mu_product"]), state["step"], self.lr, self.betas[0], self.betas[1],
            self.eps, self.weight_decay, self.momentum_decay, self.decoupled_weight_decay,
            self.maximize))
