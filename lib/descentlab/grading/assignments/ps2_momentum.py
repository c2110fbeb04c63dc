"""ps2_momentum: PyTorch's momentum step (with dampening), classic momentum, and Nesterov."""

from __future__ import annotations

import numpy as np

from ...optim import SGD, ClassicMomentum
from ..exercise import Mistake
from ..functions import FunctionExercise, FunctionPart
from ..steppers import StepExercise, StepPart, from_optimizer

A = "ps2_momentum"


def _sgd_hyper(nesterov=False):
    def convert(h):
        return {"lr": h.get("lr", 1e-3), "momentum": h.get("momentum", 0.9),
                "dampening": h.get("dampening", 0.0), "nesterov": nesterov}
    return convert


# -- PyTorch-form momentum -------------------------------------------------------

def _sgd_variant(kind):
    def step(w, dw, state, lr=1e-3, momentum=0.9, dampening=0.0):
        buf = state.get("momentum_buffer")
        if kind == "damped_first":
            buf = (1 - dampening) * dw if buf is None else momentum * buf + (1 - dampening) * dw
        elif kind == "swapped":
            buf = dw.copy() if buf is None else dampening * buf + momentum * dw
        elif kind == "lr_inside":
            buf = lr * dw if buf is None else momentum * buf + lr * (1 - dampening) * dw
            state["momentum_buffer"] = buf
            return w - buf
        elif kind == "no_dampening":
            buf = dw.copy() if buf is None else momentum * buf + dw
        elif kind == "no_momentum":
            buf = dw.copy()
        state["momentum_buffer"] = buf
        return w - lr * buf
    return step


sgd_momentum = StepExercise(
    assignment=A, function="sgd_momentum_step",
    reference=from_optimizer(SGD, {}, {"momentum_buffer": "momentum_buffer"},
                             hyper_map=_sgd_hyper()),
    state_keys=("momentum_buffer",),
    plan={
        "first_step": StepPart(points=1, steps=1, observe=("w", "state"),
                               hyper=({"lr": 0.1, "momentum": 0.9, "dampening": 0.5},),
                               hidden_hyper=({"lr": 0.01, "momentum": 0.5, "dampening": 0.9},)),
        "dampening": StepPart(points=2, steps=25, observe=("w",),
                              hyper=({"lr": 0.05, "momentum": 0.9, "dampening": 0.0},
                                     {"lr": 0.1, "momentum": 0.8, "dampening": 0.3}),
                              hidden_hyper=({"lr": 0.02, "momentum": 0.95, "dampening": 0.5},
                                            {"lr": 0.2, "momentum": 0.5, "dampening": 0.9})),
        "changing_lr": StepPart(points=1, steps=20, observe=("w",),
                                hyper=({"lr": 0.1, "momentum": 0.9, "dampening": 0.0},),
                                hidden_hyper=({"lr": 0.1, "momentum": 0.7, "dampening": 0.2},),
                                vary={"lr": (0.1, 0.1, 0.1, 0.01, 0.01, 0.05)}),
    },
    mistakes=[
        Mistake("dampening applied on the first step",
                "PyTorch starts the buffer as a copy of the first gradient, with no dampening: "
                "b_1 = g_1; dampening only weighs the gradients of later steps.",
                _sgd_variant("damped_first")),
        Mistake("momentum and dampening swapped",
                "b = momentum * b + (1 - dampening) * g: momentum multiplies the old buffer.",
                _sgd_variant("swapped")),
        Mistake("the learning rate inside the buffer (the classic form, not PyTorch's)",
                "PyTorch keeps the learning rate outside: b = momentum * b + (1 - dampening) * g, "
                "then w = w - lr * b. The two differ once the learning rate changes.",
                _sgd_variant("lr_inside")),
        Mistake("dampening ignored", "Scale the new gradient by (1 - dampening) after the "
                "first step.", _sgd_variant("no_dampening")),
        Mistake("no momentum at all (the buffer is just the gradient)",
                "Keep the buffer in `state` and add momentum * (the old buffer).",
                _sgd_variant("no_momentum")),
    ],
)


