"""ps1_gradient_descent: minibatches, the SGD step, three decay schedules, and a
training loop on the digits that must reach a stated accuracy."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ...data import digits, minibatches
from ...models import SoftmaxRegression
from ...optim import SGD
from ...schedulers import exponential_decay, inverse_time, step_decay
from ..exercise import Case, Exercise, Mistake, Raised
from ..functions import FunctionExercise, FunctionPart
from ..report import Mismatch, compare

A = "ps1_gradient_descent"


# -- minibatch_indices: checked by its properties, since any shuffle is right -------

def _collect(fn, n, batch_size, rng):
    """The batches of one epoch as int arrays, or a Mismatch saying what came back instead."""
    out = Exercise.call(fn, n, batch_size, rng)
    if isinstance(out, Raised):
        return Mismatch("the batches", "error", f"the function raised {out}")
    try:
        batches = [np.asarray(b) for b in out]
    except TypeError:
        return Mismatch("the batches", "type",
                        f"expected an iterable of index arrays, got {type(out).__name__}")
    except Exception as exc:  # noqa: BLE001 - a generator that raises half-way
        return Mismatch("the batches", "error", f"iterating raised {type(exc).__name__}: {exc}")
    for i, b in enumerate(batches):
        if b.ndim != 1 or (b.size and b.dtype.kind not in "iu"):
            return Mismatch(f"batch {i}", "type", f"expected a 1-D array of integer indices, got "
                            f"{b.dtype} of shape {b.shape}")
    return batches


@dataclass
class MinibatchExercise(Exercise):
    plan: dict = field(default_factory=dict)

    def __post_init__(self):
        self.parts = {name: points for name, (points, _, _) in self.plan.items()}

    def cases(self, part, hidden):
        _, visible, secret = self.plan[part]
        return [Case(f"{'hidden ' if hidden else ''}n={n}, batch_size={bs}",
                     {"n": n, "batch_size": bs, "seed": 17 * n + bs + 1000 * hidden})
                for n, bs in (secret if hidden else visible)]

    def check(self, fn, part, hidden=False):
        # any shuffle is right, so each part checks properties instead of comparing values
        for case in self.cases(part, hidden):
            found = (self._one_epoch if part == "one_epoch" else self._reshuffled)(fn, case)
            if found is not None:
                found.case = case.label
                return found
        return None

    @staticmethod
    def _one_epoch(fn, case):
        n, bs = case.data["n"], case.data["batch_size"]
        batches = _collect(fn, n, bs, np.random.default_rng(case.data["seed"]))
        if isinstance(batches, Mismatch):
            return batches
        sizes = [b.size for b in batches]
        everything = np.concatenate(batches) if batches else np.array([], int)
        if len(np.unique(everything)) < everything.size:
            return Mismatch("the batches", "property",
                            f"{everything.size - len(np.unique(everything))} indices appear "
                            "more than once in one epoch", mistake="sampling with replacement",
                            hint="Shuffle a permutation of range(n) once per epoch and cut it "
                                 "into batches, so every example is used exactly once.")
        want = [bs] * (n // bs) + ([n % bs] if n % bs else [])
        if sizes == [bs] * (n // bs) and n % bs:
            return Mismatch("the batches", "property",
                            f"expected batch sizes {want}, got {sizes}: the last "
                            f"{n % bs} examples are never used",
                            mistake="the last partial batch dropped",
                            hint="When batch_size does not divide n, yield the remaining "
                                 "n % batch_size indices as a last, smaller batch.")
        if sizes != want:
            return Mismatch("the batch sizes", "property", f"expected {want}, got {sizes}")
        if not np.array_equal(np.sort(everything), np.arange(n)):
            return Mismatch("the batches", "property",
                            "together they must contain every index 0..n-1 exactly once")
        return None

    @staticmethod
    def _reshuffled(fn, case):
        n, bs = case.data["n"], case.data["batch_size"]
        rng = np.random.default_rng(case.data["seed"])
        epochs = []
        for _ in range(2):
            batches = _collect(fn, n, bs, rng)
            if isinstance(batches, Mismatch):
                return batches
            epochs.append(np.concatenate(batches) if batches else np.array([], int))
        if np.array_equal(epochs[0], np.arange(n)):
            return Mismatch("the order", "property", "the indices come out as 0, 1, 2, ...",
                            mistake="not shuffled",
                            hint="Draw the order with rng.permutation(n) (or rng.shuffle).")
        if np.array_equal(epochs[0], epochs[1]):
            return Mismatch("the order", "property",
                            "two epochs drawn with the same generator came out identical",
                            mistake="the same order every epoch",
                            hint="Draw a new permutation from the rng you are given on every "
                                 "call; do not create a new generator with a fixed seed.")
        again = _collect(fn, n, bs, np.random.default_rng(case.data["seed"]))
        if isinstance(again, Mismatch):
            return again
        if not np.array_equal(np.concatenate(again) if again else again, epochs[0]):
            return Mismatch("the order", "property",
                            "the same seed gave a different order",
                            mistake="the rng argument ignored (NumPy's global random state used)",
                            hint="Use the generator passed in as rng, e.g. rng.permutation(n), "
                                 "not np.random.permutation, so runs are reproducible.")
        return _independence(fn, n, bs, rng)


#: epochs drawn for the independence check, and the count of "i followed by i + 1" above
#: which it fails.  In a uniformly random order of n indices that count has mean (n-1)/n per
#: epoch; over EPOCHS epochs it is close to Poisson(EPOCHS (n-1)/n) <= Poisson(EPOCHS), and
#: Chernoff's bound gives P(count >= 2 EPOCHS + 10) < 1e-9 for EPOCHS = 50: a correct
#: shuffle fails less than once in a billion gradings.
EPOCHS = 50
SUCCESSOR_LIMIT = 2 * EPOCHS + 10


def _independence(fn, n, bs, rng):
    """Every index's successor must be random, not only the batches' order: a shuffle of
    whole blocks of consecutive indices passes every other check of this part."""
    follows, blocky = 0, True
    for _ in range(EPOCHS):
        batches = _collect(fn, n, bs, rng)
        if isinstance(batches, Mismatch):
            return batches
        order = np.concatenate(batches) if batches else np.array([], int)
        follows += int(np.sum(np.diff(order) == 1))
        blocky &= all(np.array_equal(b, np.arange(b[0], b[0] + b.size)) for b in batches if b.size)
    if follows < SUCCESSOR_LIMIT:
        return None
    found = Mismatch("the order", "property",
                     f"in {EPOCHS} epochs an index was followed by the next one {follows} times; "
                     f"a uniformly random order gives about {EPOCHS * (n - 1) / n:.0f}, and "
                     f"{SUCCESSOR_LIMIT} or more has probability below 1e-9",
                     hint="Shuffle the indices themselves, rng.permutation(n), then cut the "
                          "shuffled order into batches.")
    if blocky:
        found.mistake = "only the order of the batches shuffled (each batch holds consecutive indices)"
    return found


def _mb_with_replacement(n, batch_size, rng):
    idx = rng.integers(0, n, n)
    return [idx[i:i + batch_size] for i in range(0, n, batch_size)]


def _mb_drop_last(n, batch_size, rng):
    order = rng.permutation(n)
    return [order[i:i + batch_size] for i in range(0, n - batch_size + 1, batch_size)]


def _mb_sorted(n, batch_size, rng):
    return [np.arange(i, min(i + batch_size, n)) for i in range(0, n, batch_size)]


def _mb_fixed_seed(n, batch_size, rng):
    return _mb_shuffled(n, batch_size, np.random.default_rng(0))


def _mb_global(n, batch_size, rng):
    order = np.random.permutation(n)
    return [order[i:i + batch_size] for i in range(0, n, batch_size)]


def _mb_blocks(n, batch_size, rng):
    blocks = [np.arange(i, min(i + batch_size, n)) for i in range(0, n, batch_size)]
    return [blocks[i] for i in rng.permutation(len(blocks))]


def _mb_shuffled(n, batch_size, rng):
    order = rng.permutation(n)
    return [order[i:i + batch_size] for i in range(0, n, batch_size)]


minibatch = MinibatchExercise(
    assignment=A, function="minibatch_indices",
    reference=lambda n, batch_size, rng: minibatches(n, batch_size, rng),
    plan={"one_epoch": (2, [(10, 3), (64, 16), (7, 10)], [(100, 32), (1, 1), (50, 7), (33, 33)]),
          "reshuffled": (1, [(20, 4)], [(100, 10), (33, 8)])},
    mistakes=[
        Mistake("sampling with replacement", "", _mb_with_replacement),
        Mistake("the last partial batch dropped", "", _mb_drop_last),
        Mistake("not shuffled", "", _mb_sorted),
        Mistake("the same order every epoch", "", _mb_fixed_seed),
        Mistake("the rng argument ignored (NumPy's global random state used)", "", _mb_global),
        Mistake("only the order of the batches shuffled (each batch holds consecutive indices)",
                "", _mb_blocks),
    ],
)


# -- sgd_step ------------------------------------------------------------------------

def _sgd_reference(w, dw, lr, weight_decay=0.0):
    w = np.array(w, copy=True)
    SGD([w], lr=lr, weight_decay=weight_decay).step([np.ascontiguousarray(dw)])
    return w


def _arrays(seed, shape):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(shape), rng.standard_normal(shape)


def _sgd_cases(specs):
    cases = []
    for k, (shape, lr, wd) in enumerate(specs):
        w, dw = _arrays(100 + k, shape)
        label = f"lr={lr}, weight_decay={wd}, w of shape {shape}"
        cases.append((label, ({"w": w, "dw": dw, "lr": lr, "weight_decay": wd},)))
    return tuple(cases)


def _sgd_in_place(w, dw, lr, weight_decay=0.0):
    w -= lr * (dw + weight_decay * w)
    return w


sgd = FunctionExercise(
    assignment=A, function="sgd_step", reference=_sgd_reference,
    describe_call=lambda kw: "returned w", untouched=("w", "dw"),
    plan={
        "plain": FunctionPart(1, _sgd_cases([((5,), 0.1, 0.0), ((3, 4), 0.5, 0.0)]),
                              _sgd_cases([((2, 2, 2), 0.01, 0.0), ((7,), 1.0, 0.0)])),
        "weight_decay": FunctionPart(1, _sgd_cases([((5,), 0.1, 0.1), ((3, 4), 0.5, 0.01)]),
                                     _sgd_cases([((6,), 0.05, 1.0), ((2, 3), 0.2, 0.3)])),
    },
    mistakes=[
        Mistake("the step goes uphill (the sign is flipped)",
                "Gradient descent subtracts: w - lr * (dw + weight_decay * w).",
                lambda w, dw, lr, weight_decay=0.0: w + lr * (dw + weight_decay * w)),
        Mistake("weight decay not multiplied by the learning rate",
                "The decay is part of the gradient: w - lr * (dw + weight_decay * w).",
                lambda w, dw, lr, weight_decay=0.0: w - lr * dw - weight_decay * w),
        Mistake("w updated in place (the caller's array is overwritten)",
                "The docstring promises a new array: return w - lr * (dw + weight_decay * w) "
                "instead of changing w with -=.", _sgd_in_place),
        Mistake("weight decay with the wrong sign",
                "The L2 penalty's gradient is +weight_decay * w: it pulls w towards 0.",
                lambda w, dw, lr, weight_decay=0.0: w - lr * (dw - weight_decay * w)),
    ],
)


# -- decay schedules -------------------------------------------------------------------

T = tuple(range(0, 61))


def _schedule(function, reference, arguments, hidden_arguments, mistakes, points=1):
    def cases(specs):
        return tuple((", ".join(f"{k}={v}" for k, v in spec.items()) + ", t = 0..60",
                      tuple({"t": t, **spec} for t in T)) for spec in specs)
    return FunctionExercise(
        assignment=A, function=function, reference=reference,
        describe_call=lambda kw: f"the value at t={kw['t']}",
        plan={"values": FunctionPart(points, cases(arguments), cases(hidden_arguments))},
        mistakes=mistakes)


exponential = _schedule(
    "exponential_decay",
    lambda t, lr0, k: float(exponential_decay(t, lr0, k)),
    [{"lr0": 0.1, "k": 0.05}, {"lr0": 1.0, "k": 0.2}],
    [{"lr0": 0.5, "k": 0.01}, {"lr0": 0.03, "k": 0.5}],
    [Mistake("a growing exponential (the sign of the exponent)",
             "The rate decays: lr0 * exp(-k * t).", lambda t, lr0, k: lr0 * math.exp(k * t)),
     Mistake("a geometric decay (1 - k)^t instead of exp(-k t)",
             "Use the exponential: lr0 * math.exp(-k * t); (1 - k)**t is only close for small k.",
             lambda t, lr0, k: lr0 * (1 - k) ** t),
     Mistake("lr0 inside the exponent",
             "Multiply: lr0 * exp(-k t), not exp(-lr0 k t).",
             lambda t, lr0, k: math.exp(-lr0 * k * t))])

inverse = _schedule(
    "inverse_time_decay",
    lambda t, lr0, k: float(inverse_time(t, lr0, k)),
    [{"lr0": 0.1, "k": 0.05}, {"lr0": 1.0, "k": 1.0}],
    [{"lr0": 0.5, "k": 0.01}, {"lr0": 0.03, "k": 2.0}],
    [Mistake("1/(k t) without the 1", "Keep the 1 so that t = 0 gives lr0: lr0 / (1 + k * t).",
             lambda t, lr0, k: lr0 / (k * t) if t else math.inf),
     Mistake("a power of (1 + k) instead of (1 + k t)",
             "The denominator grows linearly in t: lr0 / (1 + k * t).",
             lambda t, lr0, k: lr0 / (1 + k) ** t),
     Mistake("multiplying by (1 + k t) instead of dividing",
             "The rate must shrink: lr0 / (1 + k * t).", lambda t, lr0, k: lr0 * (1 + k * t))])

step = _schedule(
    "step_decay",
    lambda t, lr0, drop, every: float(step_decay(t, lr0, every, drop)),
    [{"lr0": 0.1, "drop": 0.5, "every": 10}, {"lr0": 1.0, "drop": 0.1, "every": 7}],
    [{"lr0": 0.5, "drop": 0.9, "every": 3}, {"lr0": 0.2, "drop": 0.5, "every": 25}],
    [Mistake("a smooth decay drop^(t/every) instead of steps",
             "The exponent is the number of completed periods: drop ** (t // every).",
             lambda t, lr0, drop, every: lr0 * drop ** (t / every)),
     Mistake("the first drop one step early",
             "At t = every - 1 the rate is still lr0: use t // every, not (t + 1) // every.",
             lambda t, lr0, drop, every: lr0 * drop ** ((t + 1) // every)),
     Mistake("a drop already at t = 0",
             "No period has completed at t = 0: drop ** (t // every), not drop ** (t // every + 1).",
             lambda t, lr0, drop, every: lr0 * drop ** (t // every + 1))])


# -- the training loop ------------------------------------------------------------------

ACCURACY = 0.90  # validation accuracy the trained softmax regression must reach


@dataclass
class TrainExercise(Exercise):
    plan: dict = field(default_factory=dict)

    def __post_init__(self):
        self.parts = {name: points for name, (points, _, _) in self.plan.items()}

    def cases(self, part, hidden):
        _, visible, secret = self.plan[part]
        return [Case(f"{'hidden ' if hidden else ''}" + ", ".join(f"{k}={v}" for k, v in kw.items()),
                     kw) for kw in (secret if hidden else visible)]

    def check(self, fn, part, hidden=False):
        data = digits(seed=0)
        for case in self.cases(part, hidden):
            X, y = data.X_train.copy(), data.y_train.copy()
            out = self.call(fn, X, y, **case.data)
            found = self._judge(part, out, case, data)
            if found is None and not (np.array_equal(X, data.X_train)
                                      and np.array_equal(y, data.y_train)):
                found = Mismatch("X and y", "property", "train_softmax changed the training "
                                 "data it was given", hint="Leave X and y as they are: index "
                                 "them (X[idx]) rather than shuffling or scaling them in place.")
            if found is None and part == "loss_history":
                found = self._history(fn, out, case, data)
            if found is not None:
                found.case = case.label
                return found
        return None

    def _comparable(self, case, n):
        """Whether the student's minibatch_indices draws the reference's order from a seed.

        The text asks for rng.permutation (or rng.shuffle of range(n)), which draw the
        same order; another correct shuffle is fine, but then the exact history of a
        run is not the reference's, and only the properties are checked."""
        mine = self.partners.get("minibatch_indices")
        if mine is None:
            return True
        seed, bs = case.data["seed"], case.data["batch_size"]
        try:
            got = [np.asarray(b) for b in mine(n, bs, np.random.default_rng(seed))]
            want = list(minibatches(n, bs, np.random.default_rng(seed)))
            return len(got) == len(want) and all(np.array_equal(a, b) for a, b in zip(got, want))
        except Exception:  # noqa: BLE001 - a broken minibatch_indices is graded by its own test
            return False

    def _history(self, fn, out, case, data):
        """The loss history against the reference run with the same seed: what is recorded
        (the mean over the epoch's batches, each loss taken before its update), a new
        order every epoch, and the seed reaching both the model and the shuffle."""
        if not self._comparable(case, len(data.y_train)):
            return None
        losses = np.asarray(out[1], dtype=float)
        expected = np.asarray(_train_reference(data.X_train, data.y_train, **case.data)[1])
        found = compare("losses", expected, losses)
        if found is None:
            return None
        epoch = int(np.argmax(~np.isclose(losses, expected, rtol=1e-6, atol=1e-9))) + 1
        found.detail = (f"the mean training loss of epoch {epoch} is {losses[epoch - 1]:.8g}; the "
                        f"reference run with the same seed records {expected[epoch - 1]:.8g}")
        for mistake in self.mistakes:
            variant = mistake.implementation(data.X_train, data.y_train, **case.data)[1]
            if np.asarray(variant).shape == losses.shape and np.allclose(variant, losses,
                                                                         rtol=1e-6, atol=1e-9):
                found.mistake, found.hint = mistake.name, mistake.hint
                break
        return found

    @staticmethod
    def _judge(part, out, case, data):
        if isinstance(out, Raised):
            return Mismatch("train_softmax", "error", f"the function raised {out}")
        if not (isinstance(out, tuple) and len(out) == 2):
            return Mismatch("the result", "type", "expected a pair (params, losses)")
        params, losses = out
        losses = np.asarray(losses, dtype=float) if not isinstance(losses, np.ndarray) else losses
        if part == "loss_history":
            if losses.shape != (case.data["epochs"],):
                return Mismatch("losses", "shape", f"expected {case.data['epochs']} values "
                                f"(one per epoch), got shape {losses.shape}",
                                mistake="one loss per minibatch instead of one per epoch"
                                if losses.size > case.data["epochs"] else None,
                                hint="Record the mean training loss over each epoch's batches.")
            if not np.all(np.isfinite(losses)):
                return Mismatch("losses", "value", "some losses are not finite")
            if not losses[-1] < losses[0]:
                return Mismatch("losses", "property",
                                f"the loss went from {losses[0]:.4g} to {losses[-1]:.4g}",
                                mistake="the parameters move uphill",
                                hint="Subtract the gradient: the loss must go down.")
            return None
        model = SoftmaxRegression(data.n_features, data.n_classes, seed=0)
        try:
            W, b = (np.asarray(p, dtype=np.float64) for p in params)
            model.W[...] = W
            model.b[...] = b
        except (TypeError, ValueError) as exc:
            return Mismatch("params", "type", f"expected [W of shape (10, 64), b of shape (10,)]: "
                            f"{exc}")
        accuracy = model.accuracy(data.X_val, data.y_val)
        if not accuracy >= ACCURACY:
            return Mismatch("the trained model", "property",
                            f"validation accuracy {accuracy:.3f}, needs at least {ACCURACY}",
                            mistake="the parameters move uphill" if accuracy < 0.2 else None)
        return None


