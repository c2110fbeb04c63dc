"""Differential tests: every optimizer against torch.optim, step by step."""

import numpy as np
import pytest
import torch
from hypothesis import given, strategies as st

import descentlab.optim as dlo

from .cases import SPACES, STEPS, TOLERANCE, run_side_by_side, shapes

dtypes = st.sampled_from([np.float64, np.float32])


@pytest.mark.parametrize("name", sorted(SPACES))
@given(data=st.data(), param_shapes=st.lists(shapes, min_size=1, max_size=3), dtype=dtypes,
       seed=st.integers(0, 2**32 - 1))
def test_trajectory_matches_torch(name, data, param_shapes, dtype, seed):
    hyper = data.draw(SPACES[name], label="hyper")
    worst, *_ = run_side_by_side(name, hyper, param_shapes, dtype, seed)
    assert worst <= TOLERANCE[dtype], (
        f"{name}({hyper}) {np.dtype(dtype).name}: relative error {worst:.3g} over {STEPS} steps")


@pytest.mark.parametrize("name", sorted(SPACES))
@given(data=st.data(), seed=st.integers(0, 2**32 - 1))
def test_state_matches_torch_state(name, data, seed):
    """Every state entry we expose has torch's name and torch's value."""
    hyper = data.draw(SPACES[name], label="hyper")
    _, opt, topt, theirs = run_side_by_side(name, hyper, [(3, 2), (4,)], np.float64, seed,
                                            steps=20)
    for i, t in enumerate(theirs):
        tstate = topt.state[t]
        assert set(opt.state[i]) == set(tstate) or (name == "SGD" and not tstate), \
            f"{name}: state keys {sorted(opt.state[i])} vs torch's {sorted(tstate)}"
        for key, ref in tstate.items():
            ours = opt.state[i][key]
            if key == "step":
                assert ours == int(ref.item())
            elif key == "mu_product":
                assert np.float32(ours) == np.float32(ref.item())
            elif ref is None:
                assert ours is None
            else:
                np.testing.assert_allclose(ours, ref.numpy(), rtol=1e-12, atol=1e-14,
                                           err_msg=f"{name} state[{i}][{key!r}]")


@pytest.mark.parametrize("name", sorted(SPACES))
def test_defaults_are_torchs(name):
    import inspect

    ours = inspect.signature(getattr(dlo, name)).parameters
    theirs = inspect.signature(getattr(torch.optim, name)).parameters
    torch_only = {"foreach", "fused", "capturable", "differentiable"}
    for arg, p in theirs.items():
        if arg in torch_only:
            continue
        assert arg in ours, f"{name} lacks torch's argument {arg!r}"
        assert ours[arg].default == p.default, \
            f"{name}({arg}=...) default {ours[arg].default!r}, torch's is {p.default!r}"
    assert set(ours) <= set(theirs), f"{name} has arguments torch lacks: {set(ours) - set(theirs)}"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_large_arrays_take_the_parallel_kernel_and_still_match(dtype):
    """Above PARALLEL_MIN_SIZE the threaded kernel runs; it must agree too."""
    from descentlab._jit import PARALLEL_MIN_SIZE

    worst, *_ = run_side_by_side("Adam", dict(lr=1e-2, amsgrad=True, weight_decay=1e-2),
                                 [(PARALLEL_MIN_SIZE + 17,)], dtype, seed=3, steps=5)
    assert worst <= TOLERANCE[dtype]
