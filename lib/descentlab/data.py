r"""Datasets for the lectures, all local: nothing is downloaded.

* :func:`digits`: scikit-learn's 8x8 handwritten digits (1797 images, 10
  classes), read from the copy that ships inside scikit-learn, split into
  train / validation / test and standardised with the training statistics.
* :func:`sparse_features`: a seeded regression problem with one popular and
  one rare binary feature, the setting Adagrad was designed for.
* :func:`minibatches`: one epoch of shuffled minibatch indices, sampled
  without replacement.
"""

from __future__ import annotations

import gzip
import importlib.util
import math
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import numpy as np

from . import _checks

__all__ = ["Digits", "digits", "SparseFeatures", "sparse_features", "minibatches",
           "stratified_minibatches"]


class Digits(NamedTuple):
    """The digits split.  ``X_*`` are C-contiguous ``(n, 64)`` arrays of the
    requested dtype, ``y_*`` int64 labels in 0..9.  ``mean`` and ``std`` are
    the per-pixel training statistics that standardised all three parts."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    mean: np.ndarray
    std: np.ndarray

    @property
    def n_features(self) -> int:
        return self.X_train.shape[1]

    @property
    def n_classes(self) -> int:
        return 10


def digits(*, val: float = 0.2, test: float = 0.2, seed: int = 0, dtype=np.float64,
           standardize: bool = True) -> Digits:
    r"""scikit-learn's 8x8 digits (the UCI optical digits test set; Alpaydin &
    Kaynak 1998), split and standardised.

    The split is stratified (every part has the class proportions of the
    whole) and seeded: scikit-learn's ``train_test_split(stratify=y,
    random_state=seed)``, test first, then validation from the rest.
    Standardising uses the training part only,
    :math:`x \mapsto (x - \mu_{\text{train}})/\sigma_{\text{train}}`, so no
    information leaks from validation or test; pixels that are constant in
    the training part (the image border) are only centred.

    Args:
        val, test: fractions of the 1797 images for validation and test;
            the rest trains.  ``val`` may be 0.
        seed: the split's seed.
        dtype: float32 or float64 features.
        standardize: standardise as above, or keep the raw values 0..16.
    """
    owner = "digits"
    val = _checks.unit_interval(val, "val", owner)
    test = _checks.unit_interval(test, "test", owner)
    if not 0.0 < test or not val + test < 1.0:
        raise ValueError(f"{owner}: need test > 0 and val + test < 1, got val={val!r}, "
                         f"test={test!r}")
    seed = _checks.integer(seed, "seed", owner, minimum=0)
    dtype = _float_dtype(dtype, owner)
    standardize = _checks.boolean(standardize, "standardize", owner)

    X, y = _bundled_digits()
    rest, held = _stratified_split(y, test, seed, "test", owner)
    X_rest, X_test, y_rest, y_test = X[rest], X[held], y[rest], y[held]
    if val > 0.0:
        train, held = _stratified_split(y_rest, val / (1.0 - test), seed, "val", owner)
        X_train, X_val, y_train, y_val = X_rest[train], X_rest[held], y_rest[train], y_rest[held]
    else:
        X_train, y_train = X_rest, y_rest
        X_val, y_val = X[:0], y[:0]
    mean = X_train.mean(axis=0)
    std = X_train.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    if not standardize:
        mean, std = np.zeros_like(mean), np.ones_like(std)

    def prepare(a):
        return np.ascontiguousarray((a - mean) / std, dtype=dtype)

    return Digits(prepare(X_train), np.ascontiguousarray(y_train), prepare(X_val),
                  np.ascontiguousarray(y_val), prepare(X_test), np.ascontiguousarray(y_test),
                  mean.astype(dtype), std.astype(dtype))


@lru_cache(maxsize=1)
def _bundled_digits() -> tuple[np.ndarray, np.ndarray]:
    """The images (float64, ``(1797, 64)``) and labels (int64) of the file that
    scikit-learn ships, parsed as ``sklearn.datasets.load_digits`` parses it.

    Found without importing scikit-learn: that import is 1.3 s of CPU, paid by
    every lecture and twice by every graded PS1 submission (in nbgrader's kernel
    and in the re-check), where reading the file takes 20 ms.
    """
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("digits: scikit-learn, whose bundled copy of the digits this reads, "
                          "is not installed")
    path = Path(spec.submodule_search_locations[0]) / "datasets" / "data" / "digits.csv.gz"
    with gzip.open(path, "rt", encoding="utf-8") as f:
        data = np.loadtxt(f, delimiter=",")
    X, y = data[:, :-1], data[:, -1].astype(np.int64)
    X.flags.writeable = y.flags.writeable = False  # shared by every call in this process
    return X, y


def _stratified_split(y: np.ndarray, fraction: float, seed: int, name: str, owner: str):
    """``(keep, held)`` indices: ``held`` is ``fraction`` of the rows, and both parts
    keep the class proportions of ``y``.

    The same indices as ``sklearn.model_selection.train_test_split(..., test_size=fraction,
    stratify=y, random_state=seed)`` (its StratifiedShuffleSplit, step for step, on
    NumPy's legacy RandomState), so a split, and every number a lecture prints from
    it, is scikit-learn's; ``tests/test_data.py`` checks that against scikit-learn.
    Written out only because importing scikit-learn costs more than all of this
    (see :func:`_bundled_digits`).
    """
    n = len(y)
    n_held = math.ceil(fraction * n)
    n_keep = n - n_held
    classes, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
    if min(n_keep, n_held) < len(classes):
        raise ValueError(f"{owner}: {name}={fraction:g} of {n} images leaves a part with fewer "
                         f"images ({min(n_keep, n_held)}) than classes ({len(classes)})")
    members = np.split(np.argsort(inverse, kind="stable"), np.cumsum(counts)[:-1])
    rng = np.random.RandomState(seed)
    keep_per_class = _approximate_mode(counts, n_keep, rng)
    held_per_class = _approximate_mode(counts - keep_per_class, n_held, rng)
    keep, held = [], []
    for k in range(len(classes)):
        shuffled = members[k].take(rng.permutation(counts[k]), mode="clip")
        keep.extend(shuffled[:keep_per_class[k]])
        held.extend(shuffled[keep_per_class[k]:keep_per_class[k] + held_per_class[k]])
    return rng.permutation(keep), rng.permutation(held)


def _approximate_mode(counts: np.ndarray, draws: int, rng: np.random.RandomState) -> np.ndarray:
    """How many of each class a stratified draw of ``draws`` takes: the
    proportional share, rounded down, and the remaining draws given to the
    classes with the largest remainders (ties broken at random), as
    scikit-learn's ``_approximate_mode`` does."""
    continuous = counts / counts.sum() * draws
    floored = np.floor(continuous)
    need = int(draws - floored.sum())
    if need > 0:
        remainder = continuous - floored
        for value in np.sort(np.unique(remainder))[::-1]:
            (tied,) = np.where(remainder == value)
            now = min(len(tied), need)
            floored[rng.choice(tied, size=now, replace=False)] += 1
            need -= now
            if need == 0:
                break
    return floored.astype(int)


class SparseFeatures(NamedTuple):
    """``X`` is ``(n, k)`` with 0/1 entries, ``y = X @ w + noise``."""

    X: np.ndarray
    y: np.ndarray
    w: np.ndarray


def sparse_features(n_samples: int = 1000, frequencies=(0.9, 0.05), weights=None,
                    noise: float = 0.1, *, seed: int = 0, dtype=np.float64) -> SparseFeatures:
    r"""Linear regression on binary features of very different frequencies.

    Feature :math:`j` is on (1) in each sample independently with probability
    :math:`p_j`, else off (0); the target is
    :math:`y = Xw + \sigma\varepsilon`, :math:`\varepsilon \sim \mathcal N(0, 1)`.
    With the squared loss :math:`L(w) = \frac{1}{2n}\|Xw - y\|^2`, the
    gradient for :math:`w_j` comes only from the samples where feature
    :math:`j` is on, so it is about :math:`p_j` times smaller for a rare
    feature, and gradient descent learns that weight :math:`p_j` times more
    slowly.  Adagrad divides each coordinate by the root of its accumulated
    squared gradient, which evens the rates out (Duchi, Hazan & Singer,
    JMLR 2011).  The Hessian :math:`X^\top X/n` has diagonal
    :math:`\approx (p_1, p_2, \dots)`: rare features make the problem
    ill-conditioned.

    Args:
        n_samples: number of rows.
        frequencies: :math:`p_j` for each feature, in (0, 1]; the default has a
            popular feature (0.9) and a rare one (0.05).
        weights: the true :math:`w` (default: all ones).
        noise: :math:`\sigma \ge 0`.
        seed: seeds everything.
        dtype: float32 or float64.
    """
    owner = "sparse_features"
    n_samples = _checks.integer(n_samples, "n_samples", owner, minimum=1)
    freqs = np.asarray(frequencies, dtype=np.float64)
    if freqs.ndim != 1 or freqs.size == 0 or not np.all((freqs > 0) & (freqs <= 1)):
        raise ValueError(f"{owner}: frequencies must be a non-empty list of numbers in (0, 1], "
                         f"got {frequencies!r}")
    w = np.ones(freqs.size) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != freqs.shape or not np.all(np.isfinite(w)):
        raise ValueError(f"{owner}: weights must be {freqs.size} finite numbers, one per "
                         f"frequency, got {weights!r}")
    noise = _checks.nonnegative(noise, "noise", owner)
    seed = _checks.integer(seed, "seed", owner, minimum=0)
    dtype = _float_dtype(dtype, owner)
    rng = np.random.default_rng(seed)
    X = (rng.random((n_samples, freqs.size)) < freqs).astype(np.float64)
    y = X @ w + noise * rng.standard_normal(n_samples)
    return SparseFeatures(np.ascontiguousarray(X, dtype=dtype), y.astype(dtype), w.astype(dtype))


def _float_dtype(dtype, owner: str) -> np.dtype:
    try:
        d = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{owner}: dtype must be float32 or float64, got {dtype!r}") from None
    if d not in _checks.FLOAT_DTYPES:
        raise TypeError(f"{owner}: dtype must be float32 or float64, got {d}")
    return d


def minibatches(n: int, batch_size: int, rng=None):
    r"""One epoch of minibatches: index arrays that cover ``range(n)`` once each.

    The order is a fresh random permutation every call (sampling *without*
    replacement within the epoch: every example is used exactly once), cut
    into consecutive batches of ``batch_size``; the last batch holds the
    remaining ``n mod batch_size`` examples when ``batch_size`` does not
    divide ``n``.  Call it once per epoch; the permutation changes because
    ``rng`` advances.

    Sampling without replacement is what deep-learning loaders do (torch's
    ``DataLoader(shuffle=True)``); it visits every example once per epoch
    and, for SGD, converges faster than sampling with replacement
    (Gürbüzbalaban, Ozdaglar & Parrilo, *Why random reshuffling beats
    stochastic gradient descent*, Math. Programming 2021).

    Args:
        n: number of examples, >= 1.
        batch_size: examples per batch, >= 1.
        rng: a ``numpy.random.Generator`` or an int seed.

    Yields:
        int64 index arrays, in order, whose concatenation is a permutation of
        ``range(n)``.
    """
    n = _checks.integer(n, "n", "minibatches", minimum=1)
    batch_size = _checks.integer(batch_size, "batch_size", "minibatches", minimum=1)
    if rng is not None and not isinstance(rng, (np.random.Generator, int, np.integer)):
        raise TypeError(f"minibatches: rng must be a numpy Generator or an int seed, got "
                        f"{type(rng).__name__}")
    rng = np.random.default_rng(rng)
    order = rng.permutation(n)
    return iter([order[i:i + batch_size] for i in range(0, n, batch_size)])


def stratified_minibatches(y, batch_size: int, rng=None):
    r"""One epoch of minibatches whose class proportions follow the whole set's.

    Each class is shuffled, and its k-th example (of :math:`n_c`) is given
    the position :math:`(k + u)/n_c` with :math:`u \sim U(0, 1)`; sorting all
    examples by position and cutting the order into consecutive batches
    spreads every class evenly along the epoch, so a batch of ``b`` holds
    about :math:`b\,n_c/n` examples of class c (within one of it), where
    :func:`minibatches` gives a hypergeometric count.  Fewer classes missing
    from a batch means less gradient noise from the class mix.

    Args:
        y: the labels, a 1-D integer array of length n >= 1.
        batch_size: examples per batch, >= 1.
        rng: a ``numpy.random.Generator`` or an int seed.

    Yields:
        int64 index arrays whose concatenation is a permutation of ``range(n)``.
    """
    y = np.asarray(y)
    if y.ndim != 1 or y.size == 0 or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"stratified_minibatches: y must be a non-empty 1-D integer array, "
                         f"got shape {y.shape} and dtype {y.dtype}")
    batch_size = _checks.integer(batch_size, "batch_size", "stratified_minibatches", minimum=1)
    if rng is not None and not isinstance(rng, (np.random.Generator, int, np.integer)):
        raise TypeError(f"stratified_minibatches: rng must be a numpy Generator or an int seed, "
                        f"got {type(rng).__name__}")
    rng = np.random.default_rng(rng)
    n = y.size
    position = np.empty(n)
    for c in np.unique(y):
        members = np.flatnonzero(y == c)
        members = members[rng.permutation(members.size)]
        position[members] = (np.arange(members.size) + rng.random(members.size)) / members.size
    order = np.argsort(position, kind="stable")
    return iter([order[i:i + batch_size] for i in range(0, n, batch_size)])
