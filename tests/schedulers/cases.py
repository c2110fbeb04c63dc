"""Strategies and a lockstep harness for the scheduler tests.

A descentlab optimizer and a torch one start from the same parameter and
learning rate; the same scheduler is built on each (a ``build(module, opt)``
function, called once with ``descentlab.schedulers`` and once with
``torch.optim.lr_scheduler``), and the two are stepped together.  After
construction and after every step the learning rate (and the momentum) are
recorded from both sides.
"""

from __future__ import annotations

import math
import os
import warnings

import numpy as np
import torch
from hypothesis import strategies as st

import descentlab.optim as dlo
import descentlab.schedulers as dls
from descentlab.schedulers.scheduler import ROUNDOFF

NOJIT = os.environ.get("NUMBA_DISABLE_JIT") == "1"
STEPS = 1000
#: DESIGN.md's scheduler contract: torch's values to 1e-12 relative.
TOLERANCE = 1e-12

TORCH = torch.optim.lr_scheduler


def log_uniform(lo: float, hi: float):
    return st.floats(math.log10(lo), math.log10(hi)).map(lambda e: float(10.0 ** e))


lrs = log_uniform(1e-4, 1.0)

#: The optimizers, with the hyperparameter each one's momentum lives in.
OPTIMIZERS = {
    "SGD": dict(momentum=0.9),
    "RMSprop": dict(momentum=0.5),
    "Adam": dict(betas=(0.9, 0.999)),
    "Adagrad": dict(),
}
momentum_optimizers = st.sampled_from(["SGD", "RMSprop", "Adam"])


def momentum_of(opt):
    """The momentum a scheduler cycles, on either side (None if there is none)."""
    if isinstance(opt, torch.optim.Optimizer):
        group = opt.param_groups[0]
        if "betas" in group:
            return group["betas"][0]
        return group.get("momentum")
    if "betas" in opt.hyperparameters:
        return opt.betas[0]
    return opt.hyperparameters.get("momentum")


class Pair:
    """One-element parameters and optimizers of one kind on both sides.

    The gradient is that of a quadratic, so the parameters depend on every
    learning rate; only the learning rates are compared, though.
    """

    def __init__(self, kind: str, lr: float):
        self.kind = kind
        self.w = np.array([1.0])
        self.tw = torch.tensor([1.0], dtype=torch.float64, requires_grad=True)
        self.ours = getattr(dlo, kind)([self.w], lr=lr, **OPTIMIZERS[kind])
        self.theirs = getattr(torch.optim, kind)([self.tw], lr=lr, foreach=False,
                                                 **OPTIMIZERS[kind])

    def step(self):
        g = 0.5 * self.w + 0.1
        self.tw.grad = torch.from_numpy(0.5 * self.tw.detach().numpy() + 0.1)
        self.theirs.step()
        self.ours.step([g])

    def values(self):
        return (self.ours.lr, self.theirs.param_groups[0]["lr"],
                momentum_of(self.ours), momentum_of(self.theirs))


class Trace:
    """Learning rates and momenta of both sides, one entry per step (step 0
    is the value set at construction)."""

    def __init__(self):
        self.lr, self.torch_lr, self.momentum, self.torch_momentum = [], [], [], []

    def record(self, values):
        for seq, v in zip((self.lr, self.torch_lr, self.momentum, self.torch_momentum), values):
            seq.append(v)

    def arrays(self):
        return tuple(np.array(s, dtype=np.float64) for s in
                     (self.lr, self.torch_lr, self.momentum, self.torch_momentum))


def lockstep(kind, lr, build, steps=STEPS, metrics=None):
    """Run both sides; returns (trace, our scheduler, torch's, pair)."""
    pair = Pair(kind, lr)
    ours = build(dls, pair.ours)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's deprecation notes on some arguments
        theirs = build(TORCH, pair.theirs)
    trace = Trace()
    trace.record(pair.values())
    for i in range(steps):
        pair.step()
        if metrics is None:
            ours.step()
            theirs.step()
        else:
            ours.step(metrics[i])
            theirs.step(metrics[i])
        trace.record(pair.values())
        assert ours.get_last_lr() == [pair.ours.lr]
    return trace, ours, theirs, pair


def relative_errors(ours, theirs):
    ours, theirs = np.asarray(ours, np.float64), np.asarray(theirs, np.float64)
    scale = np.maximum(np.abs(ours), np.abs(theirs))
    diff = np.abs(ours - theirs)
    return np.where(diff == 0, 0.0, diff / np.where(scale == 0, 1.0, scale))


