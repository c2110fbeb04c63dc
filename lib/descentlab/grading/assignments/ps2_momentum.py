"""ps2_momentum: PyTorch's momentum step (with dampening), classic momentum, Nesterov,
the largest stable rate and Polyak's optimal heavy ball (derived), and local gains
(find the bug in a handed implementation)."""

from __future__ import annotations

import math

import numpy as np

from ...optim import SGD, ClassicMomentum, LocalGains
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


# -- derive, then compute: Polyak's optimal heavy ball ---------------------------------------
#
# On a quadratic with curvatures in [m, L], each eigen-direction follows
# theta_t = (1 + mu - eta h) theta_{t-1} - mu theta_{t-2} (part 4).  Its roots are complex, of
# modulus sqrt(mu), exactly when (1 - sqrt(mu))^2 <= eta h <= (1 + sqrt(mu))^2.  The smallest
# sqrt(mu) that covers [m, L] puts the two ends at m and L: sqrt(mu*) = (sqrt(kappa) - 1) /
# (sqrt(kappa) + 1) and eta* = (2 / (sqrt(L) + sqrt(m)))^2, and every direction then shrinks
# by sqrt(mu*) per step (Polyak 1964; Goh, *Why momentum really works*, Distill 2017).

def _hb_root(m, L):
    return (math.sqrt(L) - math.sqrt(m)) / (math.sqrt(L) + math.sqrt(m))


def _hb_lr(m, L):
    return (2.0 / (math.sqrt(L) + math.sqrt(m))) ** 2


def _hb_momentum(m, L):
    return _hb_root(m, L) ** 2


def _gd_factor(m, L):
    return (L - m) / (L + m)


CURVATURES = ([(1.0, 10.0), (0.5, 200.0)], [(0.01, 1.0), (3.0, 5.0), (2.0, 2000.0)])


def _curvature_cases(specs):
    return tuple((f"m={m}, L={L}", ({"m": m, "L": L},)) for m, L in specs)


def _heavy_ball(function, reference, points, what, mistakes):
    return FunctionExercise(
        assignment=A, function=function, reference=reference,
        describe_call=lambda kw: f"the returned {what}",
        plan={"derived": FunctionPart(points, _curvature_cases(CURVATURES[0]),
                                      _curvature_cases(CURVATURES[1]))},
        mistakes=mistakes)


heavy_ball_lr = _heavy_ball("heavy_ball_lr", _hb_lr, 2, "learning rate", [
    Mistake("2 / (m + L), gradient descent's best step",
            "With momentum the best rate is larger: put the ends of the complex-root band, "
            "(1 - sqrt(mu))^2 <= eta h <= (1 + sqrt(mu))^2, at h = m and h = L.",
            lambda m, L: 2.0 / (m + L)),
    Mistake("2 / (sqrt(L) + sqrt(m)), not squared",
            "Adding the two ends, eta (sqrt(L) + sqrt(m))^2... take square roots first: "
            "sqrt(eta L) - sqrt(eta m) = 2 sqrt(mu) and sqrt(eta L) + sqrt(eta m) = 2, "
            "so eta = (2 / (sqrt(L) + sqrt(m)))^2.",
            lambda m, L: 2.0 / (math.sqrt(L) + math.sqrt(m))),
    Mistake("1/L, the safe step of gradient descent",
            "The band of complex roots reaches up to eta L = (1 + sqrt(mu))^2 > 1: "
            "eta* = (2 / (sqrt(L) + sqrt(m)))^2.", lambda m, L: 1.0 / L),
    Mistake("4 / (L + m): the squares of the square roots dropped",
            "(sqrt(L) + sqrt(m))^2 = L + m + 2 sqrt(L m), not L + m.",
            lambda m, L: 4.0 / (L + m)),
])

heavy_ball_momentum = _heavy_ball("heavy_ball_momentum", _hb_momentum, 2, "momentum", [
    Mistake("(sqrt(kappa) - 1) / (sqrt(kappa) + 1), not squared",
            "That is sqrt(mu*), the modulus of the roots and the rate; the momentum is its "
            "square, because the product of the two roots is mu.", _hb_root),
    Mistake("((kappa - 1) / (kappa + 1))^2, with kappa instead of sqrt(kappa)",
            "The band (1 - sqrt(mu))^2 <= eta h <= (1 + sqrt(mu))^2 gives "
            "sqrt(kappa) = (1 + sqrt(mu)) / (1 - sqrt(mu)).",
            lambda m, L: _gd_factor(m, L) ** 2),
    Mistake("(kappa - 1) / (kappa + 1), gradient descent's factor",
            "Gradient descent's best factor is not a momentum: solve "
            "sqrt(kappa) = (1 + sqrt(mu)) / (1 - sqrt(mu)) for mu.", _gd_factor),
    Mistake("1 - 1/sqrt(kappa), the heuristic, not the optimum",
            "1 - 1/sqrt(kappa) is the right order but not Polyak's value: "
            "mu* = ((sqrt(kappa) - 1) / (sqrt(kappa) + 1))^2.",
            lambda m, L: 1.0 - math.sqrt(m / L)),
])

