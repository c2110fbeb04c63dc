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
best = state.get("best", math.inf)
if metric < best * (1 - threshold):
    state["best"], state["num_bad_epochs"] = metric, 0
else:
    state["best"], state["num_bad_epochs"] = best, state.get("num_bad_epochs", 0) + 1
if state["num_bad_epochs"] > patience:
    lr, state["num_bad_epochs"] = lr * factor, 0
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
CORRECT = {"warmup_cosine": WARMUP, "triangular": TRIANGULAR, "plateau_step": PLATEAU,
           "checkpoint": CHECKPOINT, "resume": RESUME}

SUBMISSIONS = {
    "noor": Submission(
        "starts the warm-up at zero",
        answers={**CORRECT, "warmup_cosine": WARMUP.replace("(t + 1) / warmup", "t / warmup")},
        breaks=["test_warmup_cosine_values"],
        mentions=["a warm-up that starts from 0"]),
    "tomas": Submission(
        "draws a sawtooth: the rate climbs and then jumps back to base_lr",
        answers={**CORRECT,
                 "triangular": "return base_lr + (max_lr - base_lr) * (t % step_size) / step_size"},
        breaks=["test_triangular_values"],
        mentions=["a sawtooth"]),
    "lena": Submission(
        "cuts the learning rate as soon as the count reaches patience; checkpoints step + 1",
        answers={**CORRECT, "plateau_step": PLATEAU.replace("> patience", ">= patience"),
                 # and saves the step it is about to take, not the one it took
                 "checkpoint": CHECKPOINT.replace('"step": step', '"step": step + 1')},
        breaks=["test_plateau_step_reduces", "test_plateau_step_state", "test_resume_continues"],
        mentions=["the rate cut one epoch early", "the resumed step is wrong"]),
    "kofi": Submission(
        "checkpoints with dict(state), which keeps the live arrays",
        answers={**CORRECT,
                 "checkpoint": 'return {"w": w, "state": dict(state), "step": step}'},
        breaks=["test_checkpoint_snapshot"],
        mentions=["a shallow copy"]),
    "mira": Submission(
        "correct, written differently: numpy's cos, a piecewise triangle, a checkpoint with its own "
        "key names and the resume that reads them",
        answers={
            "warmup_cosine": '''
warm = min(1.0, (t + 1) / warmup)
if t < warmup:
    return warm * base_lr
angle = np.pi * (t - warmup) / (total - warmup)
return float(0.5 * (base_lr + min_lr) + 0.5 * (base_lr - min_lr) * np.cos(angle))
''',
            "triangular": '''
position = t % (2 * step_size)
rise = position if position <= step_size else 2 * step_size - position
return base_lr + (max_lr - base_lr) * rise / step_size
''',
            "plateau_step": PLATEAU,
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
                 "resume": 'return checkpoint["w"], checkpoint["state"], checkpoint["step"]'},
        test_edits={"test_resume_continues": None},
        breaks=["test_resume_continues"]),
}
