"""descentlab.compare's throughput and bandwidth helpers.

Byte counts are checked against counts derived by hand from torch's source
(torch/optim/sgd.py and adam.py: which foreach ops a step calls, and what
each reads and writes); rates only for being rates (positive, finite, on
the device reported).  No wall-clock threshold is asserted."""

import math

import pytest
import torch
from hypothesis import given, settings, strategies as st

from descentlab import compare


# -- the byte counter on single ops whose traffic is known ---------------------------------

def test_counter_on_ops_with_known_traffic():
    a, b = torch.ones(1000), torch.ones(1000)
    n = 4000
    assert compare._count_traffic(lambda: a.add_(b))[:2] == (2 * n, n)      # read a, b; write a
    assert compare._count_traffic(lambda: a.mul_(2.0))[:2] == (n, n)        # read a; write a
    assert compare._count_traffic(lambda: a.copy_(b))[:2] == (n, n)         # read b; write a
    assert compare._count_traffic(lambda: torch.sqrt(a))[:2] == (n, n)      # read a; new result
    assert compare._count_traffic(lambda: a.addcmul_(b, b))[:2] == (2 * n, n)  # b read once
    assert compare._count_traffic(lambda: a.view(10, 100))[:2] == (0, 0)    # a view moves nothing
    torch.add(a, b, out=b.new_empty(1000))
    out = torch.empty(1000)
    assert compare._count_traffic(lambda: torch.add(a, b, out=out))[:2] == (2 * n, n)


# passes per element of a steady-state step, derived from torch's source (see step_traffic)
HAND_COUNTS = [
    ("SGD", {"lr": 0.1, "momentum": 0.9}, "foreach", 8),
    ("SGD", {"lr": 0.1, "momentum": 0.9}, "for-loop", 8),
    ("SGD", {"lr": 0.1, "momentum": 0.9}, "fused", 5),
    ("SGD", {"lr": 0.1}, "foreach", 3),
    ("SGD", {"lr": 0.1}, "fused", 3),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True}, "foreach", 11),
    ("Adam", {"lr": 1e-3}, "foreach", 18),
    ("Adam", {"lr": 1e-3}, "fused", 7),
]


@pytest.mark.parametrize("name, hyper, impl, passes", HAND_COUNTS)
def test_step_traffic_matches_the_count_read_off_torchs_source(name, hyper, impl, passes):
    traffic = compare.step_traffic(name, 10_000, implementation=impl, **hyper)
    assert traffic.param_bytes == 40_000
    # Adam also bumps and reads its one-element step counters: a few scalars at most
    assert abs(traffic.bytes - passes * traffic.param_bytes) <= 64
    assert traffic.passes == pytest.approx(passes, abs=1e-3)


@settings(max_examples=15, deadline=None)
@given(numel=st.integers(1, 5000), momentum=st.floats(0.1, 0.99))
def test_momentum_traffic_is_8_passes_foreach_and_5_fused_at_any_size(numel, momentum):
    for impl, passes in (("foreach", 8), ("fused", 5)):
        t = compare.step_traffic("SGD", numel, implementation=impl, lr=0.1, momentum=momentum)
        assert t.bytes == passes * 4 * numel


def test_traffic_grows_with_the_parameter_and_float64_doubles_it():
    sizes = [10, 100, 1000, 10_000]
    counts = [compare.step_traffic("Adam", n).bytes for n in sizes]
    assert counts == sorted(counts) and len(set(counts)) == len(counts)
    f32 = compare.step_traffic("SGD", 1000, lr=0.1, momentum=0.9).bytes
    f64 = compare.step_traffic("SGD", 1000, dtype=torch.float64, lr=0.1, momentum=0.9).bytes
    assert f64 == 2 * f32


def test_fused_never_moves_more_than_foreach():
    for name, hyper in (("SGD", {"lr": 0.1, "momentum": 0.9}), ("Adam", {}), ("AdamW", {})):
        fused = compare.step_traffic(name, 1000, implementation="fused", **hyper).bytes
        foreach = compare.step_traffic(name, 1000, implementation="foreach", **hyper).bytes
        assert fused <= foreach, name


# -- rates ----------------------------------------------------------------------------------

def _rate_ok(x):
    return math.isfinite(x) and x > 0


