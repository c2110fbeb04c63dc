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


# branches: no warm-up (warmup = 0), and a cosine phase of a single step
WC = [{"base_lr": 0.1, "warmup": 5, "total": 40, "min_lr": 0.0},
      {"base_lr": 1.0, "warmup": 10, "total": 30, "min_lr": 0.01},
      {"base_lr": 0.3, "warmup": 0, "total": 12, "min_lr": 0.0}]
WC_HIDDEN = [{"base_lr": 0.5, "warmup": 3, "total": 60, "min_lr": 0.05},
             {"base_lr": 0.02, "warmup": 20, "total": 25, "min_lr": 0.001},
             {"base_lr": 0.2, "warmup": 4, "total": 5, "min_lr": 0.02},
             {"base_lr": 0.8, "warmup": 0, "total": 9, "min_lr": 0.1}]

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


# -- derive: the total step of warm-up then cosine ----------------------------------------

def _total_step(base_lr, warmup, total, min_lr=0.0):
    """sum_{t=0}^{T-1} eta_t in closed form (tests check it against the summed schedule).

    The warm-up adds base_lr (T_w + 1) / 2 (none when T_w = 0); the cosine phase, with
    N = T - T_w steps s = 0..N-1, adds N min_lr + (base_lr - min_lr)(N + 1) / 2, since
    sum_{s=0}^{N-1} cos(pi s / N) = 1."""
    n = total - warmup
    warm = base_lr * (warmup + 1) / 2 if warmup > 0 else 0.0
    return float(warm + n * min_lr + (base_lr - min_lr) * (n + 1) / 2)


def _ts_variant(kind):
    def f(base_lr, warmup, total, min_lr=0.0):
        n = total - warmup
        warm = base_lr * (warmup + 1) / 2 if warmup > 0 else 0.0
        cos = n * min_lr + (base_lr - min_lr) * (n + 1) / 2
        if kind == "integral":
            return base_lr * warmup / 2 + n * (base_lr + min_lr) / 2
        if kind == "cos_sum_zero":
            return warm + n * min_lr + (base_lr - min_lr) * n / 2
        if kind == "one_more":
            return warm + cos + min_lr
        if kind == "warmup_from_zero":
            return base_lr * (warmup - 1) / 2 + cos if warmup > 0 else cos
        if kind == "no_min":
            return warm + base_lr * (n + 1) / 2
        if kind == "no_branch":
            return base_lr * (warmup + 1) / 2 + cos
        raise AssertionError(kind)
    return f


def _ts_calls(specs):
    return tuple((", ".join(f"{k}={v}" for k, v in spec.items()), (spec,)) for spec in specs)


TS = [{"base_lr": 0.1, "warmup": 5, "total": 40, "min_lr": 0.01},
      {"base_lr": 1.0, "warmup": 10, "total": 30, "min_lr": 0.0},
      {"base_lr": 0.5, "warmup": 0, "total": 20, "min_lr": 0.05},     # no warm-up
      {"base_lr": 0.3, "warmup": 4, "total": 5, "min_lr": 0.1}]       # a one-step cosine
TS_HIDDEN = [{"base_lr": 0.02, "warmup": 3, "total": 100, "min_lr": 0.002},
             {"base_lr": 2.0, "warmup": 0, "total": 7, "min_lr": 0.0},
             {"base_lr": 0.7, "warmup": 1, "total": 2, "min_lr": 0.3},
             {"base_lr": 0.05, "warmup": 50, "total": 60, "min_lr": 0.0}]
# runs far too long to sum step by step: only the closed form answers in time
TS_LONG = [{"base_lr": 0.1, "warmup": 10**6, "total": 10**12, "min_lr": 1e-5}]
TS_LONG_HIDDEN = [{"base_lr": 3.0, "warmup": 0, "total": 10**12 + 1, "min_lr": 0.0},
                  {"base_lr": 0.5, "warmup": 10**11, "total": 3 * 10**11, "min_lr": 0.01}]

