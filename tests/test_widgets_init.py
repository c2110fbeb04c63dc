"""InitExplorer, headless: its lines show the recomputed statistics, settings are checked."""

import numpy as np
import pytest

from descentlab import data
from descentlab.propagation import deep_mlp, layer_statistics, train_curve
from descentlab.widgets import InitExplorer


@pytest.fixture(scope="module")
def small():
    d = data.digits()
    return InitExplorer(d, depth=4, width=16, steps=3)


def test_lines_show_the_statistics_and_the_training_curve(small):
    small.set(scheme="xavier", activation="relu", depth=5, width=32, seed=3)
    ref = layer_statistics("xavier", "relu", depth=5, width=32, batch=256, seed=3)
    x, y = small.lines["activations"].get_data()
    np.testing.assert_array_equal(x, np.arange(1, 6))
    np.testing.assert_array_equal(y, ref.act_std)
    np.testing.assert_array_equal(small.lines["gradients"].get_data()[1], ref.grad_std)
    d = small.data
    weights = deep_mlp("xavier", "relu", [64, 32, 32, 32, 32, 32, 10], seed=3)
    curve = train_curve(weights, d.X_train, d.y_train, "relu", steps=3, lr=0.1)
    np.testing.assert_array_equal(small.lines["loss"].get_data()[1], curve)
    assert "layer 5" in small.describe()


def test_one_redraw_per_set_and_reset_restores(small):
    small.reset()
    assert small.settings() == {"scheme": "kaiming", "activation": "tanh", "depth": 4,
                                "width": 16, "seed": 0}
    calls = []
    original = small._flush
    small._flush = lambda pending: calls.append(pending)
    try:
        small.set(scheme="small", depth=6)
    finally:
        small._flush = original
    assert len(calls) == 1


@pytest.mark.parametrize("settings, error, fragment", [
    ({"scheme": "he"}, ValueError, "scheme"),
    ({"activation": "gelu"}, ValueError, "activation"),
    ({"depth": 0}, ValueError, "depth"),
    ({"depth": 2.5}, TypeError, "depth"),
    ({"width": 100}, ValueError, "width"),
    ({"lr": 0.1}, TypeError, "unknown settings"),
])
def test_bad_settings_raise_and_name_the_setting(small, settings, error, fragment):
    with pytest.raises(error, match=fragment):
        small.set(**settings)


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="steps"):
        InitExplorer(depth=2, width=16, steps=0)
