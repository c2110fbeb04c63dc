"""The descentlab command, run as a user runs it."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

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


def test_course_checks_every_optimizer_and_names_what_is_missing():
    out = descentlab("course")
    assert out.returncode == 0, out.stderr
    for name in ("SGD", "Adagrad", "RMSprop", "Adadelta", "Adam", "AdamW", "Adamax", "NAdam",
                 "RAdam"):
        line = re.search(rf"^\s+{name}\s+max relative difference (\S+)\s+ok$", out.stdout, re.M)
        assert line, f"no agreement line for {name}:\n{out.stdout}"
        assert float(line.group(1)) <= 1e-10
    assert "to come" in out.stdout


@pytest.mark.parametrize("command", ["lectures"])
def test_unbuilt_commands_say_so_and_fail(command):
    out = descentlab(command)
    assert out.returncode == 2 and "not built yet" in out.stderr


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