total_step = FunctionExercise(
    assignment=A, function="total_step", reference=_total_step,
    describe_call=lambda kw: "the total step",
    plan={"sums": FunctionPart(2, _ts_calls(TS), _ts_calls(TS_HIDDEN)),
          "closed_form": FunctionPart(1, _ts_calls(TS_LONG), _ts_calls(TS_LONG_HIDDEN))},
    mistakes=[
        Mistake("the integral of the schedule instead of its sum",
                "The run takes discrete steps: sum eta_t over t = 0..T-1. The sums exceed the "
                "integrals by half a step at each end: the warm-up adds base_lr (T_w + 1) / 2, "
                "and sum_{s=0}^{N-1} cos(pi s / N) = 1, not 0.", _ts_variant("integral")),
        Mistake("the cosine terms summed to 0 (sum_{s=0}^{N-1} cos(pi s/N) is 1)",
                "The s = 0 term, cos 0 = 1, is left over when the others cancel in pairs: "
                "the cosine phase adds N min_lr + (base_lr - min_lr)(N + 1) / 2.",
                _ts_variant("cos_sum_zero")),
        Mistake("one step too many (the rate at t = total counted)",
                "A run of T steps uses eta_0 .. eta_{T-1}; the value at t = T would be step "
                "T + 1's.", _ts_variant("one_more")),
        Mistake("the warm-up summed as base_lr * t / warmup (a warm-up from 0)",
                "The warm-up's rates are base_lr (t + 1) / T_w for t = 0..T_w-1: they sum to "
                "base_lr (T_w + 1) / 2.", _ts_variant("warmup_from_zero")),
        Mistake("min_lr left out of the cosine phase",
                "Each cosine step is min_lr + (base_lr - min_lr)(1 + cos)/2: the N steps add "
                "N min_lr too.", _ts_variant("no_min")),
        Mistake("the warm-up's sum added when there is no warm-up (warmup = 0)",
                "With warmup = 0 the schedule is the cosine alone: the warm-up adds nothing.",
                _ts_variant("no_branch")),
    ])


# -- measure: a peak rate that reaches the target within the budget --------------------

#: the problem the students measure on: gradient descent on a quadratic with curvatures
#: from 0.01 to L = 1, under warm-up then cosine; the notebook's final_loss is this code
PEAK_STEPS, PEAK_WARMUP, PEAK_TARGET = 50, 5, 1.5e-3


def final_loss(peak_lr, steps=PEAK_STEPS, warmup=PEAK_WARMUP):
    """Loss after `steps` steps of GD under warm-up then cosine, relative to the start."""
    curvatures = np.geomspace(0.01, 1.0, 50)
    theta = np.ones(50)
    for t in range(steps):
        if t < warmup:
            lr = peak_lr * (t + 1) / warmup
        else:
            lr = peak_lr * (1 + math.cos(math.pi * (t - warmup) / (steps - warmup))) / 2
        theta = theta - lr * curvatures * theta
    with np.errstate(all="ignore"):
        return float(np.sum(curvatures * theta ** 2) / np.sum(curvatures))


