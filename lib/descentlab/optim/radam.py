"""RAdam (Liu et al. 2020), as torch.optim.RAdam."""

from __future__ import annotations

import math

import numpy as np

from .. import _checks
from .._jit import kernel, prange
from ._elementwise import lerp
from .optimizer import Hyper, Optimizer, flat

__all__ = ["RAdam", "radam_kernel"]


@kernel
def radam_kernel(p, g, exp_avg, exp_avg_sq, step, lr, beta1, beta2, eps, weight_decay,
                 decoupled, maximize):
    """One RAdam step on flat arrays; ``step`` is the new step count."""
    t = float(step)
    bias_correction1 = 1.0 - beta1 ** t
    bias_correction2 = 1.0 - beta2 ** t
    rho_inf = 2.0 / (1.0 - beta2) - 1.0
    rho_t = rho_inf - 2.0 * t * (beta2 ** t) / bias_correction2
    rectify = rho_t > 5.0
    rect = 0.0
    if rectify:
        rect = math.sqrt((rho_t - 4.0) * (rho_t - 2.0) * rho_inf
                         / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t))
    f = p.dtype.type
    w = f(1.0 - beta1)
    w_m1 = w - f(1.0)
    b2 = f(beta2)
    c2 = f(1.0 - beta2)
    bc1 = f(bias_correction1)
    bc2_sqrt = f(math.sqrt(bias_correction2))
    lr_ = f(lr)
    r = f(rect)
    one = f(1.0)
    eps_ = f(eps)
    wd = f(weight_decay)
    shrink = f(1.0 - lr * weight_decay)
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
        update = m / bc1 * lr_
        if rectify:
            # torch evaluates  scalar / tensor  as  tensor.reciprocal() * scalar
            adaptive = one / (np.sqrt(v) + eps_) * bc2_sqrt
            update = update * adaptive * r
        p[i] = pi - update


class RAdam(Optimizer):
    r"""RAdam, rectified Adam (Liu et al., *On the Variance of the Adaptive
    Learning Rate and Beyond*, ICLR 2020).

    .. math::
        \begin{aligned}
        m_t &= \beta_1 m_{t-1} + (1-\beta_1)\, g_t, \qquad
        v_t = \beta_2 v_{t-1} + (1-\beta_2)\, g_t^2 \\
        \rho_\infty &= \frac{2}{1-\beta_2} - 1, \qquad
        \rho_t = \rho_\infty - \frac{2t\,\beta_2^t}{1-\beta_2^t} \\
        r_t &= \sqrt{\frac{(\rho_t-4)(\rho_t-2)\,\rho_\infty}
                         {(\rho_\infty-4)(\rho_\infty-2)\,\rho_t}} \\
        \theta_t &= \theta_{t-1} - \eta\,\frac{m_t}{1-\beta_1^t}\cdot
            \begin{cases}
            r_t\,\dfrac{\sqrt{1-\beta_2^t}}{\sqrt{v_t}+\epsilon} & \rho_t > 5 \\
            1 & \text{otherwise (SGD with momentum)}
            \end{cases}
        \end{aligned}

    In the first steps the variance of the adaptive rate is too large to
    trust (:math:`\rho_t \le 5`), so RAdam takes plain momentum steps; later
    it rescales Adam's step by :math:`r_t`, a built-in warm-up.  Note that
    :math:`\epsilon` is added *before* the bias correction here, unlike Adam.

    Args:
        params: list of float32/float64 C-contiguous arrays, updated in place.
        lr: :math:`\eta`.
        betas: :math:`(\beta_1, \beta_2)`, each in [0, 1).
        eps: :math:`\epsilon`.
        weight_decay: :math:`\lambda` (L2 penalty, or decoupled).
        decoupled_weight_decay: multiply :math:`\theta` by :math:`1-\eta\lambda` instead.
        maximize: ascend instead of descend.

    State per parameter: ``step``, ``exp_avg`` (:math:`m`), ``exp_avg_sq`` (:math:`v`).
    """

    betas = Hyper(_checks.betas)
    eps = Hyper(_checks.nonnegative)
    weight_decay = Hyper(_checks.nonnegative)
    decoupled_weight_decay = Hyper(_checks.boolean)
    maximize = Hyper(_checks.boolean)

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 decoupled_weight_decay=False, *, maximize=False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         decoupled_weight_decay=decoupled_weight_decay, maximize=maximize)

    def _init_state(self, p):
        return {"step": 0, "exp_avg": np.zeros_like(p), "exp_avg_sq": np.zeros_like(p)}

    def _arrays(self):
        return ("exp_avg", "exp_avg_sq")

    def _update(self, p, g, state):
        state["step"] += 1
        radam_kernel(flat(p), flat(g), flat(state["exp_avg"]), flat(state["exp_avg_sq"]),
                     state["step"], self.lr, self.betas[0], self.betas[1], self.eps,
                     self.weight_decay, self.decoupled_weight_decay, self.maximize)
