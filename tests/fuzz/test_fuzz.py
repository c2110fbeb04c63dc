"""Fuzzed library inputs: only ValueError or TypeError may come out.

Each module is fuzzed in its own child process (:mod:`tests.fuzz.worker`), so
a crash in a compiled kernel fails one test and names the example that
caused it.  ``DESCENTLAB_FUZZ_EXAMPLES`` sets the examples per target (CI:
the default below); the total per module is printed with ``-s``/``-rA``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from . import registry as R
from .worker import examples_for

ROOT = Path(__file__).resolve().parents[2]
#: Examples per fuzz target in CI (Hypothesis adds its shrinking runs on a failure).
EXAMPLES = int(os.environ.get("DESCENTLAB_FUZZ_EXAMPLES", "25"))
#: A watchdog, far above a module's normal run: a hang is reported with its example.
TIMEOUT_S = 240


def _fuzz(module: str, examples: int, *only: str, timeout: float = TIMEOUT_S):
    """Run the worker; return (records, returncode, stderr)."""
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    cmd = [sys.executable, "-m", "tests.fuzz.worker", module, str(examples), *only]
    try:
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=timeout)
        out, err, rc = proc.stdout, proc.stderr, proc.returncode
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        err = exc.stderr.decode() if isinstance(exc.stderr, bytes) else (exc.stderr or "")
        rc = "timeout"
    records = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return records, rc, err


def _died(records, rc, err) -> str | None:
    """How the child died, with the example it was running, or None if it finished."""
    if rc == 0 and records and records[-1].get("end"):
        return None
    runs = [r for r in records if "run" in r]
    last = runs[-1]["example"] if runs else "(before the first example)"
    how = (f"was killed by signal {signal.Signals(-rc).name}" if isinstance(rc, int) and rc < 0
           else "hung (watchdog)" if rc == "timeout" else f"exited with status {rc}")
    return f"the fuzz child {how} while running\n    {last}\n--- stderr (tail) ---\n{err[-3000:]}"


@pytest.mark.slow
@pytest.mark.parametrize("module", R.MODULES)
def test_only_value_and_type_errors_come_out(module):
    records, rc, err = _fuzz(module, EXAMPLES)
    died = _died(records, rc, err)
    assert died is None, died
    done = [r for r in records if "done" in r]
    failures = [f"{r['done']}: {r['failure']}" for r in done if r["failure"]]
    total = sum(r["examples"] for r in done)
    print(f"\n{module}: {len(done)} targets, {total} examples "
          f"({EXAMPLES} per target, plus shrinking), "
          f"{sum(r['ok'] for r in done)} succeeded, {sum(r['refused'] for r in done)} refused")
    assert not failures, "\n\n".join(failures)
    fuzzed = {r["done"] for r in done if not r.get("skipped")}
    expected = {t.id for t in R.targets(module)[0]}
    assert fuzzed == expected, f"not fuzzed: {sorted(expected - fuzzed)}"
    targets = {t.id: t for t in R.targets(module)[0]}
    # (a function with no arguments at all, such as beale(), has one example)
    few = [(r["done"], r["examples"]) for r in done
           if r["examples"] < examples_for(targets[r["done"]], EXAMPLES)
           and (R.parameters(targets[r["done"]]) or targets[r["done"]].owner is not None)]
    assert not few, f"targets that ran fewer examples than asked: {few}"
    # both sides of "success, or ValueError/TypeError" are exercised
    one_sided = [(r["done"], r["ok"], r["refused"]) for r in done
                 if R.parameters(targets[r["done"]]) and min(r["ok"], r["refused"]) == 0
                 and r["done"] not in R.ONE_SIDED]
    assert not one_sided, f"(target, successes, refusals) never seen on one side: {one_sided}"


@pytest.mark.parametrize("module", R.MODULES)
def test_every_public_callable_has_a_strategy(module):
    found, exempt = R.targets(module)
    assert found, f"descentlab.{module}.__all__ names no callable"
    todo = {t.id: R.missing(t) for t in found if R.missing(t)}
    assert not todo, (
        "public callables with no fuzz strategy; register these in tests/fuzz/registry.py "
        "(ARGS by argument name, EXTRAS for **kwargs, INSTANCES for a class whose methods "
        "need a special instance), or add the callable to EXEMPT with the reason:\n"
        + "\n".join(f"  {tid}: {', '.join(what)}" for tid, what in todo.items()))


def test_caches_are_exempt_as_records():
    _, exempt = R.targets("layers")
    assert {"layers.BatchNormCache", "layers.DropoutCache", "layers.LayerNormCache"} <= set(exempt)


def test_exemptions_name_public_callables():
    for tid in R.EXEMPT:
        module, name = tid.split(".", 1)
        assert tid.split(".", 1)[0] in R.MODULES
        assert name in __import__(f"descentlab.{module}", fromlist=["__all__"]).__all__, tid


# -- the harness catches what it claims to ----------------------------------------

def test_a_segfault_is_reported_with_its_example():
    records, rc, err = _fuzz("planted", 30, "planted.segfaults", timeout=60)
    died = _died(records, rc, err)
    assert rc == -signal.SIGSEGV, (rc, err[-2000:])
    assert "SIGSEGV" in died and "planted.segfaults(x=<array" in died and "float32" in died


def test_an_escaping_exception_is_reported_shrunk():
    records, rc, err = _fuzz("planted", 30, "planted.leaks_index_error", timeout=60)
    assert _died(records, rc, err) is None
    (done,) = [r for r in records if "done" in r]
    assert done["failure"].startswith("IndexError"), done
    # shrunk to the shortest 1-D array the strategy draws (sides 2 to 4)
    assert "example: planted.leaks_index_error(x=<array (2,)" in done["failure"], done


def test_an_out_of_bounds_write_is_reported():
    records, rc, err = _fuzz("planted", 30, "planted.writes_out_of_bounds", timeout=60)
    (done,) = [r for r in records if "done" in r]
    assert done["failure"].startswith("silent out-of-bounds write"), done


def test_value_and_type_errors_pass():
    records, rc, err = _fuzz("planted", 30, "planted.refuses_properly", timeout=60)
    (done,) = [r for r in records if "done" in r]
    assert done["failure"] is None and done["examples"] == 30, done