@dataclass
class PeakExercise(Exercise):
    """A measured choice, graded by re-running the problem on it: the final loss with the
    student's peak rate must reach the target.  Nothing else is compared, so the
    reference's own choice earns nothing a right choice does not."""

    plan: dict = field(default_factory=dict)

    def __post_init__(self):
        self.parts = dict(self.plan)

    def cases(self, part, hidden):
        return [Case(f"{'hidden ' if hidden else ''}{PEAK_STEPS} steps, warm-up {PEAK_WARMUP}, "
                     f"target {PEAK_TARGET:g}", {})]

    def check_case(self, fn, case):
        value = self.call(fn)
        if isinstance(value, Raised):
            return Mismatch("peak_lr", "error", f"the function raised {value}")
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer,
                                                                            np.floating)):
            return Mismatch("peak_lr", "type", f"expected a number, got {value!r:.60}")
        peak = float(value)
        if not math.isfinite(peak) or peak <= 0:
            return Mismatch("peak_lr", "value", f"expected a positive rate, got {peak!r}")
        loss = final_loss(peak)
        if math.isfinite(loss) and loss <= PEAK_TARGET:
            return None
        found = Mismatch(f"the final loss with peak_lr = {peak:g}", "value",
                         f"it is {loss:.3g}, above the target {PEAK_TARGET:g}", case=case.label)
        if not math.isfinite(loss) or loss > 1.0:
            found.mistake = "a peak rate past the edge: the run ends above where it started"
            found.hint = ("While eta_t L > 2 the stiffest directions grow; a short time above "
                          "2/L is made up for later, a long one is not. Scan final_loss more "
                          "finely below this value.")
        elif abs(peak - 2.0) <= 0.05:
            found.mistake = "the constant-rate stability limit 2/L taken as the peak"
            found.hint = ("Under warm-up and cosine the rate spends only a few steps near its "
                          "peak, so the peak can exceed 2/L; the flat directions need the larger "
                          "total step. Measure: scan final_loss above 2.")
        elif peak < 2.0:
            found.mistake = "a peak rate too small for the budget"
            found.hint = ("The flattest direction (curvature 0.01) shrinks by about "
                          "exp(-2 * 0.01 * sum of eta_t): it needs a larger total step.")
        else:
            found.mistake = "a peak rate past the edge, where the stiff directions grow back"
            found.hint = ("Above about 3.7 the steps above 2/L undo the progress; scan "
                          "final_loss more finely below this value.")
        return found


peak_lr = PeakExercise(
    assignment=A, function="peak_lr", reference=lambda: 3.2, plan={"reaches_target": 2},
    mistakes=[Mistake("the constant-rate stability limit 2/L taken as the peak", "", lambda: 2.0),
              Mistake("a peak rate too small for the budget", "", lambda: 0.8),
              Mistake("a peak rate past the edge: the run ends above where it started", "",
                      lambda: 4.4),
              Mistake("a peak rate past the edge, where the stiff directions grow back", "",
                      lambda: 3.9)])


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
       {"base_lr": 0.1, "max_lr": 1.0, "step_size": 8},
       {"base_lr": 0.0, "max_lr": 1.0, "step_size": 1}]   # every step a peak or a trough
TRI_HIDDEN = [{"base_lr": 0.0, "max_lr": 0.5, "step_size": 3},
              {"base_lr": 0.01, "max_lr": 0.02, "step_size": 12}]