# -- classic momentum ----------------------------------------------------------------

def _classic_variant(kind):
    def step(w, dw, state, lr=1e-3, momentum=0.9):
        v = state.get("velocity", np.zeros_like(w))
        if kind == "lr_outside":
            # PyTorch's form, scaled so that it is a velocity: -lr * buffer
            b = state.get("_buffer")
            b = dw.copy() if b is None else momentum * b + dw
            state["_buffer"] = b
            state["velocity"] = -lr * b
            return w - lr * b
        if kind == "sign":
            v = momentum * v + lr * dw
            state["velocity"] = v
            return w - v
        if kind == "lr_on_both":
            v = lr * (momentum * v - dw)
            state["velocity"] = v
            return w + v
        raise AssertionError(kind)
    return step


classic = StepExercise(
    assignment=A, function="classic_momentum_step",
    reference=from_optimizer(ClassicMomentum, {}, {"velocity": "velocity"},
                             hyper_map=lambda h: {"lr": h.get("lr", 1e-3),
                                                  "momentum": h.get("momentum", 0.9)}),
    state_keys=("velocity",),
    plan={
        "trajectory": StepPart(points=1, steps=25, observe=("w",),
                               hyper=({"lr": 0.05, "momentum": 0.9},),
                               hidden_hyper=({"lr": 0.2, "momentum": 0.5},
                                             {"lr": 0.01, "momentum": 0.99})),
        "state": StepPart(points=1, steps=5, observe=("state",),
                          hyper=({"lr": 0.1, "momentum": 0.9},),
                          hidden_hyper=({"lr": 0.05, "momentum": 0.6},)),
        "changing_lr": StepPart(points=2, steps=20, observe=("w",),
                                hyper=({"lr": 0.1, "momentum": 0.9},),
                                hidden_hyper=({"lr": 0.1, "momentum": 0.8},),
                                vary={"lr": (0.1, 0.1, 0.1, 0.01, 0.01, 0.05)}),
    },
    mistakes=[
        Mistake("the learning rate outside the velocity (PyTorch's form)",
                "In the classic form each gradient keeps the learning rate of its own step: "
                "v = momentum * v - lr * g, then w = w + v.", _classic_variant("lr_outside")),
        Mistake("the velocity stored with the opposite sign",
                "Store v = momentum * v - lr * g (it points downhill) and add it: w = w + v.",
                _classic_variant("sign")),
        Mistake("the learning rate applied to the old velocity too",
                "Only the new gradient is scaled by lr: v = momentum * v - lr * g.",
                _classic_variant("lr_on_both")),
    ],
)


# -- Nesterov -------------------------------------------------------------------------

def _nesterov_variant(kind):
    def step(w, dw, state, lr=1e-3, momentum=0.9):
        old = state.get("momentum_buffer")
        buf = dw.copy() if old is None else momentum * old + dw
        state["momentum_buffer"] = buf
        if kind == "sign":
            return w - lr * (dw - momentum * buf)
        if kind == "plain":
            return w - lr * buf
        # (a look-ahead with the buffer from before this step, g + momentum * b_old, is
        # exactly plain momentum, so the catalogue does not list it separately)
        if kind == "lookahead_twice":
            return w - lr * (buf + momentum * buf)
        raise AssertionError(kind)
    return step


