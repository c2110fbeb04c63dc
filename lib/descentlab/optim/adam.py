"""Adam and AdamW (Kingma & Ba 2015; Loshchilov & Hutter 2019)."""

from __future__ import annotations

import math

import numpy as np

from .. import _checks
from .._jit import kernel, prange
from ._elementwise import lerp
from .optimizer import Hyper, Optimizer, flat, unused

__all__ = ["Adam", "AdamW", "adam_kernel"]


@kernel
def adam_kernel(p, g, exp_avg, exp_avg_sq, max_exp_avg_sq, step, lr, beta1, beta2, eps,
                weight_decay, amsgrad, maximize, decoupled):
    """One Adam step on flat arrays, in the order of torch's single-tensor path.

    ``step`` is the new step count (already incremented).  ``max_exp_avg_sq``
    is only touched when ``amsgrad`` is true.
    """
    # torch computes these scalars in Python floats (double) ...  One change:
    # math.sqrt where torch writes ** 0.5.  LLVM compiles a constant 0.5 power
    # to a square root while CPython calls pow(), and the two can differ in
    # the last bit; sqrt keeps the kernel and its Python fallback identical.
    t = float(step)
    bias_correction1 = 1.0 - beta1 ** t
    bias_correction2 = 1.0 - beta2 ** t
    step_size = lr / bias_correction1
    # ... and its kernels round each one to the tensor's dtype.
    f = p.dtype.type
    w = f(1.0 - beta1)
    w_m1 = w - f(1.0)
    b2 = f(beta2)
    c2 = f(1.0 - beta2)
    bc2_sqrt = f(math.sqrt(bias_correction2))
    eps_ = f(eps)
    neg_step_size = f(-step_size)
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
        if amsgrad:
            v = np.maximum(max_exp_avg_sq[i], v)
            max_exp_avg_sq[i] = v
        denom = np.sqrt(v) / bc2_sqrt + eps_
        p[i] = pi + neg_step_size * m / denom


class Adam(Optimizer):
    r"""Adam (Kingma & Ba, *Adam: A Method for Stochastic Optimization*, ICLR 2015).

    .. math::
        \begin{aligned}
        g_t &= \nabla_\theta f_t(\theta_{t-1}) + \lambda\,\theta_{t-1}
              &&\text{(L2 penalty; AdamW decays } \theta \text{ instead)} \\
        m_t &= \beta_1 m_{t-1} + (1-\beta_1)\, g_t \\
        v_t &= \beta_2 v_{t-1} + (1-\beta_2)\, g_t^2 \\
        \hat v_t &= \max(\hat v_{t-1}, v_t) \text{ if amsgrad, else } v_t \\
        \theta_t &= \theta_{t-1} - \frac{\eta}{1-\beta_1^t}\,
                    \frac{m_t}{\sqrt{\hat v_t}/\sqrt{1-\beta_2^t} + \epsilon}
        \end{aligned}

    with :math:`m_0 = v_0 = 0`.  The bias corrections undo the pull of the zero
    initialisation towards 0 in early steps.  As in torch, :math:`\epsilon` is
    added *after* the bias-corrected square root, and :math:`m_t` is computed
    as ``lerp(m, g, 1 - beta1)``.  AMSGrad is Reddi, Kale & Kumar, *On the
    Convergence of Adam and Beyond*, ICLR 2018.

    Args:
        params: list of float32/float64 C-contiguous arrays, updated in place.
        lr: learning rate :math:`\eta`.
        betas: :math:`(\beta_1, \beta_2)`, each in [0, 1).
        eps: :math:`\epsilon` in the denominator.
        weight_decay: :math:`\lambda`.
        amsgrad: keep the running maximum of :math:`v_t`.
        maximize: ascend instead of descend.
        decoupled_weight_decay: decay :math:`\theta` directly (AdamW).

    State per parameter: ``step``, ``exp_avg`` (:math:`m`), ``exp_avg_sq``
    (:math:`v`), and ``max_exp_avg_sq`` with amsgrad.
    """

    betas = Hyper(_checks.betas)
    eps = Hyper(_checks.nonnegative)
    weight_decay = Hyper(_checks.nonnegative)
    amsgrad = Hyper(_checks.boolean)
    maximize = Hyper(_checks.boolean)
    decoupled_weight_decay = Hyper(_checks.boolean)

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 amsgrad=False, *, maximize=False, decoupled_weight_decay=False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad, maximize=maximize,
                         decoupled_weight_decay=decoupled_weight_decay)

    def _init_state(self, p):
        state = {"step": 0, "exp_avg": np.zeros_like(p), "exp_avg_sq": np.zeros_like(p)}
        if self.amsgrad:
            state["max_exp_avg_sq"] = np.zeros_like(p)
        return state

    def _arrays(self):
        if self.amsgrad:
            return ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")
        return ("exp_avg", "exp_avg_sq")

    def _decoupled(self) -> bool:
        return self.decoupled_weight_decay

    def _update(self, p, g, state):
        state["step"] += 1
        m = flat(state["exp_avg"])
        v = flat(state["exp_avg_sq"])
        vmax = flat(state["max_exp_avg_sq"]) if self.amsgrad else unused(p)
        adam_kernel(flat(p), flat(g), m, v, vmax, state["step"], self.lr, self.betas[0], self.betas[1],
                    self.eps, self.weight_decay, self.amsgrad, self.maximize, self._decoupled())


class AdamW(Adam):
    r"""AdamW: Adam with decoupled weight decay (Loshchilov & Hutter,
    *Decoupled Weight Decay Regularization*, ICLR 2019).

    .. math::
        \begin{aligned}
        \theta_{t-1}' &= (1 - \eta\lambda)\,\theta_{t-1} \\
        m_t &= \beta_1 m_{t-1} + (1-\beta_1)\, g_t, \qquad
        v_t = \beta_2 v_{t-1} + (1-\beta_2)\, g_t^2 \\
        \theta_t &= \theta_{t-1}' - \frac{\eta}{1-\beta_1^t}\,
                    \frac{m_t}{\sqrt{\hat v_t}/\sqrt{1-\beta_2^t} + \epsilon}
        \end{aligned}

    The decay shrinks the weights directly instead of entering the gradient,
    so it is not rescaled by :math:`1/\sqrt{v_t}`: with Adam's L2 form,
    weights with large gradients are regularised less.  Note that torch's
    decay is scaled by the learning rate (:math:`\eta\lambda`), so it follows
    a learning-rate schedule.  Arguments as :class:`Adam`; the default
    ``weight_decay`` is 1e-2.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, maximize=False):
        Optimizer.__init__(self, params, lr=lr, betas=betas, eps=eps,
                           weight_decay=weight_decay, amsgrad=amsgrad, maximize=maximize)

    def _decoupled(self) -> bool:
        return True
