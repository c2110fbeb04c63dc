"""descentlab.init against torch.nn.init: exact where torch is deterministic
(gains, fans), statistical where it samples.

Statistical checks.  Every check below is a two-sided test at level
ALPHA = 1e-8: a correct sampler fails it with probability at most 1e-8.  A
run makes fewer than 4,000 such checks (hypothesis examples included), so a
false failure happens less than once in 25,000 runs.  The sample sizes (>= 4,000,
mostly >= 20,000) make a wrong scale by a few per cent fail reliably.

* Normal with known mean 0 and standard deviation s: sum(x^2)/s^2 is exactly
  chi-square with n degrees of freedom; we use its quantiles.
* Uniform on (-b, b): x^2 has mean b^2/3 and variance E[x^4] - E[x^2]^2 =
  b^4/5 - b^4/9 = 4 b^4/45, so mean(x^2) is within z * sqrt(4/(45 n)) * b^2
  of b^2/3 (central limit theorem; x^2 is bounded so the approximation is
  excellent at these n).  Also |x| <= b always, and since |x|/b is uniform on
  [0, 1], P(max |x| < b (1 - d)) = (1 - d)^n: max |x| must exceed
  b * ALPHA^(1/n).
* Means: sqrt(n) * mean / s is standard normal.
"""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, strategies as st
from scipy import stats

from descentlab import init

ALPHA = 1e-8
Z = stats.norm.isf(ALPHA / 2)

# (out, in, *kernel): linear and conv weights, with fan_in far from fan_out so
# that a mix-up of the two changes the scale by a factor >= 4.
SHAPES = [(64, 512), (512, 64), (32, 8, 3, 3), (8, 64, 5, 5), (16, 4, 7)]

FAN_BASED = ["xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal"]
NONLINEARITIES = ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
                  "conv_transpose2d", "conv_transpose3d", "sigmoid", "tanh", "relu",
                  "leaky_relu", "selu"]

seeds = st.integers(0, 2**63 - 1)


# ---------------------------------------------------------------- statistics

def assert_mean_zero(x, std):
    n = x.size
    z = math.sqrt(n) * float(np.mean(x)) / std
    assert abs(z) <= Z, f"sample mean {np.mean(x):.4g} is {z:.2f} standard errors from 0"


def assert_normal(x, std):
    """x looks like n independent N(0, std^2) draws."""
    n = x.size
    statistic = float(np.sum(np.square(x))) / std ** 2
    lo, hi = stats.chi2.ppf(ALPHA / 2, n), stats.chi2.isf(ALPHA / 2, n)
    assert lo <= statistic <= hi, (
        f"sample variance {statistic / n * std**2:.5g} vs std^2 = {std**2:.5g}: chi-square "
        f"statistic {statistic:.1f} outside [{lo:.1f}, {hi:.1f}] (n = {n})")
    assert_mean_zero(x, std)


def assert_uniform(x, bound):
    """x looks like n independent U(-bound, bound) draws."""
    n = x.size
    assert np.all(np.abs(x) <= bound), f"a sample lies outside +-{bound}"
    m2 = float(np.mean(np.square(x)))
    half_width = Z * math.sqrt(4.0 / (45.0 * n)) * bound ** 2
    assert abs(m2 - bound ** 2 / 3) <= half_width, (
        f"sample variance {m2:.5g} vs bound^2/3 = {bound**2 / 3:.5g} (+- {half_width:.2g})")
    assert float(np.max(np.abs(x))) >= bound * ALPHA ** (1.0 / n), \
        f"max |x| = {np.max(np.abs(x)):.5g} stays far from the bound {bound:.5g}"
    assert_mean_zero(x, bound / math.sqrt(3.0))


# ------------------------------------------------------- exact against torch

@pytest.mark.parametrize("name", NONLINEARITIES)
def test_calculate_gain_equals_torchs(name):
    assert init.calculate_gain(name) == torch.nn.init.calculate_gain(name)
    assert isinstance(init.calculate_gain(name), float)


@given(slope=st.one_of(st.none(), st.floats(-1e3, 1e3), st.integers(-100, 100)))
def test_leaky_relu_gain_equals_torchs(slope):
    assert init.calculate_gain("leaky_relu", slope) == \
        torch.nn.init.calculate_gain("leaky_relu", slope)


