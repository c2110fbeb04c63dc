"""Demo submissions for ps4_schedules_and_state (see descentlab.grading.demo)."""

from descentlab.grading.demo import Submission

WARMUP = '''
if t < warmup:
    return base_lr * (t + 1) / warmup
progress = (t - warmup) / (total - warmup)
return min_lr + (base_lr - min_lr) * (1 + math.cos(math.pi * progress)) / 2
'''
TRIANGULAR = '''
cycle = math.floor(1 + t / (2 * step_size))
x = abs(t / step_size - 2 * cycle + 1)
return base_lr + (max_lr - base_lr) * max(0.0, 1 - x)
'''
PLATEAU = '''
if not state:
    state.update(best=math.inf if mode == "min" else -math.inf, num_bad_epochs=0,
                 cooldown_counter=0)
sign = 1 if mode == "min" else -1
best = state["best"]
limit = best * (1 - sign * threshold) if threshold_mode == "rel" else best - sign * threshold
if sign * metric < sign * limit:
    state["best"], state["num_bad_epochs"] = metric, 0
else:
    state["num_bad_epochs"] += 1
if state["cooldown_counter"] > 0:
    state["cooldown_counter"] -= 1
    state["num_bad_epochs"] = 0
if state["num_bad_epochs"] > patience:
    lr, state["num_bad_epochs"] = max(lr * factor, min_lr), 0
    state["cooldown_counter"] = cooldown
return lr
'''
CHECKPOINT = '''
return {"w": w.copy(), "step": step,
        "state": {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in state.items()}}
'''
RESUME = '''
state = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in checkpoint["state"].items()}
return checkpoint["w"].copy(), state, checkpoint["step"]
'''
TOTAL_STEP = '''
n = total - warmup
warm = base_lr * (warmup + 1) / 2 if warmup > 0 else 0.0
return warm + n * min_lr + (base_lr - min_lr) * (n + 1) / 2
'''
RESUME_IS_EXACT = '''
k = len(grads) // 2
w, state = np.zeros_like(grads[0]), {}
for g in grads[:k]:
    w = momentum_step(w, g, state)
saved = pickle.dumps(checkpoint(w, state, k))
for g in grads[k:]:
    w = momentum_step(w, g, state)
loaded = pickle.loads(saved)
for _ in range(2):
    w2, state2, step = resume(loaded)
    if step != k:
        return False
    for g in grads[step:]:
        w2 = momentum_step(w2, g, state2)
    if not np.array_equal(w2, w):
        return False
return True
'''
CORRECT = {"warmup_cosine": WARMUP, "triangular": TRIANGULAR, "plateau_step": PLATEAU,
           "checkpoint": CHECKPOINT, "resume": RESUME, "total_step": TOTAL_STEP,
           "peak_lr": "return 3.0", "resume_is_exact": RESUME_IS_EXACT}

