"""descentlab.propagation: deep-MLP statistics and gradients against torch autograd."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, strategies as st

from descentlab.propagation import (SCHEMES, deep_mlp, init_weights, layer_statistics,
                                    mlp_loss_and_grads, scheme_std, train_curve)


@given(scheme=st.sampled_from(SCHEMES), activation=st.sampled_from(["relu", "tanh"]),
       fan_in=st.integers(1, 500), fan_out=st.integers(1, 500))
def test_scheme_std_is_the_closed_form_with_torchs_gain(scheme, activation, fan_in, fan_out):
    want = {"constant": 0.0, "small": 0.01, "large": 1.0,
            "xavier": math.sqrt(2 / (fan_in + fan_out)),
            "kaiming": torch.nn.init.calculate_gain(activation) / math.sqrt(fan_in)}[scheme]
    assert scheme_std(scheme, activation, fan_in, fan_out) == pytest.approx(want, rel=1e-15)


@given(depth=st.integers(1, 4), width=st.integers(2, 6),
       activation=st.sampled_from(["relu", "tanh"]), seed=st.integers(0, 2**31))
def test_layer_statistics_gradients_equal_torch_autograd(depth, width, activation, seed):
    stats = layer_statistics("kaiming", activation, depth=depth, width=width, batch=3, seed=seed)
    rng = np.random.default_rng(seed)
    x = torch.from_numpy(rng.standard_normal((3, width)))
    ws = [torch.from_numpy(init_weights("kaiming", activation, (width, width), rng))
          .requires_grad_()
          for _ in range(depth)]
    g = torch.from_numpy(rng.standard_normal((3, width)))
    acts = []
    a = x
    for w in ws:
        a = torch.relu(a @ w.T) if activation == "relu" else torch.tanh(a @ w.T)
        a.retain_grad()
        acts.append(a)
    (a * g).sum().backward()
    for ours, theirs in zip(stats.activations, acts):
        np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=0, atol=1e-12)
    for ours, theirs in zip(stats.gradients, acts):
        np.testing.assert_allclose(ours, theirs.grad.numpy(), rtol=0, atol=1e-10)
    assert np.allclose(stats.act_std, [a.std() for a in stats.activations])


@given(sizes=st.lists(st.integers(2, 6), min_size=2, max_size=5),
       activation=st.sampled_from(["relu", "tanh"]), seed=st.integers(0, 2**31))
def test_mlp_loss_and_gradients_equal_torch(sizes, activation, seed):
    sizes = [*sizes, 3]
    weights = deep_mlp("xavier", activation, sizes, seed=seed)
    rng = np.random.default_rng(seed + 1)
    X, y = rng.standard_normal((5, sizes[0])), rng.integers(0, 3, 5)
    loss, grads = mlp_loss_and_grads(weights, X, y, activation)
    tw = [torch.from_numpy(w.copy()).requires_grad_() for w in weights]
    a = torch.from_numpy(X)
    for w in tw[:-1]:
        a = torch.relu(a @ w.T) if activation == "relu" else torch.tanh(a @ w.T)
    tloss = torch.nn.functional.cross_entropy(a @ tw[-1].T, torch.from_numpy(y))
    tloss.backward()
    assert loss == pytest.approx(tloss.item(), rel=1e-12)
    for g, w in zip(grads, tw):
        np.testing.assert_allclose(g, w.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_train_curve_is_gradient_descent_and_leaves_the_weights_alone():
    weights = deep_mlp("kaiming", "relu", [4, 5, 3], seed=1)
    before = [w.copy() for w in weights]
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((20, 4)), rng.integers(0, 3, 20)
    curve = train_curve(weights, X, y, "relu", steps=2, lr=0.1)
    assert all(np.array_equal(a, b) for a, b in zip(weights, before))
    w = [x.copy() for x in weights]
    expected = []
    for _ in range(2):
        loss, grads = mlp_loss_and_grads(w, X, y, "relu")
        expected.append(loss)
        w = [a - 0.1 * g for a, g in zip(w, grads)]
    expected.append(mlp_loss_and_grads(w, X, y, "relu")[0])
    np.testing.assert_array_equal(curve, expected)


def test_constant_weights_keep_every_hidden_unit_identical():
    stats = layer_statistics("constant", "tanh", depth=3, width=5, batch=4)
    for a in stats.activations:
        assert np.all(a == a[:, :1])


@pytest.mark.parametrize("call, error, fragment", [
    (lambda: scheme_std("he", "relu", 2, 2), ValueError, "scheme must be one of"),
    (lambda: scheme_std("xavier", "gelu", 2, 2), ValueError, "activation must be one of"),
    (lambda: scheme_std("xavier", "relu", 0, 2), ValueError, "fan_in must be >= 1"),
    (lambda: layer_statistics("xavier", "relu", depth=0), ValueError, "depth must be >= 1"),
    (lambda: layer_statistics("xavier", "relu", width=2.5), TypeError, "width must be an integer"),
    (lambda: train_curve([], np.ones((1, 1)), [0], "relu", steps=-1, lr=0.1), ValueError, "steps"),
])
def test_bad_input_names_the_argument(call, error, fragment):
    with pytest.raises(error, match=fragment):
        call()