def test_gain_ignores_param_for_other_nonlinearities_as_torch_does():
    assert init.calculate_gain("relu", 0.3) == torch.nn.init.calculate_gain("relu", 0.3)


shapes = st.lists(st.integers(0, 7), min_size=2, max_size=5).map(tuple)


@given(shape=shapes)
def test_fans_equal_torchs(shape):
    expected = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
    assert init.calculate_fan_in_and_fan_out(shape) == expected
    assert init.calculate_fan_in_and_fan_out(list(shape)) == expected


@pytest.mark.parametrize("shape", [(), (5,)])
def test_fewer_than_two_dims_raise_like_torch(shape):
    with pytest.raises(ValueError):
        torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        init.calculate_fan_in_and_fan_out(shape)
    for name in FAN_BASED:
        with pytest.raises(ValueError, match="at least 2 dimensions"):
            getattr(init, name)(shape)


@given(shape=shapes.filter(lambda s: math.prod(s) > 0), gain=st.floats(0.0, 10.0))
def test_xavier_std_is_the_closed_form(shape, gain):
    fan_in, fan_out = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
    assert init.xavier_std(shape, gain) == pytest.approx(
        gain * math.sqrt(2.0 / (fan_in + fan_out)), rel=1e-15)


@given(shape=shapes.filter(lambda s: math.prod(s) > 0), a=st.floats(-5.0, 5.0),
       mode=st.sampled_from(["fan_in", "fan_out", "FAN_OUT"]),
       nonlinearity=st.sampled_from(NONLINEARITIES))
def test_kaiming_std_is_the_closed_form(shape, a, mode, nonlinearity):
    fans = dict(zip(("fan_in", "fan_out"),
                    torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))))
    gain = torch.nn.init.calculate_gain(nonlinearity, a)
    assert init.kaiming_std(shape, a, mode, nonlinearity) == pytest.approx(
        gain / math.sqrt(fans[mode.lower()]), rel=1e-15)


def test_defaults_are_torchs():
    import inspect

    for name in ["uniform", "normal", "constant", *FAN_BASED]:
        ours = inspect.signature(getattr(init, name)).parameters
        theirs = inspect.signature(getattr(torch.nn.init, name + "_")).parameters
        for arg, p in theirs.items():
            if arg in ("tensor", "generator"):
                continue
            assert ours[arg].default == p.default, f"{name}({arg}=...)"
        assert set(ours) == {"shape", "rng", *theirs} - {"tensor", "generator"} - (
            {"rng"} if name == "constant" else set())
    assert inspect.signature(init.calculate_gain).parameters["param"].default is None


# -------------------------------------------------------------- statistical

def theoretical(name, shape, gain, a, mode, nonlinearity):
    """(std, is_uniform) from the papers' formulas, with torch's fans and gains:
    nothing here comes from descentlab."""
    fan_in, fan_out = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
    if name.startswith("xavier"):
        std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    else:
        fan = fan_in if mode == "fan_in" else fan_out
        std = torch.nn.init.calculate_gain(nonlinearity, a) / math.sqrt(fan)
    return std, name.endswith("uniform")


def kwargs(name, gain, a, mode, nonlinearity):
    if name.startswith("xavier"):
        return dict(gain=gain)
    return dict(a=a, mode=mode, nonlinearity=nonlinearity)


def check(x, std, is_uniform):
    if is_uniform:
        assert_uniform(x, math.sqrt(3.0) * std)
    else:
        assert_normal(x, std)


@pytest.mark.parametrize("name", FAN_BASED)
@pytest.mark.parametrize("shape", SHAPES)
@given(seed=seeds, gain=st.floats(0.1, 5.0), a=st.floats(0.0, 1.0),
       mode=st.sampled_from(["fan_in", "fan_out"]),
       nonlinearity=st.sampled_from(["relu", "leaky_relu", "tanh", "linear", "selu"]))
def test_samples_have_the_papers_variance(name, shape, seed, gain, a, mode, nonlinearity):
    x = getattr(init, name)(shape, rng=seed, **kwargs(name, gain, a, mode, nonlinearity))
    assert x.shape == shape and x.dtype == np.float64
    check(x, *theoretical(name, shape, gain, a, mode, nonlinearity))