def _train_reference(X, y, epochs=10, batch_size=32, lr=0.1, seed=0):
    model = SoftmaxRegression(X.shape[1], 10, seed=seed)
    rng = np.random.default_rng(seed)
    opt = SGD(model.params, lr=lr)
    losses = []
    for _ in range(epochs):
        epoch = []
        for idx in minibatches(len(y), batch_size, rng):
            loss, grads = model.loss_and_grads(X[idx], y[idx])
            opt.step(grads)
            epoch.append(loss)
        losses.append(float(np.mean(epoch)))
    return [p.copy() for p in model.params], losses


def _train_variant(kind):
    def train(X, y, epochs=10, batch_size=32, lr=0.1, seed=0):
        model = SoftmaxRegression(X.shape[1], 10, seed=0 if kind == "model_seed" else seed)
        rng = np.random.default_rng(0 if kind == "rng_seed" else seed)
        per_batch, per_epoch = [], []
        for _ in range(epochs):
            if kind == "reseeded":
                rng = np.random.default_rng(seed)
            epoch = []
            for idx in minibatches(len(y), batch_size, rng):
                loss, grads = model.loss_and_grads(X[idx], y[idx])
                for p, g in zip(model.params, grads):
                    p += lr * g if kind == "uphill" else -lr * g
                if kind == "after_update":
                    loss = model.loss_and_grads(X[idx], y[idx])[0]
                epoch.append(loss)
            per_batch += epoch
            per_epoch.append({"last_batch": epoch[-1],
                              "full_after": model.loss_and_grads(X, y)[0]}.get(kind, None)
                             if kind in ("last_batch", "full_after") else float(np.mean(epoch)))
        return [p.copy() for p in model.params], per_batch if kind == "per_batch" else per_epoch
    return train


