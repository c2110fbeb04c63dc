"""ps5_init_bn_dropout: Xavier and Kaiming initialisers, a measurement of the
activations' spread through depth, BatchNorm forward, a numerical gradient
check, BatchNorm backward derived by the student, Dropout forward and backward.

Random answers (initial weights, dropout masks) are graded statistically:
every check states its false-alarm probability, which is below 1e-8 per test
so that a correct answer never fails by bad luck.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import numpy as np
from threadpoolctl import threadpool_limits

from ...init import calculate_fan_in_and_fan_out, calculate_gain, kaiming_std, xavier_std
from ...layers import batchnorm_backward, batchnorm_forward, dropout_forward
from ..exercise import Case, Exercise, Mistake, Raised, snapshot
from ..report import Mismatch, compare, short

A = "ps5_init_bn_dropout"
Z = 6.0  # standard errors: two-sided false alarm about 2e-9 per check


# -- initialisers: graded by their distribution -------------------------------------------

@dataclass
class InitExercise(Exercise):
    """``fn(shape, ..., rng) -> array``: its spread, bounds, centre and reproducibility."""

    kind: str = "uniform"  # or "normal"
    std: object = None      # (shape, **kw) -> the prescribed standard deviation
    cases_: dict = field(default_factory=dict)
    #: mistake name -> (shape, **kw) -> the standard deviation that mistake gives
    wrong_std: dict = field(default_factory=dict)

    def __post_init__(self):
        self.parts = {"distribution": 2}

    def cases(self, part, hidden):
        return [Case(f"{'hidden ' if hidden else ''}shape={shape}"
                     + "".join(f", {k}={v!r}" for k, v in kw.items()), {"shape": shape, "kw": kw})
                for shape, kw in self.cases_["hidden" if hidden else "visible"]]

    def check_case(self, fn, case):
        shape, kw = case.data["shape"], case.data["kw"]
        seed = sum(shape) + 7
        w = self.call(fn, shape, **kw, rng=np.random.default_rng(seed))
        if isinstance(w, Raised):
            return Mismatch("the weights", "error", f"the function raised {w}")
        m = compare("the weights", np.zeros(shape), w) if not isinstance(w, np.ndarray) or \
            w.shape != shape or w.dtype != np.float64 else None
        if m is not None:
            return m
        again = self.call(fn, shape, **kw, rng=np.random.default_rng(seed))
        if not (isinstance(again, np.ndarray) and np.array_equal(again, w)):
            return Mismatch("the weights", "property", "the same seed gave different weights",
                            mistake="the rng argument ignored",
                            hint="Draw from the generator you are given (rng.uniform, rng.normal).")
        n = w.size
        sigma = self.std(shape, **kw)
        mean, var = float(w.mean()), float(w.var())
        if abs(mean) > Z * sigma / math.sqrt(n):
            return Mismatch("the weights", "property",
                            f"their mean is {mean:.4g}; a centred distribution with std "
                            f"{sigma:.4g} would stay within {Z * sigma / math.sqrt(n):.2g} of 0",
                            mistake="the weights are not centred on 0" if self.kind == "uniform"
                            else None,
                            hint="Sample from [-bound, bound], not [0, bound].")
        if self.kind == "uniform":
            bound = math.sqrt(3) * sigma
            # for n uniform draws P(max|w| < b (1 - d)) = (1 - d)^n: d = 30/n leaves e^-30
            if np.max(np.abs(w)) > bound * (1 + 1e-12) or np.max(np.abs(w)) < bound * (1 - 30 / n):
                found = self._diagnose(var, n, shape, kw, 4 / 45)
                return Mismatch("the weights", "property",
                                f"they should fill [-{bound:.5g}, {bound:.5g}]; their largest "
                                f"magnitude is {np.max(np.abs(w)):.5g}", **found)
            fourth = 4 / 45  # (mu4 - sigma^4) / sigma^4... for U(-b, b): b^4 (1/5 - 1/9)
            spread = math.sqrt(fourth) * bound ** 2 / math.sqrt(n)
        else:
            spread = math.sqrt(2 / n) * sigma ** 2
        if abs(var - sigma ** 2) > Z * spread:
            found = self._diagnose(var, n, shape, kw, 4 / 45 if self.kind == "uniform" else None)
            return Mismatch("the weights", "property",
                            f"their variance is {var:.5g}, expected {sigma ** 2:.5g} "
                            f"(std {sigma:.5g}) within {Z * spread:.2g}", **found)
        return None

    def _diagnose(self, var, n, shape, kw, fourth):
        for name, wrong in self.wrong_std.items():
            try:
                s = wrong(shape, **kw)
            except Exception:  # noqa: BLE001 - a mistake that does not apply to this case
                continue
            spread = (math.sqrt(fourth) * 3 * s ** 2 if fourth else math.sqrt(2) * s ** 2) / math.sqrt(n)
            if abs(var - s ** 2) <= Z * spread:
                mistake = self._named(name)
                return {"mistake": mistake.name, "hint": mistake.hint}
        return {}

    def _named(self, name):
        return next(m for m in self.mistakes if m.name == name)


def _fans(shape):
    return calculate_fan_in_and_fan_out(shape)


def _xavier_sampler(variance):
    def sample(shape, gain=1.0, rng=None):
        b = math.sqrt(3 * variance(shape, gain))
        return rng.uniform(-b, b, shape)
    return sample


XAVIER_WRONG = {
    "Xavier with fan_in only":
        lambda shape, gain=1.0: gain * math.sqrt(1 / _fans(shape)[0]),
    # (for a plain matrix this one coincides with the right answer)
    "the kernel's receptive field left out of the fans":
        lambda shape, gain=1.0: gain * math.sqrt(2 / (shape[0] + shape[1])),
    "the uniform bound used as the standard deviation (bound sqrt(3) times too wide)":
        lambda shape, gain=1.0: math.sqrt(3) * xavier_std(shape, gain),
    "gain ignored": lambda shape, gain=1.0: xavier_std(shape, 1.0),
}

xavier = InitExercise(
    assignment=A, function="xavier_uniform",
    reference=lambda shape, gain=1.0, rng=None: _xavier_sampler(
        lambda s, g: xavier_std(s, g) ** 2)(shape, gain, rng),
    kind="uniform", std=lambda shape, gain=1.0: xavier_std(shape, gain),
    cases_={"visible": [((256, 512), {}), ((64, 32, 3, 3), {"gain": 5 / 3})],
            "hidden": [((1000, 200), {"gain": 1.0}), ((128, 64, 5, 5), {}),
                       ((300, 300), {"gain": math.sqrt(2)})]},
    wrong_std=XAVIER_WRONG,
    mistakes=[
        Mistake("Xavier with fan_in only",
                "Glorot & Bengio average the two fans: bound = gain * sqrt(6 / (fan_in + fan_out)).",
                _xavier_sampler(lambda s, g: XAVIER_WRONG["Xavier with fan_in only"](s, g) ** 2)),
        Mistake("the kernel's receptive field left out of the fans",
                "For a conv weight (out, in, kh, kw), fan_in = in * kh * kw and "
                "fan_out = out * kh * kw.",
                _xavier_sampler(lambda s, g: XAVIER_WRONG[
                    "the kernel's receptive field left out of the fans"](s, g) ** 2)),
        Mistake("the uniform bound used as the standard deviation (bound sqrt(3) times too wide)",
                "A uniform distribution on [-b, b] has standard deviation b / sqrt(3): "
                "the bound is sqrt(3) times the std, i.e. gain * sqrt(6 / (fan_in + fan_out)).",
                _xavier_sampler(lambda s, g: 3 * xavier_std(s, g) ** 2)),
        Mistake("gain ignored", "Multiply the bound by gain.",
                _xavier_sampler(lambda s, g: xavier_std(s, 1.0) ** 2)),
        Mistake("the weights are not centred on 0", "Sample from [-bound, bound], not [0, bound].",
                lambda shape, gain=1.0, rng=None: rng.uniform(
                    0, math.sqrt(3) * xavier_std(shape, gain), shape)),
    ],
)


def _kaiming_sampler(std):
    def sample(shape, nonlinearity="relu", rng=None):
        return rng.normal(0.0, std(shape, nonlinearity), shape)
    return sample


def _kstd(shape, nonlinearity="relu"):
    return kaiming_std(shape, mode="fan_in", nonlinearity=nonlinearity)


KAIMING_WRONG = {
    "Kaiming with the tanh gain":
        lambda shape, nonlinearity="relu": (5 / 3) / math.sqrt(_fans(shape)[0]),
    "fan_out instead of fan_in":
        lambda shape, nonlinearity="relu": calculate_gain(nonlinearity) / math.sqrt(_fans(shape)[1]),
    "the variance used as the standard deviation":
        lambda shape, nonlinearity="relu": calculate_gain(nonlinearity) ** 2 / _fans(shape)[0],
    "the gain left out":
        lambda shape, nonlinearity="relu": 1 / math.sqrt(_fans(shape)[0]),
}

kaiming = InitExercise(
    assignment=A, function="kaiming_normal",
    reference=lambda shape, nonlinearity="relu", rng=None: _kaiming_sampler(_kstd)(
        shape, nonlinearity, rng),
    kind="normal", std=_kstd,
    cases_={"visible": [((256, 512), {"nonlinearity": "relu"}),
                        ((64, 32, 3, 3), {"nonlinearity": "tanh"})],
            "hidden": [((500, 200), {"nonlinearity": "relu"}),
                       ((128, 16, 5, 5), {"nonlinearity": "relu"}),
                       ((300, 100), {"nonlinearity": "linear"})]},
    wrong_std=KAIMING_WRONG,
    mistakes=[Mistake(name, hint, _kaiming_sampler(KAIMING_WRONG[name])) for name, hint in [
        ("Kaiming with the tanh gain",
         "He et al.'s gain for ReLU is sqrt(2): std = sqrt(2 / fan_in). 5/3 is tanh's gain."),
        ("fan_out instead of fan_in",
         "mode='fan_in' keeps the forward pass's variance: divide by fan_in = in * kh * kw."),
        ("the variance used as the standard deviation",
         "The variance is gain**2 / fan_in; the standard deviation is its square root."),
        ("the gain left out",
         "Multiply by the nonlinearity's gain: sqrt(2) for relu, 5/3 for tanh, 1 for linear."),
    ]],
)


# -- batch normalisation ---------------------------------------------------------------------

def _bn_inputs(seed, n, d):
    rng = np.random.default_rng(seed)
    x = rng.normal(rng.uniform(-2, 2, d), rng.uniform(0.5, 3, d), (n, d))
    return dict(x=x, gamma=rng.uniform(0.5, 1.5, d), beta=rng.normal(0, 1, d),
                running_mean=rng.normal(0, 0.1, d), running_var=rng.uniform(0.5, 2, d))


def _textbook_forward(x, gamma, beta, running_mean, running_var, training=True, momentum=0.1,
                      eps=1e-5, *, unbiased_norm=False, biased_running=False, swapped=False,
                      eps_outside=False, eval_batch=False):
    """A plain numpy forward (and its cache format) for the catalogue of mistakes."""
    if training or eval_batch:
        mu = x.mean(axis=0)
        var = x.var(axis=0, ddof=1 if unbiased_norm else 0)
    else:
        mu, var = running_mean.copy(), running_var.copy()
    if training:
        new_var = x.var(axis=0, ddof=0 if biased_running else 1)
        keep, take = (momentum, 1 - momentum) if swapped else (1 - momentum, momentum)
        running_mean[...] = keep * running_mean + take * mu
        running_var[...] = keep * running_var + take * new_var
    inv = 1 / (np.sqrt(var) + eps) if eps_outside else 1 / np.sqrt(var + eps)
    xhat = (x - mu) * inv
    return gamma * xhat + beta, (xhat, gamma, inv, training)


def _textbook_backward(dout, cache, *, no_stats=False, swap=False):
    xhat, gamma, inv, training = cache
    dbeta = dout.sum(axis=0)
    dgamma = (dout * xhat).sum(axis=0)
    dxhat = dout * gamma
    if not training or no_stats:
        dx = dxhat * inv
    else:
        n = dout.shape[0]
        dx = inv / n * (n * dxhat - dxhat.sum(axis=0) - xhat * (dxhat * xhat).sum(axis=0))
    return (dx, dbeta, dgamma) if swap else (dx, dgamma, dbeta)


def _bn_forward_reference(x, gamma, beta, running_mean, running_var, training=True,
                          momentum=0.1, eps=1e-5):
    return batchnorm_forward(x, gamma, beta, running_mean, running_var, training, momentum, eps)


@dataclass
class LayerExercise(Exercise):
    """A layer function called once per case; some of what it returns and what it
    updates in place is compared with the reference."""

    plan: dict = field(default_factory=dict)  # part -> (points, visible specs, hidden specs)
    run: object = None                         # (exercise, fn, spec) -> observations dict

    def __post_init__(self):
        self.parts = {name: points for name, (points, _, _) in self.plan.items()}

    def cases(self, part, hidden):
        _, visible, secret = self.plan[part]
        return [Case(("hidden " if hidden else "") + spec["label"], {**spec, "part": part})
                for spec in (secret if hidden else visible)]

    def play(self, fn, case):
        return [self.run(self, fn, case.data)]


def _bn_forward_run(ex, fn, spec):
    inputs = _bn_inputs(spec["seed"], *spec["shape"])
    out = ex.call(fn, **inputs, training=spec["training"], momentum=spec["momentum"],
                  eps=spec["eps"])
    names = ["running_mean", "running_var"] if spec["part"] == "running_stats" else ["out"]
    if not isinstance(out, Raised) and not (isinstance(out, tuple) and len(out) == 2):
        out = Raised(f"TypeError: expected (out, cache), got {type(out).__name__}")
    if isinstance(out, Raised):
        return {name: out for name in names}
    seen = {}
    if spec["part"] in ("train_forward", "eval_forward"):
        seen["out"] = snapshot(out[0])
    if spec["part"] == "running_stats":
        seen["running_mean"] = inputs["running_mean"].copy()
        seen["running_var"] = inputs["running_var"].copy()
    return seen


def _bn_spec(label, seed, n, d, training=True, momentum=0.1, eps=1e-5):
    return {"label": f"{label}: x of shape ({n}, {d}), momentum={momentum}, eps={eps}",
            "seed": seed, "shape": (n, d), "training": training, "momentum": momentum, "eps": eps}


def _bn_mistake(**flag):
    return lambda *args, **kwargs: _textbook_forward(*args, **kwargs, **flag)


bn_forward = LayerExercise(
    assignment=A, function="batchnorm_forward", reference=_bn_forward_reference, run=_bn_forward_run,
    plan={
        "train_forward": (2, [_bn_spec("training", 1, 8, 5), _bn_spec("training", 2, 4, 3, eps=0.1)],
                          [_bn_spec("training", 3, 32, 10, eps=1e-3), _bn_spec("training", 4, 3, 2)]),
        "running_stats": (1, [_bn_spec("training", 5, 8, 5, momentum=0.1)],
                          [_bn_spec("training", 6, 5, 4, momentum=0.3),
                           _bn_spec("training", 7, 16, 3, momentum=0.9)]),
        "eval_forward": (1, [_bn_spec("evaluation", 8, 8, 5, training=False)],
                         [_bn_spec("evaluation", 9, 6, 7, training=False, eps=0.01)]),
    },
    mistakes=[
        Mistake("BatchNorm normalising with the unbiased variance",
                "Normalise with the biased batch variance (divide by N): x.var(axis=0).",
                _bn_mistake(unbiased_norm=True)),
        Mistake("the running variance stored biased",
                "torch stores the UNBIASED batch variance (divide by N - 1) in running_var, "
                "while it normalises with the biased one.", _bn_mistake(biased_running=True)),
        Mistake("momentum weighing the old running statistics instead of the new batch",
                "running = (1 - momentum) * running + momentum * batch statistic.",
                _bn_mistake(swapped=True)),
        Mistake("eps added outside the square root",
                "Divide by sqrt(var + eps), not sqrt(var) + eps.", _bn_mistake(eps_outside=True)),
        Mistake("evaluation mode normalising with the batch statistics",
                "With training=False use running_mean and running_var, and do not update them.",
                _bn_mistake(eval_batch=True)),
    ],
)


def _bn_backward_run(ex, fn, spec):
    inputs = _bn_inputs(spec["seed"], *spec["shape"])
    rng = np.random.default_rng(spec["seed"] + 100)
    dout = rng.standard_normal(spec["shape"])
    forward = ex.partners.get("batchnorm_forward", _textbook_forward)
    if fn is ex.reference:
        forward = _bn_forward_reference
    fwd = ex.call(forward, **{k: v.copy() for k, v in inputs.items()}, training=spec["training"],
                  eps=spec["eps"])
    if isinstance(fwd, Raised) or not (isinstance(fwd, tuple) and len(fwd) == 2):
        problem = fwd if isinstance(fwd, Raised) else Raised("TypeError: batchnorm_forward must "
                                                             "return (out, cache)")
        return {"dx": Raised(f"{problem} (in your batchnorm_forward, which this test needs)")}
    grads = ex.call(fn, dout, fwd[1])
    if not isinstance(grads, Raised) and not (isinstance(grads, tuple) and len(grads) == 3):
        grads = Raised(f"TypeError: expected (dx, dgamma, dbeta), got {type(grads).__name__}")
    if isinstance(grads, Raised):
        return {"dx": grads}
    return dict(zip(("dx", "dgamma", "dbeta"), map(snapshot, grads)))


def _bn_backward_reference(dout, cache):
    return batchnorm_backward(dout, cache)


bn_backward = LayerExercise(
    assignment=A, function="batchnorm_backward", reference=_bn_backward_reference,
    run=_bn_backward_run, needs=("batchnorm_forward",),
    plan={"train_gradients": (3, [_bn_spec("training", 11, 8, 5),
                                  _bn_spec("training", 12, 4, 3, eps=0.1)],
                              [_bn_spec("training", 13, 32, 10),
                               _bn_spec("training", 14, 3, 2, eps=1e-3)]),
          "eval_gradients": (1, [_bn_spec("evaluation", 16, 5, 3, training=False)],
                             [_bn_spec("evaluation", 15, 6, 4, training=False)])},
    mistakes=[
        Mistake("the gradient through the batch mean and variance left out",
                "In training, x also moves the batch mean and variance: add the paths through "
                "mu_B and sigma_B^2 to the direct one through xhat.",
                lambda dout, cache: _textbook_backward(dout, cache, no_stats=True)),
        Mistake("dgamma and dbeta swapped",
                "dgamma = sum(dout * xhat) over the batch; dbeta = sum(dout).",
                lambda dout, cache: _textbook_backward(dout, cache, swap=True)),
    ],
)


# -- dropout ----------------------------------------------------------------------------------

def _dropout_x(seed, shape):
    rng = np.random.default_rng(seed)
    return rng.uniform(0.5, 2.0, shape) * rng.choice([-1.0, 1.0], shape)  # no zeros in x


@dataclass
class DropoutExercise(Exercise):
    plan: dict = field(default_factory=dict)

    def __post_init__(self):
        self.parts = {name: points for name, (points, _) in self.plan.items()}

    def cases(self, part, hidden):
        _, specs = self.plan[part]
        chosen = specs[1] if hidden else specs[0]
        return [Case(f"{'hidden ' if hidden else ''}p={p}, x of shape {shape}",
                     {"p": p, "shape": shape, "seed": 31 * p.__hash__() % 1000 + len(shape)})
                for p, shape in chosen]

    def check_case(self, fn, case):
        p, shape = case.data["p"], case.data["shape"]
        x = _dropout_x(case.data["seed"], shape)
        forward = fn if self.function == "dropout_forward" else \
            self.partners.get("dropout_forward", _dropout_textbook)
        rng = np.random.default_rng(case.data["seed"])
        got = self.call(forward, x.copy(), p, True, rng)
        if isinstance(got, Raised) or not (isinstance(got, tuple) and len(got) == 2):
            where = "" if forward is fn else " (in your dropout_forward, which this test needs)"
            return Mismatch("out", "error", f"the forward pass raised {got}{where}"
                            if isinstance(got, Raised) else "expected (out, cache)" + where)
        out, cache = got
        m = compare("out", x, out) if not isinstance(out, np.ndarray) or out.shape != x.shape \
            or out.dtype != x.dtype else None
        if m is not None:
            return m
        if self.function == "dropout_forward":
            return self._forward(fn, x, p, out, case)
        dout = np.random.default_rng(case.data["seed"] + 1).standard_normal(shape)
        dx = self.call(fn, dout, cache)
        if isinstance(dx, Raised):
            return Mismatch("dx", "error", f"the function raised {dx}")
        want = np.where(out != 0, dout / (1 - p), 0.0)
        m = compare("dx", want, dx)
        if m is not None and isinstance(dx, np.ndarray) and dx.shape == want.shape:
            if np.allclose(dx, np.where(out != 0, dout, 0.0)):
                m.mistake, m.hint = ("the backward pass not scaled by 1/(1-p)",
                                     "The forward pass multiplied kept units by 1/(1-p); so must "
                                     "the backward pass: dx = dout * mask / (1 - p).")
            elif np.allclose(dx, dout / (1 - p)) or np.allclose(dx, dout):
                m.mistake, m.hint = ("the backward pass ignoring the dropout mask",
                                     "Dropped units get no gradient: keep the mask in the cache "
                                     "and use it in the backward pass.")
        return m

    def _forward(self, fn, x, p, out, case):
        kept = out != 0
        n = x.size
        frac = 1 - kept.mean()
        spread = math.sqrt(p * (1 - p) / n)
        ratios = out[kept] / x[kept]
        if ratios.size and not np.allclose(ratios, 1 / (1 - p)):
            r = float(np.median(ratios))
            known = {1.0: ("kept units not scaled", "Inverted dropout divides kept units by "
                           "(1 - p), so the expected output equals x."),
                     p: ("dropout scaled by p instead of 1/(1-p)",
                         "Kept units are multiplied by 1 / (1 - p), the inverse of the keep "
                         "probability, not by p."),
                     1 - p: ("dropout scaled by (1-p) (the test-time rule) instead of 1/(1-p)",
                             "With inverted dropout the scaling happens in training: "
                             "multiply kept units by 1 / (1 - p).")}
            if p not in (0.5,):
                known[1 / p] = ("dropout scaled by 1/p instead of 1/(1-p)",
                                "p is the probability of DROPPING a unit; the keep probability "
                                "is 1 - p.")
            name, hint = next(((n_, h) for v, (n_, h) in known.items() if abs(r - v) < 1e-9),
                              (None, None))
            return Mismatch("out", "value", f"kept units should be x / (1 - p) = x * "
                            f"{1 / (1 - p):.4g}; they are x * {short(r)}", mistake=name, hint=hint)
        if abs(frac - p) > Z * spread:
            mistake = ("p used as the probability of keeping a unit"
                       if abs(frac - (1 - p)) <= Z * spread else None)
            return Mismatch("out", "property", f"{frac:.3f} of the units were dropped, expected "
                            f"p = {p} (within {Z * spread:.3f})", mistake=mistake,
                            hint="p is the probability of DROPPING a unit: keep a unit when a "
                                 "uniform draw is >= p (or < 1 - p)." if mistake else None)
        again = self.call(fn, x.copy(), p, True, np.random.default_rng(case.data["seed"]))
        if not (isinstance(again, tuple) and np.array_equal(again[0], out)):
            return Mismatch("out", "property", "the same seed gave a different mask",
                            mistake="the rng argument ignored",
                            hint="Draw the mask from the generator you are given.")
        identity = self.call(fn, x.copy(), p, False, np.random.default_rng(0))
        if isinstance(identity, Raised) or not (isinstance(identity, tuple)
                                                and isinstance(identity[0], np.ndarray)):
            return Mismatch("out with training=False", "error", f"got {identity}")
        m = compare("out with training=False", x, identity[0])
        if m is not None:
            m.mistake, m.hint = ("dropout applied at evaluation time",
                                 "With training=False dropout is the identity: return x "
                                 "unchanged (inverted dropout needs no scaling at test time).")
        return m


def _dropout_textbook(x, p=0.5, training=True, rng=None, *, scale=None, keep_prob=False,
                      eval_drop=False):
    if not training and not eval_drop:
        return x.copy(), None
    keep = rng.random(x.shape) < (p if keep_prob else 1 - p)
    s = 1 / (1 - p) if scale is None else scale
    return x * keep * s, (keep, s)


def _dropout_backward_textbook(dout, cache, *, unscaled=False, no_mask=False):
    if cache is None:
        return dout.copy()
    keep, s = cache
    return dout * (1 if no_mask else keep) * (1 if unscaled else s)


def _dropout_mistake(**kw):
    def forward(x, p=0.5, training=True, rng=None):
        kw2 = dict(kw)
        if callable(kw2.get("scale")):
            kw2["scale"] = kw2["scale"](p)
        return _dropout_textbook(x, p, training, rng, **kw2)
    return forward


# p = 0.5 comes second: there p = 1 - p, and a wrong scale could be either mistake
DROPOUT_CASES = ([(0.2, (40, 50)), (0.5, (2000,))], [(0.8, (50, 60)), (0.1, (3000,)),
                                                     (0.35, (10, 10, 30))])

dropout_fwd = DropoutExercise(
    assignment=A, function="dropout_forward",
    reference=lambda x, p=0.5, training=True, rng=None: dropout_forward(x, p, training, rng),
    plan={"forward": (2, DROPOUT_CASES)},
    mistakes=[
        Mistake("dropout scaled by p instead of 1/(1-p)", "", _dropout_mistake(scale=lambda p: p)),
        Mistake("kept units not scaled", "", _dropout_mistake(scale=lambda p: 1.0)),
        Mistake("dropout scaled by (1-p) (the test-time rule) instead of 1/(1-p)", "",
                _dropout_mistake(scale=lambda p: 1 - p)),
        Mistake("p used as the probability of keeping a unit", "",
                _dropout_mistake(keep_prob=True, scale=lambda p: 1 / (1 - p))),
        Mistake("dropout applied at evaluation time", "", _dropout_mistake(eval_drop=True)),
    ],
)

dropout_bwd = DropoutExercise(
    assignment=A, function="dropout_backward", needs=("dropout_forward",),
    reference=lambda dout, cache: _dropout_backward_textbook(dout, cache),
    plan={"backward": (1, DROPOUT_CASES)},
    mistakes=[
        Mistake("the backward pass not scaled by 1/(1-p)", "",
                lambda dout, cache: _dropout_backward_textbook(dout, cache, unscaled=True)),
        Mistake("the backward pass ignoring the dropout mask", "",
                lambda dout, cache: _dropout_backward_textbook(dout, cache, no_mask=True)),
    ],
)



# -- a numerical gradient check, graded on functions whose gradients are known ---------------
#
# The functions are plain numpy callables (picklable by reference), so the same
# objects reach a student's function in the notebook and in the sandbox.

def _norm3(x):
    return float(np.sum(np.abs(x) ** 3) ** (1 / 3))


GRADIENT_FUNCTIONS = {
    # f(x) = ||x||_F: gradient x / ||x||
    "np.linalg.norm": (np.linalg.norm, lambda x: x / np.linalg.norm(x)),
    # f(x) = ||x||_3 (1-D): gradient sign(x) |x|^2 / ||x||_3^2
    "functools.partial(np.linalg.norm, ord=3)": (
        functools.partial(np.linalg.norm, ord=3),
        lambda x: np.sign(x) * x ** 2 / _norm3(x) ** 2),
    # f(x) = prod(x): gradient prod(x) / x (x without zeros)
    "np.prod": (np.prod, lambda x: np.prod(x) / x),
}

#: Centred differences with h = 1e-5 are off by about h^2 |f'''| / 6 ~ 1e-11
#: plus rounding eps |f| / h ~ 1e-11 here; forward differences by h |f''| / 2,
#: above 1e-7 on these cases.  1e-8 (relative to max(1, |gradient|)) sits between.
GRADIENT_TOLERANCE = 1e-8


def _ng_reference(f, x, h=1e-5):
    grad = np.empty_like(x, dtype=np.float64)
    flat, g = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        keep = flat[i]
        flat[i] = keep + h
        up = f(x)
        flat[i] = keep - h
        down = f(x)
        flat[i] = keep
        g[i] = (up - down) / (2 * h)
    return grad


def _ng_forward(f, x, h=1e-5):
    grad = np.empty_like(x, dtype=np.float64)
    flat, g = x.reshape(-1), grad.reshape(-1)
    base = f(x)
    for i in range(flat.size):
        keep = flat[i]
        flat[i] = keep + h
        g[i] = (f(x) - base) / h
        flat[i] = keep
    return grad


def _ng_one_h(f, x, h=1e-5):
    return 2 * _ng_reference(f, x, h)


def _ng_not_restored(f, x, h=1e-5):
    grad = np.empty_like(x, dtype=np.float64)
    flat, g = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        flat[i] += h
        up = f(x)
        flat[i] -= 2 * h
        down = f(x)
        g[i] = (up - down) / (2 * h)
    return grad


def _ng_all_at_once(f, x, h=1e-5):
    return np.full(x.shape, (f(x + h) - f(x - h)) / (2 * h))


@dataclass
class GradientCheckExercise(Exercise):
    """``numerical_gradient(f, x, h)``: centred differences, x left as it was."""

    plan: dict = field(default_factory=dict)  # part -> (points, visible, hidden)

    def __post_init__(self):
        self.parts = {name: points for name, (points, _, _) in self.plan.items()}

    def cases(self, part, hidden):
        _, visible, secret = self.plan[part]
        return [Case(f"{'hidden ' if hidden else ''}f = {name}, x of shape {shape}, h={h}",
                     {"f": name, "shape": shape, "h": h, "seed": seed, "part": part})
                for name, shape, h, seed in (secret if hidden else visible)]

    def _x(self, case):
        rng = np.random.default_rng(case.data["seed"])
        return rng.uniform(0.5, 1.5, case.data["shape"]) * rng.choice([-1.0, 1.0],
                                                                       case.data["shape"])

    def check_case(self, fn, case):
        f, gradient = GRADIENT_FUNCTIONS[case.data["f"]]
        x = self._x(case)
        before = x.copy()
        h = case.data["h"]
        got = self.call(fn, f, x, h)
        if isinstance(got, Raised):
            m = Mismatch("the gradient", "error", f"the function raised {got}")
        elif case.data["part"] == "restores_x":
            m = None
            if not np.array_equal(x, before):
                m = Mismatch("x", "property",
                             f"x was changed by the call: it differs from what was passed by up "
                             f"to {short(float(np.max(np.abs(x - before))))}",
                             mistake="x left perturbed",
                             hint="Put every entry back (x[i] = old) after evaluating f at "
                                  "x[i] + h and x[i] - h: the caller's x must come back unchanged.")
        else:
            want = gradient(before)
            if not isinstance(got, np.ndarray) or got.shape != want.shape:
                m = compare("the gradient", want, got)
            else:
                err = float(np.max(np.abs(got - want))) / max(1.0, float(np.max(np.abs(want))))
                m = None
                if not err <= GRADIENT_TOLERANCE:
                    m = Mismatch("the gradient", "value",
                                 f"it is off the exact gradient by {err:.2g} (relative); "
                                 f"centred differences with h={h} are within "
                                 f"{GRADIENT_TOLERANCE:g}")
                    for mistake in self.mistakes:
                        other = self.call(mistake.implementation, f, before.copy(), h)
                        if isinstance(other, np.ndarray) and other.shape == got.shape and \
                                np.allclose(other, got, rtol=1e-6, atol=1e-9):
                            m.mistake, m.hint = mistake.name, mistake.hint
                            break
        if m is not None:
            m.case = case.label
        return m


GRADIENT_CASES = (
    [("np.linalg.norm", (3, 4), 1e-5, 1), ("functools.partial(np.linalg.norm, ord=3)", (6,),
                                            1e-5, 2)],
    [("np.prod", (2, 3), 1e-5, 3), ("np.linalg.norm", (5,), 1e-4, 4),
     ("functools.partial(np.linalg.norm, ord=3)", (9,), 1e-5, 5)])

numerical_gradient = GradientCheckExercise(
    assignment=A, function="numerical_gradient", reference=_ng_reference,
    plan={"gradient": (2, *GRADIENT_CASES), "restores_x": (1, *GRADIENT_CASES)},
    mistakes=[
        Mistake("forward differences instead of centred ones",
                "(f(x + h) - f(x)) / h is off by about h |f''| / 2; the centred "
                "(f(x + h) - f(x - h)) / (2h) is off by about h^2 |f'''| / 6.", _ng_forward),
        Mistake("the centred difference divided by h instead of 2h",
                "x + h and x - h are 2h apart: divide by 2 * h.", _ng_one_h),
        Mistake("x left perturbed", "", _ng_not_restored),
        Mistake("every coordinate perturbed at once",
                "Perturb one entry at a time: f(x + h) with h added to every entry gives a "
                "directional derivative (the sum of the gradient), not the gradient.",
                _ng_all_at_once),
    ],
)


# -- a measurement: the spread of activations through depth ----------------------------------

SCHEME_NAMES = ("small", "large", "xavier", "kaiming")
GAINS = {"relu": math.sqrt(2.0), "tanh": 5 / 3}


def scheme_std(scheme, nonlinearity, width):
    """The weight standard deviation of each scheme, for a square (width, width) layer."""
    return {"small": 0.01, "large": 1.0, "xavier": math.sqrt(2 / (width + width)),
            "kaiming": GAINS[nonlinearity] / math.sqrt(width)}[scheme]


def _act(h, nonlinearity):
    return np.maximum(h, 0.0) if nonlinearity == "relu" else np.tanh(h)


def _stds_reference(weight_std, nonlinearity, depth=20, width=64, batch=128, rng=None):
    rng = np.random.default_rng(rng)
    a = rng.standard_normal((batch, width))
    out = np.empty(depth)
    for layer in range(depth):
        w = rng.normal(0.0, weight_std, (width, width))
        a = _act(a @ w.T, nonlinearity)
        out[layer] = a.std()
    return out


def _stds_preactivation(weight_std, nonlinearity, depth=20, width=64, batch=128, rng=None):
    rng = np.random.default_rng(rng)
    a = rng.standard_normal((batch, width))
    out = np.empty(depth)
    for layer in range(depth):
        h = a @ rng.normal(0.0, weight_std, (width, width)).T
        out[layer] = h.std()
        a = _act(h, nonlinearity)
    return out


def _stds_variance(weight_std, nonlinearity, depth=20, width=64, batch=128, rng=None):
    return _stds_reference(math.sqrt(weight_std), nonlinearity, depth, width, batch, rng)


def _stds_input_first(weight_std, nonlinearity, depth=20, width=64, batch=128, rng=None):
    rng = np.random.default_rng(rng)
    a = rng.standard_normal((batch, width))
    out = np.empty(depth)
    for layer in range(depth):
        out[layer] = a.std()
        a = _act(a @ rng.normal(0.0, weight_std, (width, width)).T, nonlinearity)
    return out


#: Networks the reference plays per case, and the allowance in standard
#: deviations of log(std) at each layer (estimated from those networks): with
#: 40 networks a t-variable with 39 degrees of freedom exceeds 8 with
#: probability about 1e-9, per layer.
NETWORKS, ZS = 40, 8.0


@functools.lru_cache(maxsize=64)
def _log_std_spread(impl, weight_std, nonlinearity, depth, width):
    """Mean and spread over :data:`NETWORKS` fixed seeds of ``impl``'s log-stds.

    A pure function of its arguments (``impl`` is the reference or a known
    mistake, never student code), so the grader computes it once per case, not
    once per submission: 40 networks per case were 0.75 s of every PS5 check.
    """
    # (64, 64) layers: one BLAS thread is fastest, and on a busy machine
    # a threaded matmul this small can be 40 times slower (measured)
    with threadpool_limits(1):
        logs = np.log([impl(weight_std, nonlinearity, depth, width, 128, 10_000 + s)
                       for s in range(NETWORKS)])
    mean, sd = logs.mean(axis=0), logs.std(axis=0, ddof=1)
    mean.flags.writeable = sd.flags.writeable = False  # shared by every later caller
    return mean, sd


@dataclass
class MeasurementExercise(Exercise):
    """``activation_stds(weight_std, nonlinearity, depth, width, batch, rng)``:
    per-layer standard deviations of a random MLP's activations, graded
    against the reference's distribution over many networks."""

    plan: dict = field(default_factory=dict)

    def __post_init__(self):
        self.parts = {name: points for name, (points, _, _) in self.plan.items()}

    def cases(self, part, hidden):
        _, visible, secret = self.plan[part]
        return [Case(f"{'hidden ' if hidden else ''}{nl} network, {scheme} weights "
                     f"(std {scheme_std(scheme, nl, width):.4g}), depth {depth}, width {width}",
                     {"nl": nl, "std": scheme_std(scheme, nl, width), "depth": depth,
                      "width": width, "seed": seed})
                for nl, scheme, depth, width, seed in (secret if hidden else visible)]

    def check_case(self, fn, case):
        d = case.data
        got = self.call(fn, d["std"], d["nl"], d["depth"], d["width"], 128,
                        np.random.default_rng(d["seed"]))
        if isinstance(got, Raised):
            m = Mismatch("the standard deviations", "error", f"the function raised {got}")
        else:
            m = compare("the standard deviations", np.ones(d["depth"]), got) \
                if not isinstance(got, np.ndarray) or got.shape != (d["depth"],) else None
            if m is None and not np.all(got > 0):
                m = Mismatch("the standard deviations", "value",
                             f"they should all be positive, got {short(got)}")
            if m is None:
                again = self.call(fn, d["std"], d["nl"], d["depth"], d["width"], 128,
                                  np.random.default_rng(d["seed"]))
                if not (isinstance(again, np.ndarray) and np.array_equal(again, got)):
                    m = Mismatch("the standard deviations", "property",
                                 "the same seed gave different results",
                                 mistake="the rng argument ignored",
                                 hint="Draw the input and every weight matrix from the "
                                      "generator you are given.")
            if m is None:
                m = self._statistics(got, d)
        if m is not None:
            m.case = case.label
        return m

    def _statistics(self, got, d):
        mean, sd = _log_std_spread(_stds_reference, d["std"], d["nl"], d["depth"], d["width"])
        z = np.abs(np.log(got) - mean) / np.maximum(sd, 1e-12)
        if np.all(z <= ZS):
            return None
        layer = int(np.argmax(z > ZS))
        m = Mismatch("the standard deviations", "value",
                     f"at layer {layer + 1} you measured {got[layer]:.4g}; over {NETWORKS} random "
                     f"networks the reference's log-std there is {mean[layer]:.3f} +- "
                     f"{sd[layer]:.3f}, and yours is {z[layer]:.1f} standard deviations away "
                     f"(allowed: {ZS:g})")
        for mistake in self.mistakes:
            wmean, wsd = _log_std_spread(mistake.implementation, d["std"], d["nl"], d["depth"],
                                         d["width"])
            if np.all(np.abs(np.log(got) - wmean) <= ZS * np.maximum(wsd, 1e-12)):
                m.mistake, m.hint = mistake.name, mistake.hint
                break
        return m


