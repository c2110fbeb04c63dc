r"""Hyperparameter search: log-uniform sampling, grid and random search, and
Smith's learning-rate range test.

A *space* maps each hyperparameter's name to ``(low, high, scale)`` with
``scale`` "log" (rates, weight decay: what matters is the order of
magnitude) or "linear".  Random search (Bergstra & Bengio 2012) draws every
coordinate afresh for each trial, so with :math:`k` trials it tries
:math:`k` distinct values of the one hyperparameter that matters, where a
grid of the same budget in :math:`d` dimensions tries only :math:`k^{1/d}`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from . import _checks

__all__ = ["log_uniform", "check_space", "grid_points", "random_points", "Trial", "search",
           "best", "on_edge", "RangeTest", "lr_range_test", "needle", "kfold"]


def log_uniform(low: float, high: float, size=None, rng=None):
    r"""Draws whose logarithm is uniform on :math:`[\log a, \log b)`:
    :math:`\exp(U(\log a, \log b))`, so every decade is equally likely."""
    owner = "log_uniform"
    low = _checks.positive(low, "low", owner)
    high = _checks.positive(high, "high", owner)
    if not low < high:
        raise ValueError(f"{owner}: need low < high, got low={low!r}, high={high!r}")
    rng = _checks.generator(rng, "rng", owner)
    return np.exp(rng.uniform(math.log(low), math.log(high), size))


def check_space(space: dict) -> dict:
    if not isinstance(space, dict) or not space:
        raise ValueError(f"space must be a non-empty dict name -> (low, high, scale), got {space!r}")
    for name, spec in space.items():
        if not (isinstance(spec, tuple) and len(spec) == 3 and spec[2] in ("log", "linear")):
            raise ValueError(f"space[{name!r}] must be (low, high, 'log'|'linear'), got {spec!r}")
        low, high, scale = spec
        _checks.real(low, f"space[{name!r}] low")
        _checks.real(high, f"space[{name!r}] high")
        if not low < high or (scale == "log" and low <= 0):
            raise ValueError(f"space[{name!r}] needs low < high (and low > 0 on a log scale), "
                             f"got {spec!r}")
    return space


def grid_points(space: dict, per_axis: int) -> list[dict]:
    """Every combination of ``per_axis`` evenly spaced values per axis (in log
    space for "log" axes), ends included."""
    space = check_space(space)
    k = _checks.integer(per_axis, "per_axis", "grid_points", minimum=1)
    axes = []
    for low, high, scale in space.values():
        if k == 1:
            values = [math.sqrt(low * high) if scale == "log" else (low + high) / 2]
        elif scale == "log":
            values = list(np.geomspace(low, high, k))
        else:
            values = list(np.linspace(low, high, k))
        axes.append([float(v) for v in values])
    grids = np.meshgrid(*axes, indexing="ij")
    return [dict(zip(space, (float(g.flat[i]) for g in grids))) for i in range(grids[0].size)]


def random_points(space: dict, trials: int, rng=None) -> list[dict]:
    """``trials`` points, each coordinate drawn independently (log-uniform on "log" axes)."""
    space = check_space(space)
    trials = _checks.integer(trials, "trials", "random_points", minimum=1)
    rng = _checks.generator(rng, "rng", "random_points")
    columns = {name: (log_uniform(low, high, trials, rng) if scale == "log"
                      else rng.uniform(low, high, trials))
               for name, (low, high, scale) in space.items()}
    return [{name: float(columns[name][i]) for name in space} for i in range(trials)]


@dataclass(frozen=True)
class Trial:
    point: dict
    score: float


def search(objective: Callable[..., float], points: list[dict], *, progress: bool = False
           ) -> list[Trial]:
    """Evaluate ``objective(**point)`` at every point (higher is better)."""
    if not callable(objective):
        raise TypeError(f"search: objective must be callable, got {objective!r}")
    if not points:
        raise ValueError("search: points is empty")
    if progress:
        from tqdm.auto import tqdm
        points = tqdm(points, desc="trials", leave=False)
    return [Trial(dict(p), float(objective(**p))) for p in points]


def best(trials: list[Trial]) -> Trial:
    """The trial with the highest score (NaN scores never win)."""
    ok = [t for t in trials if not math.isnan(t.score)]
    if not ok:
        raise ValueError("best: no trial has a score")
    return max(ok, key=lambda t: t.score)


def on_edge(value: float, low: float, high: float, scale: str = "log", *,
            margin: float = 0.1) -> str | None:
    """"low" or "high" when ``value`` lies within ``margin`` of the range's
    width (in log space for "log") of that end: the sign to widen the range
    there, since the optimum may lie outside it.  None otherwise."""
    f = math.log if scale == "log" else (lambda v: v)
    width = f(high) - f(low)
    if f(value) - f(low) <= margin * width:
        return "low"
    if f(high) - f(value) <= margin * width:
        return "high"
    return None


@dataclass(frozen=True)
class RangeTest:
    """Smith's LR range test: the rates tried, the smoothed losses, and a suggestion."""

    lrs: np.ndarray
    losses: np.ndarray
    suggestion: float