train = TrainExercise(
    assignment=A, function="train_softmax", reference=_train_reference,
    # several seeds: seed 0 alone cannot tell a model seeded with 0 from one seeded with seed
    plan={"loss_history": (1, [dict(epochs=4, batch_size=32, lr=0.1, seed=0),
                               dict(epochs=3, batch_size=50, lr=0.2, seed=3)],
                           [dict(epochs=3, batch_size=64, lr=0.2, seed=1),
                            dict(epochs=3, batch_size=20, lr=0.05, seed=2)]),
          "accuracy": (2, [dict(epochs=10, batch_size=32, lr=0.1, seed=0)],
                       [dict(epochs=8, batch_size=64, lr=0.2, seed=1)])},
    needs=("minibatch_indices",),
    mistakes=[Mistake("one loss per minibatch instead of one per epoch", "",
                      _train_variant("per_batch")),
              Mistake("the parameters move uphill", "", _train_variant("uphill")),
              Mistake("the last batch's loss recorded instead of the epoch's mean",
                      "Record the mean of the losses of all the epoch's batches.",
                      _train_variant("last_batch")),
              Mistake("the loss recorded after the update instead of before it",
                      "Record the loss that loss_and_grads returned, computed before the step.",
                      _train_variant("after_update")),
              Mistake("the loss on the whole training set at the end of the epoch recorded",
                      "Record the mean of the minibatch losses computed during the epoch.",
                      _train_variant("full_after")),
              Mistake("the generator re-created every epoch (the same order every epoch)",
                      "Create rng = np.random.default_rng(seed) once, before the epoch loop, so "
                      "each epoch draws a new order.", _train_variant("reseeded")),
              Mistake("the model not seeded with seed",
                      "Create the model with SoftmaxRegression(X.shape[1], 10, seed=seed).",
                      _train_variant("model_seed")),
              Mistake("the shuffle not seeded with seed",
                      "Create rng = np.random.default_rng(seed) and pass it to minibatch_indices.",
                      _train_variant("rng_seed"))],
)

EXERCISES = [minibatch, sgd, exponential, inverse, step, train]
