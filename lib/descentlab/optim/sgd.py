"""Stochastic gradient descent with momentum and Nesterov momentum, as torch.optim.SGD."""

from __future__ import annotations

import numpy as np

from .. import _checks
from .._jit import kernel, prange
from .optimizer import Hyper, Optimizer, flat, unused

__all__ = ["SGD", "sgd_kernel"]


@kernel
def sgd_kernel(p, g, buf, first, lr, momentum, dampening, weight_decay, nesterov, maximize):
    """One SGD step on flat arrays.  ``first`` marks the step that creates the
    momentum buffer: torch copies the gradient into it, with no dampening."""
    f = p.dtype.type
    wd = f(weight_decay)
    mu = f(momentum)
    keep = f(1.0 - dampening)
    neg_lr = f(-lr)
    for i in prange(p.size):
        gi = -g[i] if maximize else g[i]
        pi = p[i]
        if weight_decay != 0.0:
            gi = gi + wd * pi
        if momentum != 0.0:
            if first:
                b = gi
            else:
                b = buf[i] * mu + keep * gi
            buf[i] = b
            if nesterov:
                gi = gi + mu * b
            else:
                gi = b
        p[i] = pi + neg_lr * gi


class SGD(Optimizer):
    r"""Stochastic gradient descent, optionally with momentum (Polyak 1964) and
    Nesterov momentum (Nesterov 1983; Sutskever et al., ICML 2013).

    .. math::
        \begin{aligned}
        g_t &= \nabla_\theta f_t(\theta_{t-1}) + \lambda\,\theta_{t-1} \\
        b_t &= \begin{cases} g_t & t = 1 \\
                \mu\, b_{t-1} + (1-\tau)\, g_t & t > 1 \end{cases} \\
        d_t &= \begin{cases} g_t + \mu\, b_t & \text{nesterov} \\
                b_t & \text{otherwise} \end{cases} \\
        \theta_t &= \theta_{t-1} - \eta\, d_t
        \end{aligned}

    This is PyTorch's convention: the learning rate multiplies the velocity
    *outside* the buffer, so changing :math:`\eta` rescales the whole
    accumulated velocity at once.  The classic form of Qian (1999) and
    Sutskever et al. keeps :math:`\eta` inside (see :class:`ClassicMomentum`);
    the two agree while :math:`\eta` is constant and :math:`\tau = 0`.  The
    first step copies the gradient into the buffer, with no dampening.

    Args:
        params: list of float32/float64 C-contiguous arrays, updated in place.
        lr: learning rate :math:`\eta`.
        momentum: :math:`\mu \ge 0`.
        dampening: :math:`\tau`, in [0, 1].
        weight_decay: :math:`\lambda` (L2 penalty).
        nesterov: look ahead along the velocity; needs momentum > 0 and no dampening.
        maximize: ascend instead of descend.

    State per parameter: ``momentum_buffer`` (:math:`b`), ``None`` until the
    first step with momentum.
    """

    momentum = Hyper(_checks.nonnegative)
    dampening = Hyper(lambda v, n, o: _checks.unit_interval(v, n, o, closed=True))
    weight_decay = Hyper(_checks.nonnegative)
    nesterov = Hyper(_checks.boolean)
    maximize = Hyper(_checks.boolean)

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0,
                 nesterov=False, *, maximize=False):
        super().__init__(params, lr=lr, momentum=momentum, dampening=dampening,
                         weight_decay=weight_decay, nesterov=nesterov, maximize=maximize)

    def _check_hyper(self):
        if self.nesterov and (self.momentum <= 0 or self.dampening != 0):
            raise ValueError("SGD: nesterov=True requires momentum > 0 and dampening = 0, "
                             f"got momentum={self.momentum!r}, dampening={self.dampening!r}")

    def _init_state(self, p):
        return {"momentum_buffer": None}

    def _arrays(self):
        return ()

    def _check_state(self, i, state, p):
        super()._check_state(i, state, p)
        if state.get("momentum_buffer") is not None:
            buf = _checks.float_array(state["momentum_buffer"], f"state[{i}]['momentum_buffer']",
                                      "SGD", writeable=True)
            if buf.shape != p.shape or buf.dtype != p.dtype:
                raise ValueError(f"SGD: state[{i}]['momentum_buffer'] has shape {buf.shape} and "
                                 f"dtype {buf.dtype}, but params[{i}] has {p.shape} and {p.dtype}")

    def _update(self, p, g, state):
        buf = state["momentum_buffer"]
        first = buf is None
        if self.momentum != 0 and first:
            buf = state["momentum_buffer"] = np.empty_like(p)
        b = flat(buf) if buf is not None else unused(p)
        sgd_kernel(flat(p), flat(g), b, first, self.lr, self.momentum, self.dampening,
                   self.weight_decay, self.nesterov, self.maximize)
