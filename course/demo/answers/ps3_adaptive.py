"""Demo submissions for ps3_adaptive: the mistakes students really make, and two cheats.

Each entry is a student's answer-cell code (the body that replaces the stub),
plus what grading must make of it: the test cells it fails and the phrases
its feedback must contain.  See descentlab.grading.demo.
"""

from descentlab.grading.demo import Submission

ADAGRAD = '''
if not state:
    state["step"] = 0
    state["sum"] = np.zeros_like(w)
state["step"] += 1
state["sum"] = state["sum"] + dw * dw
return w - lr * dw / (np.sqrt(state["sum"]) + eps)
'''

RMSPROP = '''
if not state:
    state["step"] = 0
    state["square_avg"] = np.zeros_like(w)
state["step"] += 1
state["square_avg"] = alpha * state["square_avg"] + (1 - alpha) * dw**2
return w - lr * dw / (np.sqrt(state["square_avg"]) + eps)
'''

ADAM = '''
if "step" not in state:
    state.update(step=0, exp_avg=np.zeros_like(w), exp_avg_sq=np.zeros_like(w))
state["step"] += 1
t = state["step"]
state["exp_avg"] = beta1 * state["exp_avg"] + (1 - beta1) * dw
state["exp_avg_sq"] = beta2 * state["exp_avg_sq"] + (1 - beta2) * dw**2
m_hat = state["exp_avg"] / (1 - beta1**t)
v_hat = state["exp_avg_sq"] / (1 - beta2**t)
return w - lr * m_hat / (np.sqrt(v_hat) + eps)
'''

ADAM_NO_BIAS_CORRECTION = '''
if "step" not in state:
    state.update(step=0, exp_avg=np.zeros_like(w), exp_avg_sq=np.zeros_like(w))
state["step"] += 1
state["exp_avg"] = beta1 * state["exp_avg"] + (1 - beta1) * dw
state["exp_avg_sq"] = beta2 * state["exp_avg_sq"] + (1 - beta2) * dw**2
return w - lr * state["exp_avg"] / (np.sqrt(state["exp_avg_sq"]) + eps)
'''

ADAM_COMPOUNDING = ADAM.replace('''m_hat = state["exp_avg"] / (1 - beta1**t)
v_hat = state["exp_avg_sq"] / (1 - beta2**t)
return w - lr * m_hat / (np.sqrt(v_hat) + eps)''', '''state["exp_avg"] = state["exp_avg"] / (1 - beta1**t)
state["exp_avg_sq"] = state["exp_avg_sq"] / (1 - beta2**t)
return w - lr * state["exp_avg"] / (np.sqrt(state["exp_avg_sq"]) + eps)''')
assert ADAM_COMPOUNDING != ADAM

ADAMW = '''
w = w - lr * weight_decay * w
return adam_step(w, dw, state, lr, beta1, beta2, eps)
'''

AMSGRAD = '''
if not state:
    state.update(step=0, exp_avg=np.zeros_like(w), exp_avg_sq=np.zeros_like(w),
                 max_exp_avg_sq=np.zeros_like(w))
state["step"] += 1
t = state["step"]
state["exp_avg"] = beta1 * state["exp_avg"] + (1 - beta1) * dw
state["exp_avg_sq"] = beta2 * state["exp_avg_sq"] + (1 - beta2) * dw * dw
state["max_exp_avg_sq"] = np.maximum(state["max_exp_avg_sq"], state["exp_avg_sq"])
m_hat = state["exp_avg"] / (1 - beta1 ** t)
return w - lr * m_hat / (np.sqrt(state["max_exp_avg_sq"] / (1 - beta2 ** t)) + eps)
'''
# the handed version, unchanged, and with only its eps fixed
AMSGRAD_HANDED = AMSGRAD.replace('''state["max_exp_avg_sq"] = np.maximum(state["max_exp_avg_sq"], state["exp_avg_sq"])
m_hat = state["exp_avg"] / (1 - beta1 ** t)
return w - lr * m_hat / (np.sqrt(state["max_exp_avg_sq"] / (1 - beta2 ** t)) + eps)''', '''m_hat = state["exp_avg"] / (1 - beta1 ** t)
v_hat = state["exp_avg_sq"] / (1 - beta2 ** t)
state["max_exp_avg_sq"] = np.maximum(state["max_exp_avg_sq"], v_hat)
return w - lr * m_hat / np.sqrt(state["max_exp_avg_sq"] + eps)''')
AMSGRAD_MAX_OF_V_HAT = AMSGRAD_HANDED.replace("np.sqrt(state[\"max_exp_avg_sq\"] + eps)",
                                              "(np.sqrt(state[\"max_exp_avg_sq\"]) + eps)")