def assert_agree(ours, theirs, what, tol=TOLERANCE, base=None):
    """Step by step, ``ours`` equals ``theirs`` to ``tol`` relative.

    One exception, with ``base`` (the schedule's base learning rate): where
    torch's learning rate is negative by a rounding error (at most
    ``ROUNDOFF * base``), ours is exactly 0, since descentlab optimizers
    refuse a negative rate.
    """
    ours, theirs = np.asarray(ours, np.float64), np.asarray(theirs, np.float64)
    if base is not None:
        roundoff = (theirs < 0) & (-theirs <= ROUNDOFF * base)
        assert np.all(ours[roundoff] == 0.0), f"{what}: a negative roundoff was not set as 0"
        theirs = np.where(roundoff, 0.0, theirs)
    err = relative_errors(ours, theirs)
    if np.any(np.isnan(np.asarray(ours, np.float64)) != np.isnan(np.asarray(theirs, np.float64))):
        raise AssertionError(f"{what}: NaN on one side only")
    bad = np.flatnonzero(err > tol)
    assert bad.size == 0, (f"{what}: first disagreement at step {bad[0]}: ours {ours[bad[0]]!r}, "
                           f"reference {theirs[bad[0]]!r} (relative error {err[bad[0]]:.3g}, "
                           f"{bad.size} steps off)")


def assert_closed_form(closed, stepped, what, tol=TOLERANCE):
    """The closed form equals the stepped values to ``tol`` relative to the
    scale of the run (its largest value).

    Relative to the scale rather than to each value: the recursions of the
    chainable schedules gather roundoff step by step, O(t eps) of the
    schedule's amplitude, which is large next to values near a trough; and
    there the closed form cancels too (1 + cos(pi t/T) near t = T).  The
    comparisons with torch are the strict ones, value by value.
    """
    closed, stepped = np.asarray(closed, np.float64), np.asarray(stepped, np.float64)
    assert closed.shape == stepped.shape, f"{what}: {closed.shape} values vs {stepped.shape}"
    scale = float(np.max(np.maximum(np.abs(closed), np.abs(stepped)))) if stepped.size else 0.0
    diff = np.abs(closed - stepped)
    bad = np.flatnonzero(~(diff <= tol * scale))
    assert bad.size == 0, (f"{what}: closed form {closed[bad[0]]!r} vs stepped "
                           f"{stepped[bad[0]]!r} at step {bad[0]} (error {diff[bad[0]] / scale:.3g} "
                           f"of the scale {scale:.3g}; {bad.size} steps off)")


# -- hypothesis strategies: scheduler arguments ---------------------------------

def milestone_lists(lo=1, hi=1200, max_size=8):
    return st.lists(st.integers(lo, hi), min_size=0, max_size=max_size, unique=True).map(sorted)


gammas = st.one_of(st.floats(0.05, 1.0), st.floats(1.0, 1.01))

step_kwargs = st.fixed_dictionaries(dict(step_size=st.integers(1, 200), gamma=gammas))
multistep_kwargs = st.fixed_dictionaries(dict(milestones=milestone_lists(), gamma=gammas))
exponential_kwargs = st.fixed_dictionaries(dict(gamma=st.floats(0.98, 1.002)))
cosine_kwargs = st.fixed_dictionaries(dict(
    T_max=st.integers(1, 700), eta_min=st.one_of(st.just(0.0), log_uniform(1e-6, 1.0))))
warm_restarts_kwargs = st.fixed_dictionaries(dict(
    T_0=st.integers(1, 300), T_mult=st.integers(1, 3),
    eta_min=st.one_of(st.just(0.0), log_uniform(1e-6, 1.0))))
linear_kwargs = st.fixed_dictionaries(dict(
    start_factor=st.one_of(st.floats(1e-3, 1.0), st.just(1.0)),
    end_factor=st.one_of(st.floats(0.0, 1.0), st.just(0.0), st.just(1.0)),
    total_iters=st.integers(1, 1200)))


class WarmupThenDecay:
    """A callable object for LambdaLR: its attributes are what torch saves."""

    def __init__(self, warmup: int, rate: float):
        self.warmup, self.rate = warmup, rate

    def __call__(self, epoch):
        if epoch < self.warmup:
            return (epoch + 1) / self.warmup
        return self.rate ** (epoch - self.warmup)


def _lambda_family(draw):
    kind = draw(st.sampled_from(["power", "inverse", "integer", "object"]))
    if kind == "power":
        a = draw(st.floats(0.99, 1.0))
        return lambda e: a ** e
    if kind == "inverse":
        c = draw(log_uniform(1e-4, 1.0))
        return lambda e: 1.0 / (1.0 + c * e)
    if kind == "integer":
        k = draw(st.integers(1, 300))
        return lambda e: e // k + 1  # an int, as in torch's docstring example
    return WarmupThenDecay(draw(st.integers(1, 300)), draw(st.floats(0.99, 1.0)))