nesterov = StepExercise(
    assignment=A, function="nesterov_step",
    reference=from_optimizer(SGD, {}, {"momentum_buffer": "momentum_buffer"},
                             hyper_map=_sgd_hyper(nesterov=True)),
    state_keys=("momentum_buffer",),
    plan={
        "trajectory": StepPart(points=2, steps=25, observe=("w",),
                               hyper=({"lr": 0.05, "momentum": 0.9},
                                      {"lr": 0.1, "momentum": 0.5}),
                               hidden_hyper=({"lr": 0.01, "momentum": 0.99},
                                             {"lr": 0.2, "momentum": 0.7})),
        "state": StepPart(points=1, steps=5, observe=("state",),
                          hyper=({"lr": 0.1, "momentum": 0.9},),
                          hidden_hyper=({"lr": 0.05, "momentum": 0.6},)),
    },
    mistakes=[
        Mistake("Nesterov with the wrong sign",
                "The look-ahead adds the momentum term: d = g + momentum * b, w = w - lr * d.",
                _nesterov_variant("sign")),
        Mistake("plain momentum instead of Nesterov",
                "Nesterov steps along g + momentum * b, not along b.", _nesterov_variant("plain")),
        Mistake("the momentum term added twice",
                "The direction is g + momentum * b, with the plain gradient g, not b + momentum * b.",
                _nesterov_variant("lookahead_twice")),
    ],
)

# -- derive, then compute: the largest stable learning rate ---------------------------

def _max_stable_lr(curvature, momentum):
    """Heavy ball on f(theta) = curvature / 2 * theta^2 (PyTorch's form, no dampening).

    (theta_t, theta_{t-1}) follows a linear map with characteristic polynomial
    z^2 - (1 + mu - eta h) z + mu; for 0 <= mu < 1 both roots lie in the unit disc
    exactly when 0 < eta h < 2 (1 + mu) (Polyak 1964; Goh, *Why momentum really
    works*, Distill 2017)."""
    return 2.0 * (1.0 + momentum) / curvature


STABLE = [{"curvature": h, "momentum": mu} for h, mu in ((1.0, 0.0), (50.0, 0.9), (4.0, 0.5))]
STABLE_HIDDEN = [{"curvature": h, "momentum": mu}
                 for h, mu in ((0.3, 0.99), (1000.0, 0.25), (7.5, 0.0), (2.0, 0.75))]

max_stable_lr = FunctionExercise(
    assignment=A, function="max_stable_lr", reference=_max_stable_lr,
    describe_call=lambda kw: f"the largest stable lr for curvature={kw['curvature']}, "
                             f"momentum={kw['momentum']}",
    plan={"derived": FunctionPart(2, tuple((f"curvature={c['curvature']}, momentum={c['momentum']}",
                                            (c,)) for c in STABLE),
                                  tuple((f"curvature={c['curvature']}, momentum={c['momentum']}",
                                         (c,)) for c in STABLE_HIDDEN))},
    mistakes=[
        Mistake("gradient descent's bound 2/h, with the momentum left out",
                "With momentum the bound grows: the characteristic polynomial's root at -1 "
                "moves to eta h = 2 (1 + mu).", lambda curvature, momentum: 2.0 / curvature),
        Mistake("2 (1 - mu) / h: the effective rate eta / (1 - mu) held to GD's bound",
                "eta / (1 - mu) is the long-run rate for a constant gradient; stability is "
                "decided by the root at z = -1, where the buffer alternates sign: "
                "eta h < 2 (1 + mu).", lambda curvature, momentum: 2.0 * (1 - momentum) / curvature),
        Mistake("(1 + mu) / h: the factor 2 lost",
                "Put z = -1 in z^2 - (1 + mu - eta h) z + mu: 1 + (1 + mu - eta h) + mu = 0 "
                "gives eta h = 2 (1 + mu).", lambda curvature, momentum: (1.0 + momentum) / curvature),
        Mistake("multiplied by the curvature instead of divided",
                "A sharper bowl (larger h) allows a smaller step: the bound is 2 (1 + mu) / h.",
                lambda curvature, momentum: 2.0 * (1.0 + momentum) * curvature),
    ])

EXERCISES = [sgd_momentum, classic, nesterov, max_stable_lr]