assert AMSGRAD != AMSGRAD_HANDED != AMSGRAD_MAX_OF_V_HAT

ADAM_HANDED = ADAM.replace('''m_hat = state["exp_avg"] / (1 - beta1**t)
v_hat = state["exp_avg_sq"] / (1 - beta2**t)
return w - lr * m_hat / (np.sqrt(v_hat) + eps)''', '''state["exp_avg"] /= 1 - beta1 ** t        # bias correction
state["exp_avg_sq"] /= 1 - beta2 ** t
return w - lr * state["exp_avg"] / np.sqrt(state["exp_avg_sq"] + eps)''')
assert ADAM_HANDED != ADAM

ADADELTA = '''
if not state:
    state.update(step=0, square_avg=np.zeros_like(w), acc_delta=np.zeros_like(w))
state["step"] += 1
state["square_avg"] = rho * state["square_avg"] + (1 - rho) * dw * dw
delta = np.sqrt(state["acc_delta"] + eps) / np.sqrt(state["square_avg"] + eps) * dw
state["acc_delta"] = rho * state["acc_delta"] + (1 - rho) * delta * delta
return w - lr * delta
'''
# the notes' version, unchanged; and with only its eps fixed (lr still inside the accumulator)
ADADELTA_HANDED = ADADELTA.replace(
    '''delta = np.sqrt(state["acc_delta"] + eps) / np.sqrt(state["square_avg"] + eps) * dw
state["acc_delta"] = rho * state["acc_delta"] + (1 - rho) * delta * delta
return w - lr * delta''',
    '''delta = lr * (np.sqrt(state["acc_delta"]) + eps) / (np.sqrt(state["square_avg"]) + eps) * dw
state["acc_delta"] = rho * state["acc_delta"] + (1 - rho) * delta * delta
return w - delta''')
ADADELTA_LR_INSIDE = ADADELTA.replace(
    '''delta = np.sqrt(state["acc_delta"] + eps) / np.sqrt(state["square_avg"] + eps) * dw
state["acc_delta"] = rho * state["acc_delta"] + (1 - rho) * delta * delta
return w - lr * delta''',
    '''delta = lr * np.sqrt(state["acc_delta"] + eps) / np.sqrt(state["square_avg"] + eps) * dw
state["acc_delta"] = rho * state["acc_delta"] + (1 - rho) * delta * delta
return w - delta''')
assert ADADELTA != ADADELTA_HANDED != ADADELTA_LR_INSIDE != ADADELTA

NADAM = '''
if not state:
    state.update(step=0, mu_product=np.float32(1.0), exp_avg=np.zeros_like(w),
                 exp_avg_sq=np.zeros_like(w))
state["step"] += 1
t = state["step"]
mu = beta1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))
mu_next = beta1 * (1 - 0.5 * 0.96 ** ((t + 1) * momentum_decay))
state["mu_product"] = np.float32(state["mu_product"] * np.float32(mu))
product = float(state["mu_product"])
state["exp_avg"] = beta1 * state["exp_avg"] + (1 - beta1) * dw
state["exp_avg_sq"] = beta2 * state["exp_avg_sq"] + (1 - beta2) * dw * dw
denom = np.sqrt(state["exp_avg_sq"] / (1 - beta2 ** t)) + eps
w = w - lr * (1 - mu) / (1 - product) * dw / denom
return w - lr * mu_next / (1 - product * mu_next) * state["exp_avg"] / denom
'''
# the compounding fixed, the look-ahead not: mu and Pi_t where mu_{t+1} and Pi_t mu_{t+1} belong
NADAM_NO_LOOKAHEAD = NADAM.replace(
    "lr * mu_next / (1 - product * mu_next)", "lr * mu / (1 - product)")
# m bias-corrected as in Adam, on top of NAdam's own correction through the products
NADAM_M_HAT = NADAM.replace("* state[\"exp_avg\"] / denom",
                            "* (state[\"exp_avg\"] / (1 - beta1 ** t)) / denom")
assert NADAM != NADAM_NO_LOOKAHEAD != NADAM_M_HAT != NADAM

NEW = {"adadelta_step": ADADELTA, "nadam_step": NADAM}
STEADY = "return lr * mu / (np.sqrt(mu**2 + sigma**2) + eps)"

