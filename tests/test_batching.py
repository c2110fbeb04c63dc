"""descentlab.batching against closed forms and statistics with stated confidence."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

from descentlab import batching
from descentlab.models import MLP


def test_per_example_gradients_equal_torch_autograd():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((5, 4)), rng.integers(0, 3, 5)
    model = MLP(4, 6, 3, seed=2)
    G = batching.per_example_gradients(model, X, y)
    net = model.to_torch()
    for i in range(5):
        net.zero_grad()
        torch.nn.functional.cross_entropy(net(torch.from_numpy(X[i:i + 1])),
                                          torch.from_numpy(y[i:i + 1])).backward()
        want = torch.cat([p.grad.flatten() for p in net.parameters()]).numpy()
        np.testing.assert_allclose(G[i], want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("sampler, replacement", [("random", False), ("replacement", True)])
@pytest.mark.parametrize("b", [1, 5, 20, 39])
def test_measured_variance_follows_the_law_within_its_sampling_error(sampler, replacement, b):
    rng = np.random.default_rng(1)
    G = rng.standard_normal((40, 3)) * [1.0, 2.0, 0.5]
    sigma2 = float(np.mean(np.sum((G - G.mean(0)) ** 2, axis=1)))
    want = batching.predicted_variance(sigma2, 40, b, replacement=replacement)
    draws = 4000
    got = batching.gradient_variance(G, b, draws=draws, rng=2, sampler=sampler)
    # each draw's squared norm has a relative sd below ~1.5 (3 roughly chi2 terms);
    # 5 standard errors of the mean: a false failure has odds below 1e-6
    assert abs(got - want) <= 5 * 1.5 * want / math.sqrt(draws)


def test_full_batch_without_replacement_has_no_noise():
    G = np.random.default_rng(0).standard_normal((10, 2))
    assert batching.gradient_variance(G, 10, draws=5, rng=0) == pytest.approx(0.0, abs=1e-28)
    assert batching.predicted_variance(3.0, 10, 10) == 0.0


def test_stratified_batches_carry_less_class_noise():
    # gradients that depend only on the class: a stratified batch has exactly the
    # class mix of the whole, so its mean equals the full mean
    y = np.repeat(np.arange(4), 10)
    G = np.eye(4)[y] * 3.0
    strat = batching.gradient_variance(G, 8, draws=50, rng=0, sampler="stratified", y=y)
    rand = batching.gradient_variance(G, 8, draws=50, rng=0, sampler="random")
    assert strat < 0.2 * rand


def test_noise_scale_and_scaling_rules():
    assert batching.noise_scale(0.1, 1000, 10) == pytest.approx(10.0)
    assert batching.scaled_lr(0.1, 32, 128, "linear") == pytest.approx(0.4)
    assert batching.scaled_lr(0.1, 32, 128, "sqrt") == pytest.approx(0.2)
    assert batching.scaled_lr(0.1, 32, 128, "none") == 0.1


@settings(max_examples=20, deadline=None)
@given(b=st.integers(1, 4096), b0=st.integers(1, 4096))
def test_linear_rule_keeps_the_noise_scale(b, b0):
    lr = batching.scaled_lr(0.05, b0, b, "linear")
    assert batching.noise_scale(lr, 5000, b) == pytest.approx(batching.noise_scale(0.05, 5000, b0))


def test_delayed_gd_without_delay_is_geometric():
    xs = batching.delayed_gd(2.0, 0.3, 0, 10)
    np.testing.assert_allclose(xs, (1 - 0.6) ** np.arange(11))


@pytest.mark.parametrize("delay", [0, 1, 2, 3, 5])
def test_simulated_stability_limit_matches_the_closed_form(delay):
    # the characteristic polynomial z^(tau+1) - z^tau + a has a root on the unit
    # circle at a = 2 sin(pi / (2 (2 tau + 1))); the bisection never sees the formula
    got = batching.largest_stable_lr(3.0, delay, steps=3000)
    assert got == pytest.approx(batching.stable_lr_bound(3.0, delay), rel=5e-3)
    roots = np.roots([1, -1] + [0] * (delay - 1) + [batching.stable_lr_bound(1.0, delay)]) \
        if delay else np.roots([1, -1 + 2.0])
    assert np.max(np.abs(roots)) == pytest.approx(1.0, abs=1e-9)


def test_stable_step_shrinks_with_the_delay():
    bounds = [batching.stable_lr_bound(1.0, d) for d in range(8)]
    assert all(a > b for a, b in zip(bounds, bounds[1:]))


@pytest.mark.parametrize("call, error, match", [
    (lambda: batching.predicted_variance(1.0, 10, 11), ValueError, "b"),
    (lambda: batching.predicted_variance(-1.0, 10, 1), ValueError, "sigma2"),
    (lambda: batching.gradient_variance(np.zeros((4, 2)), 5), ValueError, "batch_size"),
    (lambda: batching.gradient_variance(np.zeros((4, 2)), 2, sampler="x"), ValueError, "sampler"),
    (lambda: batching.gradient_variance(np.zeros((4, 2)), 2, sampler="stratified"), ValueError,
     "y"),
    (lambda: batching.scaled_lr(0.1, 32, 64, "cubic"), ValueError, "cubic"),
    (lambda: batching.scaled_lr(0.0, 32, 64), ValueError, "base_lr"),
    (lambda: batching.noise_scale(0.1, 0, 1), ValueError, "n"),
    (lambda: batching.delayed_gd(1.0, 0.1, -1, 5), ValueError, "delay"),
    (lambda: batching.stable_lr_bound(0.0, 1), ValueError, "curvature"),
    (lambda: batching.per_example_gradients(MLP(2, 2, 2), np.zeros((3, 2)), np.zeros(2, int)),
     ValueError, "X"),
])
def test_bad_arguments(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_standard_error_is_the_sd_of_the_draws_over_root_draws():
    G = np.random.default_rng(3).standard_normal((30, 2))
    mean, se = batching.gradient_variance(G, 3, draws=400, rng=5, with_error=True)
    assert mean == batching.gradient_variance(G, 3, draws=400, rng=5)
    rng = np.random.default_rng(5)
    samples = [np.sum((G[rng.choice(30, 3, replace=False)].mean(0) - G.mean(0)) ** 2)
               for _ in range(400)]
    assert se == pytest.approx(np.std(samples, ddof=1) / 20)


def test_sharpness_of_a_quadratic_bowl_is_its_mean_curvature_times_r2_over_2():
    # squared loss L = |Xw - y|^2 / (2n) at its minimum: L(w + r u) - L(w) = r^2 u'Hu / 2
    # with H = X'X / n, whose mean over the unit sphere is r^2 tr(H) / (2 d)
    from descentlab.models import LinearRegression

    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 3))
    w_true = np.array([1.0, -2.0, 0.5])
    y = X @ w_true
    model = LinearRegression(3)
    model.params[0][...] = w_true
    got = batching.sharpness(model, X, y, radius=0.1, directions=4000, rng=1)
    assert np.array_equal(model.params[0], w_true)  # restored
    want = 0.1 ** 2 * np.trace(X.T @ X / 200) / (2 * 3)
    # u'Hu over the sphere has a relative sd below 0.5 here: 4000 draws, 10% is > 10 sd
    assert got == pytest.approx(want, rel=0.1)
