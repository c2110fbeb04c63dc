"""Demo submissions for ps2_momentum (see descentlab.grading.demo)."""

from descentlab.grading.demo import Submission

SGD = '''
if "momentum_buffer" not in state:
    state["momentum_buffer"] = dw.copy()
else:
    state["momentum_buffer"] = momentum * state["momentum_buffer"] + (1 - dampening) * dw
return w - lr * state["momentum_buffer"]
'''

CLASSIC = '''
v = state.get("velocity", np.zeros_like(w))
state["velocity"] = momentum * v - lr * dw
return w + state["velocity"]
'''

NESTEROV = '''
b = state.get("momentum_buffer")
b = dw.copy() if b is None else momentum * b + dw
state["momentum_buffer"] = b
return w - lr * (dw + momentum * b)
'''

STABLE = "return 2 * (1 + momentum) / curvature"
HB_LR = "return (2.0 / (np.sqrt(L) + np.sqrt(m))) ** 2"
HB_MU = "r = np.sqrt(L / m)\nreturn ((r - 1) / (r + 1)) ** 2"
HB_RATE = "r = np.sqrt(L / m)\nreturn (r - 1) / (r + 1)"
LOCAL_GAINS = '''
if not state:
    state.update(gain=np.ones_like(w), prev_grad=np.zeros_like(w))
product = dw * state["prev_grad"]
gain = state["gain"]
gain = np.where(product > 0, gain + beta, np.where(product < 0, gain * (1 - beta), gain))
state["gain"] = np.clip(gain, gain_min, gain_max)
state["prev_grad"] = dw.copy()
return w - lr * state["gain"] * dw
'''
# the handed implementation of part 6, as given (two bugs)
HANDED = '''
if not state:
    state.update(gain=np.ones_like(w), prev_grad=np.zeros_like(w))
w = w - lr * state["gain"] * dw
same_sign = dw * state["prev_grad"] > 0
state["gain"] = np.where(same_sign, state["gain"] + beta, state["gain"] * (1 - beta))
state["gain"] = np.clip(state["gain"], gain_min, gain_max)
state["prev_grad"] = dw.copy()
return w
'''
NEW = {"heavy_ball_lr": HB_LR, "heavy_ball_momentum": HB_MU, "heavy_ball_rate": HB_RATE,
       "local_gains_step": LOCAL_GAINS}