@pytest.mark.parametrize("name", FAN_BASED)
@pytest.mark.parametrize("shape", SHAPES[:3])
def test_torchs_own_samples_have_our_variance(name, shape):
    """torch.nn.init fills a big tensor; its samples pass the same test with our std."""
    gain, a, mode, nonlinearity = 1.7, 0.2, "fan_out", "leaky_relu"
    t = torch.empty(shape, dtype=torch.float64)
    getattr(torch.nn.init, name + "_")(t, **kwargs(name, gain, a, mode, nonlinearity),
                                       generator=torch.Generator().manual_seed(len(shape)))
    if name.startswith("xavier"):
        std = init.xavier_std(shape, gain)
    else:
        std = init.kaiming_std(shape, a, mode, nonlinearity)
    check(t.numpy(), std, name.endswith("uniform"))


def test_kaiming_defaults_give_the_relu_gain():
    """torch's defaults (a=0, leaky_relu) are He et al.'s sqrt(2 / fan_in)."""
    x = init.kaiming_normal((256, 400), rng=1)
    assert_normal(x, math.sqrt(2.0 / 400))


@given(seed=seeds, lo=st.floats(-100.0, 100.0), width=st.floats(1e-3, 100.0))
def test_uniform_has_the_uniform_moments(seed, lo, width):
    x = init.uniform((50, 100), lo, lo + width, rng=seed)
    assert np.all((x >= lo) & (x <= lo + width))
    assert_uniform(x - (lo + width / 2), width / 2)


@given(seed=seeds, mean=st.floats(-100.0, 100.0), std=st.floats(1e-3, 100.0))
def test_normal_has_the_normal_moments(seed, mean, std):
    assert_normal(init.normal((40, 100), mean, std, rng=seed) - mean, std)


def test_defaults_are_standard_distributions():
    assert_uniform(init.uniform(20_000, rng=2) - 0.5, 0.5)
    assert_normal(init.normal(20_000, rng=3), 1.0)


@given(shape=shapes, val=st.floats(-1e6, 1e6))
def test_constant_and_zeros(shape, val):
    c = init.constant(shape, val)
    z = init.zeros(shape)
    assert c.shape == z.shape == shape and c.dtype == z.dtype == np.float64
    assert np.all(c == val) and np.all(z == 0.0)
    assert init.zeros(shape) is not z


def test_degenerate_scales():
    assert np.all(init.normal((3, 4), 2.0, 0.0, rng=0) == 2.0)
    assert np.all(init.uniform((3, 4), 1.5, 1.5, rng=0) == 1.5)
    assert np.all(init.xavier_uniform((3, 4), gain=0.0, rng=0) == 0.0)


@pytest.mark.parametrize("name", FAN_BASED)
@pytest.mark.parametrize("shape", [(0, 5), (5, 0), (0, 0), (3, 4, 0)])
def test_empty_weights_are_returned_empty(name, shape):
    """torch's init is a no-op on an empty tensor; ours returns an empty array."""
    x = getattr(init, name)(shape, rng=0)
    assert x.shape == shape and x.dtype == np.float64


# ------------------------------------------------------------ reproducibility

ALL = ["uniform", "normal", *FAN_BASED]


@pytest.mark.parametrize("name", ALL)
def test_int_seed_reproduces_and_different_seeds_differ(name):
    f = getattr(init, name)
    a, b, c = f((30, 20), rng=7), f((30, 20), rng=7), f((30, 20), rng=8)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("name", ALL)
def test_generator_is_used_and_advanced(name):
    f = getattr(init, name)
    g1, g2 = np.random.default_rng(5), np.random.default_rng(5)
    first = f((30, 20), rng=g1)
    assert np.array_equal(first, f((30, 20), rng=g2))
    assert not np.array_equal(first, f((30, 20), rng=g1)), "the generator was not advanced"


@pytest.mark.parametrize("name", ALL)
def test_no_rng_draws_fresh_numbers(name):
    f = getattr(init, name)
    assert not np.array_equal(f((30, 20)), f((30, 20)))