MEASURE_CASES = ([("relu", "kaiming", 20, 64, 1), ("tanh", "xavier", 20, 64, 2)],
                 [("relu", "xavier", 12, 48, 3), ("tanh", "kaiming", 15, 64, 4),
                  ("relu", "small", 6, 32, 5)])

activation_stds = MeasurementExercise(
    assignment=A, function="activation_stds", reference=_stds_reference,
    plan={"measurement": (2, *MEASURE_CASES)},
    mistakes=[
        Mistake("the pre-activations measured instead of the activations",
                "Record the standard deviation of a = phi(h), after the nonlinearity.",
                _stds_preactivation),
        Mistake("weight_std used as the variance",
                "rng.normal(0, scale) takes the standard deviation: pass weight_std itself.",
                _stds_variance),
        Mistake("the input counted as the first layer",
                "Entry l is the std of layer l's output, for l = 1..depth; the input is not one.",
                _stds_input_first),
    ],
)


# -- which schemes keep the spread within a factor 2 over 20 layers --------------------------

#: The spread is measured on the mean over this many networks of each layer's std.
SPREAD_NETWORKS = 8


@functools.lru_cache(maxsize=64)  # a pure function of its arguments: see _log_std_spread
def measured_spread(scheme, nonlinearity, depth=20, width=64):
    """max / min over the layers of the mean (over networks) activation std."""
    with threadpool_limits(1):  # see _log_std_spread
        stds = np.mean([_stds_reference(scheme_std(scheme, nonlinearity, width), nonlinearity,
                                        depth, width, 128, 20_000 + s)
                        for s in range(SPREAD_NETWORKS)], axis=0)
    return float(stds.max() / stds.min())


