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


def test_bench_layers_rejects_bad_options():
    for args in (["--shape", "1,4"], ["--shape", "8"], ["--shape", "a,b"]):
        out = descentlab("bench", "layers", *args)
        assert out.returncode == 2 and "--shape" in out.stderr, args
    out = descentlab("bench", "layers", "--repeat", "0")
    assert out.returncode != 0 and "--repeat" in out.stderr
