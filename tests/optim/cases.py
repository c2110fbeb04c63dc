"""Hyperparameter spaces and a shared harness for the differential tests.

Every optimizer is run side by side with torch.optim's single-tensor
implementation (``foreach=False``), on the same parameters and the same
gradients, and compared after every step.
"""

from __future__ import annotations

import os

import numpy as np
import torch
from hypothesis import strategies as st

import descentlab.optim as dlo

NOJIT = os.environ.get("NUMBA_DISABLE_JIT") == "1"
STEPS = 300
MAX_ELEMENTS = 12 if NOJIT else 48

# Tolerances from the optimizer contract (DESIGN.md).  The error is measured
# at every step as max|ours - torch|, relative to the scale of the run so far
# (the largest |parameter| torch has had).  A per-step scale would be
# meaningless whenever a small parameter crosses zero.  The two sides differ
# only by roundoff: torch fuses some multiply-adds and takes MKL's square
# root, which is not always correctly rounded.
TOLERANCE = {np.float64: 1e-10, np.float32: 1e-5}


def log_uniform(lo: float, hi: float):
    return st.floats(np.log10(lo), np.log10(hi)).map(lambda e: float(10.0 ** e))


def sometimes_zero(strategy):
    return st.one_of(st.just(0.0), strategy)


lr = log_uniform(1e-4, 1e-1)
unit = st.floats(0.0, 0.99)
decay = sometimes_zero(log_uniform(1e-4, 1e-1))
eps = log_uniform(1e-10, 1e-3)
betas = st.tuples(st.floats(0.0, 0.99), st.floats(0.5, 0.9999))
flag = st.booleans()


def _sgd(d):
    # torch rejects nesterov without momentum or with dampening; so do we
    if d["nesterov"] and (d["momentum"] == 0 or d["dampening"] != 0):
        d["nesterov"] = False
    return d


SPACES = {
    "SGD": st.fixed_dictionaries(dict(lr=lr, momentum=sometimes_zero(unit),
                                      dampening=sometimes_zero(st.floats(0.0, 1.0)),
                                      weight_decay=decay, nesterov=flag, maximize=flag)).map(_sgd),
    "Adagrad": st.fixed_dictionaries(dict(lr=lr, lr_decay=decay, weight_decay=decay,
                                          initial_accumulator_value=sometimes_zero(st.floats(0.0, 1.0)),
                                          eps=eps, maximize=flag)),
    "RMSprop": st.fixed_dictionaries(dict(lr=lr, alpha=st.floats(0.5, 0.999), eps=eps,
                                          weight_decay=decay, momentum=sometimes_zero(unit),
                                          centered=flag, maximize=flag)),
    "Adadelta": st.fixed_dictionaries(dict(lr=log_uniform(0.05, 2.0), rho=st.floats(0.5, 0.99),
                                           eps=log_uniform(1e-8, 1e-4), weight_decay=decay,
                                           maximize=flag)),
    "Adam": st.fixed_dictionaries(dict(lr=lr, betas=betas, eps=eps, weight_decay=decay,
                                       amsgrad=flag, maximize=flag, decoupled_weight_decay=flag)),
    "AdamW": st.fixed_dictionaries(dict(lr=lr, betas=betas, eps=eps, weight_decay=decay,
                                        amsgrad=flag, maximize=flag)),
    "Adamax": st.fixed_dictionaries(dict(lr=lr, betas=betas, eps=eps, weight_decay=decay,
                                         maximize=flag)),
    "NAdam": st.fixed_dictionaries(dict(lr=lr, betas=betas, eps=eps, weight_decay=decay,
                                        momentum_decay=log_uniform(1e-4, 1e-1),
                                        decoupled_weight_decay=flag, maximize=flag)),
    "RAdam": st.fixed_dictionaries(dict(lr=lr, betas=betas, eps=eps, weight_decay=decay,
                                        decoupled_weight_decay=flag, maximize=flag)),
}
assert set(SPACES) == set(dlo.TORCH_OPTIMIZERS)

# Extras: hyperparameter spaces for the resume and validation tests.
EXTRA_SPACES = {
    "ClassicMomentum": st.fixed_dictionaries(dict(lr=lr, momentum=unit, weight_decay=decay)),
    "LocalGains": st.fixed_dictionaries(dict(lr=lr, beta=st.floats(0.0, 0.5),
                                             gain_min=st.floats(0.01, 1.0),
                                             gain_max=st.floats(1.0, 100.0))),
}
ALL_SPACES = {**SPACES, **EXTRA_SPACES}

shapes = st.lists(st.integers(1, 4), min_size=0, max_size=3).map(tuple).filter(
    lambda s: int(np.prod(s)) <= MAX_ELEMENTS // 2)


class Problem:
    """Parameters and a seeded gradient oracle.

    The gradient is that of a separable quadratic plus noise, so it depends on
    where the run is, yet the run stays stable for every drawn setting.  With
    ``maximize`` the quadratic is concave, so ascent is stable too.
    """

    def __init__(self, shapes, dtype, seed, maximize=False):
        rng = np.random.default_rng(seed)
        self.dtype = dtype
        self.params = [np.array(rng.standard_normal(s), dtype) for s in shapes]
        self.curvature = [np.array(rng.uniform(0.0, 1.0, s), dtype) for s in shapes]
        self.noise_scale = dtype(rng.uniform(0.05, 1.0))
        self.sign = dtype(-1.0 if maximize else 1.0)
        self.rng = rng

    def grads(self, params):
        return [np.array(self.sign * h * p + self.noise_scale
                         * np.array(self.rng.standard_normal(p.shape), self.dtype), self.dtype)
                for p, h in zip(params, self.curvature)]


def max_abs(arrays) -> float:
    return max(float(np.max(np.abs(a))) for a in arrays)


def max_diff(ours, theirs) -> float:
    return max(float(np.max(np.abs(o.astype(np.float64) - t.astype(np.float64))))
               for o, t in zip(ours, theirs))


def run_side_by_side(name, hyper, shapes, dtype, seed, steps=STEPS):
    """Step descentlab and torch together; return (worst error, ours, torch's)."""
    problem = Problem(shapes, dtype, seed, maximize=hyper.get("maximize", False))
    ours = [p.copy() for p in problem.params]
    theirs = [torch.from_numpy(p.copy()).requires_grad_() for p in problem.params]
    opt = getattr(dlo, name)(ours, **hyper)
    topt = getattr(torch.optim, name)(theirs, foreach=False, **hyper)
    worst = 0.0
    scale = max_abs(ours)
    for _ in range(steps):
        # both see the gradient at torch's iterate: a disagreement cannot hide
        # behind the feedback, and shows up in the parameters at once
        grads = problem.grads([t.detach().numpy() for t in theirs])
        for t, g in zip(theirs, grads):
            t.grad = torch.from_numpy(g.copy())
        topt.step()
        opt.step(grads)
        now = [t.detach().numpy() for t in theirs]
        scale = max(scale, max_abs(now))
        worst = max(worst, max_diff(ours, now) / scale)
    return worst, opt, topt, theirs
