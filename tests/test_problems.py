"""descentlab.problems: the objectives behind ps6, checked against torch and closed forms."""

import math
import pickle

import numpy as np
import pytest
import torch

from descentlab import problems


def test_softmax_loss_and_grad_equal_torch():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((20, 5)), rng.integers(0, 3, 20)
    w = rng.standard_normal(3 * 5 + 3)
    loss, grad = problems.softmax_loss_and_grad(w, X, y, weight_decay=0.1)
    tw = torch.tensor(w, requires_grad=True)
    W, b = tw[:15].reshape(3, 5), tw[15:]
    want = torch.nn.functional.cross_entropy(torch.from_numpy(X) @ W.T + b, torch.from_numpy(y)) \
        + 0.05 * (W ** 2).sum()
    want.backward()
    assert loss == pytest.approx(want.item(), rel=1e-12)
    np.testing.assert_allclose(grad, tw.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_least_squares_gradient_equals_torch_and_gd_diverges_past_two_over_l():
    p = problems.LeastSquaresProblem(scale=0.5)
    w = p.w0 + 0.01
    loss, grad = p.loss_and_grad(w)
    tw = torch.tensor(w, requires_grad=True)
    d = p.X.shape[1]
    r = torch.from_numpy(p.X) @ tw[:10 * d].reshape(10, d).T + tw[10 * d:] - torch.from_numpy(p.Y)
    want = 0.5 * (r ** 2).sum() / len(p.X)
    want.backward()
    assert loss == pytest.approx(want.item(), rel=1e-12)
    np.testing.assert_allclose(grad, tw.grad.numpy(), rtol=1e-9, atol=1e-12)
    # the Hessian is block-diagonal, ten copies of [X 1]'[X 1] / n: GD is stable iff lr < 2/L
    Z = np.hstack([p.X, np.ones((len(p.X), 1))])
    L = np.linalg.eigvalsh(Z.T @ Z / len(p.X))[-1]
    assert p.descend(1.9 / L, 400) < p.descend(0.0, 0)
    assert p.descend(2.1 / L, 400) > 1e6 * p.descend(0.0, 0)
    assert p.evaluations == 1  # descend does not count as a student's evaluation


def test_hyperparameter_objective_records_calls_and_pickles():
    obj = problems.HyperparameterObjective(steps=5)
    good, bad = obj(lr=0.5, weight_decay=0.0, momentum=0.9), obj(lr=1e-6)
    assert 0.0 <= bad < good <= 1.0
    assert [c["lr"] for c in obj.calls] == [0.5, 1e-6]
    again = pickle.loads(pickle.dumps(obj))
    assert again(lr=0.5, weight_decay=0.0, momentum=0.9) == good  # deterministic
    assert obj(lr=1e308, momentum=0.9) == 0.0  # weights that overflow score 0
    with pytest.raises(ValueError, match="lr"):
        obj(lr=-1.0)


def test_needle_peaks_on_its_first_axis():
    space = {"lr": (1e-4, 1.0, "log"), "m": (0.0, 1.0, "linear")}
    n = problems.Needle(space, peak=0.5)
    assert n(lr=1e-2, m=0.0) == pytest.approx(1.0)
    assert n(lr=1e-2, m=1.0) - n(lr=1e-2, m=0.0) == pytest.approx(0.01)
    assert n(lr=1e-4, m=0.0) == pytest.approx(math.exp(-0.25 / 0.02))
    assert len(n.calls) == 4