def _stable_reference(nonlinearity):
    return sorted(s for s in SCHEME_NAMES if measured_spread(s, nonlinearity) <= 2.0)


@dataclass
class ChoiceExercise(Exercise):
    """``stable_schemes(nonlinearity)``: the student's measured choice, graded by
    re-running the reference measurement on every scheme."""

    plan: dict = field(default_factory=dict)

    def __post_init__(self):
        self.parts = {name: points for name, (points, _, _) in self.plan.items()}

    def cases(self, part, hidden):
        _, visible, secret = self.plan[part]
        return [Case(f"{'hidden ' if hidden else ''}{nl} network", {"nl": nl})
                for nl in (secret if hidden else visible)]

    def check_case(self, fn, case):
        nl = case.data["nl"]
        got = self.call(fn, nl)
        if isinstance(got, Raised):
            m = Mismatch("the schemes", "error", f"the function raised {got}")
        elif not isinstance(got, (list, tuple, set, frozenset)) or \
                not all(isinstance(s, str) for s in got):
            m = Mismatch("the schemes", "type",
                         f"expected a list of scheme names, got {type(got).__name__} {short(got)}")
        elif set(got) - set(SCHEME_NAMES):
            unknown = sorted(set(got) - set(SCHEME_NAMES))
            m = Mismatch("the schemes", "value", f"unknown scheme(s) {unknown}; "
                         f"the schemes are {list(SCHEME_NAMES)}")
        else:
            spreads = {s: measured_spread(s, nl) for s in SCHEME_NAMES}
            wrong_in = [s for s in got if spreads[s] > 2.0]
            wrong_out = [s for s in SCHEME_NAMES if s not in got and spreads[s] <= 2.0]
            m = None
            if wrong_in or wrong_out:
                said = "; ".join([f"{s} spreads by a factor {spreads[s]:.3g} (> 2) but is listed"
                                  for s in wrong_in]
                                 + [f"{s} spreads by a factor {spreads[s]:.3g} (<= 2) but is "
                                    f"missing" for s in wrong_out])
                m = Mismatch("the schemes", "value", f"re-measured by the reference: {said}")
                if wrong_in == ["xavier"] and not wrong_out:
                    m.mistake, m.hint = ("Xavier (gain 1) kept",
                                         "Measure it: with gain 1, a ReLU halves the second "
                                         "moment at every layer, and tanh contracts its input, so "
                                         "the spread grows far beyond 2 over 20 layers.")
                elif wrong_out == ["large"] and not wrong_in:
                    m.mistake, m.hint = ("a saturated tanh left out",
                                         "Measure it: with large weights nearly every tanh unit "
                                         "saturates at +-1, so the activations' spread stays "
                                         "constant (their gradients do not: see lecture 06).")
        if m is not None:
            m.case = case.label
        return m


