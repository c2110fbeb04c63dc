"""ps4_schedules_and_state: cosine annealing with warm-up, a triangular cycle,
reduce-on-plateau, and checkpoints that resume a run bit for bit."""

from __future__ import annotations

import math
import pickle
from dataclasses import dataclass, field

import numpy as np

from ...optim import SGD
from ...schedulers import ReduceLROnPlateau, cosine_annealing, cyclic, linear_ramp
from ..exercise import Case, Exercise, Mistake, Raised, observe_state, snapshot
from ..functions import FunctionExercise, FunctionPart
from ..report import Mismatch, compare

A = "ps4_schedules_and_state"


def _calls(specs, times):
    return tuple((", ".join(f"{k}={v}" for k, v in spec.items()) + f", t = 0..{times(spec)}",
                  tuple({"t": t, **spec} for t in range(times(spec) + 1))) for spec in specs)


# -- warm-up then cosine -----------------------------------------------------------------

def _warmup_cosine(t, base_lr, warmup, total, min_lr=0.0):
    if t < warmup:
        # LinearLR from base_lr / warmup up to base_lr at t = warmup - 1
        return float(linear_ramp(t, base_lr, 1.0 / warmup, 1.0, max(warmup - 1, 1)))
    return float(cosine_annealing(t - warmup, base_lr, total - warmup, min_lr))


def _wc_variant(kind):
    def f(t, base_lr, warmup, total, min_lr=0.0):
        if t < warmup:
            return base_lr * (t if kind == "from_zero" else t + 1) / warmup
        s = t if kind == "cosine_from_zero" else t - warmup
        lo = 0.0 if kind == "no_min" else min_lr
        if kind == "no_shift":
            return lo + (base_lr - lo) * math.cos(math.pi * s / (total - warmup))
        return lo + (base_lr - lo) * (1 + math.cos(math.pi * s / (total - warmup))) / 2
    return f


WC = [{"base_lr": 0.1, "warmup": 5, "total": 40, "min_lr": 0.0},
      {"base_lr": 1.0, "warmup": 10, "total": 30, "min_lr": 0.01}]
WC_HIDDEN = [{"base_lr": 0.5, "warmup": 3, "total": 60, "min_lr": 0.05},
             {"base_lr": 0.02, "warmup": 20, "total": 25, "min_lr": 0.001}]

warmup_cosine = FunctionExercise(
    assignment=A, function="warmup_cosine", reference=_warmup_cosine,
    describe_call=lambda kw: f"the value at t={kw['t']}",
    plan={"values": FunctionPart(2, _calls(WC, lambda s: s["total"]),
                                 _calls(WC_HIDDEN, lambda s: s["total"]))},
    mistakes=[
        Mistake("a warm-up that starts from 0", "At t = 0 the rate is base_lr / warmup, "
                "reaching base_lr at t = warmup - 1: base_lr * (t + 1) / warmup.",
                _wc_variant("from_zero")),
        Mistake("the cosine counted from t = 0 instead of from the end of the warm-up",
                "The cosine phase starts at t = warmup: use t - warmup in the cosine.",
                _wc_variant("cosine_from_zero")),
        Mistake("a cosine without the (1 + cos)/2 shift",
                "Anneal with (1 + cos(pi s / T)) / 2, which goes from 1 to 0, not cos itself.",
                _wc_variant("no_shift")),
        Mistake("min_lr ignored", "The cosine ends at min_lr: min_lr + (base_lr - min_lr) * ...",
                _wc_variant("no_min")),
    ])


# -- triangular cycle -----------------------------------------------------------------------

def _triangular(t, base_lr, max_lr, step_size):
    return float(cyclic(t, base_lr, max_lr, step_size_up=step_size, mode="triangular"))


def _tri_variant(kind):
    def f(t, base_lr, max_lr, step_size):
        if kind == "sawtooth":
            return base_lr + (max_lr - base_lr) * ((t % step_size) / step_size)
        if kind == "starts_high":
            t = t + step_size
        if kind == "period":
            cycle = math.floor(1 + t / step_size)
            x = abs(2 * t / step_size - 2 * cycle + 1)
        else:
            cycle = math.floor(1 + t / (2 * step_size))
            x = abs(t / step_size - 2 * cycle + 1)
        return base_lr + (max_lr - base_lr) * max(0.0, 1 - x)
    return f


TRI = [{"base_lr": 0.001, "max_lr": 0.01, "step_size": 5},
       {"base_lr": 0.1, "max_lr": 1.0, "step_size": 8}]
TRI_HIDDEN = [{"base_lr": 0.0, "max_lr": 0.5, "step_size": 3},
              {"base_lr": 0.01, "max_lr": 0.02, "step_size": 12}]

