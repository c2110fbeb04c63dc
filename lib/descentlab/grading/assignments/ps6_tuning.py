"""ps6_tuning: a log-uniform sampler, random search under a trial budget, an LR
range test that must return a usable rate, and stratified minibatches.

Random answers are graded statistically, each check with its false-alarm
probability stated (below 1e-8 per check, so that a correct answer never
fails by bad luck); searches and range tests by what their answer achieves
when the grader trains with it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ...problems import HyperparameterObjective, LeastSquaresProblem, Needle
from ..exercise import Case, Exercise, Mistake, Raised
from ..report import Mismatch, short

A = "ps6_tuning"
FORBIDDEN = ("descentlab.optim", "descentlab.schedulers", "descentlab.init", "descentlab.layers",
             "descentlab.grading", "descentlab._jit", "descentlab.tuning", "descentlab.data",
             "descentlab.batching", "torch")


def _ks_threshold(n: int, alpha: float = 1e-8) -> float:
    """Dvoretzky-Kiefer-Wolfowitz: P(sup |F_n - F| > d) <= 2 exp(-2 n d^2)."""
    return math.sqrt(math.log(2 / alpha) / (2 * n))


def _ks(u: np.ndarray) -> float:
    """sup |F_n - F| of samples u against U(0, 1)."""
    u = np.sort(u)
    n = u.size
    return float(max(np.max(np.arange(1, n + 1) / n - u), np.max(u - np.arange(n) / n)))


# -- 1. log-uniform sampler -----------------------------------------------------------------

def _log_uniform(low, high, size, rng):
    return np.exp(rng.uniform(np.log(low), np.log(high), size))


def _lu_linear(low, high, size, rng):
    return rng.uniform(low, high, size)


def _lu_log10(low, high, size, rng):
    return np.exp(rng.uniform(np.log10(low), np.log10(high), size))


def _lu_logs(low, high, size, rng):
    return rng.uniform(np.log(low), np.log(high), size)


def _lu_global(low, high, size, rng):
    return np.exp(np.random.default_rng().uniform(np.log(low), np.log(high), size))


LU_MISTAKES = [
    Mistake("uniform instead of log-uniform", "Draw the logarithm uniformly: "
            "exp(rng.uniform(log(low), log(high), size)); a uniform draw puts almost every value "
            "in the top decade.", _lu_linear),
    Mistake("log10 bounds exponentiated with exp", "Use the same base both ways: np.log with "
            "np.exp, or np.log10 with 10 ** ...", _lu_log10),
    Mistake("the logarithms returned instead of the values", "Exponentiate the uniform draw.",
            _lu_logs),
    Mistake("the rng argument ignored", "Draw from the generator you are given (rng.uniform).",
            _lu_global),
]


@dataclass
class LogUniformExercise(Exercise):
    def __post_init__(self):
        self.parts = {"distribution": 2}
        self.forbidden = FORBIDDEN

    def cases(self, part, hidden):
        ranges = [(1e-5, 1e-1), (0.5, 2000.0)] if hidden else [(1e-4, 1.0)]
        return [Case(f"{'hidden ' if hidden else ''}low={lo:g}, high={hi:g}, size=20000",
                     {"low": lo, "high": hi, "seed": int(hi * 7) % 97}) for lo, hi in ranges]

    def check_case(self, fn, case):
        m = self._judge(fn, case)
        if m is not None:
            m.case = case.label
        return m

    def _named(self, name, m):
        mistake = next(x for x in self.mistakes if x.name == name)
        m.mistake, m.hint = mistake.name, mistake.hint
        return m

    def _fits(self, v, a, b, n):
        """Whether v looks uniform on [a, b] (same test, same false-alarm rate)."""
        return bool(np.all((v >= a) & (v <= b))) and _ks((v - a) / (b - a)) <= _ks_threshold(n)

    def _judge(self, fn, case):
        lo, hi, seed, n = case.data["low"], case.data["high"], case.data["seed"], 20000
        x = self.call(fn, lo, hi, n, np.random.default_rng(seed))
        if isinstance(x, Raised):
            return Mismatch("the samples", "error", f"the function raised {x}")
        if not isinstance(x, np.ndarray) or x.shape != (n,) or x.dtype.kind != "f":
            return Mismatch("the samples", "type", f"expected a float array of shape ({n},), "
                            f"got {short(x)}")
        if np.any(~np.isfinite(x)) or x.min() < lo * (1 - 1e-12) or x.max() > hi * (1 + 1e-12):
            m = Mismatch("the samples", "property", f"they should lie in [{lo:g}, {hi:g}]; "
                         f"they span [{x.min():.4g}, {x.max():.4g}]")
            if self._fits(x, math.log(lo), math.log(hi), n):
                return self._named("the logarithms returned instead of the values", m)
            if np.all(x > 0) and self._fits(np.log(x), math.log10(lo), math.log10(hi), n):
                return self._named("log10 bounds exponentiated with exp", m)
            return m
        u = (np.log(x) - math.log(lo)) / (math.log(hi) - math.log(lo))
        d, limit = _ks(u), _ks_threshold(n)
        if d > limit:
            m = Mismatch("the samples", "property",
                         f"their logarithms are not uniform: the largest gap between their "
                         f"distribution and the uniform one is {d:.3f} (at most {limit:.3f} "
                         "for a correct sampler, false alarm 1e-8)")
            if self._fits(x, lo, hi, n):
                return self._named("uniform instead of log-uniform", m)
            return m
        again = self.call(fn, lo, hi, n, np.random.default_rng(seed))
        if not (isinstance(again, np.ndarray) and np.array_equal(again, x)):
            return self._named("the rng argument ignored", Mismatch(
                "the samples", "property", "the same seed gave different samples"))
        return None


log_uniform = LogUniformExercise(assignment=A, function="log_uniform", reference=_log_uniform,
                                 mistakes=LU_MISTAKES)


# -- 2. random search ------------------------------------------------------------------------

SPACE = {"lr": (1e-4, 10.0, "log"), "weight_decay": (1e-6, 1.0, "log"),
         "momentum": (0.0, 0.95, "linear")}
TRIALS = 20
BAR = 0.93  # validation accuracy; 20 log-uniform trials reach it with probability > 0.999


def _draw(space, rng):
    return {k: float(np.exp(rng.uniform(np.log(lo), np.log(hi)))) if s == "log"
            else float(rng.uniform(lo, hi)) for k, (lo, hi, s) in space.items()}


def _random_search(objective, space, trials, rng):
    best, best_score = None, -math.inf
    for _ in range(trials):
        point = _draw(space, rng)
        score = objective(**point)
        if score > best_score:
            best, best_score = point, score
    return best


def _rs_last(objective, space, trials, rng):
    point = None
    for _ in range(trials):
        point = _draw(space, rng)
        objective(**point)
    return point


def _rs_min(objective, space, trials, rng):
    best, best_score = None, math.inf
    for _ in range(trials):
        point = _draw(space, rng)
        score = objective(**point)
        if score < best_score:
            best, best_score = point, score
    return best


def _rs_over_budget(objective, space, trials, rng):
    return _random_search(objective, space, trials + 5, rng)


def _rs_uniform(objective, space, trials, rng):
    flat = {k: (lo, hi, "linear") for k, (lo, hi, _) in space.items()}
    best, best_score = None, -math.inf
    for _ in range(trials):
        point = _draw(flat, rng)
        score = objective(**point)
        if score > best_score:
            best, best_score = point, score
    return best


RS_MISTAKES = [
    Mistake("the last trial returned instead of the best", "Keep the best score seen so far and "
            "the point that gave it.", _rs_last),
    Mistake("the worst trial returned (the score minimised)", "The objective is a validation "
            "accuracy: higher is better.", _rs_min),
    Mistake("more trials than the budget", "Call the objective exactly `trials` times at most.",
            _rs_over_budget),
    Mistake("uniform sampling on a log axis", "On an axis marked 'log', draw log-uniformly "
            "(exp of a uniform draw of the logarithm).", _rs_uniform),
]


@dataclass
class RandomSearchExercise(Exercise):
    def __post_init__(self):
        self.parts = {"budget": 1, "sampling": 1, "accuracy": 2}
        self.forbidden = FORBIDDEN

    def cases(self, part, hidden):
        seeds = (11, 12) if hidden else (1,)
        if part == "accuracy":
            return [Case(f"{'hidden ' if hidden else ''}digits, {TRIALS} trials, rng seed {s}",
                         {"seed": s}) for s in seeds[:1]]
        return [Case(f"{'hidden ' if hidden else ''}a test objective, rng seed {s}", {"seed": s})
                for s in seeds]

    def check(self, fn, part, hidden=False):
        if part not in self.parts:
            raise ValueError(f"part must be one of {sorted(self.parts)} for {self.id}, got {part!r}")
        if not callable(fn):
            return Mismatch(self.function, "type", f"expected a function, got {type(fn).__name__}")
        judge = getattr(self, f"_{part}")
        for case in self.cases(part, hidden):
            m = judge(fn, case)
            if m is not None:
                m.case = case.label
                return m
        return None

    def _named(self, name, m):
        mistake = next(x for x in self.mistakes if x.name == name)
        m.mistake, m.hint = mistake.name, mistake.hint
        return m

    def _over(self, calls, budget):
        return self._named("more trials than the budget", Mismatch(
            "the number of trials", "value",
            f"the objective was called {len(calls)} times with a budget of {budget}"))

    def _run(self, fn, objective, trials, seed):
        out = self.call(fn, objective, dict(SPACE), trials, np.random.default_rng(seed))
        if isinstance(out, Raised):
            return None, Mismatch("random_search", "error", f"the function raised {out}")
        if not isinstance(out, dict) or set(out) != set(SPACE):
            return None, Mismatch("the returned point", "type",
                                  f"expected a dict with keys {sorted(SPACE)}, got {short(out)}")
        for k, (lo, hi, _) in SPACE.items():
            v = out[k]
            if not isinstance(v, (int, float, np.floating, np.integer)) or not lo <= v <= hi:
                return None, Mismatch(f"the returned {k}", "value",
                                      f"expected a number in [{lo:g}, {hi:g}], got {short(v)}")
        return out, None

    def _budget(self, fn, case):
        objective = Needle(SPACE, peak=0.6)
        point, m = self._run(fn, objective, 15, case.data["seed"])
        if m is not None:
            return m
        calls = objective.calls
        if len(calls) > 15:
            return self._over(calls, 15)
        scores = [Needle(SPACE, 0.6)(**c) for c in calls]
        best = calls[int(np.argmax(scores))]

        def same(a, b):
            return all(math.isclose(float(a[k]), float(b[k]), rel_tol=1e-12) for k in SPACE)

        if not any(same(point, c) for c in calls):
            return Mismatch("the returned point", "value",
                            "it is not one of the points the objective was called with")
        mine = Needle(SPACE, 0.6)(**point)
        if mine < max(scores):
            m = Mismatch("the returned point", "value",
                         f"it scored {mine:.4f}, but the trial "
                         f"{ {k: round(v, 6) for k, v in best.items()} } scored {max(scores):.4f}")
            if mine == min(scores):
                return self._named("the worst trial returned (the score minimised)", m)
            if same(point, calls[-1]):
                return self._named("the last trial returned instead of the best", m)
            return m
        return None

    def _sampling(self, fn, case):
        objective = Needle(SPACE, peak=0.6)
        _, m = self._run(fn, objective, 400, case.data["seed"])
        if m is not None:
            return m
        calls = objective.calls
        n = len(calls)
        if n > 400:
            return self._over(calls, 400)
        if n < 100:
            return Mismatch("the number of trials", "value", f"only {n} of a budget of 400 used")
        for k, (lo, hi, scale) in SPACE.items():
            v = np.array([float(c[k]) for c in calls])
            u = (np.log(v) - math.log(lo)) / (math.log(hi) - math.log(lo)) if scale == "log" \
                else (v - lo) / (hi - lo)
            d, limit = _ks(u), _ks_threshold(n)
            if d > limit:
                m = Mismatch(f"the trials' {k}", "property",
                             f"not {'log-' if scale == 'log' else ''}uniform on "
                             f"[{lo:g}, {hi:g}]: distance {d:.3f} from that distribution, at "
                             f"most {limit:.3f} for a correct sampler (false alarm 1e-8)")
                if scale == "log" and _ks((v - lo) / (hi - lo)) <= limit:
                    return self._named("uniform sampling on a log axis", m)
                return m
        return None

    def _accuracy(self, fn, case):
        objective = HyperparameterObjective(init_seed=0)
        point, m = self._run(fn, objective, TRIALS, case.data["seed"])
        if m is not None:
            return m
        if len(objective.calls) > TRIALS:
            return self._over(objective.calls, TRIALS)
        # retrain from other initial weights: the point must be good, not a lucky draw
        score = HyperparameterObjective(init_seed=1)(**{k: float(v) for k, v in point.items()})
        if score < BAR:
            return Mismatch("the returned point", "value",
                            f"retrained from new initial weights it reaches a validation accuracy "
                            f"of {score:.3f}; a search of {TRIALS} trials should find one above "
                            f"{BAR}")
        return None


random_search = RandomSearchExercise(assignment=A, function="random_search",
                                     reference=_random_search, mistakes=RS_MISTAKES)


# -- 3. LR range test -------------------------------------------------------------------------

def _range_test(loss_and_grad, w0, lr_min, lr_max, steps):
    lrs = lr_min * (lr_max / lr_min) ** (np.arange(steps) / (steps - 1))
    w, losses = np.array(w0, dtype=float), []
    for lr in lrs:
        loss, grad = loss_and_grad(w)
        losses.append(loss)
        if not math.isfinite(loss) or loss > 4 * min(losses):
            break
        w = w - lr * grad
    return float(lrs[int(np.nanargmin(np.where(np.isfinite(losses), losses, np.nan)))] / 10)


def _rt_no_tenth(loss_and_grad, w0, lr_min, lr_max, steps):
    return 10 * _range_test(loss_and_grad, w0, lr_min, lr_max, steps)


def _rt_last(loss_and_grad, w0, lr_min, lr_max, steps):
    lrs = lr_min * (lr_max / lr_min) ** (np.arange(steps) / (steps - 1))
    w, losses, last = np.array(w0, dtype=float), [], lr_min
    for lr in lrs:
        loss, grad = loss_and_grad(w)
        losses.append(loss)
        last = lr
        if not math.isfinite(loss) or loss > 4 * min(losses):
            break
        w = w - lr * grad
    return float(last)


def _rt_linear(loss_and_grad, w0, lr_min, lr_max, steps):
    lrs = np.linspace(lr_min, lr_max, steps)
    w, losses = np.array(w0, dtype=float), []
    for lr in lrs:
        loss, grad = loss_and_grad(w)
        losses.append(loss)
        if not math.isfinite(loss) or loss > 4 * min(losses):
            break
        w = w - lr * grad
    return float(lrs[int(np.argmin(losses))] / 10)


RT_MISTAKES = [
    Mistake("the rate at the lowest loss, not a tenth of it", "At the lowest loss the rate is "
            "already near the edge of stability; step back a decade: divide by 10.",
            _rt_no_tenth),
    Mistake("the last rate tried (where the loss blew up)", "Return the rate at the lowest "
            "loss, divided by 10, not the rate at which the test stopped.", _rt_last),
    Mistake("a linear sweep instead of a geometric one", "Grow the rate geometrically: "
            "lr_min * (lr_max / lr_min) ** (k / (steps - 1)); a linear sweep jumps over the "
            "small rates in its first step.", _rt_linear),
]

RT_CASES = {False: [("standardised digits", {})],
            True: [("raw pixel values 0..16", {"raw": True}),
                   ("features scaled by 0.1", {"scale": 0.1})]}


@dataclass
class RangeTestExercise(Exercise):
    def __post_init__(self):
        self.parts = {"usable": 2}
        self.forbidden = FORBIDDEN

    def cases(self, part, hidden):
        return [Case(f"{'hidden ' if hidden else ''}least squares on {label}, "
                     "lr_min=1e-6, lr_max=100, steps=100", {"kw": kw})
                for label, kw in RT_CASES[hidden]]

    def check_case(self, fn, case):
        m = self._judge(fn, case)
        if m is not None and m.problem != "error":
            got = m.extra.pop() if m.extra else None
            for mistake in self.mistakes:
                theirs = self._suggest(mistake.implementation, case)
                if got is not None and isinstance(theirs, float) and \
                        math.isclose(theirs, got, rel_tol=0.05):
                    m.mistake, m.hint = mistake.name, mistake.hint
                    break
        if m is not None:
            m.case, m.extra = case.label, []
        return m

    def _suggest(self, fn, case):
        problem = LeastSquaresProblem(**case.data["kw"])
        return self.call(fn, problem.loss_and_grad, problem.w0.copy(), 1e-6, 100.0, 100)

    def _judge(self, fn, case):
        lr = self._suggest(fn, case)
        if isinstance(lr, Raised):
            return Mismatch("lr_range_test", "error", f"the function raised {lr}")
        if isinstance(lr, (bool, np.bool_)) or not isinstance(lr, (int, float, np.floating)) \
                or not 1e-6 <= float(lr) <= 100.0:
            return Mismatch("the returned rate", "value",
                            f"expected a number in [lr_min, lr_max] = [1e-06, 100], got {short(lr)}")
        lr = float(lr)
        problem = LeastSquaresProblem(**case.data["kw"])
        start = problem.descend(0.0, 0)
        ref = problem.descend(_range_test(problem.loss_and_grad, problem.w0, 1e-6, 100.0, 100))
        target = start - 0.5 * (start - ref)
        got = problem.descend(lr)
        if not got <= target:
            what = "diverges" if not math.isfinite(got) or got > start else "learns too slowly"
            return Mismatch("the returned rate", "value",
                            f"lr = {lr:.4g} {what}: 50 steps of gradient descent at it end at "
                            f"loss {got:.4g}, while a usable rate reaches {target:.4g} or less "
                            f"(from {start:.4g})", extra=[lr])
        return None


lr_range_test = RangeTestExercise(assignment=A, function="lr_range_test", reference=_range_test,
                                  mistakes=RT_MISTAKES)


# -- 4. stratified minibatches ----------------------------------------------------------------

def _stratified(y, batch_size, rng):
    y = np.asarray(y)
    position = np.empty(y.size)
    for c in np.unique(y):
        members = np.flatnonzero(y == c)
        members = members[rng.permutation(members.size)]
        position[members] = (np.arange(members.size) + rng.random(members.size)) / members.size
    order = np.argsort(position, kind="stable")
    return [order[i:i + batch_size] for i in range(0, y.size, batch_size)]


def _st_sorted(y, batch_size, rng):
    order = np.argsort(np.asarray(y), kind="stable")
    return [order[i:i + batch_size] for i in range(0, len(y), batch_size)]


def _st_random(y, batch_size, rng):
    order = rng.permutation(len(y))
    return [order[i:i + batch_size] for i in range(0, len(y), batch_size)]


def _st_drop_last(y, batch_size, rng):
    batches = _stratified(y, batch_size, rng)
    return batches if len(y) % batch_size == 0 else batches[:-1]


def _st_global(y, batch_size, rng):
    return _stratified(y, batch_size, np.random.default_rng())


ST_MISTAKES = [
    Mistake("batches cut from the labels sorted by class", "Each batch must mix the classes: "
            "shuffle within each class, then spread every class evenly over the epoch.",
            _st_sorted),
    Mistake("plain random batches, not stratified", "A random permutation gives each class a "
            "random count in a batch; give it about batch_size * n_c / n instead.", _st_random),
    Mistake("the last, partial batch dropped", "When batch_size does not divide n, the last "
            "batch holds the remaining examples.", _st_drop_last),
    Mistake("the rng argument ignored", "Shuffle with the generator you are given.", _st_global),
]


def _labels(seed, n, counts):
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(len(counts)), counts)[:n]
    return y[rng.permutation(y.size)]


@dataclass
class StratifiedExercise(Exercise):
    def __post_init__(self):
        self.parts = {"epoch": 1, "balance": 2}
        self.forbidden = FORBIDDEN

    def cases(self, part, hidden):
        specs = ([(5, (30, 50, 20, 40, 60, 17), 16)] if not hidden else
                 [(6, (100, 10, 45, 80), 25), (7, (33,) * 10, 10)])
        return [Case(f"{'hidden ' if hidden else ''}{sum(c)} labels of {len(c)} classes "
                     f"(counts {c}), batch_size={b}", {"seed": s, "counts": c, "b": b})
                for s, c, b in specs]

    def check_case(self, fn, case):
        part = "balance" if getattr(self, "_part", "epoch") == "balance" else "epoch"
        m = self._judge(fn, case, part)
        if m is not None and m.problem != "error":
            for mistake in self.mistakes:
                theirs = self._judge(mistake.implementation, case, part)
                if theirs is not None and (theirs.detail == m.detail or (
                        part == "balance" and theirs.mistake_key == m.mistake_key)):
                    m.mistake, m.hint = mistake.name, mistake.hint
                    break
        if m is not None:
            m.case = case.label
        return m

    def check(self, fn, part, hidden=False):
        self._part = part
        return super().check(fn, part, hidden)

    def _judge(self, fn, case, part):
        counts, b = case.data["counts"], case.data["b"]
        y = _labels(case.data["seed"], sum(counts), counts)
        n = y.size
        out = self.call(fn, y.copy(), b, np.random.default_rng(case.data["seed"]))
        if isinstance(out, Raised):
            return _M("the batches", "error", f"the function raised {out}", "error")
        try:
            batches = [np.asarray(x) for x in out]
        except TypeError:
            return _M("the batches", "type", f"expected a list of index arrays, got {short(out)}",
                      "type")
        if not batches or any(x.ndim != 1 or x.dtype.kind not in "iu" for x in batches):
            return _M("the batches", "type", "expected a list of 1-D integer index arrays", "type")
        flat = np.concatenate(batches)
        sizes = [x.size for x in batches]
        want = [b] * (n // b) + ([n % b] if n % b else [])
        if part == "epoch":
            if not np.array_equal(np.sort(flat), np.arange(n)):
                missing = np.setdiff1d(np.arange(n), flat).size
                return _M("the batches", "property",
                          f"together they should hold every index 0..{n - 1} exactly once; "
                          f"{missing} are missing and {flat.size - np.unique(flat).size} repeat",
                          "coverage")
            if sizes != want:
                return _M("the batch sizes", "value", f"expected {short(want)}, got {short(sizes)}",
                          "sizes")
            again = self.call(fn, y.copy(), b, np.random.default_rng(case.data["seed"]))
            other = self.call(fn, y.copy(), b, np.random.default_rng(case.data["seed"] + 100))
            try:
                same = np.array_equal(np.concatenate([np.asarray(x) for x in again]), flat)
                differ = not np.array_equal(np.concatenate([np.asarray(x) for x in other]), flat)
            except (TypeError, ValueError):
                same = differ = False
            if not same:
                return _M("the batches", "property", "the same seed gave different batches",
                          "rng")
            if not differ:
                return _M("the batches", "property", "two different seeds gave the same batches",
                          "rng")
            return None
        share = np.bincount(y, minlength=len(counts)) / n
        for k, x in enumerate(batches):
            if x.size != b or np.any((x < 0) | (x >= n)):
                continue  # the partial last batch, or indices the epoch part reports
            got = np.bincount(y[x], minlength=len(counts))
            dev = np.abs(got - b * share)
            if dev.max() > 2:
                c = int(np.argmax(dev))
                kind = "one-class" if got.max() >= 0.9 * b else "random"
                return _M(f"batch {k}", "property",
                          f"it holds {got[c]} examples of class {c}, expected about "
                          f"{b * share[c]:.1f} (batch_size * n_c / n, within 2)", kind)
        return None


def _M(variable, problem, detail, key):
    """A Mismatch tagged with the kind of failure, to match it with a catalogued mistake."""
    m = Mismatch(variable, problem, detail)
    m.mistake_key = key
    return m


stratified_batches = StratifiedExercise(assignment=A, function="stratified_batches",
                                        reference=_stratified, mistakes=ST_MISTAKES)

EXERCISES = [log_uniform, random_search, lr_range_test, stratified_batches]