heavy_ball_rate = _heavy_ball("heavy_ball_rate", _hb_root, 1, "contraction factor", [
    Mistake("mu* itself, not its square root",
            "The two roots have product mu and equal moduli, so each has modulus sqrt(mu*): "
            "(sqrt(kappa) - 1) / (sqrt(kappa) + 1).", _hb_momentum),
    Mistake("(kappa - 1) / (kappa + 1), gradient descent's factor",
            "That is the best gradient descent can do (problem set 1); the heavy ball "
            "replaces kappa by sqrt(kappa).", _gd_factor),
    Mistake("1 - 1/sqrt(kappa), the order of the rate, not its value",
            "The modulus of the roots is exactly sqrt(mu*) = (sqrt(kappa) - 1) / (sqrt(kappa) + 1).",
            lambda m, L: 1.0 - math.sqrt(m / L)),
])


# -- find the bug: local gains (Jacobs 1988, as taught by Hinton, lecture 6d) ----------------

def _lg_variant(*, zero="keep", stale=False, grow="add", shrink="mul", clip=True, remember=True):
    def step(w, dw, state, lr=1e-3, beta=0.05, gain_min=0.1, gain_max=10.0):
        if not state:
            state.update(gain=np.ones_like(w), prev_grad=np.zeros_like(w))
        old = state["gain"]
        product = dw * state["prev_grad"]
        up = old + beta if grow == "add" else old * (1 + beta)
        down = old * (1 - beta) if shrink == "mul" else old - beta
        gain = np.where(product > 0, up, np.where(product < 0, down,
                                                  {"keep": old, "shrink": down, "grow": up}[zero]))
        if clip:
            gain = np.clip(gain, gain_min, gain_max)
        state["gain"] = gain
        if remember:
            state["prev_grad"] = dw.copy()
        return w - lr * (old if stale else gain) * dw
    return step


def _lg_hyper(h):
    return {"lr": h.get("lr", 1e-3), "beta": h.get("beta", 0.05),
            "gain_min": h.get("gain_min", 0.1), "gain_max": h.get("gain_max", 10.0)}


local_gains = StepExercise(
    assignment=A, function="local_gains_step",
    reference=from_optimizer(LocalGains, {}, {"gain": "gain", "prev_grad": "prev_grad"},
                             hyper_map=_lg_hyper),
    state_keys=("gain", "prev_grad"),
    plan={
        # no gradient before the first step: a zero product, so the gain stays 1
        "first_step": StepPart(points=1, steps=1, observe=("w", "state"),
                               hyper=({"lr": 0.1, "beta": 0.2},),
                               hidden_hyper=({"lr": 0.05, "beta": 0.5},)),
        "trajectory": StepPart(points=2, steps=25, observe=("w",),
                               hyper=({"lr": 0.1, "beta": 0.05},
                                      {"lr": 0.05, "beta": 0.3}),
                               hidden_hyper=({"lr": 0.2, "beta": 0.1},
                                             {"lr": 0.01, "beta": 0.6})),
        # a large increment and a narrow range, so the gains hit both bounds
        "clipping": StepPart(points=1, steps=20, observe=("state",),
                             hyper=({"lr": 0.1, "beta": 0.5, "gain_min": 0.5, "gain_max": 1.6},),
                             hidden_hyper=({"lr": 0.1, "beta": 0.7, "gain_min": 0.2,
                                            "gain_max": 2.5},)),
    },
    mistakes=[
        Mistake("a zero product treated as a sign flip (the gain shrinks on the first step)",
                "g_t g_{t-1} = 0 on the first step (g_0 = 0) and whenever a gradient is zero: "
                "keep the gain unchanged then; shrink it only when the product is negative.",
                _lg_variant(zero="shrink")),
        # after the single bugs: a part that observes only the state sees one of the two
        Mistake("both bugs of the handed implementation left in",
                "Two lines of the handed code are wrong: the zero product (the first step) must "
                "leave the gain as it is, and the step must use the updated gain k_t.",
                _lg_variant(zero="shrink", stale=True)),
        Mistake("a zero product treated as agreement (the gain grows on the first step)",
                "Grow the gain only when g_t g_{t-1} > 0; a zero product leaves it unchanged.",
                _lg_variant(zero="grow")),
        Mistake("the step taken with the old gain",
                "Update the gain first, then step with it: theta_t = theta_{t-1} - eta k_t g_t.",
                _lg_variant(stale=True)),
        Mistake("the gain increased multiplicatively, k (1 + delta), instead of k + delta",
                "Additive increase, multiplicative decrease: k + delta when the signs agree, "
                "k (1 - delta) when they differ.", _lg_variant(grow="mul")),
        Mistake("the gain decreased additively, k - delta, instead of k (1 - delta)",
                "Additive increase, multiplicative decrease: k (1 - delta) when the signs "
                "differ, so big gains collapse quickly.", _lg_variant(shrink="add")),
        Mistake("the gains not clipped to [gain_min, gain_max]",
                "Clip after every update: np.clip(k, gain_min, gain_max).",
                _lg_variant(clip=False)),
        Mistake("the previous gradient never stored (every product is zero)",
                "Store a copy of this step's gradient in state['prev_grad'] for the next step.",
                _lg_variant(remember=False)),
    ],
)

EXERCISES = [sgd_momentum, classic, nesterov, max_stable_lr, heavy_ball_lr, heavy_ball_momentum,
             heavy_ball_rate, local_gains]