triangular = FunctionExercise(
    assignment=A, function="triangular", reference=_triangular,
    describe_call=lambda kw: f"the value at t={kw['t']}",
    plan={"values": FunctionPart(2, _calls(TRI, lambda s: 6 * s["step_size"]),
                                 _calls(TRI_HIDDEN, lambda s: 6 * s["step_size"]))},
    mistakes=[
        Mistake("a sawtooth (the rate rises and jumps back) instead of a triangle",
                "Within a cycle of 2 * step_size steps the rate climbs for step_size steps "
                "and comes down for step_size steps.", _tri_variant("sawtooth")),
        Mistake("a cycle that starts at max_lr", "At t = 0 the rate is base_lr.",
                _tri_variant("starts_high")),
        Mistake("a full cycle of step_size steps instead of 2 * step_size",
                "step_size is half a cycle (Smith 2017): cycle = floor(1 + t / (2 * step_size)).",
                _tri_variant("period")),
    ])


# -- reduce on plateau ----------------------------------------------------------------------

def _plateau_reference(lr, metric, state, factor=0.1, patience=10, threshold=1e-4):
    opt = SGD([np.zeros(1)], lr=lr)
    # eps=0: the exercise leaves out torch's rule that skips cuts smaller than eps
    sched = ReduceLROnPlateau(opt, mode="min", factor=factor, patience=patience,
                              threshold=threshold, threshold_mode="rel", eps=0.0)
    if state:
        sched.best, sched.num_bad_epochs = state["best"], state["num_bad_epochs"]
    sched.step(metric)
    state["best"], state["num_bad_epochs"] = float(sched.best), int(sched.num_bad_epochs)
    return float(opt.lr)


def _plateau_variant(kind):
    def step(lr, metric, state, factor=0.1, patience=10, threshold=1e-4):
        best = state.get("best", math.inf)
        bad = state.get("num_bad_epochs", 0)
        if kind == "abs":
            better = metric < best - threshold
        elif kind == "last":
            better = metric < state.get("last", math.inf) * (1 - threshold)
            state["last"] = metric
        else:
            better = metric < best * (1 - threshold)
        if better:
            best, bad = metric, 0
        else:
            bad += 1
        limit = patience - 1 if kind == "early" else patience
        if bad > limit:
            lr = lr * factor
            if kind != "no_reset":
                bad = 0
        state["best"], state["num_bad_epochs"] = (metric if kind == "last" else best), bad
        return lr
    return step


def _metrics(seed, n=40):
    """A loss that improves, stalls on plateaus, and wobbles by about the threshold."""
    rng = np.random.default_rng(seed)
    values, level = [], 1.0
    for t in range(n):
        if rng.random() < 0.3:
            level *= rng.uniform(0.7, 0.95)              # a real improvement
        values.append(float(level * (1 + rng.choice([-2e-4, -5e-5, 0.0, 5e-5, 3e-4]))))
    return values


@dataclass
class PlateauExercise(Exercise):
    plan: dict = field(default_factory=dict)

    def __post_init__(self):
        self.parts = {name: points for name, (points, _, _, _) in self.plan.items()}

    def cases(self, part, hidden):
        _, visible, secret, observe = self.plan[part]
        return [Case(f"{'hidden ' if hidden else ''}" + ", ".join(f"{k}={v}" for k, v in h.items())
                     + f", {len(_metrics(seed))} metric values (seed {seed})",
                     {"hyper": h, "metrics": _metrics(seed), "observe": observe})
                for seed, h in (secret if hidden else visible)]

    def play(self, fn, case):
        lr, state, observed = 0.1, {}, []
        names = (["returned lr"] if "lr" in case.data["observe"] else []) + \
            ([f"state[{k!r}]" for k in ("best", "num_bad_epochs")]
             if "state" in case.data["observe"] else [])
        for metric in case.data["metrics"]:
            lr = self.call(fn, lr, metric, state, **case.data["hyper"])
            if isinstance(lr, Raised):
                return observed + [{name: lr for name in names}]
            seen = {"returned lr": snapshot(lr)} if "lr" in case.data["observe"] else {}
            if "state" in case.data["observe"]:
                seen.update(observe_state(state, ("best", "num_bad_epochs")))
            observed.append(seen)
        return observed