SUBMISSIONS = {
    "noor": Submission(
        "forgets Adam's bias correction; her AdamW reuses her adam_step and decays right, so "
        "it keeps its points (the mistake costs points once, in Adam); fixes the notes' NAdam "
        "compounding but not its look-ahead",
        answers={"amsgrad_step": AMSGRAD, "adagrad_step": ADAGRAD, "rmsprop_step": RMSPROP,
                 "adam_step": ADAM_NO_BIAS_CORRECTION, "adamw_step": ADAMW,
                 "adadelta_step": ADADELTA, "nadam_step": NADAM_NO_LOOKAHEAD},
        breaks=["test_adam_step_first_step", "test_adam_step_trajectory",
                "test_nadam_step_fixed"],
        mentions=["Adam without bias correction", "no look-ahead"]),
    "tomas": Submission(
        "puts eps inside the square root in Adagrad and RMSprop, and hands in the notes' Adam, "
        "AMSGrad and Adadelta unchanged; his AdamW, around that Adam, decays right",
        answers={"amsgrad_step": AMSGRAD_HANDED, "adagrad_step": ADAGRAD.replace("(np.sqrt(state[\"sum\"]) + eps)",
                                                 "np.sqrt(state[\"sum\"] + eps)"),
                 "rmsprop_step": RMSPROP.replace("(np.sqrt(state[\"square_avg\"]) + eps)",
                                                 "np.sqrt(state[\"square_avg\"] + eps)"),
                 "adam_step": ADAM_HANDED, "adamw_step": ADAMW,
                 "adadelta_step": ADADELTA_HANDED, "nadam_step": NADAM},
        breaks=["test_adagrad_step_first_step", "test_adagrad_step_trajectory",
                "test_rmsprop_step_first_step", "test_rmsprop_step_trajectory",
                "test_amsgrad_step_fixed", "test_adam_step_first_step", "test_adam_step_state",
                "test_adam_step_trajectory", "test_adadelta_step_fixed"],
        mentions=["eps inside the square root", "the handed version unchanged",
                  "a correction that compounds",
                  "eps outside the square roots"]),
    "lena": Submission(
        "writes AdamW as Adam with an L2 penalty in the gradient, fixes only the eps of the "
        "notes' Adam (its correction still compounds) and only the eps of the notes' Adadelta "
        "(its learning rate is still inside the accumulator)",
        answers={"amsgrad_step": AMSGRAD, "adagrad_step": ADAGRAD, "rmsprop_step": RMSPROP, "adam_step": ADAM_COMPOUNDING,
                 "adamw_step": "return adam_step(w, dw + weight_decay * w, state, lr, beta1, beta2, eps)",
                 "adadelta_step": ADADELTA_LR_INSIDE, "nadam_step": NADAM,
                 # v's expectation taken as the variance: the signal-to-noise ratio mu / sigma
                 "adam_steady_step": "return lr * mu / (sigma + eps)"},
        breaks=["test_adam_step_state", "test_adam_step_trajectory",
                "test_adamw_step_decoupled_decay", "test_adadelta_step_fixed",
                "test_adam_steady_step_values"],
        mentions=["a correction that compounds", "the signal-to-noise ratio mu / sigma", "an L2 penalty added to the gradient",
                  "around your adam_step", "your own adam_step's under the right decay",
                  "the learning rate inside the accumulated update"]),
    "kofi": Submission(
        "re-creates RMSprop's state on every call, so the average never builds up; fixes only "
        "the eps of the handed AMSGrad; bias-corrects NAdam's m as in Adam; answers the "
        "noisy-gradient question with the constant-gradient step",
        answers={"amsgrad_step": AMSGRAD_MAX_OF_V_HAT, "adagrad_step": ADAGRAD,
                 "rmsprop_step": RMSPROP.replace("if not state:", "if True:"),
                 "adam_step": ADAM, "adamw_step": ADAMW,
                 "adadelta_step": ADADELTA, "nadam_step": NADAM_M_HAT,
                 "adam_steady_step": "return lr * np.sign(mu)"},
        breaks=["test_rmsprop_step_state", "test_rmsprop_step_trajectory",
                "test_amsgrad_step_fixed", "test_nadam_step_fixed", "test_adam_steady_step_values"],
        mentions=["state reset on every call", "the maximum kept over the bias-corrected v_hat",
                  "m bias-corrected as in Adam", "the constant-gradient reading"]),
    "mira": Submission(
        "correct, written differently: explicit loops, in-place updates, reordered algebra",
        answers={"amsgrad_step": '''
for key in ("exp_avg", "exp_avg_sq", "max_exp_avg_sq"):
    state.setdefault(key, np.zeros_like(w))
t = state["step"] = state.get("step", 0) + 1
state["exp_avg"] += (1 - beta1) * (dw - state["exp_avg"])
state["exp_avg_sq"] = beta2 * state["exp_avg_sq"] + (1 - beta2) * dw ** 2
np.fmax(state["max_exp_avg_sq"], state["exp_avg_sq"], out=state["max_exp_avg_sq"])
denom = np.sqrt(state["max_exp_avg_sq"]) / np.sqrt(1 - beta2 ** t) + eps
return w - (lr / (1 - beta1 ** t)) * state["exp_avg"] / denom
''', 
            "adagrad_step": '''
state.setdefault("sum", np.zeros_like(w))
state["step"] = state.get("step", 0) + 1
out = w.copy()
for i in np.ndindex(w.shape):
    state["sum"][i] += dw[i] ** 2
    out[i] -= lr / (state["sum"][i] ** 0.5 + eps) * dw[i]
return out
''',
            "rmsprop_step": '''
v = state.get("square_avg", np.zeros_like(w))
v *= alpha
v += (1 - alpha) * np.square(dw)
state["square_avg"] = v
state["step"] = state.get("step", 0) + 1
return w - dw * (lr / (eps + np.sqrt(v)))
''',
            "adam_step": '''
t = state.get("step", 0) + 1
m = state.get("exp_avg", 0 * w) * beta1 + dw * (1 - beta1)
v = state.get("exp_avg_sq", 0 * w) * beta2 + dw * dw * (1 - beta2)
state.update(step=t, exp_avg=m, exp_avg_sq=v)
step_size = lr * np.sqrt(1 - beta2**t) / (1 - beta1**t)
return w - step_size * m / (np.sqrt(v) + eps * np.sqrt(1 - beta2**t))
''',
            "adamw_step": ADAMW,
            "adam_steady_step": "return mu * (lr / (eps + np.hypot(mu, sigma)))",
            # Adadelta with in-place updates and the roots combined; NAdam with its product
            # kept in float64 and the two terms in one expression
            "adadelta_step": '''
v = state.setdefault("square_avg", np.zeros_like(w))
u = state.setdefault("acc_delta", np.zeros_like(w))
state["step"] = state.get("step", 0) + 1
v *= rho
v += (1 - rho) * dw ** 2
delta = np.sqrt((u + eps) / (v + eps)) * dw
u *= rho
u += (1 - rho) * delta ** 2
return w - lr * delta
''',
            "nadam_step": '''
t = state["step"] = state.get("step", 0) + 1
m = state["exp_avg"] = beta1 * state.get("exp_avg", np.zeros_like(w)) + (1 - beta1) * dw
v = state["exp_avg_sq"] = beta2 * state.get("exp_avg_sq", np.zeros_like(w)) + (1 - beta2) * dw**2
mu_t, mu_t1 = (beta1 * (1 - 0.5 * 0.96 ** (k * momentum_decay)) for k in (t, t + 1))
prod = state["mu_product"] = state.get("mu_product", 1.0) * mu_t
denom = np.sqrt(v / (1 - beta2 ** t)) + eps
return w - lr * ((1 - mu_t) / (1 - prod) * dw + mu_t1 / (1 - prod * mu_t1) * m) / denom
'''},
        breaks=[]),
    "rex": Submission(
        "calls descentlab's Adam instead of writing the update (no credit for those parts)",
        answers={"amsgrad_step": AMSGRAD, "adagrad_step": ADAGRAD, "rmsprop_step": RMSPROP,
                 **NEW, "adam_step": '''
from descentlab.optim import Adam
w = w.copy()
opt = Adam([w], lr=lr, betas=(beta1, beta2), eps=eps)
if state:
    opt.state[0].update(state)
opt.step([dw])
state.update(opt.state[0])
return w
''', "adamw_step": ADAMW},
        breaks=["test_adam_step_first_step", "test_adam_step_state", "test_adam_step_trajectory",
                "test_adamw_step_decoupled_decay"],
        mentions=["reference implementation", "no credit"],
        flags=["reference-call"]),
    "vic": Submission(
        "forgets the bias correction, then disables the checks from a cell of his own, blanks "
        "one test cell and deletes another; the tests are restored and the re-check outside "
        "the notebook takes the points back",
        answers={"amsgrad_step": AMSGRAD, "adagrad_step": ADAGRAD, "rmsprop_step": RMSPROP,
                 "adam_step": ADAM_NO_BIAS_CORRECTION, "adamw_step": ADAMW, **NEW},
        added_cells=['''
import descentlab.grading as _g
_g.check = lambda *args, **kwargs: print("passed")
check = _g.check
'''],
        test_edits={"test_adam_step_trajectory": "pass", "test_adam_step_first_step": None},
        breaks=["test_adam_step_first_step", "test_adam_step_trajectory"],
        mentions=["Adam without bias correction", "re-checked outside your notebook"],
        flags=["lowered"]),
}

# the derived part: right unless a student's entry says otherwise
for _sub in SUBMISSIONS.values():
    _sub.answers.setdefault("adam_steady_step", STEADY)
