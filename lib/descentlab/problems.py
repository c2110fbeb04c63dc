r"""Small training problems packaged as plain callables, for search and range-test
exercises: pure numpy, picklable, and recording how they were called.

They live outside the reference modules (optim, tuning, …) on purpose: a
student's search calls them, and a grader that forbids the reference must
still let them run, in the grading process or in its sandbox.
"""

from __future__ import annotations

import math

import numpy as np

from . import _checks

__all__ = ["softmax_loss_and_grad", "HyperparameterObjective", "LeastSquaresProblem", "Needle"]


def softmax_loss_and_grad(w: np.ndarray, X: np.ndarray, y: np.ndarray, weight_decay: float = 0.0):
    r"""Cross-entropy of softmax regression with flat parameters
    ``w = [W.ravel(), b]`` (W of shape (C, d)), plus :math:`\tfrac\lambda2\|W\|^2`;
    returns ``(loss, gradient)``."""
    n, d = X.shape
    C = w.size // (d + 1)
    W, b = w[:C * d].reshape(C, d), w[C * d:]
    z = X @ W.T + b
    z = z - z.max(axis=1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=1, keepdims=True)
    loss = float(-np.mean(np.log(p[np.arange(n), y] + 1e-300)))
    p[np.arange(n), y] -= 1.0
    p /= n
    gW = p.T @ X + weight_decay * W
    loss += 0.5 * weight_decay * float(np.sum(W * W))
    return loss, np.concatenate([gW.ravel(), p.sum(axis=0)])


def _digits(standardize=True, seed=0):
    from .data import digits

    return digits(seed=seed, standardize=standardize)


def _init(C, d, seed):
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.uniform(-1, 1, C * d) / math.sqrt(d), np.zeros(C)])


class HyperparameterObjective:
    r"""Validation accuracy of softmax regression on the digits, trained by
    ``steps`` full-batch steps of SGD with momentum (torch's convention) and
    L2 weight decay: ``objective(lr=..., weight_decay=..., momentum=...)``.

    Every call is appended to :attr:`calls` as a dict, so a grader can count
    trials.  ``init_seed`` picks the initial weights: retraining a point with
    another seed checks that it was not a lucky draw.
    """

    def __init__(self, steps: int = 30, init_seed: int = 0, data_seed: int = 0):
        self.steps = _checks.integer(steps, "steps", "HyperparameterObjective", minimum=1)
        self.init_seed = _checks.integer(init_seed, "init_seed", "HyperparameterObjective",
                                         minimum=0)
        d = _digits(seed=data_seed)
        # 500 training images keep a trial cheap (a few ms), which a search of 20 needs
        self.X, self.y, self.X_val, self.y_val = d.X_train[:500], d.y_train[:500], d.X_val, d.y_val
        self.calls: list[dict] = []

    def __call__(self, lr, weight_decay=0.0, momentum=0.0) -> float:
        self.calls.append({"lr": lr, "weight_decay": weight_decay, "momentum": momentum})
        lr = _checks.nonnegative(lr, "lr", "objective")
        weight_decay = _checks.nonnegative(weight_decay, "weight_decay", "objective")
        momentum = _checks.unit_interval(momentum, "momentum", "objective")
        d, C = self.X.shape[1], 10
        w = _init(C, d, self.init_seed)
        buf = None
        with np.errstate(all="ignore"):
            for _ in range(self.steps):
                _, g = softmax_loss_and_grad(w, self.X, self.y, weight_decay)
                buf = g.copy() if buf is None else momentum * buf + g
                w = w - lr * buf
            W, b = w[:C * d].reshape(C, d), w[C * d:]
            pred = np.argmax(self.X_val @ W.T + b, axis=1)
        if not np.all(np.isfinite(w)):
            return 0.0
        return float(np.mean(pred == self.y_val))