plateau = PlateauExercise(
    assignment=A, function="plateau_step", reference=_plateau_reference,
    plan={"reduces": (2, [(1, {"factor": 0.5, "patience": 2, "threshold": 1e-4}),
                          (2, {"factor": 0.1, "patience": 0, "threshold": 1e-3})],
                      [(3, {"factor": 0.3, "patience": 3, "threshold": 1e-4}),
                       (4, {"factor": 0.5, "patience": 1, "threshold": 1e-2})], ("lr",)),
          "state": (1, [(5, {"factor": 0.5, "patience": 2, "threshold": 1e-4})],
                    [(6, {"factor": 0.2, "patience": 4, "threshold": 1e-3})], ("state",))},
    mistakes=[
        Mistake("the rate cut one epoch early (num_bad_epochs >= patience)",
                "patience epochs without improvement are tolerated: cut only when the count "
                "exceeds patience.", _plateau_variant("early")),
        Mistake("the bad-epoch count not reset after a cut",
                "After cutting the rate, start counting again from 0.", _plateau_variant("no_reset")),
        Mistake("an absolute threshold instead of a relative one",
                "In 'rel' mode a value improves when metric < best * (1 - threshold).",
                _plateau_variant("abs")),
        Mistake("each value compared with the previous one instead of the best so far",
                "Keep the best value seen so far in state['best'] and compare with it.",
                _plateau_variant("last")),
    ])


# -- checkpoints ----------------------------------------------------------------------------

def momentum_step(w, dw, state, lr=0.05, momentum=0.9):
    """The step both the live and the resumed runs take; like torch it updates w and
    the buffer in place, which is exactly what makes a shallow checkpoint go stale."""
    buf = state.get("momentum_buffer")
    if buf is None:
        state["momentum_buffer"] = dw.copy()
    else:
        buf *= momentum
        buf += dw
    state["step"] = state.get("step", 0) + 1
    w -= lr * state["momentum_buffer"]
    return w


def _run(w, state, grads):
    for g in grads:
        w = momentum_step(w, g, state)
    return w


def _checkpoint_reference(w, state, step):
    return {"w": w.copy(), "state": {k: snapshot(v) for k, v in state.items()}, "step": step}


def _resume_reference(checkpoint):
    return (checkpoint["w"].copy(), {k: snapshot(v) for k, v in checkpoint["state"].items()},
            checkpoint["step"])


def _start(seed, n_steps):
    rng = np.random.default_rng(seed)
    grads = [rng.standard_normal(6) for _ in range(n_steps)]
    w, state = rng.standard_normal(6), {}
    return grads, _run(w, state, grads[:5]), state


def _first_change(before, after, path="checkpoint"):
    """Where a checkpoint differs from a deep copy taken when it was made (None if nowhere).

    The walk follows the student's own layout (any keys, lists or tuples), so no
    key name is assumed: the text never fixed them."""
    if isinstance(before, dict) and isinstance(after, dict):
        for key in before:
            found = _first_change(before[key], after.get(key), f"{path}[{key!r}]")
            if found:
                return found
        return None
    if isinstance(before, (list, tuple)) and isinstance(after, (list, tuple)):
        for i, (b, a) in enumerate(zip(before, after)):
            found = _first_change(b, a, f"{path}[{i}]")
            if found:
                return found
        return None
    if isinstance(before, np.ndarray):
        return None if (isinstance(after, np.ndarray) and np.array_equal(before, after)) else path
    try:
        return None if bool(before == after) else path
    except Exception:  # noqa: BLE001 - an object without a usable ==; judged elsewhere
        return None


def _inputs_changed(w, state, w_was, state_was, function):
    """A Mismatch if ``function`` changed the run it was handed (its contract: untouched)."""
    if not np.array_equal(w, w_was):
        return Mismatch("w", "property", f"{function} changed the live parameters it was given",
                        mistake=None, hint=f"{function} must leave its arguments as they are.")
    if set(state) != set(state_was) or _first_change(state_was, state, "state"):
        return Mismatch("state", "property",
                        f"{function} changed the live optimizer state it was given "
                        f"({_first_change(state_was, state, 'state') or 'its keys'})",
                        hint=f"{function} must leave its arguments as they are.")
    return None


@dataclass
class _RunExercise(Exercise):
    plan: dict = field(default_factory=dict)

    def __post_init__(self):
        self.parts = dict(self.plan)

    def cases(self, part, hidden):
        seeds = (11, 12) if hidden else (1,)
        return [Case(f"{'hidden ' if hidden else ''}a momentum run with seed {s}, "
                     "saved after 5 of 10 steps", {"seed": s}) for s in seeds]

    def check_case(self, fn, case):
        m = self.judge(fn, case.data["seed"])
        if m is not None:
            m.case = case.label
        return m


