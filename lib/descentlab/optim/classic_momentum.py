"""Classic momentum with the learning rate inside the velocity (Qian 1999)."""

from __future__ import annotations

import numpy as np

from .. import _checks
from .._jit import kernel, prange
from .optimizer import Hyper, Optimizer, flat

__all__ = ["ClassicMomentum", "classic_momentum_kernel"]


@kernel
def classic_momentum_kernel(p, g, velocity, lr, momentum, weight_decay):
    """One classic-momentum step on flat arrays."""
    f = p.dtype.type
    mu = f(momentum)
    neg_lr = f(-lr)
    wd = f(weight_decay)
    for i in prange(p.size):
        gi = g[i]
        pi = p[i]
        if weight_decay != 0.0:
            gi = gi + wd * pi
        v = mu * velocity[i] + neg_lr * gi
        velocity[i] = v
        p[i] = pi + v


class ClassicMomentum(Optimizer):
    r"""Momentum in its classic form, with the learning rate inside the velocity
    (Qian, *On the momentum term in gradient descent learning algorithms*,
    Neural Networks 12, 1999; Sutskever et al., *On the importance of
    initialization and momentum in deep learning*, ICML 2013).

    .. math::
        \begin{aligned}
        g_t &= \nabla_\theta f_t(\theta_{t-1}) + \lambda\,\theta_{t-1} \\
        v_t &= \mu\, v_{t-1} - \eta_t\, g_t \\
        \theta_t &= \theta_{t-1} + v_t
        \end{aligned}

    with :math:`v_0 = 0`.  Unrolled, :math:`\theta_t - \theta_{t-1} =
    -\sum_{s \le t} \mu^{t-s}\, \eta_s\, g_s`: each gradient keeps the learning
    rate of the step that produced it.  PyTorch's :class:`SGD` instead
    computes :math:`-\eta_t \sum_{s \le t} \mu^{t-s} g_s`, rescaling all past
    gradients by today's rate.  The two agree while :math:`\eta` is constant
    and differ as soon as a schedule changes it; a drop in :math:`\eta` takes
    effect at once in PyTorch's form and gradually in this one.

    Args:
        params: list of float32/float64 C-contiguous arrays, updated in place.
        lr: :math:`\eta`.
        momentum: :math:`\mu`, in [0, 1).
        weight_decay: :math:`\lambda` (L2 penalty).

    State per parameter: ``velocity`` (:math:`v`).
    """

    momentum = Hyper(_checks.unit_interval)
    weight_decay = Hyper(_checks.nonnegative)

    def __init__(self, params, lr=1e-3, momentum=0.9, weight_decay=0.0):
        super().__init__(params, lr=lr, momentum=momentum, weight_decay=weight_decay)

    def _init_state(self, p):
        return {"velocity": np.zeros_like(p)}

    def _arrays(self):
        return ("velocity",)

    def _update(self, p, g, state):
        classic_momentum_kernel(flat(p), flat(g), flat(state["velocity"]), self.lr,
                                self.momentum, self.weight_decay)
