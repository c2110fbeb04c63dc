"""descentlab.training: fit against a torch training loop written out here,
its sampling against probability, and the stopping rules against their
definitions."""

import math
import os

import numpy as np
import pytest
import torch
from hypothesis import given, strategies as st

import descentlab.optim as dlo
from descentlab import training
from descentlab.models import MLP, LinearRegression, SoftmaxRegression

NOJIT = os.environ.get("NUMBA_DISABLE_JIT") == "1"


def problem(seed, n=37, d=5, c=3):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)), rng.integers(0, c, n)


def torch_run(model, X, y, Xv, yv, *, epochs, batch_size, sampling, seed, records_per_epoch,
              lr, momentum):
    """The same training, written with torch: its autograd, its optimizer, and
    the batches drawn as fit documents (one generator, in order)."""
    net = model.to_torch()
    opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=momentum)
    X, y, Xv, yv = (torch.from_numpy(a) for a in (X, y, Xv, yv))
    n = len(y)
    bs = n if batch_size is None else min(batch_size, n)
    per_epoch = math.ceil(n / bs)
    rng = np.random.default_rng(seed)

    def record(epoch):
        net.zero_grad()
        loss = torch.nn.functional.cross_entropy(net(X), y)
        loss.backward()
        norm = math.sqrt(sum(float((p.grad ** 2).sum()) for p in net.parameters()))
        with torch.no_grad():
            acc = float((net(X).argmax(1) == y).double().mean())
            val = float(torch.nn.functional.cross_entropy(net(Xv), yv))
            val_acc = float((net(Xv).argmax(1) == yv).double().mean())
        return epoch, loss.item(), norm, acc, val, val_acc

    rows = [record(0.0)]
    every = [math.ceil(per_epoch * (k + 1) / records_per_epoch)
             for k in range(min(records_per_epoch, per_epoch))]
    for e in range(epochs):
        if sampling == "shuffle":
            order = rng.permutation(n)
            batches = [order[i:i + bs] for i in range(0, n, bs)]
        else:
            batches = [rng.integers(0, n, bs) for _ in range(per_epoch)]
        for i, idx in enumerate(batches, start=1):
            idx = torch.from_numpy(idx)
            opt.zero_grad()
            torch.nn.functional.cross_entropy(net(X[idx]), y[idx]).backward()
            opt.step()
            if i in every:
                rows.append(record(e + i / per_epoch))
    return [np.array(c) for c in zip(*rows)]


@given(seed=st.integers(0, 100), batch_size=st.sampled_from([None, 1, 5, 16, 100]),
       sampling=st.sampled_from(training.SAMPLING), records=st.integers(1, 4),
       epochs=st.integers(0, 2 if NOJIT else 3))
def test_fit_is_the_torch_training_loop(seed, batch_size, sampling, records, epochs):
    X, y = problem(seed)
    Xv, yv = problem(seed + 1, n=11)
    model = MLP(5, 4, 3, seed=seed)
    expected = torch_run(model, X, y, Xv, yv, epochs=epochs, batch_size=batch_size,
                         sampling=sampling, seed=seed, records_per_epoch=records, lr=0.2,
                         momentum=0.5)
    h = training.fit(model, dlo.SGD(model.params, lr=0.2, momentum=0.5), X, y, epochs=epochs,
                     batch_size=batch_size, validation=(Xv, yv), sampling=sampling, seed=seed,
                     records_per_epoch=records)
    epoch, loss, norm, acc, val, val_acc = expected
    np.testing.assert_allclose(h.epoch, epoch, rtol=1e-12)
    for ours, theirs in ((h.train_loss, loss), (h.grad_norm, norm), (h.val_loss, val)):
        np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(h.train_accuracy, acc)
    np.testing.assert_array_equal(h.val_accuracy, val_acc)


def test_clocks_count_updates_examples_and_time():
    X, y = problem(0, n=50)
    model = SoftmaxRegression(5, 3)
    h = training.fit(model, dlo.SGD(model.params, lr=0.1), X, y, epochs=2, batch_size=16,
                     records_per_epoch=4)
    # 4 batches an epoch (16, 16, 16, 2): a record after each
    np.testing.assert_array_equal(h.updates, [0, 1, 2, 3, 4, 5, 6, 7, 8])
    np.testing.assert_array_equal(h.examples, [0, 16, 32, 48, 50, 66, 82, 98, 100])
    np.testing.assert_allclose(h.epoch, [0, .25, .5, .75, 1, 1.25, 1.5, 1.75, 2])
    assert h.seconds[0] == 0 and np.all(np.diff(h.seconds) > 0)
    assert np.isnan(h.val_loss).all()  # no validation set


class Spy:
    """A model that records the batches it is given."""

    def __init__(self, n):
        self.params = [np.zeros(1)]
        self.seen = []
        self.n = n

    def loss_and_grads(self, X, y):
        if len(y) != self.n:  # the full-set evaluations of the records
            self.seen.append(np.asarray(X[:, 0], dtype=np.int64))
        return 0.0, [np.zeros(1)]


def test_shuffling_uses_every_example_once_an_epoch():
    n = 103
    spy = Spy(n)
    X = np.arange(n, dtype=np.float64)[:, None]
    training.fit(spy, dlo.SGD(spy.params, lr=0.1), X, np.zeros(n), epochs=3, batch_size=10)
    assert [len(b) for b in spy.seen] == ([10] * 10 + [3]) * 3
    for e in range(3):
        epoch = np.concatenate(spy.seen[11 * e:11 * (e + 1)])
        np.testing.assert_array_equal(np.sort(epoch), np.arange(n))
    assert not np.array_equal(np.concatenate(spy.seen[:11]), np.concatenate(spy.seen[11:22]))