def test_bandwidth_rows_are_rates_on_the_device_they_name():
    rows = compare.bandwidth(numel=4096, device="cpu", repeat=2, warmup=1)
    assert [(r.task, r.implementation) for r in rows] == [
        ("SGD momentum", "foreach"), ("SGD momentum", "fused"), ("Adam", "foreach"),
        ("Adam", "fused")]
    for r in rows:
        assert r.device == "cpu" and _rate_ok(r.seconds) and _rate_ok(r.copy_gbps)
        assert r.gbps == pytest.approx(r.traffic.bytes / r.seconds / 1e9)
        assert r.fraction == pytest.approx(r.gbps / r.copy_gbps)
    assert len({r.copy_gbps for r in rows}) == 1  # one copy, measured once, for every row
    text = compare.bandwidth_table(rows)
    assert "fraction of copy" in text and "SGD momentum" in text and "8.00" in text


def test_copy_bandwidth_is_a_positive_rate():
    assert _rate_ok(compare.copy_bandwidth(1000, "cpu", repeat=2))


def test_throughput_rows_cover_every_batch_size_on_each_device_once():
    rows = compare.throughput((1, 8, 32), devices=["cpu", "cpu"], sizes=(20, 8, 3),
                              repeat=2, warmup=1)
    assert [(r.device, r.batch_size) for r in rows] == [("cpu", 1), ("cpu", 8), ("cpu", 32)]
    for r in rows:
        assert _rate_ok(r.seconds) and r.samples_per_second == pytest.approx(
            r.batch_size / r.seconds)
    assert compare.crossover(rows) is None  # no accelerator among the rows
    table = compare.throughput_table(rows)
    assert table.splitlines()[0].split() == ["batch", "cpu", "samples/s"]
    assert [line.split()[0] for line in table.splitlines()[2:]] == ["1", "8", "32"]


def test_throughput_trains_the_net_it_times():
    # the timed function is a real training step: the loss it returns falls over steps
    net = compare._mlp((5, 16, 3), torch.device("cpu"), torch.float32, 0)
    gen = torch.Generator().manual_seed(0)
    X, y = torch.randn(64, 5, generator=gen), torch.randint(0, 3, (64,), generator=gen)
    step = compare.training_step(net, X, y, "SGD", lr=0.5)
    first = step().item()
    for _ in range(50):
        last = step().item()
    assert last < first


def T(device, b, s):
    return compare.Throughput(device, b, s)


@pytest.mark.parametrize("rows, want", [
    # the GPU loses at small batches and wins from 256 on
    ([T("cpu", 1, 1.0), T("cuda", 1, 2.0), T("cpu", 256, 3.0), T("cuda", 256, 2.5),
      T("cpu", 4096, 9.0), T("cuda", 4096, 3.0)], 256),
    # a win at a small batch that does not last is not the crossover
    ([T("cpu", 1, 1.0), T("cuda", 1, 0.5), T("cpu", 64, 1.0), T("cuda", 64, 1.5),
      T("cpu", 512, 4.0), T("cuda", 512, 1.0)], 512),
    ([T("cpu", 1, 1.0), T("cuda", 1, 2.0), T("cpu", 8, 1.0), T("cuda", 8, 1.0)], None),
    ([T("cpu", 1, 1.0), T("cuda", 1, 0.5)], 1),
])
def test_crossover(rows, want):
    assert compare.crossover(rows) == want


@pytest.mark.parametrize("call, error, match", [
    (lambda: compare.throughput((0, 4)), ValueError, "batch_sizes"),
    (lambda: compare.throughput((True,)), ValueError, "batch_sizes"),
    (lambda: compare.throughput((4,), sizes=(5,)), ValueError, "sizes"),
    (lambda: compare.throughput((4,), repeat=0), ValueError, "repeat"),
    (lambda: compare.step_traffic("SGD", 10, implementation="fast", lr=0.1), ValueError, "fast"),
    (lambda: compare.step_traffic("Adamm", 10), ValueError, "Adamm"),
    (lambda: compare.copy_bandwidth(0), ValueError, "numel"),
    (lambda: compare.bandwidth({}), ValueError, "steps"),
    (lambda: compare.bandwidth({"x": "SGD"}), ValueError, "x"),
    (lambda: compare.bandwidth(implementations=("nope",)), ValueError, "nope"),
    (lambda: compare.crossover([T("cpu", 1, 1.0), T("cuda", 1, 1.0), T("mps", 1, 1.0)]),
     ValueError, "several"),
    (lambda: compare.crossover([T("cpu", 1, 1.0)], "cuda"), ValueError, "cuda"),
])
def test_bad_arguments(call, error, match):
    with pytest.raises(error, match=match):
        call()
