"""`descentlab bench surfaces` runs and prints every contender with its ratio."""

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_bench_surfaces_prints_every_contender_and_the_target():
    out = subprocess.run([sys.executable, "-m", "descentlab.cli", "bench", "surfaces", "--steps",
                          "20", "--repeat", "2", "--no-startup"], cwd=ROOT, capture_output=True,
                         text=True, timeout=600, env={**os.environ, "MPLBACKEND": "Agg"})
    assert out.returncode == 0, out.stderr
    for row in ("explorer update", "recompute", "redraw", "JPEG", "frame redraw", "compiled paths",
                "Python classes", "torch.optim, analytic grad", "torch.optim, autograd"):
        line = next((l for l in out.stdout.splitlines() if row in l), None)
        assert line and re.search(r"\d+\.\dx", line), (row, out.stdout)
    assert re.search(r"target: an explorer update under 100\.00 ms: (met|MISSED)", out.stdout)


def test_bench_surfaces_rejects_bad_sizes():
    out = subprocess.run([sys.executable, "-m", "descentlab.cli", "bench", "surfaces", "--steps",
                          "0"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode != 0 and "--steps" in out.stderr
