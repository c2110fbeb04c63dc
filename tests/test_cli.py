"""The descentlab command, run as a user runs it."""

import os
import re
import subprocess
import sys
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]


def descentlab(*args, timeout=600):
    return subprocess.run([sys.executable, "-m", "descentlab.cli", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "PYTHONWARNINGS": "ignore"})


def test_console_script_is_installed():
    script = Path(sys.executable).parent / "descentlab"
    assert script.exists()
    out = subprocess.run([str(script), "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and "descentlab" in out.stdout


def test_bench_optim_prints_every_peer_and_ratio():
    out = descentlab("bench", "optim", "--size", "70000", "--repeat", "2", "--no-startup")
    assert out.returncode == 0, out.stderr
    rows = [l for l in out.stdout.splitlines() if l.startswith(("Adam ", "SGD momentum"))]
    assert len(rows) == 4
    for row in rows:
        assert len(re.findall(r"\(\d+\.\d\dx\)", row)) == 4, row


def test_bench_rejects_bad_sizes():
    out = descentlab("bench", "optim", "--size", "0")
    assert out.returncode != 0 and "--size" in out.stderr


def test_unknown_command_is_a_usage_error():
    out = descentlab("frobnicate")
    assert out.returncode == 2 and "invalid choice" in out.stderr


def test_bench_grading_runs_a_small_class_both_ways_and_prices_the_sandbox():
    out = descentlab("bench", "grading", "--students", "1", "--workers", "2", "--sandbox-cost",
                     timeout=900)
    assert out.returncode == 0, out.stdout + out.stderr  # nonzero when the runs' scores differ
    assert "1 worker" in out.stdout and "2 workers" in out.stdout
    assert re.search(r"total\s+\d+\.\d\d", out.stdout)
    assert re.search(r"--unsafe-no-sandbox\s+\d+\.\d s", out.stdout)
    assert re.search(r"cost of the sandbox\s+[+-]\d+\.\d s\s+[+-]\d+\.\d\d s \(\d+\.\d\dx\)",
                     out.stdout), out.stdout


def test_lectures_command_runs_a_folder_and_fails_when_a_notebook_fails(tmp_path):
    # (the real lectures are executed by tests/notebooks; this checks the command's wiring)
    import nbformat

    for name, source in (("01_ok.ipynb", "print('fine')"), ("02_bad.ipynb", "1 / 0")):
        nb = nbformat.v4.new_notebook()
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                     "language": "python"}
        nb.cells = [nbformat.v4.new_code_cell(source)]
        nbformat.write(nb, str(tmp_path / name))
    out = descentlab("lectures", "--folder", str(tmp_path), timeout=300)
    assert out.returncode == 1
    assert re.search(r"01_ok.ipynb\s+\S+ s\s+ok", out.stdout), out.stdout
    assert "02_bad.ipynb" in out.stdout and "ZeroDivisionError" in out.stdout