def test_numpy_integer_shapes_and_seeds_are_accepted():
    x = init.xavier_normal(np.array([4, 6]), rng=np.int64(3))
    assert np.array_equal(x, init.xavier_normal((4, 6), rng=3))


# ------------------------------------------------------------------ bad input

BAD = [
    (lambda: init.kaiming_normal((3, 4), mode="fan_avg"), ValueError, "mode"),
    (lambda: init.kaiming_uniform((3, 4), mode=1), TypeError, "mode"),
    (lambda: init.kaiming_normal((3, 4), nonlinearity="gelu"), ValueError, "gelu"),
    (lambda: init.calculate_gain("swish"), ValueError, "swish"),
    (lambda: init.calculate_gain(None), TypeError, "nonlinearity"),
    (lambda: init.calculate_gain("leaky_relu", "0.2"), TypeError, "param"),
    (lambda: init.calculate_gain("leaky_relu", True), TypeError, "param"),
    (lambda: init.calculate_gain("leaky_relu", float("nan")), ValueError, "param"),
    (lambda: init.kaiming_normal((3, 4), a="x"), TypeError, "a"),
    (lambda: init.xavier_uniform((7,)), ValueError, "at least 2 dimensions"),
    (lambda: init.kaiming_normal(7), ValueError, "at least 2 dimensions"),
    (lambda: init.xavier_normal((3, 4), gain=-1.0), ValueError, "gain"),
    (lambda: init.xavier_normal((3, 4), gain=float("inf")), ValueError, "gain"),
    (lambda: init.normal((3,), std=-0.1), ValueError, "std"),
    (lambda: init.normal((3,), mean=float("inf")), ValueError, "mean"),
    (lambda: init.uniform((3,), a=1.0, b=0.0), ValueError, "a must be <= b"),
    (lambda: init.uniform((3,), a=-1e308, b=1e308), ValueError, "finite"),
    (lambda: init.uniform((3,), a=float("nan")), ValueError, "a"),
    (lambda: init.zeros((3.0, 4)), TypeError, r"shape\[0\]"),
    (lambda: init.zeros((3, True)), TypeError, r"shape\[1\]"),
    (lambda: init.zeros("34"), TypeError, "shape"),
    (lambda: init.zeros(None), TypeError, "shape"),
    (lambda: init.zeros((3, -4)), ValueError, r"shape\[1\]"),
    (lambda: init.constant((3,), "1"), TypeError, "val"),
    (lambda: init.normal((3,), rng="seed"), TypeError, "rng"),
    (lambda: init.normal((3,), rng=1.5), TypeError, "rng"),
    (lambda: init.normal((3,), rng=np.random.RandomState(0)), TypeError, "rng"),
    (lambda: init.uniform((3,), rng=-1), ValueError, "rng"),
    (lambda: init.xavier_std((0, 0)), ValueError, "fan_in \\+ fan_out = 0"),
    (lambda: init.kaiming_std((3, 0)), ValueError, "fan_in = 0"),
    # an empty weight is still a checked call
    (lambda: init.kaiming_normal((0, 4), mode="fan_avg"), ValueError, "mode"),
    (lambda: init.xavier_uniform((0, 4), gain=-2.0), ValueError, "gain"),
]


@pytest.mark.parametrize("call, error, fragment", BAD)
def test_bad_input_raises_and_says_what(call, error, fragment):
    with pytest.raises(error, match=fragment):
        call()


@pytest.mark.parametrize("slope", [1.3407807929942597e+154, -1e200, 1e300])
def test_leaky_relu_gain_for_a_slope_whose_square_overflows(slope):
    # found by tests/fuzz: slope**2 raised OverflowError (torch's formula does too);
    # compared with sqrt(2 / (1 + slope^2)) worked out in 60-digit decimals
    from decimal import Decimal, getcontext

    getcontext().prec = 60
    exact = (Decimal(2) / (1 + Decimal(slope) ** 2)).sqrt()
    got = init.calculate_gain("leaky_relu", slope)
    assert abs(Decimal(got) - exact) <= Decimal(2) ** -52 * exact
    assert init.kaiming_std((3, 4), a=slope) == got / 2.0
