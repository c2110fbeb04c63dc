"""Adagrad (Duchi, Hazan & Singer 2011), as torch.optim.Adagrad."""

from __future__ import annotations

import numpy as np

from .. import _checks
from .._jit import kernel, prange
from .optimizer import Hyper, Optimizer, flat

__all__ = ["Adagrad", "adagrad_kernel"]


@kernel
def adagrad_kernel(p, g, state_sum, step, lr, lr_decay, weight_decay, eps, maximize):
    """One Adagrad step on flat arrays; ``step`` is the new step count."""
    clr = lr / (1.0 + (float(step) - 1.0) * lr_decay)
    f = p.dtype.type
    wd = f(weight_decay)
    eps_ = f(eps)
    neg_clr = f(-clr)
    for i in prange(p.size):
        gi = -g[i] if maximize else g[i]
        pi = p[i]
        if weight_decay != 0.0:
            gi = gi + wd * pi
        s = state_sum[i] + gi * gi
        state_sum[i] = s
        p[i] = pi + neg_clr * gi / (np.sqrt(s) + eps_)


class Adagrad(Optimizer):
    r"""Adagrad (Duchi, Hazan & Singer, *Adaptive Subgradient Methods for Online
    Learning and Stochastic Optimization*, JMLR 2011).

    .. math::
        \begin{aligned}
        g_t &= \nabla_\theta f_t(\theta_{t-1}) + \lambda\,\theta_{t-1} \\
        \tilde\eta_t &= \frac{\eta}{1 + (t-1)\,\delta} \\
        s_t &= s_{t-1} + g_t^2 \\
        \theta_t &= \theta_{t-1} - \tilde\eta_t\, \frac{g_t}{\sqrt{s_t} + \epsilon}
        \end{aligned}

    Each coordinate's step shrinks with the total squared gradient it has seen:
    rare features (small :math:`s`) keep large steps, frequent ones slow down.
    The sum never forgets, so the effective rate only decays; RMSprop and
    Adadelta replace it with a moving average.

    Args:
        params: list of float32/float64 C-contiguous arrays, updated in place.
        lr: :math:`\eta`.
        lr_decay: :math:`\delta`.
        weight_decay: :math:`\lambda` (L2 penalty).
        initial_accumulator_value: :math:`s_0`.
        eps: :math:`\epsilon`.
        maximize: ascend instead of descend.

    State per parameter: ``step`` and ``sum`` (:math:`s`).
    """

    lr_decay = Hyper(_checks.nonnegative)
    weight_decay = Hyper(_checks.nonnegative)
    initial_accumulator_value = Hyper(_checks.nonnegative)
    eps = Hyper(_checks.nonnegative)
    maximize = Hyper(_checks.boolean)

    def __init__(self, params, lr=1e-2, lr_decay=0.0, weight_decay=0.0,
                 initial_accumulator_value=0.0, eps=1e-10, *, maximize=False):
        super().__init__(params, lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                         initial_accumulator_value=initial_accumulator_value, eps=eps,
                         maximize=maximize)

    def _init_state(self, p):
        return {"step": 0, "sum": np.full_like(p, self.initial_accumulator_value)}

    def _arrays(self):
        return ("sum",)

    def _update(self, p, g, state):
        state["step"] += 1
        adagrad_kernel(flat(p), flat(g), flat(state["sum"]), state["step"], self.lr,
                       self.lr_decay, self.weight_decay, self.eps, self.maximize)