def lr_range_test(model, X, y, *, lr_min: float = 1e-4, lr_max: float = 10.0, steps: int = 100,
                  batch_size: int = 32, seed: int = 0, smoothing: float = 0.9,
                  divergence: float = 4.0) -> RangeTest:
    r"""Train ``model`` (in place) with plain SGD while the rate grows
    geometrically from ``lr_min`` to ``lr_max`` over ``steps`` minibatch steps
    (Smith 2017).  Losses are smoothed by an exponential moving average
    (debiased as Adam's); the test stops once the smoothed loss exceeds
    ``divergence`` times its best.  The suggested rate is the one at the
    smallest smoothed loss divided by 10: the loss still falls fast there, a
    decade away from where it blows up.
    """
    from .data import minibatches
    from .optim import SGD

    owner = "lr_range_test"
    lr_min = _checks.positive(lr_min, "lr_min", owner)
    lr_max = _checks.positive(lr_max, "lr_max", owner)
    if not lr_min < lr_max:
        raise ValueError(f"{owner}: need lr_min < lr_max, got {lr_min!r} and {lr_max!r}")
    steps = _checks.integer(steps, "steps", owner, minimum=2)
    batch_size = _checks.integer(batch_size, "batch_size", owner, minimum=1)
    smoothing = _checks.unit_interval(smoothing, "smoothing", owner)
    divergence = _checks.positive(divergence, "divergence", owner)
    rng = np.random.default_rng(seed)
    lrs = np.geomspace(lr_min, lr_max, steps)
    opt = SGD(model.params, lr=float(lrs[0]))
    batches = iter(())
    avg, out = 0.0, []
    with np.errstate(all="ignore"):
        for t, lr in enumerate(lrs, start=1):
            idx = next(batches, None)
            if idx is None:
                batches = minibatches(len(y), batch_size, rng)
                idx = next(batches)
            opt.lr = float(lr)
            loss, grads = model.loss_and_grads(X[idx], y[idx])
            avg = smoothing * avg + (1 - smoothing) * loss
            smoothed = avg / (1 - smoothing ** t)
            out.append(smoothed)
            if not math.isfinite(smoothed) or smoothed > divergence * min(out):
                break
            opt.step(grads)
    losses = np.array(out)
    finite = np.where(np.isfinite(losses), losses, np.inf)
    return RangeTest(lrs[:len(losses)], losses, float(lrs[int(np.argmin(finite))] / 10))


def needle(x: float, y: float, *, peak: float = 0.63, width: float = 0.05,
           tilt: float = 0.02) -> float:
    r"""A 2-D objective to maximise on :math:`[0, 1]^2` where only ``x`` matters:
    :math:`\exp(-(x - p)^2 / 2w^2) + \text{tilt}\cdot y`.  A 3×3 grid tries
    three values of x, random search with the same 9 trials tries nine
    (Bergstra & Bengio 2012, figure 1)."""
    x = _checks.real(x, "x", "needle")
    y = _checks.real(y, "y", "needle")
    return math.exp(-((x - peak) ** 2) / (2 * width ** 2)) + tilt * y


def kfold(n: int, k: int, rng=None) -> list[tuple[np.ndarray, np.ndarray]]:
    """``k`` (train, validation) index pairs: a shuffled ``range(n)`` cut into
    ``k`` near-equal folds, each the validation part once."""
    n = _checks.integer(n, "n", "kfold", minimum=2)
    k = _checks.integer(k, "k", "kfold", minimum=2)
    if k > n:
        raise ValueError(f"kfold: k must be <= n={n}, got {k}")
    order = _checks.generator(rng, "rng", "kfold").permutation(n)
    folds = np.array_split(order, k)
    return [(np.concatenate(folds[:i] + folds[i + 1:]), folds[i]) for i in range(k)]