lambda_functions = st.composite(lambda draw: _lambda_family(draw))()


@st.composite
def cyclic_kwargs(draw, steps=STEPS):
    base_lr = draw(lrs)
    kw = dict(base_lr=base_lr, max_lr=draw(st.one_of(lrs, st.just(base_lr))),
              step_size_up=draw(st.integers(1, 300)),
              step_size_down=draw(st.one_of(st.none(), st.integers(1, 300))),
              mode=draw(st.sampled_from(["triangular", "triangular2", "exp_range"])),
              gamma=draw(st.floats(0.99, 1.0)),
              cycle_momentum=draw(st.booleans()),
              base_momentum=draw(st.floats(0.5, 0.9)), max_momentum=draw(st.floats(0.85, 0.99)))
    custom = draw(st.sampled_from([None, "inverse", "cosine"]))
    if custom == "inverse":
        c = draw(st.floats(0.0, 0.5))
        kw["scale_fn"] = lambda x: 1.0 / (1.0 + c * x)
    elif custom == "cosine":
        kw["scale_fn"] = lambda x: 0.5 * (1.0 + np.cos(x / 50.0))
    if custom is not None:
        kw["scale_mode"] = draw(st.sampled_from(["cycle", "iterations"]))
    return kw


@st.composite
def one_cycle_kwargs(draw, total_steps=st.integers(STEPS, STEPS + 200)):
    three_phase = draw(st.booleans())
    pct_start = draw(st.floats(0.01, 0.5 if three_phase else 0.99))
    kw = dict(max_lr=draw(lrs), pct_start=pct_start, three_phase=three_phase,
              anneal_strategy=draw(st.sampled_from(["cos", "linear"])),
              cycle_momentum=draw(st.booleans()),
              base_momentum=draw(st.floats(0.5, 0.9)), max_momentum=draw(st.floats(0.85, 0.99)),
              div_factor=draw(log_uniform(1.0, 1e3)), final_div_factor=draw(log_uniform(1.0, 1e5)))
    T = draw(total_steps)
    if draw(st.booleans()):
        kw["total_steps"] = T
    else:
        # the same count given as epochs x steps_per_epoch
        for per in range(1, T + 1):
            if T % per == 0 and T // per <= 50:
                kw.update(epochs=T // per, steps_per_epoch=per)
                break
    return kw


def total_steps_of(kw):
    return kw.get("total_steps") or kw["epochs"] * kw["steps_per_epoch"]


@st.composite
def metric_sequences(draw, n=STEPS, threshold=1e-4, threshold_mode="rel", mode="min"):
    """Validation-loss-like sequences: plateaus (exact repeats), trends, noise
    of every size, creeping steps of about the threshold (so that whether
    each one counts as an improvement depends on the threshold rule), and
    the odd NaN or infinity."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    segments = draw(st.lists(
        st.tuples(st.sampled_from(["plateau", "trend", "noise", "creep", "special"]),
                  st.integers(1, 120)),
        min_size=1, max_size=20))
    x = draw(st.sampled_from([-1.0, 1.0])) * 10.0 ** draw(st.floats(-3.0, 3.0))
    better = -1.0 if mode == "min" else 1.0
    out = []
    while len(out) < n:
        for kind, length in segments:
            if kind == "special":
                length = min(length, 2)
            for _ in range(length):
                if kind == "trend":
                    x += rng.normal(0.0, 0.05) * abs(x)
                    value = x
                elif kind == "noise":
                    value = x + rng.normal(0.0, 10.0 ** rng.uniform(-7, 0)) * abs(x)
                elif kind == "creep":
                    size = threshold * abs(x) if threshold_mode == "rel" else threshold
                    sign = better if rng.random() < 0.8 else -better
                    x += sign * rng.uniform(0.5, 1.5) * size
                    value = x
                elif kind == "special":
                    value = float(rng.choice([np.nan, np.inf, -np.inf]))
                else:
                    value = x
                out.append(value)
    return out[:n]


plateau_kwargs = st.fixed_dictionaries(dict(
    mode=st.sampled_from(["min", "max"]),
    factor=st.floats(0.05, 0.95),
    patience=st.integers(0, 30),
    threshold=st.one_of(st.just(0.0), st.just(1e-4), log_uniform(1e-6, 0.1)),
    threshold_mode=st.sampled_from(["rel", "abs"]),
    cooldown=st.integers(0, 30),
    min_lr=st.one_of(st.just(0), log_uniform(1e-8, 1e-2)),
    eps=st.one_of(st.just(1e-8), st.just(0.0), log_uniform(1e-10, 1e-3)),
))