SUBMISSIONS = {
    "noor": Submission(
        "dampens the very first gradient, as if the buffer started at zero",
        answers={**NEW, "local_gains_step": HANDED.replace(
            "w = w - lr * state[\"gain\"] * dw\n", "").replace(
            "return w", "return w - lr * state[\"gain\"] * dw"),
            "max_stable_lr": STABLE, "sgd_momentum_step": '''
b = state.get("momentum_buffer", np.zeros_like(w))
state["momentum_buffer"] = momentum * b + (1 - dampening) * dw
return w - lr * state["momentum_buffer"]
''', "classic_momentum_step": CLASSIC, "nesterov_step": NESTEROV},
        breaks=["test_sgd_momentum_step_first_step", "test_sgd_momentum_step_dampening",
                "test_sgd_momentum_step_changing_lr", "test_local_gains_step_first_step",
                "test_local_gains_step_trajectory", "test_local_gains_step_clipping"],
        mentions=["dampening applied on the first step",
                  "a zero product treated as a sign flip"]),
    "tomas": Submission(
        "subtracts the momentum term in Nesterov's direction, and keeps GD's 2/h with momentum",
        answers={**NEW, "max_stable_lr": "return 2 / curvature", "sgd_momentum_step": SGD, "classic_momentum_step": CLASSIC,
                 "nesterov_step": NESTEROV.replace("dw + momentum * b", "dw - momentum * b"),
                 "heavy_ball_momentum": "r = np.sqrt(L / m)\nreturn (r - 1) / (r + 1)",
                 "heavy_ball_rate": "return (L - m) / (L + m)"},
        breaks=["test_nesterov_step_trajectory", "test_max_stable_lr_derived",
                "test_heavy_ball_momentum_derived", "test_heavy_ball_rate_derived"],
        mentions=["Nesterov with the wrong sign", "gradient descent's bound 2/h",
                  "(sqrt(kappa) - 1) / (sqrt(kappa) + 1), not squared",
                  "(kappa - 1) / (kappa + 1), gradient descent's factor"]),
    "lena": Submission(
        "writes the classic form with PyTorch's learning rate outside the velocity; "
        "right while the rate is constant, wrong once it changes; bounds eta / (1 - mu) by 2/h",
        answers={**NEW, "heavy_ball_lr": "return 2 / (m + L)",
                 "local_gains_step": LOCAL_GAINS.replace(
                     "gain = state[\"gain\"]\n", "gain = state[\"gain\"]\nw_next = w - lr * gain * dw\n").replace(
                     "return w - lr * state[\"gain\"] * dw", "return w_next"),
                 "max_stable_lr": "return 2 * (1 - momentum) / curvature", "sgd_momentum_step": SGD, "nesterov_step": NESTEROV,
                 "classic_momentum_step": '''
b = state.get("buffer")
b = dw.copy() if b is None else momentum * b + dw
state["buffer"] = b
state["velocity"] = -lr * b
return w + state["velocity"]
'''},
        breaks=["test_classic_momentum_step_changing_lr", "test_max_stable_lr_derived",
                "test_heavy_ball_lr_derived", "test_local_gains_step_trajectory"],
        mentions=["the learning rate outside the velocity", "the effective rate eta / (1 - mu)",
                  "2 / (m + L), gradient descent's best step", "the step taken with the old gain"]),
    "kofi": Submission(
        "ignores dampening",
        answers={**NEW, "local_gains_step": HANDED, "max_stable_lr": "return (2.0 + 2.0 * momentum) / curvature", "sgd_momentum_step": SGD.replace("(1 - dampening) * dw", "dw"),
                 "classic_momentum_step": CLASSIC, "nesterov_step": NESTEROV},
        breaks=["test_sgd_momentum_step_dampening", "test_sgd_momentum_step_changing_lr",
                "test_local_gains_step_first_step", "test_local_gains_step_trajectory",
                "test_local_gains_step_clipping"],
        mentions=["dampening ignored", "both bugs of the handed implementation left in"]),
    "mira": Submission(
        "correct, written differently: in-place buffers and a loop over coordinates",
        answers={"max_stable_lr": "eta_h = 2 * (momentum + 1)  # the root of z^2 - (1+mu-eta h) z + mu at z = -1\nreturn float(eta_h * curvature ** -1)",
            "heavy_ball_lr": "import math\nreturn 4 / (L + m + 2 * math.sqrt(L * m))",
            "heavy_ball_momentum": "kappa = L / m\nroot = 1 - 2 / (1 + kappa ** 0.5)\nreturn root * root",
            "heavy_ball_rate": "from math import sqrt\nreturn (sqrt(L) - sqrt(m)) / (sqrt(L) + sqrt(m))",
            "local_gains_step": '''
k = state.setdefault("gain", np.ones_like(w))
prev = state.setdefault("prev_grad", np.zeros_like(w))
agree = np.sign(dw) * np.sign(prev)
k[agree > 0] += beta
k[agree < 0] *= 1 - beta
np.clip(k, gain_min, gain_max, out=k)
prev[...] = dw
return w - lr * k * dw
''',
            
            "sgd_momentum_step": '''
if "momentum_buffer" in state:
    b = state["momentum_buffer"]
    b *= momentum
    b += dw * (1.0 - dampening)
else:
    state["momentum_buffer"] = np.array(dw, copy=True)
return w - state["momentum_buffer"] * lr
''',
            "classic_momentum_step": '''
v = state.setdefault("velocity", np.zeros_like(w))
out = np.empty_like(w)
for i in np.ndindex(w.shape):
    v[i] = momentum * v[i] - lr * dw[i]
    out[i] = w[i] + v[i]
return out
''',
            "nesterov_step": '''
prev = state.get("momentum_buffer")
state["momentum_buffer"] = dw + (0 if prev is None else momentum * prev)
return w - lr * dw - lr * momentum * state["momentum_buffer"]
'''},
        breaks=[]),
    "rex": Submission(
        "hands Nesterov to torch.optim.SGD",
        answers={**NEW, "max_stable_lr": STABLE, "sgd_momentum_step": SGD, "classic_momentum_step": CLASSIC,
                 "nesterov_step": '''
import torch
t = torch.tensor(w, requires_grad=True)
opt = torch.optim.SGD([t], lr=lr, momentum=momentum, nesterov=True)
if state:
    opt.state[t]["momentum_buffer"] = torch.tensor(state["momentum_buffer"])
t.grad = torch.tensor(dw)
opt.step()
state["momentum_buffer"] = opt.state[t]["momentum_buffer"].numpy().copy()
return t.detach().numpy().copy()
'''},
        breaks=["test_nesterov_step_trajectory", "test_nesterov_step_state"],
        mentions=["no credit"],
        flags=["reference-call"]),
    "vic": Submission(
        "gets the classic velocity's sign wrong and deletes the tests that show it; "
        "nbgrader puts them back",
        answers={**NEW, "local_gains_step": LOCAL_GAINS.replace(
                     "state[\"gain\"] = np.clip(gain, gain_min, gain_max)", "state[\"gain\"] = gain"),
                 "max_stable_lr": STABLE, "sgd_momentum_step": SGD, "nesterov_step": NESTEROV,
                 "classic_momentum_step": '''
v = state.get("velocity", np.zeros_like(w))
state["velocity"] = momentum * v + lr * dw
return w + state["velocity"]
'''},
        test_edits={"test_classic_momentum_step_trajectory": None,
                    "test_classic_momentum_step_state": None,
                    "test_classic_momentum_step_changing_lr": None},
        breaks=["test_classic_momentum_step_trajectory", "test_classic_momentum_step_state",
                "test_classic_momentum_step_changing_lr", "test_local_gains_step_trajectory",
                "test_local_gains_step_clipping"],
        mentions=["the gains not clipped to [gain_min, gain_max]"]),
}
