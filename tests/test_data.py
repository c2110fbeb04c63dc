"""The lecture datasets: local, seeded, split without leakage."""

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st

from descentlab import data


def test_digits_split_sizes_dtypes_and_stratification():
    from sklearn.datasets import load_digits

    whole = np.bincount(load_digits().target) / 1797
    d = data.digits(val=0.2, test=0.2, seed=0)
    n = len(d.y_train) + len(d.y_val) + len(d.y_test)
    assert n == 1797
    assert len(d.y_test) == pytest.approx(0.2 * n, abs=1)
    assert len(d.y_val) == pytest.approx(0.2 * n, abs=1)
    for X, y in ((d.X_train, d.y_train), (d.X_val, d.y_val), (d.X_test, d.y_test)):
        assert X.shape == (len(y), 64) and X.dtype == np.float64 and X.flags.c_contiguous
        assert y.dtype == np.int64
        # stratified: every class within 2 images of its share in the whole set
        counts = np.bincount(y, minlength=10)
        assert np.all(np.abs(counts - len(y) * whole) <= 2), counts
    assert (d.n_features, d.n_classes) == (64, 10)


def test_digits_are_the_sklearn_images_standardised_by_training_statistics():
    from sklearn.datasets import load_digits

    raw = data.digits(seed=3, standardize=False)
    d = data.digits(seed=3)
    np.testing.assert_allclose(d.X_train.mean(axis=0), 0.0, atol=1e-12)
    sd = d.X_train.std(axis=0)
    varying = raw.X_train.std(axis=0) > 0
    np.testing.assert_allclose(sd[varying], 1.0, rtol=1e-12)
    assert np.all(sd[~varying] == 0.0) and (~varying).any()  # the constant border pixels
    # validation and test are mapped with the training statistics, not their own
    np.testing.assert_allclose(d.X_test, (raw.X_test - d.mean) / d.std, rtol=1e-12, atol=1e-12)
    # every row is one of sklearn's images, each used once
    X, _ = load_digits(return_X_y=True)
    rows = np.concatenate([raw.X_train, raw.X_val, raw.X_test])
    assert sorted(map(tuple, rows)) == sorted(map(tuple, X))


def test_digits_seeding_and_float32():
    a, b, c = data.digits(seed=1), data.digits(seed=1), data.digits(seed=2)
    assert np.array_equal(a.X_train, b.X_train) and not np.array_equal(a.y_train, c.y_train)
    f = data.digits(seed=1, dtype=np.float32)
    assert f.X_train.dtype == np.float32
    np.testing.assert_allclose(f.X_train, a.X_train, rtol=1e-6, atol=1e-6)
    assert data.digits(val=0.0).X_val.shape == (0, 64)