@dataclass
class CheckpointExercise(_RunExercise):
    """The checkpoint on its own: picklable, leaves the run alone, and is not changed
    by the training that goes on.  Which keys it uses is the student's choice (the
    text fixes none), so nothing here reads a key; whether it holds enough to
    continue is the round trip, graded with resume."""

    def judge(self, checkpoint, seed):
        grads, w, state = _start(seed, 10)
        w_was, state_was = w.copy(), {k: snapshot(v) for k, v in state.items()}
        saved = self.call(checkpoint, w, state, 5)
        if isinstance(saved, Raised):
            return Mismatch("checkpoint", "error", f"the function raised {saved}")
        if (m := _inputs_changed(w, state, w_was, state_was, "checkpoint")) is not None:
            return m
        try:
            pickle.dumps(saved)
        except Exception as exc:  # noqa: BLE001 - whatever the student put in it
            return Mismatch("the checkpoint", "type", f"it cannot be pickled to a file: {exc}")
        frozen = snapshot(saved)
        _run(w, state, grads[5:])  # the live run goes on, updating its arrays in place
        where = _first_change(frozen, saved)
        if where is not None:
            return Mismatch(where, "value", "it changed when the live run took 5 more steps after "
                            "the checkpoint was made",
                            mistake="the checkpoint shares arrays with the live run (a shallow copy)",
                            hint="Copy every array into the checkpoint: w.copy() and a copy of each "
                                 "state array; dict(state) copies the dict, not the arrays in it.")
        return None


@dataclass
class ResumeExercise(_RunExercise):
    """The student's own pair, round trip: checkpoint -> pickle -> resume -> the same
    continuation as the run that never stopped, twice from one checkpoint.  The
    checkpoint is pickled the moment it is made, so a shallow checkpoint (checkpoint's
    own test) costs nothing here."""

    needs: tuple[str, ...] = ("checkpoint",)

    def judge(self, resume, seed):
        grads, w, state = _start(seed, 10)
        make = self.partners.get("checkpoint", _checkpoint_reference)
        saved = self.call(make, w, state, 5)
        if isinstance(saved, Raised):
            # "(in your <function>": the wording the feedback uses for a partner's failure
            return Mismatch("resume", "error", f"the function raised {saved} (in your checkpoint, "
                            "which this round trip uses)")
        try:
            blob = pickle.dumps(saved)  # written to disk at once: later training cannot reach it
        except Exception as exc:  # noqa: BLE001 - whatever the student put in it
            return Mismatch("the checkpoint", "type", "your checkpoint, which this round trip uses, "
                            f"cannot be pickled: {exc}")
        straight = _run(w, state, grads[5:])
        loaded = pickle.loads(blob)
        for attempt in (1, 2):  # resuming twice from one checkpoint must give the same run
            out = self.call(resume, loaded)
            if isinstance(out, Raised):
                return Mismatch("resume", "error", f"the function raised {out} when given the "
                                "checkpoint your checkpoint() made")
            if not (isinstance(out, tuple) and len(out) == 3):
                return Mismatch("resume", "type", f"expected (w, state, step), got {out!r:.80}")
            w2, state2, step2 = out
            if (m := compare("the resumed step", 5, step2)) is not None:
                m.hint = ("The run was saved after 5 steps, so it resumes at step 5; the step "
                          "travels through your checkpoint and your resume.")
                return m
            if not isinstance(w2, np.ndarray) or not isinstance(state2, dict):
                return Mismatch("resume", "type", "expected w as a numpy array and state as a "
                                f"dict, got {type(w2).__name__} and {type(state2).__name__}")
            try:
                resumed = _run(w2, state2, grads[5:])
            except Exception as exc:  # noqa: BLE001 - e.g. a buffer restored as a list
                return Mismatch("the resumed run", "error", "momentum_step failed on what resume "
                                f"returned: {type(exc).__name__}: {exc}")
            m = compare(f"w after resuming (attempt {attempt}) and running the last 5 steps",
                        straight, resumed)
            if m is not None:
                if attempt == 2:
                    m.mistake = "resume hands out the checkpoint's own arrays"
                    m.hint = ("Return copies from resume: the first resumed run updated the "
                              "checkpoint's arrays in place, so the second one started elsewhere.")
                else:
                    m.hint = ("The run resumed through your checkpoint and your resume differs "
                              "from the run that never stopped: check that the checkpoint saves "
                              "w, every state entry and the step, and that resume restores them.")
                return m
        return None


def _ckpt_shallow(w, state, step):
    return {"w": w, "state": dict(state), "step": step}


def _resume_shared(checkpoint):
    return checkpoint["w"], checkpoint["state"], checkpoint["step"]


checkpoint = CheckpointExercise(
    assignment=A, function="checkpoint", reference=_checkpoint_reference, plan={"snapshot": 1},
    mistakes=[Mistake("the checkpoint shares arrays with the live run (a shallow copy)", "",
                      _ckpt_shallow)])

resume = ResumeExercise(
    assignment=A, function="resume", reference=_resume_reference, plan={"continues": 2},
    mistakes=[Mistake("resume hands out the checkpoint's own arrays", "", _resume_shared)])

EXERCISES = [warmup_cosine, triangular, plateau, checkpoint, resume]
