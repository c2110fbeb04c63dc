"""ps3_adaptive: Adagrad and RMSprop steps, the course notes' broken Adam fixed, AdamW's
decoupled weight decay, and three more find-the-bug parts: AMSGrad, Adadelta and NAdam."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ...optim import Adadelta, Adagrad, Adam, AdamW, NAdam, RMSprop
from ..exercise import Mistake, first_difference
from ..functions import FunctionExercise, FunctionPart
from ..steppers import StepExercise, StepPart, from_optimizer

A = "ps3_adaptive"


def _zeros_like_state(state, w, *keys):
    for k in keys:
        if k not in state:
            state[k] = np.zeros_like(w)
    state["step"] = state.get("step", 0) + 1
    return state["step"]


# -- Adagrad ------------------------------------------------------------------

def _adagrad_eps_inside(w, dw, state, lr=1e-2, eps=1e-10):
    _zeros_like_state(state, w, "sum")
    state["sum"] = state["sum"] + dw * dw
    return w - lr * dw / np.sqrt(state["sum"] + eps)


def _adagrad_sum_of_gradients(w, dw, state, lr=1e-2, eps=1e-10):
    _zeros_like_state(state, w, "sum")
    state["sum"] = state["sum"] + dw
    return w - lr * dw / (np.sqrt(np.abs(state["sum"])) + eps)


def _adagrad_no_sqrt(w, dw, state, lr=1e-2, eps=1e-10):
    _zeros_like_state(state, w, "sum")
    state["sum"] = state["sum"] + dw * dw
    return w - lr * dw / (state["sum"] + eps)


def _adagrad_reset(w, dw, state, lr=1e-2, eps=1e-10):
    state["sum"] = dw * dw
    state["step"] = state.get("step", 0) + 1
    return w - lr * dw / (np.sqrt(state["sum"]) + eps)


adagrad = StepExercise(
    assignment=A, function="adagrad_step",
    reference=from_optimizer(Adagrad, {}, {"step": "step", "sum": "sum"}),
    state_keys=("step", "sum"),
    plan={
        "first_step": StepPart(points=1, steps=1, observe=("w",),
                               hyper=({"lr": 0.1, "eps": 1e-10}, {"lr": 0.5, "eps": 0.1}),
                               hidden_hyper=({"lr": 0.05, "eps": 0.3}, {"lr": 1.0, "eps": 1e-6})),
        "state": StepPart(points=1, steps=4, observe=("state",),
                          hyper=({"lr": 0.1, "eps": 1e-10},),
                          hidden_hyper=({"lr": 0.01, "eps": 1e-3}, {"lr": 0.2, "eps": 1e-10})),
        "trajectory": StepPart(points=2, steps=30, observe=("w",),
                               hyper=({"lr": 0.1, "eps": 1e-10}, {"lr": 0.3, "eps": 0.05}),
                               hidden_hyper=({"lr": 0.02, "eps": 1e-8}, {"lr": 0.7, "eps": 0.2},
                                             {"lr": 0.1, "eps": 1e-10})),
    },
    mistakes=[
        Mistake("eps inside the square root",
                "Adagrad adds eps to the square root of the sum: w - lr * g / (sqrt(G) + eps).",
                _adagrad_eps_inside),
        Mistake("accumulating gradients instead of squared gradients",
                "The accumulator is the sum of SQUARED gradients: G += g * g.",
                _adagrad_sum_of_gradients),
        Mistake("dividing by the sum instead of its square root",
                "The step is lr * g / (sqrt(G) + eps): take the square root of the sum.",
                _adagrad_no_sqrt),
        Mistake("state reset on every call",
                "Keep the running sum in `state` between calls: create it only when it is missing.",
                _adagrad_reset),
    ],
)


# -- RMSprop --------------------------------------------------------------------

def _rmsprop_swapped(w, dw, state, lr=1e-2, alpha=0.99, eps=1e-8):
    _zeros_like_state(state, w, "square_avg")
    state["square_avg"] = (1 - alpha) * state["square_avg"] + alpha * dw * dw
    return w - lr * dw / (np.sqrt(state["square_avg"]) + eps)


def _rmsprop_eps_inside(w, dw, state, lr=1e-2, alpha=0.99, eps=1e-8):
    _zeros_like_state(state, w, "square_avg")
    state["square_avg"] = alpha * state["square_avg"] + (1 - alpha) * dw * dw
    return w - lr * dw / np.sqrt(state["square_avg"] + eps)


def _rmsprop_sum(w, dw, state, lr=1e-2, alpha=0.99, eps=1e-8):
    _zeros_like_state(state, w, "square_avg")
    state["square_avg"] = state["square_avg"] + dw * dw
    return w - lr * dw / (np.sqrt(state["square_avg"]) + eps)


def _rmsprop_bias_corrected(w, dw, state, lr=1e-2, alpha=0.99, eps=1e-8):
    t = _zeros_like_state(state, w, "square_avg")
    state["square_avg"] = alpha * state["square_avg"] + (1 - alpha) * dw * dw
    return w - lr * dw / (np.sqrt(state["square_avg"] / (1 - alpha ** t)) + eps)


def _rmsprop_reset(w, dw, state, lr=1e-2, alpha=0.99, eps=1e-8):
    state["step"] = 1
    state["square_avg"] = (1 - alpha) * dw * dw
    return w - lr * dw / (np.sqrt(state["square_avg"]) + eps)


rmsprop = StepExercise(
    assignment=A, function="rmsprop_step",
    reference=from_optimizer(RMSprop, {}, {"step": "step", "square_avg": "square_avg"}),
    state_keys=("step", "square_avg"),
    plan={
        "first_step": StepPart(points=1, steps=1, observe=("w",),
                               hyper=({"lr": 0.01, "alpha": 0.99, "eps": 1e-8},
                                      {"lr": 0.1, "alpha": 0.9, "eps": 0.1}),
                               hidden_hyper=({"lr": 0.05, "alpha": 0.5, "eps": 0.3},
                                             {"lr": 0.001, "alpha": 0.999, "eps": 1e-6})),
        "state": StepPart(points=1, steps=4, observe=("state",),
                          hyper=({"lr": 0.01, "alpha": 0.9, "eps": 1e-8},),
                          hidden_hyper=({"lr": 0.1, "alpha": 0.5, "eps": 1e-3},
                                        {"lr": 0.01, "alpha": 0.99, "eps": 1e-8})),
        "trajectory": StepPart(points=2, steps=30, observe=("w",),
                               hyper=({"lr": 0.01, "alpha": 0.99, "eps": 1e-8},
                                      {"lr": 0.05, "alpha": 0.8, "eps": 0.05}),
                               hidden_hyper=({"lr": 0.02, "alpha": 0.95, "eps": 1e-6},
                                             {"lr": 0.1, "alpha": 0.5, "eps": 0.2},
                                             {"lr": 0.003, "alpha": 0.999, "eps": 1e-8})),
    },
    mistakes=[
        Mistake("the moving-average weights swapped",
                "The average keeps alpha of the old value: v = alpha * v + (1 - alpha) * g**2.",
                _rmsprop_swapped),
        Mistake("eps inside the square root",
                "RMSprop (as torch writes it) adds eps after the square root: g / (sqrt(v) + eps).",
                _rmsprop_eps_inside),
        Mistake("Adagrad's running sum instead of a moving average",
                "RMSprop decays the old average: v = alpha * v + (1 - alpha) * g**2.",
                _rmsprop_sum),
        Mistake("a bias correction RMSprop does not have",
                "Only Adam divides by (1 - beta**t); RMSprop uses v as it is.",
                _rmsprop_bias_corrected),
        Mistake("state reset on every call",
                "Create the average only when `state` is empty; keep it between calls.",
                _rmsprop_reset),
    ],
)


# -- Adam -------------------------------------------------------------------------

def _adam_parts(w, dw, state, beta1, beta2, t_offset=0, reset=False):
    if reset:
        state.clear()
    t = _zeros_like_state(state, w, "exp_avg", "exp_avg_sq") + t_offset
    state["exp_avg"] = beta1 * state["exp_avg"] + (1 - beta1) * dw
    state["exp_avg_sq"] = beta2 * state["exp_avg_sq"] + (1 - beta2) * dw * dw
    return t, state["exp_avg"], state["exp_avg_sq"]


def _adam_no_bias_correction(w, dw, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    _, m, v = _adam_parts(w, dw, state, beta1, beta2)
    return w - lr * m / (np.sqrt(v) + eps)


def _adam_t_after_use(w, dw, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    t, m, v = _adam_parts(w, dw, state, beta1, beta2, t_offset=-1)
    with np.errstate(all="ignore"):
        m_hat, v_hat = m / (1 - beta1 ** t), v / (1 - beta2 ** t)
        return w - lr * m_hat / (np.sqrt(v_hat) + eps)


def _adam_eps_inside(w, dw, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    t, m, v = _adam_parts(w, dw, state, beta1, beta2)
    return w - lr * (m / (1 - beta1 ** t)) / np.sqrt(v / (1 - beta2 ** t) + eps)


def _adam_eps_before_correction(w, dw, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    t, m, v = _adam_parts(w, dw, state, beta1, beta2)
    return w - lr * (m / (1 - beta1 ** t)) / ((np.sqrt(v) + eps) / np.sqrt(1 - beta2 ** t))


def _adam_betas_swapped(w, dw, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    t, m, v = _adam_parts(w, dw, state, beta2, beta1)
    return w - lr * (m / (1 - beta2 ** t)) / (np.sqrt(v / (1 - beta1 ** t)) + eps)


def _adam_reset(w, dw, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    t, m, v = _adam_parts(w, dw, state, beta1, beta2, reset=True)
    return w - lr * (m / (1 - beta1 ** t)) / (np.sqrt(v / (1 - beta2 ** t)) + eps)


def _adam_m_uncorrected(w, dw, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    t, m, v = _adam_parts(w, dw, state, beta1, beta2)
    return w - lr * m / (np.sqrt(v / (1 - beta2 ** t)) + eps)


def _adam_v_uncorrected(w, dw, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    t, m, v = _adam_parts(w, dw, state, beta1, beta2)
    return w - lr * (m / (1 - beta1 ** t)) / (np.sqrt(v) + eps)


def _adam_v_with_g(w, dw, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    t = _zeros_like_state(state, w, "exp_avg", "exp_avg_sq")
    state["exp_avg"] = beta1 * state["exp_avg"] + (1 - beta1) * dw
    state["exp_avg_sq"] = beta2 * state["exp_avg_sq"] + (1 - beta2) * dw
    with np.errstate(all="ignore"):
        return w - lr * (state["exp_avg"] / (1 - beta1 ** t)) / (
            np.sqrt(state["exp_avg_sq"] / (1 - beta2 ** t)) + eps)


def _adam_t_ahead(w, dw, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    t, m, v = _adam_parts(w, dw, state, beta1, beta2, t_offset=1)
    return w - lr * (m / (1 - beta1 ** t)) / (np.sqrt(v / (1 - beta2 ** t)) + eps)


def _adam_compounding(w, dw, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    # the course sources' bug: the corrected averages stored back, corrected again next step
    t, m, v = _adam_parts(w, dw, state, beta1, beta2)
    state["exp_avg"], state["exp_avg_sq"] = m / (1 - beta1 ** t), v / (1 - beta2 ** t)
    return w - lr * state["exp_avg"] / (np.sqrt(state["exp_avg_sq"]) + eps)


ADAM_STATE = {"step": "step", "exp_avg": "exp_avg", "exp_avg_sq": "exp_avg_sq"}


def _adam_hyper(h):
    kw = {"lr": h.get("lr", 1e-3), "betas": (h.get("beta1", 0.9), h.get("beta2", 0.999)),
          "eps": h.get("eps", 1e-8)}
    if "weight_decay" in h:
        kw["weight_decay"] = h["weight_decay"]
    return kw


# The notes' Adam handed to the students has two bugs, the compounding correction and eps
# inside the root. Each part names the one its observations show (the state part sees no
# eps), so "the handed version unchanged" is not a separate entry: it would misname an
# answer that fixed the eps and kept the compounding.
ADAM_MISTAKES = [
    Mistake("Adam without bias correction",
            "Divide the averages by (1 - beta1**t) and (1 - beta2**t) before the update: "
            "m_hat = m / (1 - beta1**t), v_hat = v / (1 - beta2**t).", _adam_no_bias_correction),
    Mistake("t incremented after it is used",
            "Increment the step count first: the first update uses t = 1, so 1 - beta**t is "
            "never 0.", _adam_t_after_use),
    Mistake("eps inside the square root",
            "Adam adds eps after the square root: m_hat / (sqrt(v_hat) + eps).", _adam_eps_inside),
    Mistake("eps added before the bias correction of v",
            "Bias-correct v first, then take the square root, then add eps: sqrt(v_hat) + eps.",
            _adam_eps_before_correction),
    Mistake("beta1 and beta2 swapped",
            "beta1 (0.9) averages the gradient, beta2 (0.999) the squared gradient.",
            _adam_betas_swapped),
    Mistake("state reset on every call",
            "Create m, v and the step count only when `state` is empty; keep them between calls.",
            _adam_reset),
    Mistake("m used without its bias correction (m instead of m_hat)",
            "Correct both averages: the step uses m_hat = m / (1 - beta1**t).", _adam_m_uncorrected),
    Mistake("v used without its bias correction (v instead of v_hat)",
            "Correct both averages: the step uses v_hat = v / (1 - beta2**t).", _adam_v_uncorrected),
    Mistake("v updated with the gradient instead of its square",
            "The second moment averages squared gradients: (1 - beta2) * dw * dw.", _adam_v_with_g),
    Mistake("the bias correction one step ahead (t + 1 instead of t)",
            "Increment the step count once per call and correct with that t: the first step "
            "uses 1 - beta1**1.", _adam_t_ahead),
    Mistake("the bias-corrected averages stored back into the state (a correction that compounds)",
            "Keep m and v uncorrected in the state; compute m_hat and v_hat in local variables.",
            _adam_compounding),
]

adam = StepExercise(
    assignment=A, function="adam_step",
    reference=from_optimizer(Adam, {}, ADAM_STATE, hyper_map=_adam_hyper),
    state_keys=("step", "exp_avg", "exp_avg_sq"),
    plan={
        "first_step": StepPart(points=1, steps=1, observe=("w",),
                               hyper=({"lr": 0.1, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8},
                                      {"lr": 0.01, "beta1": 0.8, "beta2": 0.99, "eps": 0.1}),
                               hidden_hyper=({"lr": 0.05, "beta1": 0.5, "beta2": 0.9, "eps": 0.3},
                                             {"lr": 1e-3, "beta1": 0.95, "beta2": 0.9999,
                                              "eps": 1e-6})),
        "state": StepPart(points=1, steps=4, observe=("state",),
                          hyper=({"lr": 0.01, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8},),
                          hidden_hyper=({"lr": 0.1, "beta1": 0.5, "beta2": 0.9, "eps": 1e-3},
                                        {"lr": 0.01, "beta1": 0.99, "beta2": 0.95, "eps": 1e-8})),
        "trajectory": StepPart(points=2, steps=30, observe=("w",),
                               hyper=({"lr": 0.01, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8},
                                      {"lr": 0.05, "beta1": 0.8, "beta2": 0.99, "eps": 0.05}),
                               hidden_hyper=({"lr": 0.02, "beta1": 0.7, "beta2": 0.9, "eps": 1e-6},
                                             {"lr": 0.1, "beta1": 0.95, "beta2": 0.999,
                                              "eps": 0.2},
                                             {"lr": 0.003, "beta1": 0.9, "beta2": 0.999,
                                              "eps": 1e-8})),
    },
    mistakes=ADAM_MISTAKES,
)


# -- derive: Adam's step under noisy gradients ----------------------------------------

def _steady_step(mu, sigma, lr, eps=1e-8):
    """lr E[m_hat] / (sqrt(E[v_hat]) + eps) at large t for g ~ N(mu, sigma^2): E[m_hat] = mu,
    E[v_hat] = E[g^2] = mu^2 + sigma^2 (Kingma & Ba, section 2.1's signal-to-noise reading)."""
    return float(lr * mu / (math.sqrt(mu * mu + sigma * sigma) + eps))


def _ss_variant(kind):
    def f(mu, sigma, lr, eps=1e-8):
        if kind == "snr":
            return lr * mu / (sigma + eps) if sigma else lr * math.copysign(1.0, mu) * (mu != 0)
        if kind == "sign":
            return lr * (mu > 0) - lr * (mu < 0)
        if kind == "no_sqrt":
            return lr * mu / (mu * mu + sigma * sigma + eps)
        if kind == "std_added":
            return lr * mu / (abs(mu) + sigma + eps)
        if kind == "abs":
            return abs(_steady_step(mu, sigma, lr, eps))
        raise AssertionError(kind)
    return f


def _ss_calls(specs):
    return tuple((", ".join(f"{k}={v}" for k, v in spec.items()), (spec,)) for spec in specs)


SS = [{"mu": 1.0, "sigma": 2.0, "lr": 0.1, "eps": 1e-8},
      {"mu": -0.3, "sigma": 0.4, "lr": 0.01, "eps": 1e-8},
      {"mu": 2.0, "sigma": 0.0, "lr": 0.5, "eps": 0.1},      # no noise: the constant gradient
      {"mu": 0.0, "sigma": 3.0, "lr": 0.1, "eps": 1e-8}]     # pure noise: no drift
SS_HIDDEN = [{"mu": 0.05, "sigma": 2.0, "lr": 0.3, "eps": 1e-8},
             {"mu": -4.0, "sigma": 3.0, "lr": 1e-3, "eps": 1e-8},
             {"mu": 1e-3, "sigma": 0.0, "lr": 0.2, "eps": 1e-3},
             {"mu": 0.7, "sigma": 0.7, "lr": 0.05, "eps": 0.5}]

steady_step = FunctionExercise(
    assignment=A, function="adam_steady_step", reference=_steady_step,
    describe_call=lambda kw: "the steady-state step",
    plan={"values": FunctionPart(2, _ss_calls(SS), _ss_calls(SS_HIDDEN))},
    mistakes=[
        Mistake("the signal-to-noise ratio mu / sigma (v taken as the variance, without the "
                "mean)", "v averages g^2, whose expectation is mu^2 + sigma^2, the second moment "
                "about 0, not the variance.", _ss_variant("snr")),
        Mistake("the constant-gradient reading: a step of lr in the direction of mu",
                "That holds without noise only; with noise E[v_hat] = mu^2 + sigma^2 grows "
                "and the step shrinks.", _ss_variant("sign")),
        Mistake("v used without its square root", "The step divides by sqrt(v_hat) + eps.",
                _ss_variant("no_sqrt")),
        Mistake("|mu| + sigma in the denominator", "sqrt(E[g^2]) = sqrt(mu^2 + sigma^2), "
                "not |mu| + sigma.", _ss_variant("std_added")),
        Mistake("the sign of the step lost", "The step points along mu: negative mu, "
                "negative step (the update subtracts it).", _ss_variant("abs")),
    ])


# -- AdamW ----------------------------------------------------------------------

def _reference_adam(w, dw, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    t, m, v = _adam_parts(w, dw, state, beta1, beta2)
    return w - lr * (m / (1 - beta1 ** t)) / (np.sqrt(v / (1 - beta2 ** t)) + eps)


def _adamw_variant(decay, adam=_reference_adam):
    """AdamW written around ``adam`` (the reference's Adam, or the student's own
    adam_step), with the decay done right ("decoupled") or in one of the wrong ways."""
    def step(w, dw, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=1e-2):
        kw = dict(lr=lr, beta1=beta1, beta2=beta2, eps=eps)
        if decay == "decoupled":
            return adam(w * (1 - lr * weight_decay), dw, state, **kw)
        if decay == "l2":
            return adam(w, dw + weight_decay * w, state, **kw)
        if decay == "unscaled":
            return adam(w - weight_decay * w, dw, state, **kw)
        if decay == "after":
            return adam(w, dw, state, **kw) * (1 - lr * weight_decay)
        if decay == "none":
            return adam(w, dw, state, **kw)
        raise AssertionError(decay)
    return step


def _inside_adamw(mistake: Mistake) -> Mistake:
    """An Adam mistake as it shows up in an AdamW that writes its own Adam step."""
    def step(w, dw, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=1e-2):
        return mistake.implementation(w * (1 - lr * weight_decay), dw, state, lr=lr, beta1=beta1,
                                      beta2=beta2, eps=eps)
    return Mistake(f"{mistake.name} (in the Adam step under the decay)", mistake.hint, step)


DECAY_MISTAKES = [
    ("l2", "an L2 penalty added to the gradient (Adam with L2, not AdamW)",
     "AdamW decays the weights directly, outside the adaptive update: "
     "w = w - lr * weight_decay * w, then the Adam step on the plain gradient."),
    ("unscaled", "weight decay not scaled by the learning rate",
     "torch's AdamW (and this course) multiply the decay by the learning rate: "
     "w = w * (1 - lr * weight_decay)."),
    ("after", "weight decay applied to the already-updated weights",
     "Decay the weights from before the step: w * (1 - lr * weight_decay) - update."),
    ("none", "no weight decay at all",
     "AdamW must shrink the weights every step by lr * weight_decay * w."),
]


@dataclass
class AdamWExercise(StepExercise):
    """AdamW graded for its own part, the decoupled decay (issue 11, blame).

    An adamw_step that calls the student's own adam_step is compared with the
    decay done right around THAT adam_step, so a mistake in Adam costs points
    once, in adam_step's tests, and not again here; the decay's own mistakes
    are named whichever Adam step sits under them."""

    needs: tuple[str, ...] = ("adam_step",)

    def check_case(self, fn, case):
        mismatch = super().check_case(fn, case)
        adam = self.partners.get("adam_step")
        if mismatch is None or adam is None or mismatch.problem in ("error", "not-implemented"):
            return mismatch
        actual = self.play(fn, case)
        own = self.play(_adamw_variant("decoupled", adam), case)
        found = first_difference(own, actual)
        if found is None:
            return None  # the decay is right; what differs is the student's Adam, graded there
        if first_difference(self.play(self.reference, case), own) is not None:
            # the student's Adam is not the reference's: measure the decay against it
            found.case = mismatch.case
            found.extra.append("The expected values here are your own adam_step's under the "
                               "right decay: your Adam is graded in its own tests, not here.")
            mismatch = found
        if mismatch.mistake is None:
            for kind, name, hint in DECAY_MISTAKES:
                if first_difference(self.play(_adamw_variant(kind, adam), case), actual) is None:
                    mismatch.mistake, mismatch.hint = f"{name} (around your adam_step)", hint
                    break
        return mismatch


adamw = AdamWExercise(
    assignment=A, function="adamw_step",
    reference=from_optimizer(AdamW, {}, ADAM_STATE, hyper_map=_adam_hyper),
    state_keys=("step", "exp_avg", "exp_avg_sq"),
    plan={
        # weight_decay = 0 is a branch too: AdamW is then Adam
        "decoupled_decay": StepPart(
            points=2, steps=20, observe=("w",),
            hyper=({"lr": 0.1, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.1},
                   {"lr": 0.05, "beta1": 0.8, "beta2": 0.99, "eps": 0.01, "weight_decay": 0.5},
                   {"lr": 0.05, "beta1": 0.9, "beta2": 0.99, "eps": 1e-8, "weight_decay": 0.0}),
            hidden_hyper=({"lr": 0.2, "beta1": 0.9, "beta2": 0.99, "eps": 1e-6,
                           "weight_decay": 0.05},
                          {"lr": 0.01, "beta1": 0.5, "beta2": 0.9, "eps": 0.1,
                           "weight_decay": 1.0},
                          {"lr": 0.1, "beta1": 0.8, "beta2": 0.999, "eps": 1e-8,
                           "weight_decay": 0.0}),
            grad_scale=0.1),
    },
    mistakes=[Mistake(name, hint, _adamw_variant(kind)) for kind, name, hint in DECAY_MISTAKES]
    + [_inside_adamw(m) for m in ADAM_MISTAKES],
)

# -- find the bug: AMSGrad ------------------------------------------------------------

def _amsgrad(max_of="v", eps_inside=False, no_max=False):
    """AMSGrad variants: torch's (max over the raw v, corrected after), and the bugs."""
    def step(w, dw, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
        t, m, v = _adam_parts(w, dw, state, beta1, beta2)
        state.setdefault("max_exp_avg_sq", np.zeros_like(w))
        if no_max:
            kept = v / (1 - beta2 ** t)
        elif max_of == "v_hat":
            state["max_exp_avg_sq"] = np.maximum(state["max_exp_avg_sq"], v / (1 - beta2 ** t))
            kept = state["max_exp_avg_sq"]
        else:
            state["max_exp_avg_sq"] = np.maximum(state["max_exp_avg_sq"], v)
            kept = state["max_exp_avg_sq"] / (1 - beta2 ** t)
        m_hat = m / (1 - beta1 ** t)
        return w - lr * m_hat / (np.sqrt(kept + eps) if eps_inside else np.sqrt(kept) + eps)
    return step


AMSGRAD_STATE = {**ADAM_STATE, "max_exp_avg_sq": "max_exp_avg_sq"}


def _amsgrad_hyper(h):
    return {**_adam_hyper(h), "amsgrad": True}


amsgrad = StepExercise(
    assignment=A, function="amsgrad_step",
    reference=from_optimizer(Adam, {}, AMSGRAD_STATE, hyper_map=_amsgrad_hyper),
    state_keys=("step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"),
    plan={
        # gradients that shrink, so v falls below its maximum and the max matters
        "fixed": StepPart(points=2, steps=30, observe=("w", "state"),
                          hyper=({"lr": 0.01, "beta1": 0.9, "beta2": 0.99, "eps": 1e-3},
                                 {"lr": 0.05, "beta1": 0.8, "beta2": 0.9, "eps": 1e-8}),
                          hidden_hyper=({"lr": 0.02, "beta1": 0.7, "beta2": 0.95, "eps": 1e-6},
                                        {"lr": 0.1, "beta1": 0.9, "beta2": 0.999, "eps": 0.1})),
    },
    mistakes=[
        Mistake("the handed version unchanged (max over v_hat, eps inside the square root)",
                "Two lines are wrong: keep the maximum of the raw v and bias-correct it after, "
                "and add eps after the square root.", _amsgrad("v_hat", eps_inside=True)),
        Mistake("the maximum kept over the bias-corrected v_hat instead of v",
                "torch keeps max(v) in state['max_exp_avg_sq'] and divides by 1 - beta2**t "
                "afterwards; the maximum of v_hat remembers the large early corrections.",
                _amsgrad("v_hat")),
        Mistake("eps inside the square root",
                "AMSGrad, like Adam, adds eps after the square root.", _amsgrad(eps_inside=True)),
        Mistake("plain Adam: the running maximum not used in the step",
                "Divide by the square root of the (corrected) running maximum, not of v_hat.",
                _amsgrad(no_max=True)),
    ],
)


# -- find the bug: Adadelta -------------------------------------------------------------

def _adadelta(eps_outside=False, lr_accumulated=False, u_with_g=False):
    """Adadelta as torch writes it, and the notes' bugs one at a time or together."""
    def step(w, dw, state, lr=1.0, rho=0.9, eps=1e-6):
        _zeros_like_state(state, w, "square_avg", "acc_delta")
        state["square_avg"] = rho * state["square_avg"] + (1 - rho) * dw * dw
        if eps_outside:
            delta = (np.sqrt(state["acc_delta"]) + eps) / (np.sqrt(state["square_avg"]) + eps) * dw
        else:
            delta = np.sqrt(state["acc_delta"] + eps) / np.sqrt(state["square_avg"] + eps) * dw
        stored = lr * delta if lr_accumulated else (dw if u_with_g else delta)
        state["acc_delta"] = rho * state["acc_delta"] + (1 - rho) * stored * stored
        return w - lr * delta
    return step


ADADELTA_STATE = {"step": "step", "square_avg": "square_avg", "acc_delta": "acc_delta"}

adadelta = StepExercise(
    assignment=A, function="adadelta_step",
    reference=from_optimizer(Adadelta, {}, ADADELTA_STATE),
    state_keys=("step", "square_avg", "acc_delta"),
    plan={
        # lr != 1 first, then lr = 1 (torch's default), where a learning rate inside the
        # accumulator is invisible: the first failing case must tell the bugs apart
        "fixed": StepPart(points=2, steps=30, observe=("w", "state"),
                          hyper=({"lr": 0.5, "rho": 0.95, "eps": 1e-4},
                                 {"lr": 1.0, "rho": 0.9, "eps": 1e-6}),
                          hidden_hyper=({"lr": 2.0, "rho": 0.8, "eps": 1e-6},
                                        {"lr": 0.1, "rho": 0.99, "eps": 1e-3},
                                        {"lr": 1.0, "rho": 0.5, "eps": 1e-2})),
    },
    mistakes=[
        Mistake("the handed version unchanged (eps outside the square roots, and the learning "
                "rate inside the accumulated update)",
                "Two things are wrong: Adadelta adds eps INSIDE both square roots, "
                "sqrt(u + eps) / sqrt(v + eps), and the learning rate scales only the step "
                "applied to w; u accumulates the unscaled delta**2.",
                _adadelta(eps_outside=True, lr_accumulated=True)),
        Mistake("eps added after the square roots (Adam's habit)",
                "Adadelta, as Zeiler and torch write it, takes sqrt(u + eps) and sqrt(v + eps): "
                "eps inside both roots, which also starts the first step at sqrt(eps).",
                _adadelta(eps_outside=True)),
        Mistake("the learning rate inside the accumulated update",
                "u accumulates the unscaled delta**2; lr multiplies only the step applied to w "
                "(with lr = 1 the two agree, which is why the bug hides at the default).",
                _adadelta(lr_accumulated=True)),
        Mistake("the update accumulator fed with the gradient instead of the update",
                "u averages the squared UPDATES delta**2 (Zeiler's units argument), not g**2.",
                _adadelta(u_with_g=True)),
    ],
)


# -- find the bug: NAdam --------------------------------------------------------------

def _nadam(compounding=False, no_lookahead=False, half_lookahead=False, m_bias_corrected=False):
    """NAdam as torch writes it (Dozat 2016), and the notes' bugs."""
    def step(w, dw, state, lr=2e-3, beta1=0.9, beta2=0.999, eps=1e-8, momentum_decay=4e-3):
        t = _zeros_like_state(state, w, "exp_avg", "exp_avg_sq")
        state.setdefault("mu_product", np.float32(1.0))
        mu = beta1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))
        mu_next = beta1 * (1 - 0.5 * 0.96 ** ((t + 1) * momentum_decay))
        state["mu_product"] = np.float32(np.float32(state["mu_product"]) * np.float32(mu))
        product = float(state["mu_product"])
        state["exp_avg"] = beta1 * state["exp_avg"] + (1 - beta1) * dw
        state["exp_avg_sq"] = beta2 * state["exp_avg_sq"] + (1 - beta2) * dw * dw
        v_hat = state["exp_avg_sq"] / (1 - beta2 ** t)
        if compounding:
            state["exp_avg_sq"] = v_hat
        m = state["exp_avg"] / (1 - beta1 ** t) if m_bias_corrected else state["exp_avg"]
        denom = np.sqrt(v_hat) + eps
        ahead, ahead_product = (mu, product) if no_lookahead else (mu_next, product * mu_next)
        if half_lookahead:
            ahead_product = product
        with np.errstate(all="ignore"):
            return (w - lr * (1 - mu) / (1 - product) * dw / denom
                    - lr * ahead / (1 - ahead_product) * m / denom)
    return step


def _nadam_hyper(h):
    return {"lr": h.get("lr", 2e-3), "betas": (h.get("beta1", 0.9), h.get("beta2", 0.999)),
            "eps": h.get("eps", 1e-8), "momentum_decay": h.get("momentum_decay", 4e-3)}


NADAM_STATE = {"step": "step", "mu_product": "mu_product", **ADAM_STATE}

nadam = StepExercise(
    assignment=A, function="nadam_step",
    reference=from_optimizer(NAdam, {}, NADAM_STATE, hyper_map=_nadam_hyper),
    state_keys=("step", "mu_product", "exp_avg", "exp_avg_sq"),
    plan={
        "fixed": StepPart(points=2, steps=30, observe=("w", "state"),
                          hyper=({"lr": 0.01, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8,
                                  "momentum_decay": 4e-3},
                                 {"lr": 0.05, "beta1": 0.8, "beta2": 0.99, "eps": 1e-3,
                                  "momentum_decay": 0.1}),
                          hidden_hyper=({"lr": 0.002, "beta1": 0.95, "beta2": 0.9, "eps": 1e-6,
                                         "momentum_decay": 4e-3},
                                        {"lr": 0.1, "beta1": 0.7, "beta2": 0.999, "eps": 0.01,
                                         "momentum_decay": 0.0})),
    },
    mistakes=[
        Mistake("the handed version unchanged (the correction of v compounds, and the momentum "
                "term does not look ahead)",
                "Two things are wrong: keep v uncorrected in the state (divide by "
                "1 - beta2**t into a local v_hat), and weigh m with mu_{t+1} / (1 - Pi_t mu_{t+1}), "
                "the next step's momentum, which is what makes NAdam Nesterov's.",
                _nadam(compounding=True, no_lookahead=True)),
        Mistake("the bias-corrected v stored back into the state (a correction that compounds)",
                "Keep exp_avg_sq uncorrected in the state; compute v_hat in a local variable.",
                _nadam(compounding=True)),
        Mistake("no look-ahead: the momentum term weighed with mu_t instead of mu_{t+1}",
                "NAdam's momentum term uses the NEXT step's coefficient: "
                "lr * mu_{t+1} / (1 - Pi_t * mu_{t+1}) * m / denom.",
                _nadam(no_lookahead=True)),
        Mistake("the look-ahead's product left at Pi_t (mu_{t+1} / (1 - Pi_t) instead of "
                "mu_{t+1} / (1 - Pi_t mu_{t+1}))",
                "The momentum term looks one step ahead in both places: its coefficient is "
                "mu_{t+1} and its correction 1 - Pi_t * mu_{t+1}.", _nadam(half_lookahead=True)),
        Mistake("m bias-corrected as in Adam on top of NAdam's own correction",
                "NAdam corrects m through the momentum product: use the raw m in "
                "mu_{t+1} / (1 - Pi_t mu_{t+1}) * m.", _nadam(m_bias_corrected=True)),
    ],
)

EXERCISES = [adagrad, rmsprop, adam, steady_step, adamw, amsgrad, adadelta, nadam]