def sklearn_split(val, test, seed):
    """The digits split as scikit-learn makes it (what data.digits once called)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    X_rest, X_test, y_rest, y_test = train_test_split(X, y, test_size=test, stratify=y,
                                                      random_state=seed)
    if val == 0.0:
        return X_rest, X[:0], X_test, y_rest, y[:0], y_test
    X_train, X_val, y_train, y_val = train_test_split(
        X_rest, y_rest, test_size=val / (1.0 - test), stratify=y_rest, random_state=seed)
    return X_train, X_val, X_test, y_train, y_val, y_test


@settings(max_examples=60, deadline=None)
@given(val=st.one_of(st.just(0.0), st.floats(0.0, 0.6)), test=st.floats(0.0, 0.6,
       exclude_min=True), seed=st.integers(0, 2**32 - 1))
def test_digits_split_is_scikit_learns_to_the_bit(val, test, seed):
    """data.digits splits without importing scikit-learn (1.3 s a process), so its split
    is checked against scikit-learn's own train_test_split: the same rows in the same
    order, and a ValueError where scikit-learn refuses (a part with fewer images than
    classes)."""
    assume(val + test < 1.0)
    try:
        expected = sklearn_split(val, test, seed)
    except ValueError:
        with pytest.raises(ValueError, match="val|test"):
            data.digits(val=val, test=test, seed=seed)
        return
    d = data.digits(val=val, test=test, seed=seed, standardize=False)
    ours = (d.X_train, d.X_val, d.X_test, d.y_train, d.y_val, d.y_test)
    for name, a, b in zip(("X_train", "X_val", "X_test", "y_train", "y_val", "y_test"),
                          ours, expected):
        assert np.array_equal(a, b), name


def test_digits_do_not_import_scikit_learn():
    code = ("import sys\nfrom descentlab import data\ndata.digits()\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'sklearn'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(test=0.0), ValueError, "test"),
    (dict(val=0.5, test=0.5), ValueError, "val"),
    (dict(val=-0.1), ValueError, "val"),
    (dict(dtype=np.int32), TypeError, "dtype"),
    (dict(seed=-3), ValueError, "seed"),
])
def test_digits_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        data.digits(**kwargs)


@given(seed=st.integers(0, 2**32 - 1))
def test_sparse_features_follow_their_frequencies(seed):
    n = 4000
    X, y, w = data.sparse_features(n, frequencies=(0.9, 0.05), noise=0.1, seed=seed)
    assert X.shape == (n, 2) and set(np.unique(X)) <= {0.0, 1.0}
    # each column is Binomial(n, p): 5 standard deviations (a 1-in-1.7-million miss)
    for j, p in enumerate((0.9, 0.05)):
        assert abs(X[:, j].mean() - p) < 5 * np.sqrt(p * (1 - p) / n)
    r = y - X @ w
    assert abs(r.std() - 0.1) < 5 * 0.1 / np.sqrt(2 * n)
    assert np.array_equal(X, data.sparse_features(n, frequencies=(0.9, 0.05), seed=seed).X)


def test_sparse_features_make_the_rare_direction_flat():
    X, y, w = data.sparse_features(20000, seed=0)
    H = X.T @ X / len(y)
    np.testing.assert_allclose(np.diag(H), [0.9, 0.05], atol=0.02)
    # least squares recovers the true weights
    np.testing.assert_allclose(np.linalg.lstsq(X, y, rcond=None)[0], w, atol=0.02)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(frequencies=(0.5, 0.0)), ValueError, "frequencies"),
    (dict(frequencies=(0.5, 0.2), weights=(1.0,)), ValueError, "weights"),
    (dict(noise=-1.0), ValueError, "noise"),
    (dict(n_samples=0), ValueError, "n_samples"),
])
def test_sparse_features_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        data.sparse_features(**kwargs)


# -- minibatches -------------------------------------------------------------------

from hypothesis import given, strategies as st  # noqa: E402

from descentlab.data import minibatches  # noqa: E402


@given(n=st.integers(1, 300), batch_size=st.integers(1, 64), seed=st.integers(0, 2**32 - 1))
def test_an_epoch_uses_every_example_exactly_once_in_full_batches_then_the_rest(n, batch_size, seed):
    batches = list(minibatches(n, batch_size, seed))
    sizes = [len(b) for b in batches]
    assert sizes == [batch_size] * (n // batch_size) + ([n % batch_size] if n % batch_size else [])
    assert np.array_equal(np.sort(np.concatenate(batches)), np.arange(n))


def test_each_epoch_is_a_new_shuffle_and_a_seed_repeats_the_sequence():
    rng = np.random.default_rng(0)
    first, second = (np.concatenate(list(minibatches(200, 32, rng))) for _ in range(2))
    assert not np.array_equal(first, second)
    assert not np.array_equal(first, np.arange(200))
    again = np.random.default_rng(0)
    assert np.array_equal(first, np.concatenate(list(minibatches(200, 32, again))))


def test_the_order_is_uniformly_random():
    # each index is equally likely in the first position: a chi-square test over
    # 20 bins at 4000 epochs; the 1e-6 critical value of chi2(19) is 62.9
    rng = np.random.default_rng(1)
    counts = np.bincount([next(minibatches(20, 5, rng))[0] for _ in range(4000)], minlength=20)
    chi2 = ((counts - 200) ** 2 / 200).sum()
    assert chi2 < 62.9


@pytest.mark.parametrize("args, error", [((0, 5), ValueError), ((10, 0), ValueError),
                                         ((10.5, 2), TypeError), ((10, 2, "seed"), TypeError)])
def test_bad_arguments(args, error):
    with pytest.raises(error):
        minibatches(*args)


# -- stratified minibatches ----------------------------------------------------------------

def test_stratified_minibatches_cover_the_epoch_once_with_the_class_mix():
    from descentlab.data import stratified_minibatches

    y = np.repeat(np.arange(5), [50, 30, 10, 60, 50])
    batches = list(stratified_minibatches(y, 20, rng=0))
    assert np.array_equal(np.sort(np.concatenate(batches)), np.arange(y.size))
    assert [len(b) for b in batches] == [20] * 10
    share = np.bincount(y) / y.size
    for b in batches:  # within one example of the expected count, for every class
        assert np.all(np.abs(np.bincount(y[b], minlength=5) - 20 * share) <= 1 + 1e-9)


def test_stratified_minibatches_vary_with_the_seed_and_validate():
    from descentlab.data import stratified_minibatches

    y = np.arange(40) % 4
    a = np.concatenate(list(stratified_minibatches(y, 8, rng=1)))
    b = np.concatenate(list(stratified_minibatches(y, 8, rng=2)))
    assert not np.array_equal(a, b)
    for bad, match in ((np.zeros((2, 2), int), "y"), (np.array([0.5, 1.0]), "y")):
        with pytest.raises(ValueError, match=match):
            stratified_minibatches(bad, 2)
    with pytest.raises(ValueError, match="batch_size"):
        stratified_minibatches(y, 0)