triangular = FunctionExercise(
    assignment=A, function="triangular", reference=_triangular,
    describe_call=lambda kw: f"the value at t={kw['t']}",
    plan={"values": FunctionPart(1, _calls(TRI, lambda s: 6 * s["step_size"]),
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

PLATEAU_STATE = ("best", "num_bad_epochs", "cooldown_counter")


def _plateau_reference(lr, metric, state, mode="min", factor=0.1, patience=10, threshold=1e-4,
                       threshold_mode="rel", cooldown=0, min_lr=0.0):
    opt = SGD([np.zeros(1)], lr=lr)
    # eps=0: the exercise leaves out torch's rule that skips cuts smaller than eps
    sched = ReduceLROnPlateau(opt, mode=mode, factor=factor, patience=patience,
                              threshold=threshold, threshold_mode=threshold_mode,
                              cooldown=cooldown, min_lr=min_lr, eps=0.0)
    if state:
        sched.best, sched.num_bad_epochs = state["best"], state["num_bad_epochs"]
        sched.cooldown_counter = state["cooldown_counter"]
    sched.step(metric)
    state["best"], state["num_bad_epochs"] = float(sched.best), int(sched.num_bad_epochs)
    state["cooldown_counter"] = int(sched.cooldown_counter)
    return float(opt.lr)


def _plateau_variant(kind):
    def step(lr, metric, state, mode="min", factor=0.1, patience=10, threshold=1e-4,
             threshold_mode="rel", cooldown=0, min_lr=0.0):
        if kind == "min_only":
            mode = "min"
        if kind == "rel_only":
            threshold_mode = "rel"
        if kind == "abs":
            threshold_mode = "abs"
        worse = math.inf if (mode == "min" or kind == "best_inf") else -math.inf
        best = state.get("best", worse)
        bad = state.get("num_bad_epochs", 0)
        cool = state.get("cooldown_counter", 0)
        ref = state.get("last", worse) if kind == "last" else best
        sign = 1 if mode == "min" else -1
        if threshold_mode == "rel":
            better = sign * metric < sign * ref * (1 - sign * threshold)
        else:
            better = sign * metric < sign * ref - threshold
        if kind == "last":
            state["last"] = metric
        if better:
            best, bad = metric, 0
        else:
            bad += 1
        if cool > 0 and kind != "no_cooldown":
            cool -= 1
            bad = 0
        limit = patience - 1 if kind == "early" else patience
        if bad > limit:
            lr = lr * factor if kind == "no_min_lr" else max(lr * factor, min_lr)
            cool = cooldown
            if kind != "no_reset":
                bad = 0
        state["best"], state["num_bad_epochs"] = (metric if kind == "last" else best), bad
        state["cooldown_counter"] = cool
        return lr
    return step


def _metrics(seed, n=40, mode="min"):
    """A loss that improves, stalls on plateaus, and wobbles by about the threshold (in
    "max" mode an accuracy-like 1 - loss that rises)."""
    rng = np.random.default_rng(seed)
    values, level = [], 1.0
    for t in range(n):
        if rng.random() < 0.3:
            level *= rng.uniform(0.7, 0.95)              # a real improvement
        values.append(float(level * (1 + rng.choice([-2e-4, -5e-5, 0.0, 5e-5, 3e-4]))))
    return values if mode == "min" else [1.0 - v for v in values]


@dataclass
class PlateauExercise(Exercise):
    plan: dict = field(default_factory=dict)

    def __post_init__(self):
        self.parts = {name: points for name, (points, _, _, _) in self.plan.items()}

    def cases(self, part, hidden):
        _, visible, secret, observe = self.plan[part]
        cases = []
        for seed, h in (secret if hidden else visible):
            metrics = _metrics(seed, mode=h.get("mode", "min"))
            cases.append(Case(f"{'hidden ' if hidden else ''}"
                              + ", ".join(f"{k}={v}" for k, v in h.items())
                              + f", {len(metrics)} metric values (seed {seed})",
                              {"hyper": h, "metrics": metrics, "observe": observe}))
        return cases

    def play(self, fn, case):
        lr, state, observed = 0.1, {}, []
        names = (["returned lr"] if "lr" in case.data["observe"] else []) + \
            ([f"state[{k!r}]" for k in PLATEAU_STATE] if "state" in case.data["observe"] else [])
        for metric in case.data["metrics"]:
            lr = self.call(fn, lr, metric, state, **case.data["hyper"])
            if isinstance(lr, Raised):
                return observed + [{name: lr for name in names}]
            seen = {"returned lr": snapshot(lr)} if "lr" in case.data["observe"] else {}
            if "state" in case.data["observe"]:
                seen.update(observe_state(state, PLATEAU_STATE))
            observed.append(seen)
        return observed


plateau = PlateauExercise(
    assignment=A, function="plateau_step", reference=_plateau_reference,
    # every documented mode and branch: min and max, rel and abs thresholds, patience 0,
    # threshold 0 (any decrease improves), a cooldown, and a floor min_lr that is reached
    plan={"reduces": (1, [(1, {"factor": 0.5, "patience": 2, "threshold": 1e-4}),
                          (2, {"factor": 0.1, "patience": 0, "threshold": 1e-3}),
                          (7, {"factor": 0.5, "patience": 1, "threshold": 0.0}),
                          (8, {"mode": "max", "factor": 0.5, "patience": 1, "threshold": 1e-3}),
                          (9, {"factor": 0.5, "patience": 1, "threshold": 1e-3,
                               "threshold_mode": "abs"}),
                          (10, {"factor": 0.5, "patience": 0, "threshold": 1e-4,
                                "cooldown": 3}),
                          (11, {"factor": 0.2, "patience": 0, "threshold": 1e-3,
                                "min_lr": 0.01})],
                      [(3, {"factor": 0.3, "patience": 3, "threshold": 1e-4}),
                       (4, {"factor": 0.5, "patience": 1, "threshold": 1e-2}),
                       (12, {"mode": "max", "factor": 0.3, "patience": 0, "threshold": 1e-3,
                             "threshold_mode": "abs", "cooldown": 1, "min_lr": 0.005}),
                       (13, {"mode": "max", "factor": 0.5, "patience": 2, "threshold": 1e-4,
                             "cooldown": 2})], ("lr",)),
          "state": (1, [(5, {"factor": 0.5, "patience": 2, "threshold": 1e-4}),
                        (14, {"mode": "max", "factor": 0.5, "patience": 0, "threshold": 1e-4,
                              "cooldown": 2})],
                    [(6, {"factor": 0.2, "patience": 4, "threshold": 1e-3}),
                     (15, {"mode": "max", "factor": 0.5, "patience": 1, "threshold": 1e-3,
                           "threshold_mode": "abs", "cooldown": 1})], ("state",))},
    mistakes=[
        Mistake("the rate cut one epoch early (num_bad_epochs >= patience)",
                "patience epochs without improvement are tolerated: cut only when the count "
                "exceeds patience.", _plateau_variant("early")),
        Mistake("the bad-epoch count not reset after a cut",
                "After cutting the rate, start counting again from 0.", _plateau_variant("no_reset")),
        Mistake("an absolute threshold instead of a relative one",
                "In 'rel' mode a value improves when metric < best * (1 - threshold).",
                _plateau_variant("abs")),
        Mistake("threshold_mode ignored (a relative threshold in 'abs' mode too)",
                "In 'abs' mode a value improves when metric < best - threshold (or > best + "
                "threshold in 'max' mode).", _plateau_variant("rel_only")),
        Mistake("each value compared with the previous one instead of the best so far",
                "Keep the best value seen so far in state['best'] and compare with it.",
                _plateau_variant("last")),
        Mistake("mode ignored ('max' treated as 'min')",
                "In 'max' mode larger is better: the best starts at -inf, and a value improves "
                "when metric > best * (1 + threshold) ('rel') or > best + threshold ('abs').",
                _plateau_variant("min_only")),
        Mistake("the best started at +inf in 'max' mode",
                "A 'max' run starts from best = -inf, so that the first value improves on it.",
                _plateau_variant("best_inf")),
        Mistake("bad epochs counted during the cooldown",
                "For `cooldown` epochs after a cut, count down state['cooldown_counter'] and "
                "keep num_bad_epochs at 0.", _plateau_variant("no_cooldown")),
        Mistake("min_lr ignored", "The cut rate is max(lr * factor, min_lr).",
                _plateau_variant("no_min_lr")),
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

# -- check: the student writes the round-trip check ------------------------------------

from ... import problems as P  # noqa: E402 - the pairs live where they can cross to the sandbox

#: (pair, the verdict a right check gives, the mistake a check that gets it wrong makes)
PAIRS = [
    ((P.checkpoint_dict, P.resume_dict), True,
     ("a right pair refused", "A pair that saves copies of w, every state entry and the step, "
      "and resumes from copies, continues bit for bit: your check must say True.")),
    ((P.checkpoint_tuple, P.resume_tuple), True,
     ("a right pair in another layout refused", "The layout is the pair's own business: "
      "check only what resume returns and where the resumed run ends.")),
    ((P.checkpoint_dict, P.resume_float32), False,
     ("a tolerance (np.allclose) where the contract is bit-identical",
      "This resume returns w rounded to float32, about 1e-8 off: close, not the same run. "
      "Compare with np.array_equal.")),
    ((P.checkpoint_dict, P.resume_shared), False,
     ("resumed only once", "This resume hands out the checkpoint's own arrays: the first "
      "resumed run is right, and it moves the start of the second. Resume twice from the same "
      "unpickled checkpoint.")),
    ((P.checkpoint_next_step, P.resume_dict), False,
     ("the resumed step not checked", "This checkpoint stores step + 1: a resumed run continues "
      "from grads[step:], so check the step resume returns and continue from it.")),
    ((P.checkpoint_no_buffer, P.resume_dict), False,
     ("a pair that loses the momentum buffer accepted", "Run the resumed copy through the same "
      "remaining gradients and compare where it ends with the run that never stopped.")),
]


def _resume_is_exact(checkpoint, resume, grads):
    """The reference check: as the notebook's text describes it."""
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


def _check_variant(kind):
    def check(checkpoint, resume, grads):
        k = len(grads) // 2
        w, state = np.zeros_like(grads[0]), {}
        for g in grads[:k]:
            w = momentum_step(w, g, state)
        saved = pickle.dumps(checkpoint(w, state, k))
        for g in grads[k:]:
            w = momentum_step(w, g, state)
        loaded = pickle.loads(saved)
        for _ in range(1 if kind == "once" else 2):
            w2, state2, step = resume(loaded)
            if kind != "no_step" and step != k:
                return False
            for g in grads[k if kind == "no_step" else step:]:
                w2 = momentum_step(w2, g, state2)
            same = np.allclose(w2, w) if kind == "allclose" else np.array_equal(w2, w)
            if not same:
                return False
        return True
    return check


@dataclass
class ResumeCheckExercise(Exercise):
    plan: dict = field(default_factory=dict)

    def __post_init__(self):
        self.parts = dict(self.plan)

    def cases(self, part, hidden):
        seeds = (21, 22) if hidden else (7,)
        n = 12 if hidden else 10
        return [Case(f"{'hidden ' if hidden else ''}{n} gradients of shape (4,) (seed {s})",
                     {"grads": [np.random.default_rng(s).standard_normal(4) for _ in range(n)]})
                for s in seeds]

    def check_case(self, fn, case):
        for (make, back), verdict, (mistake, hint) in PAIRS:
            said = self.call(fn, make, back, [g.copy() for g in case.data["grads"]])
            name = f"your verdict on the pair ({make.__name__}, {back.__name__})"
            if isinstance(said, Raised):
                return Mismatch(name, "error", f"the function raised {said}", case=case.label)
            if not isinstance(said, (bool, np.bool_)):
                return Mismatch(name, "type", f"expected True or False, got {said!r:.60}",
                                case=case.label)
            if bool(said) != verdict:
                return Mismatch(name, "value", f"expected {verdict}, got {bool(said)}",
                                case=case.label, mistake=mistake, hint=hint)
        return None


resume_is_exact = ResumeCheckExercise(
    assignment=A, function="resume_is_exact", reference=_resume_is_exact,
    plan={"verdicts": 3},
    mistakes=[Mistake("a tolerance (np.allclose) where the contract is bit-identical", "",
                      _check_variant("allclose")),
              Mistake("resumed only once", "", _check_variant("once")),
              Mistake("the resumed step not checked", "", _check_variant("no_step"))])

EXERCISES = [warmup_cosine, total_step, peak_lr, triangular, plateau, checkpoint, resume,
             resume_is_exact]
