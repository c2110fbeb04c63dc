"""``descentlab bench device`` runs on a machine without a GPU and says so."""

import re

from .test_layers import descentlab


def test_bench_device_on_the_cpu_reports_both_tables():
    out = descentlab("bench", "device", "--batch-sizes", "1,8", "--numel", "1000",
                     "--repeat", "1", "--device", "cpu")
    assert out.returncode == 0, out.stderr
    assert "device: cpu" in out.stdout and "runs on the CPU" in out.stdout
    assert re.search(r"^1\s+[\d,]+$", out.stdout, re.M) and re.search(r"^8\s+[\d,]+$",
                                                                      out.stdout, re.M)
    steps = re.findall(r"^(SGD momentum|Adam)\s+(foreach|fused)\s+cpu\s+(\d+\.\d\d)", out.stdout,
                       re.M)
    assert [s[:2] for s in steps] == [("SGD momentum", "foreach"), ("SGD momentum", "fused"),
                                      ("Adam", "foreach"), ("Adam", "fused")]
    assert [s[2] for s in steps][:2] == ["8.00", "5.00"]


def test_bench_device_rejects_bad_options():
    out = descentlab("bench", "device", "--batch-sizes", "0,4")
    assert out.returncode == 2 and "--batch-sizes" in out.stderr