stable_schemes = ChoiceExercise(
    assignment=A, function="stable_schemes", reference=_stable_reference,
    plan={"choice": (2, ["relu"], ["tanh"])},
    mistakes=[
        Mistake("Xavier (gain 1) kept", "", lambda nl: ["kaiming", "xavier"] + (
            ["large"] if nl == "tanh" else [])),
        Mistake("a saturated tanh left out", "", lambda nl: ["kaiming"]),
    ],
)


# -- BatchNorm backward: more of the catalogue (the derivation is the student's now) ---------

def _bn_backward_partial(dout, cache, *, mean_path=True, var_path=True, gamma=True,
                         always_train=False):
    xhat, g, inv, training = cache
    training = training or always_train
    dbeta = dout.sum(axis=0)
    dgamma = (dout * xhat).sum(axis=0)
    dxhat = dout * (g if gamma else 1.0)
    if not training:
        return dxhat * inv, dgamma, dbeta
    n = dout.shape[0]
    dx = n * dxhat
    if mean_path:
        dx = dx - dxhat.sum(axis=0)
    if var_path:
        dx = dx - xhat * (dxhat * xhat).sum(axis=0)
    return inv / n * dx, dgamma, dbeta


bn_backward.mistakes += [
    Mistake("the path through the batch mean left out",
            "mu depends on every x_i: its path contributes -(1/N) sum_j dxhat_j to each dx_i.",
            lambda dout, cache: _bn_backward_partial(dout, cache, mean_path=False)),
    Mistake("the path through the batch variance left out",
            "sigma^2 depends on every x_i: its path contributes -(xhat_i / N) sum_j dxhat_j "
            "xhat_j to each dx_i (times 1/sigma).",
            lambda dout, cache: _bn_backward_partial(dout, cache, var_path=False)),
    Mistake("gamma left out of dx",
            "y = gamma * xhat + beta, so dxhat = dout * gamma before the normalisation's "
            "backward pass.", lambda dout, cache: _bn_backward_partial(dout, cache, gamma=False)),
    Mistake("evaluation mode differentiated through the batch statistics",
            "With training=False the running statistics are constants: dx = gamma * dout / "
            "sqrt(running_var + eps), with no mean or variance path.",
            lambda dout, cache: _bn_backward_partial(dout, cache, always_train=True)),
]

EXERCISES = [xavier, kaiming, bn_forward, bn_backward, dropout_fwd, dropout_bwd,
             numerical_gradient, activation_stds, stable_schemes]
