"""``descentlab bench layers`` runs and reports; speed itself is not tested here."""

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def descentlab(*args):
    return subprocess.run([sys.executable, "-m", "descentlab.cli", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONWARNINGS": "ignore"})


def test_bench_layers_prints_a_row_per_shape_and_pass_with_ratios():
    out = descentlab("bench", "layers", "--shape", "8,4", "--shape", "2,3,4,4", "--repeat", "1")
    assert out.returncode == 0, out.stderr
    for shape in ("(8, 4)", "(2, 3, 4, 4)"):
        rows = [line for line in out.stdout.splitlines() if line.startswith(f"batchnorm {shape}")]
        assert [re.split(r"\s{2,}", r)[1] for r in rows] == ["forward+backward", "forward",
                                                             "backward"], out.stdout
        assert all(re.search(r"\d+\.\d\dx", r) for r in rows), rows
        assert rows[0].rstrip().endswith("<= 1.50x"), rows[0]
    # group norm: the largest divisor of C up to --groups (default 32)
    for shape, groups in (("(8, 4)", 4), ("(2, 3, 4, 4)", 3)):
        rows = [line for line in out.stdout.splitlines()
                if line.startswith(f"groupnorm {shape} G={groups} ")]
        assert [re.split(r"\s{2,}", r)[1] for r in rows] == ["forward+backward", "forward",
                                                             "backward"], out.stdout
        assert all(re.search(r"\d+\.\d\dx", r) for r in rows), rows
        assert rows[0].rstrip().endswith("<= 1.50x"), rows[0]


def test_group_count_is_the_largest_divisor_of_c_up_to_the_option():
    from descentlab.bench.layers import groups_for
    assert [groups_for(c, 4) for c in (1, 4, 6, 7, 8, 12)] == [1, 4, 3, 1, 4, 4]
    assert groups_for(1024, 32) == 32 and groups_for(96, 32) == 32 and groups_for(60, 32) == 30


def test_bench_layers_rejects_bad_options():
    for args in (["--shape", "1,4"], ["--shape", "8"], ["--shape", "a,b"]):
        out = descentlab("bench", "layers", *args)
        assert out.returncode == 2 and "--shape" in out.stderr, args
    out = descentlab("bench", "layers", "--repeat", "0")
    assert out.returncode != 0 and "--repeat" in out.stderr
    out = descentlab("bench", "layers", "--groups", "0")
    assert out.returncode != 0 and "--groups" in out.stderr