SUBMISSIONS = {
    "noor": Submission(
        "starts the warm-up at zero, sums the schedule as an integral, and treats a metric to "
        "maximise as a loss",
        answers={**CORRECT, "warmup_cosine": WARMUP.replace("(t + 1) / warmup", "t / warmup"),
                 # and judges every metric as a loss: mode="max" ignored
                 "plateau_step": PLATEAU.replace('sign = 1 if mode == "min" else -1', "sign = 1")
                                        .replace('math.inf if mode == "min" else -math.inf',
                                                 "math.inf"),
                 "total_step": "return base_lr * warmup / 2 + (total - warmup) * (base_lr + min_lr) / 2"},
        breaks=["test_warmup_cosine_values", "test_total_step_sums", "test_plateau_step_reduces",
                "test_plateau_step_state"],
        mentions=["a warm-up that starts from 0", "the integral of the schedule instead of its sum",
                  "mode ignored"]),
    "tomas": Submission(
        "draws a sawtooth: the rate climbs and then jumps back to base_lr; takes the cosine "
        "terms to sum to 0; returns 2/L as the peak rate without measuring; cuts the rate "
        "below min_lr",
        answers={**CORRECT,
                 "triangular": "return base_lr + (max_lr - base_lr) * (t % step_size) / step_size",
                 "total_step": TOTAL_STEP.replace("(n + 1) / 2", "n / 2"),
                 "peak_lr": "return 2.0  # the stability limit 2/L",
                 "plateau_step": PLATEAU.replace("max(lr * factor, min_lr)", "lr * factor")},
        breaks=["test_triangular_values", "test_total_step_sums", "test_peak_lr_reaches_target",
                "test_plateau_step_reduces"],
        mentions=["a sawtooth", "the cosine terms summed to 0", "min_lr ignored",
                  "the constant-rate stability limit 2/L taken as the peak"]),
    "lena": Submission(
        "cuts the learning rate as soon as the count reaches patience; checkpoints step + 1; "
        "divides by warmup before the branch, so a run without warm-up crashes; checks the "
        "round trip with a tolerance",
        answers={**CORRECT, "plateau_step": PLATEAU.replace("> patience", ">= patience"),
                 # the ramp computed before the branch: warmup = 0 divides by zero
                 "warmup_cosine": "ramp = (t + 1) / warmup\n" + WARMUP.replace(
                     "base_lr * (t + 1) / warmup", "base_lr * ramp"),
                 # and saves the step it is about to take, not the one it took
                 "checkpoint": CHECKPOINT.replace('"step": step', '"step": step + 1'),
                 # and checks the round trip with a tolerance
                 "resume_is_exact": RESUME_IS_EXACT.replace("np.array_equal(w2, w)",
                                                            "np.allclose(w2, w)")},
        breaks=["test_plateau_step_reduces", "test_plateau_step_state", "test_resume_continues",
                "test_resume_is_exact_verdicts", "test_warmup_cosine_values"],
        mentions=["the rate cut one epoch early", "the resumed step is wrong", "ZeroDivisionError",
                  "a tolerance (np.allclose) where the contract is bit-identical"]),
    "kofi": Submission(
        "checkpoints with dict(state), which keeps the live arrays; adds the warm-up's sum "
        "when there is no warm-up; his check resumes only once and continues from k whatever "
        "step resume returned",
        answers={**CORRECT,
                 "checkpoint": 'return {"w": w, "state": dict(state), "step": step}',
                 "total_step": TOTAL_STEP.replace(" if warmup > 0 else 0.0", ""),
                 "resume_is_exact": RESUME_IS_EXACT.replace("for _ in range(2):", "for _ in range(1):")},
        breaks=["test_checkpoint_snapshot", "test_total_step_sums", "test_resume_is_exact_verdicts"],
        mentions=["a shallow copy", "the warm-up's sum added when there is no warm-up",
                  "resumed only once"]),
    "mira": Submission(
        "correct, written differently: numpy's cos, a piecewise triangle, a checkpoint with its own "
        "key names and the resume that reads them",
        answers={
            "warmup_cosine": '''
if t < warmup:
    return min(1.0, (t + 1) / warmup) * base_lr
angle = np.pi * (t - warmup) / (total - warmup)
return float(0.5 * (base_lr + min_lr) + 0.5 * (base_lr - min_lr) * np.cos(angle))
''',
            "triangular": '''
position = t % (2 * step_size)
rise = position if position <= step_size else 2 * step_size - position
return base_lr + (max_lr - base_lr) * rise / step_size
''',
            "plateau_step": PLATEAU,
            # the sum split otherwise: N (min + max)/2 plus the half step the discrete sum adds
            "total_step": '''
cosine = (total - warmup) * (base_lr + min_lr) / 2 + (base_lr - min_lr) / 2
return float(cosine + (0 if warmup == 0 else base_lr * (warmup + 1) / 2))
''',
            "peak_lr": "return 3.5",
            # compares the whole state too, and walks the two resumes explicitly
            "resume_is_exact": '''
half = len(grads) // 2
live_w, live_state = np.zeros_like(grads[0]), {}
for t, g in enumerate(grads):
    if t == half:
        blob = pickle.dumps(checkpoint(live_w, live_state, half))
    live_w = momentum_step(live_w, g, live_state)
saved = pickle.loads(blob)
runs = [resume(saved), resume(saved)]
ok = True
for w2, s2, start in runs:
    if start != half:
        return False
    for g in grads[start:]:
        w2 = momentum_step(w2, g, s2)
    ok = ok and bool(np.array_equal(w2, live_w)) and \\
        np.array_equal(s2["momentum_buffer"], live_state["momentum_buffer"])
return ok
''',
            # the example: other key names, its own matching resume
            "checkpoint": '''
import copy
return {"params": w.copy(), "opt": copy.deepcopy(state), "t": step}
''',
            "resume": '''
import copy
saved = copy.deepcopy(checkpoint)
return saved["params"], saved["opt"], saved["t"]
'''},
        breaks=[]),
    "rex": Submission(
        "builds the schedule from descentlab.schedulers",
        answers={**CORRECT,
                 # a correct pair in a tuple layout: only the round trip is graded
                 "checkpoint": "return (w.copy(), {k: np.copy(v) for k, v in state.items()}, step)",
                 "resume": "w, state, step = checkpoint\nreturn w.copy(), "
                           "{k: np.copy(v) for k, v in state.items()}, step",
                 "warmup_cosine": '''
from descentlab.schedulers import cosine_annealing, linear_ramp
if t < warmup:
    return float(linear_ramp(t, base_lr, 1 / warmup, 1.0, warmup - 1))
return float(cosine_annealing(t - warmup, base_lr, total - warmup, min_lr))
'''},
        breaks=["test_warmup_cosine_values"], mentions=["no credit"], flags=["reference-call"]),
    "vic": Submission(
        "resumes with the checkpoint's own arrays, and deletes the resume test",
        answers={**CORRECT,
                 "resume": 'return checkpoint["w"], checkpoint["state"], checkpoint["step"]',
                 "peak_lr": "return 3.9"},
        test_edits={"test_resume_continues": None},
        breaks=["test_resume_continues", "test_peak_lr_reaches_target"],
        mentions=["a peak rate past the edge"]),
}