def test_sampling_with_replacement_misses_about_a_third_of_the_examples():
    # batch size 1, n draws: each example is missed with probability
    # (1 - 1/n)^n ~ 1/e.  The count of missed examples has variance below
    # n p (1 - p) (the misses are negatively correlated), so 5 of those
    # standard deviations bound it with probability > 0.9999.
    n = 2000
    spy = Spy(n)
    X = np.arange(n, dtype=np.float64)[:, None]
    training.fit(spy, dlo.SGD(spy.params, lr=0.1), X, np.zeros(n), epochs=1, batch_size=1,
                 sampling="replacement", seed=5)
    drawn = np.concatenate(spy.seen)
    assert drawn.size == n
    missed = n - np.unique(drawn).size
    p = (1 - 1 / n) ** n
    assert abs(missed - n * p) < 5 * math.sqrt(n * p * (1 - p))


def test_a_classifier_that_redefines_its_loss_is_recorded_with_its_own_loss():
    """fit records a classifier from one forward pass (models.evaluate) only when
    loss_and_grads and accuracy are the library's own: a subclass's versions are
    what its records show."""
    X, y = problem(3)

    class Smoothed(SoftmaxRegression):
        def loss_and_grads(self, X, y):
            loss, grads = super().loss_and_grads(X, y)
            return loss + 1.0, grads

        def accuracy(self, X, y):
            return 0.25

    plain, smoothed = SoftmaxRegression(5, 3, seed=0), Smoothed(5, 3, seed=0)
    runs = [training.fit(m, dlo.SGD(m.params, lr=0.1), X, y, epochs=1, batch_size=8,
                         validation=(X[:9], y[:9])) for m in (plain, smoothed)]
    np.testing.assert_array_equal(runs[1].train_loss, runs[0].train_loss + 1.0)
    np.testing.assert_array_equal(runs[1].val_loss, runs[0].val_loss + 1.0)
    assert set(runs[1].train_accuracy) == set(runs[1].val_accuracy) == {0.25}
    assert set(runs[0].train_accuracy) != {0.25}


def test_regression_model_and_a_scheduler():
    from descentlab.data import sparse_features

    X, y, w = sparse_features(200, seed=1)
    model = LinearRegression(2)
    opt = dlo.SGD(model.params, lr=0.5)

    class Halve:
        def step(self):
            opt.lr *= 0.5

    h = training.fit(model, opt, X, y, epochs=3, batch_size=None, scheduler=Halve())
    assert opt.lr == 0.5 * 0.5 ** 3
    assert np.isnan(h.train_accuracy).all()
    # three full-batch steps with lr 0.5, 0.25, 0.125, by hand
    v = np.zeros(2)
    for lr in (0.5, 0.25, 0.125):
        v -= lr * X.T @ (X @ v - y) / len(y)
    np.testing.assert_allclose(model.w, v, rtol=1e-12)
    np.testing.assert_allclose(h.train_loss[-1], 0.5 * np.mean((X @ v - y) ** 2), rtol=1e-12)


@given(st.lists(st.floats(-10, 10), min_size=1, max_size=30), st.floats(0, 1))
def test_small_change_is_its_definition(losses, tol):
    got = training.small_change(losses, tol)
    want = next((t for t in range(1, len(losses))
                 if abs(losses[t] - losses[t - 1]) <= tol * max(1, abs(losses[t - 1]))), None)
    assert got == want


@given(st.lists(st.floats(0, 10), min_size=1, max_size=30), st.floats(0, 10))
def test_small_gradient_is_its_definition(norms, tol):
    assert training.small_gradient(norms, tol) == next(
        (t for t, g in enumerate(norms) if g <= tol), None)


@given(st.lists(st.integers(0, 6), min_size=1, max_size=30), st.integers(1, 5))
def test_early_stopping_is_its_definition(losses, patience):
    stop, best = training.early_stopping(losses, patience)
    # brute force: at record t, the best so far is the first argmin of losses[:t+1]
    want = None
    for t in range(len(losses)):
        b = int(np.argmin(losses[:t + 1]))
        if t - b >= patience:
            want = t
            break
    assert stop == want
    horizon = len(losses) if stop is None else stop + 1
    assert best == int(np.argmin(losses[:horizon]))


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(epochs=-1), ValueError, "epochs"),
    (dict(epochs=1, batch_size=0), ValueError, "batch_size"),
    (dict(epochs=1, sampling="bootstrap"), ValueError, "bootstrap"),
    (dict(epochs=1, records_per_epoch=0), ValueError, "records_per_epoch"),
    (dict(epochs=1, validation=3), TypeError, "validation"),
])
def test_bad_arguments(kwargs, error, match):
    X, y = problem(0)
    model = SoftmaxRegression(5, 3)
    with pytest.raises(error, match=match):
        training.fit(model, dlo.SGD(model.params, lr=0.1), X, y, **kwargs)


def test_bad_models_and_series():
    X, y = problem(0)
    with pytest.raises(TypeError, match="model"):
        training.fit(object(), None, X, y, epochs=1)
    with pytest.raises(ValueError, match="shapes"):
        m = SoftmaxRegression(5, 3)
        training.fit(m, dlo.SGD(m.params), X, y[:-1], epochs=1)
    with pytest.raises(ValueError, match="patience"):
        training.early_stopping([1.0, 2.0], 0)
    with pytest.raises(ValueError, match="losses"):
        training.small_change([], 0.1)