class LeastSquaresProblem:
    r"""A full-batch least-squares fit of one-hot digit labels,
    :math:`L(w) = \|XW^\top + b - Y\|^2 / (2n)`, for range tests:
    ``loss_and_grad(w)`` and a starting point ``w0``.

    Gradient descent on it diverges above :math:`\eta = 2/\lambda_{\max}`, and
    ``scale`` multiplies the features (``raw=True`` uses the raw pixel values
    0..16 instead of standardised ones): :math:`\lambda_{\max}` moves with
    scale², so no fixed rate suits every problem.
    """

    def __init__(self, scale: float = 1.0, raw: bool = False, seed: int = 0):
        self.scale = _checks.positive(scale, "scale", "LeastSquaresProblem")
        d = _digits(standardize=not raw)
        self.X = np.ascontiguousarray(d.X_train[:600] * self.scale)
        self.Y = np.eye(10)[d.y_train[:600]]
        self.w0 = _init(10, self.X.shape[1], seed) / self.scale
        self.evaluations = 0

    def _loss_and_grad(self, w):
        n, dim = self.X.shape
        W, b = w[:10 * dim].reshape(10, dim), w[10 * dim:]
        r = (self.X @ W.T + b - self.Y) / n
        loss = 0.5 * n * float(np.sum(r * r))
        return loss, np.concatenate([(r.T @ self.X).ravel(), r.sum(axis=0)])

    def loss_and_grad(self, w):
        """``(loss, gradient)`` at the flat parameters ``w`` (shape of ``w0``)."""
        self.evaluations += 1
        w = np.asarray(w, dtype=np.float64)
        if w.shape != self.w0.shape:
            raise ValueError(f"loss_and_grad: w must have shape {self.w0.shape}, got {w.shape}")
        with np.errstate(all="ignore"):
            return self._loss_and_grad(w)

    def descend(self, lr: float, steps: int = 50) -> float:
        """The loss after ``steps`` steps of gradient descent at ``lr`` from w0 (inf if it blew up)."""
        w = self.w0.copy()
        with np.errstate(all="ignore"):
            for _ in range(steps):
                w = w - lr * self._loss_and_grad(w)[1]
            loss = self._loss_and_grad(w)[0]
        return loss if math.isfinite(loss) else math.inf


class Needle:
    r"""A cheap objective on any space, maximised at ``peak`` on its first axis
    and nearly flat on the others; records its calls like
    :class:`HyperparameterObjective`.  Axes on a log scale are measured in
    decades."""

    def __init__(self, space: dict, peak: float):
        self.space, self.peak = dict(space), float(peak)
        self.calls: list[dict] = []

    def __call__(self, **point) -> float:
        self.calls.append(dict(point))
        score = 0.0
        for i, (name, (low, high, scale)) in enumerate(self.space.items()):
            v = float(point[name])
            u = (math.log10(v) - math.log10(low)) / (math.log10(high) - math.log10(low)) \
                if scale == "log" and v > 0 else (v - low) / (high - low)
            score += math.exp(-((u - self.peak) ** 2) / 0.02) if i == 0 else 0.01 * u
        return score


# -- checkpoint/resume pairs, for PS4's check part --------------------------------------
# A student's resume_is_exact(checkpoint, resume, grads) is graded on these pairs: it must
# accept the right ones (in any layout) and refuse each broken one. They are plain
# module-level functions so that the grader can hand them to the student's process by name.
# They stay out of __all__: grading material, not API (their broken ones are meant to be).

def _copied(state):
    return {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in state.items()}


def checkpoint_dict(w, state, step):
    """Right: a dict of copies."""
    return {"w": w.copy(), "state": _copied(state), "step": step}


def resume_dict(saved):
    """Right: copies out of the dict, so two resumes are two independent runs."""
    return saved["w"].copy(), _copied(saved["state"]), saved["step"]


def checkpoint_tuple(w, state, step):
    """Right, in another layout: (step, w, buffer-and-count)."""
    return (step, w.copy(), [(k, np.copy(v)) for k, v in sorted(state.items())])


def resume_tuple(saved):
    step, w, items = saved
    return w.copy(), {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in items}, step


def checkpoint_next_step(w, state, step):
    """Broken: saves the step it is about to take, not the one it took."""
    return {"w": w.copy(), "state": _copied(state), "step": step + 1}


def resume_shared(saved):
    """Broken: hands out the checkpoint's own arrays; the first resumed run, updating
    them in place, moves the start of the second."""
    return saved["w"], saved["state"], saved["step"]


def resume_float32(saved):
    """Broken: the parameters come back rounded to float32 (a file half the size),
    off by about 1e-8: close, not bit-identical."""
    return saved["w"].astype(np.float32).astype(np.float64), _copied(saved["state"]), saved["step"]


def checkpoint_no_buffer(w, state, step):
    """Broken: saves w and the step, but not the optimizer state."""
    return {"w": w.copy(), "state": {}, "step": step}
