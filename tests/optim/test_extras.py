"""The course extras, which torch lacks: checked against torch where the two
coincide, and against closed forms of the published rules elsewhere."""

import numpy as np
import torch
from hypothesis import given, strategies as st

import descentlab.optim as dlo

from .cases import STEPS, TOLERANCE

seeds = st.integers(0, 2**32 - 1)
dtypes = st.sampled_from([np.float64, np.float32])


# -- classic momentum ----------------------------------------------------------

@given(seed=seeds, lr=st.floats(1e-3, 0.1), momentum=st.floats(0.0, 0.99),
       weight_decay=st.sampled_from([0.0, 1e-2]), dtype=dtypes)
def test_classic_momentum_equals_torch_sgd_while_lr_is_constant(seed, lr, momentum,
                                                                 weight_decay, dtype):
    rng = np.random.default_rng(seed)
    p0 = rng.standard_normal(7).astype(dtype)
    ours = p0.copy()
    theirs = torch.from_numpy(p0.copy()).requires_grad_()
    opt = dlo.ClassicMomentum([ours], lr=lr, momentum=momentum, weight_decay=weight_decay)
    topt = torch.optim.SGD([theirs], lr=lr, momentum=momentum, weight_decay=weight_decay,
                           foreach=False)
    scale, worst = np.max(np.abs(p0)), 0.0
    for _ in range(STEPS):
        g = (0.5 * theirs.detach().numpy() + rng.standard_normal(7)).astype(dtype)
        theirs.grad = torch.from_numpy(g.copy())
        topt.step()
        opt.step([g])
        t = theirs.detach().numpy()
        scale = max(scale, np.max(np.abs(t)))
        worst = max(worst, np.max(np.abs(t.astype(np.float64) - ours)) / scale)
    # torch's buffer is our velocity divided by -lr: the same trajectory, rounded differently
    assert worst <= TOLERANCE[dtype]


@given(seed=seeds, momentum=st.floats(0.0, 0.99),
       lrs=st.lists(st.floats(1e-4, 1.0), min_size=2, max_size=60))
def test_classic_momentum_unrolls_to_its_closed_form(seed, momentum, lrs):
    """theta_t - theta_0 = -sum_s (sum_{r<=s} mu^(s-r) eta_r g_r), computed directly."""
    rng = np.random.default_rng(seed)
    grads = rng.standard_normal((len(lrs), 5))
    p = np.zeros(5)
    opt = dlo.ClassicMomentum([p], lr=lrs[0], momentum=momentum)
    for lr, g in zip(lrs, grads):
        opt.lr = lr
        opt.step([g.copy()])
    T = len(lrs)
    # velocity after step s: v_s = -sum_{r<=s} mu^(s-r) eta_r g_r
    powers = np.array([[momentum ** (s - r) if r <= s else 0.0 for r in range(T)] for s in range(T)])
    velocities = -powers @ (np.array(lrs)[:, None] * grads)
    np.testing.assert_allclose(p, velocities.sum(axis=0), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(opt.state[0]["velocity"], velocities[-1], rtol=1e-10, atol=1e-12)


def test_classic_and_pytorch_momentum_part_ways_when_lr_drops():
    """The lecture's point: after a 10x drop in lr, PyTorch's form slows at once,
    the classic form coasts on the velocity it built at the old rate."""
    g = np.ones(1)
    classic, torch_form = np.zeros(1), np.zeros(1)
    a = dlo.ClassicMomentum([classic], lr=0.1, momentum=0.9)
    b = dlo.SGD([torch_form], lr=0.1, momentum=0.9)
    for _ in range(20):
        a.step([g]), b.step([g])
    assert abs(classic[0] - torch_form[0]) < 1e-12
    before_classic, before_torch = classic.copy(), torch_form.copy()
    a.lr = b.lr = 0.01
    a.step([g]), b.step([g])
    # one step later: classic moved by 0.9*v - 0.01, torch by 0.01*(0.9*buf + 1)
    buf = sum(0.9 ** k for k in range(20))  # torch's buffer; the classic velocity is -0.1*buf
    np.testing.assert_allclose(classic - before_classic, 0.9 * (-0.1 * buf) - 0.01, rtol=1e-12)
    np.testing.assert_allclose(torch_form - before_torch, -0.01 * (0.9 * buf + 1), rtol=1e-12)
    assert abs((classic - before_classic)[0]) > 5 * abs((torch_form - before_torch)[0])


# -- local gains ----------------------------------------------------------------

def torch_local_gains(p0, grads, lr, beta, gmin, gmax):
    """The rule as written in the docstring, in torch tensor ops."""
    p = torch.tensor(p0, dtype=torch.float64)
    gain = torch.ones_like(p)
    prev = torch.zeros_like(p)
    for g in grads:
        g = torch.tensor(g, dtype=torch.float64)
        agree = g * prev
        gain = torch.where(agree > 0, gain + beta, torch.where(agree < 0, gain * (1 - beta), gain))
        gain = gain.clamp(gmin, gmax)
        p = p - lr * gain * g
        prev = g
    return p.numpy(), gain.numpy()


@given(seed=seeds, lr=st.floats(1e-3, 0.5), beta=st.floats(0.0, 0.5),
       gmin=st.floats(0.01, 1.0), gmax=st.floats(1.0, 50.0), n=st.integers(1, 200),
       sparsity=st.floats(0.0, 0.5))
def test_local_gains_against_a_torch_reference(seed, lr, beta, gmin, gmax, n, sparsity):
    rng = np.random.default_rng(seed)
    grads = rng.standard_normal((n, 6)) + rng.uniform(-1, 1, 6)  # some coordinates keep their sign
    grads[rng.random((n, 6)) < sparsity] = 0.0                   # and zero gradients leave gains alone
    p = np.zeros(6)
    opt = dlo.LocalGains([p], lr=lr, beta=beta, gain_min=gmin, gain_max=gmax)
    for g in grads:
        opt.step([g.copy()])
    ref_p, ref_gain = torch_local_gains(np.zeros(6), grads, lr, beta, gmin, gmax)
    np.testing.assert_allclose(p, ref_p, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(opt.state[0]["gain"], ref_gain, rtol=1e-12)


@given(n=st.integers(1, 300), beta=st.floats(0.001, 0.5), gmax=st.floats(1.0, 20.0))
def test_consistent_sign_grows_gains_additively(n, beta, gmax):
    p = np.zeros(3)
    opt = dlo.LocalGains([p], lr=0.01, beta=beta, gain_max=gmax)
    for _ in range(n):
        opt.step([np.array([1.0, -2.0, 0.5])])
    expected = min(1.0 + beta * (n - 1), gmax)  # the first step has no previous sign
    np.testing.assert_allclose(opt.state[0]["gain"], expected, rtol=1e-12)


@given(n=st.integers(1, 300), beta=st.floats(0.001, 0.5), gmin=st.floats(0.01, 1.0))
def test_flipping_sign_shrinks_gains_geometrically(n, beta, gmin):
    p = np.zeros(2)
    opt = dlo.LocalGains([p], lr=0.01, beta=beta, gain_min=gmin)
    for t in range(n):
        opt.step([np.array([1.0, -3.0]) * (-1) ** t])
    expected = max((1.0 - beta) ** (n - 1), gmin)
    np.testing.assert_allclose(opt.state[0]["gain"], expected, rtol=1e-10)
