"""descentlab.compare's device-comparison helpers: the steps they time are
the torch steps they claim to be, and the table reports what was measured."""

import re

import numpy as np
import pytest
import torch

from descentlab import compare
from descentlab.models import MLP


def test_training_step_is_a_torch_training_step():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((20, 6)), rng.integers(0, 3, 20)
    model = MLP(6, 5, 3, seed=1)
    net, reference = model.to_torch(), model.to_torch()
    step = compare.training_step(net, X, y, "Adam", lr=0.01)
    opt = torch.optim.Adam(reference.parameters(), lr=0.01)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    for _ in range(5):
        loss = step()
        opt.zero_grad()
        want = torch.nn.functional.cross_entropy(reference(Xt), yt)
        want.backward()
        opt.step()
        assert loss.item() == want.item()
    for ours, theirs in zip(net.parameters(), reference.parameters()):
        assert torch.equal(ours, theirs)


def test_optimizer_step_steps_a_parameter_with_a_fixed_gradient():
    step = compare.optimizer_step("SGD", 1000, "cpu", lr=0.5, momentum=0.9, seed=3)
    gen = torch.Generator().manual_seed(3)
    p0 = torch.randn(1000, generator=gen)
    g = torch.randn(1000, generator=gen)
    for _ in range(3):
        p = step()
    # buffer b_t = 1 + 0.9 + 0.81 times g after three steps: sum of buffers
    total = (1 + (1 + 0.9) + (1 + 0.9 + 0.81)) * 0.5
    torch.testing.assert_close(p.detach(), p0 - total * g, rtol=1e-6, atol=1e-6)
    assert p.dtype == torch.float32 and p.numel() == 1000


def test_device_comparison_times_each_task_once_per_distinct_device():
    calls = {"a": 0, "b": 0}

    def factory(name):
        def build(device):
            assert isinstance(device, torch.device)

            def fn():
                calls[name] += 1
            return fn
        return build

    rows = compare.device_comparison({"a": factory("a"), "b": factory("b")},
                                     devices=["cpu", torch.device("cpu")], repeat=3, warmup=1)
    assert [(r.task, r.device) for r in rows] == [("a", "cpu"), ("b", "cpu")]
    assert calls == {"a": 4, "b": 4}
    assert all(r.seconds >= 0 for r in rows)


def test_default_devices_are_the_picked_one_and_the_cpu():
    rows = compare.device_comparison({"x": lambda d: (lambda: None)}, repeat=1, warmup=0)
    assert [r.device for r in rows] == list(dict.fromkeys([str(compare.pick_device()), "cpu"]))


def test_timing_table_reports_speed_up_over_the_cpu():
    rows = [compare.Timing("step", "cuda", 0.002), compare.Timing("step", "cpu", 0.010),
            compare.Timing("other", "mps", 0.5)]
    text = compare.timing_table(rows)
    lines = text.splitlines()
    assert lines[0].split()[:3] == ["task", "device", "time"]
    assert re.search(r"step\s+cuda\s+2\.00 ms\s+5\.00x", text)
    assert re.search(r"step\s+cpu\s+10\.00 ms\s+1\.00x", text)
    assert re.search(r"other\s+mps\s+500\.00 ms\s+-", text)


@pytest.mark.parametrize("call, error, match", [
    (lambda: compare.optimizer_step("Adamm", 10), ValueError, "Adamm"),
    (lambda: compare.optimizer_step("Adam", 0), ValueError, "numel"),
    (lambda: compare.training_step(torch.nn.Linear(2, 2), np.zeros((1, 2)), np.zeros(1), "LBFGS"),
     ValueError, "LBFGS"),
    (lambda: compare.device_comparison({}), ValueError, "tasks"),
    (lambda: compare.device_comparison({"x": 3}), TypeError, "x"),
])
def test_bad_arguments(call, error, match):
    with pytest.raises(error, match=match):
        call()
