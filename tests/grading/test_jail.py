"""The sandbox itself, and the grader's refusals: no sandbox, a tampered gradebook."""

import os
import sqlite3
import subprocess
import sys

import pytest

from descentlab.grading import jail, pipeline
from descentlab.grading.gradebook import GradebookTampered, backup, check_integrity
from descentlab.grading.sandbox import RemoteError, StudentProcess

from .notebooks import ROOT

needs_bwrap = pytest.mark.skipif(jail.unavailable() is not None,
                                 reason=f"no sandbox here: {jail.unavailable()}")


@pytest.fixture(scope="module")
def cage():
    j = jail.Jail()
    yield j
    j.cleanup()


@needs_bwrap
def test_student_code_sees_only_its_scratch_and_a_package_without_the_reference(cage, tmp_path):
    probe = ("import os, json\nprint(json.dumps({'uid': os.getuid(), 'cwd': os.getcwd(), "
             f"'solutions': os.path.exists({str(ROOT / 'solutions')!r}), "
             f"'lib': os.path.exists({str(ROOT / 'lib')!r}), "
             f"'course': os.path.exists({str(ROOT / 'course')!r}), "
             "'optim': os.path.exists('/opt/descentlab/descentlab/optim'), "
             "'data': os.path.exists('/opt/descentlab/descentlab/data.py'), "
             "'pids': sorted(int(p) for p in os.listdir('/proc') if p.isdigit())}))")
    package = cage.child_package(("descentlab.optim", "torch"))
    out = subprocess.run(cage.command([sys.executable, "-I", "-c", probe], tmp_path,
                                      package=package), env=cage.env(), capture_output=True,
                         text=True, timeout=120, preexec_fn=jail.limits())
    import json

    seen = json.loads(out.stdout)
    assert seen["uid"] == 65534 and seen["cwd"] == jail.INSIDE_HOME
    assert not seen["solutions"] and not seen["lib"] and not seen["course"]
    assert not seen["optim"] and seen["data"]
    assert seen["pids"] == [1, 2]  # bwrap and itself: no other process is visible


@needs_bwrap
def test_the_package_copy_is_read_only_even_inside(cage, tmp_path):
    code = "open('/opt/descentlab/descentlab/data.py', 'a').write('#')"
    out = subprocess.run(cage.command([sys.executable, "-I", "-c", code], tmp_path,
                                      package=cage.root / "kernel"), env=cage.env(),
                         capture_output=True, text=True, timeout=120)
    assert out.returncode != 0 and ("Read-only" in out.stderr or "Permission" in out.stderr)


@needs_bwrap
def test_a_jailed_child_cannot_import_the_reference_even_unhooked(cage):
    code = ("import sys\ndef f():\n    sys.meta_path[:] = [m for m in sys.meta_path "
            "if 'Refuse' not in type(m).__name__]\n    sys.modules.pop('descentlab.optim', None)\n"
            "    from descentlab.optim import SGD\n    return 1")
    with StudentProcess([(0, code)], ("descentlab.optim", "torch"), jail=cage) as child:
        with pytest.raises(RemoteError, match="ModuleNotFoundError|ImportError"):
            child.function("f")()


def test_grading_refuses_without_a_sandbox_and_says_why(monkeypatch, tmp_path):
    monkeypatch.setattr(jail, "unavailable", lambda: "bubblewrap is not installed (test)")
    with pytest.raises(pipeline.SandboxUnavailable, match="bubblewrap is not installed.*"
                                                          "--unsafe-no-sandbox"):
        pipeline.grade("ps2_momentum", tmp_path)


def _gradebook(path):
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{path / 'gradebook.db'}", "descentlab"):
        pass


def test_a_gradebook_with_a_trigger_or_a_new_table_is_refused_and_a_clean_one_backed_up(tmp_path):
    _gradebook(tmp_path)
    check_integrity(tmp_path)
    saved = backup(tmp_path)
    assert saved.exists() and saved.parent.name == "gradebook-backups"
    with sqlite3.connect(tmp_path / "gradebook.db") as db:
        db.execute("CREATE TABLE loot (x)")
    with pytest.raises(GradebookTampered, match="schema"):
        check_integrity(tmp_path)
    with sqlite3.connect(tmp_path / "gradebook.db") as db:
        db.execute("DROP TABLE loot")
        db.execute("CREATE TRIGGER t AFTER UPDATE ON grade BEGIN UPDATE grade SET manual_score"
                   " = -7; END")
    with pytest.raises(GradebookTampered, match="triggers"):
        check_integrity(tmp_path)


def test_an_interpreter_under_tmp_is_not_hidden_by_the_private_tmp(monkeypatch, tmp_path):
    # a CI clone (and its venv) may live under /tmp: the jail's own /tmp tmpfs
    # must be mounted before the interpreter's binds, or it hides them
    monkeypatch.setattr(sys, "prefix", "/tmp/some-clone/.venv")
    j = jail.Jail.__new__(jail.Jail)
    argv = j.command(["python"], tmp_path, package=tmp_path)
    tmpfs = argv.index("/tmp", argv.index("--tmpfs"))
    binds = [i for i, a in enumerate(argv) if a == "/tmp/some-clone/.venv" and argv[i - 1] == "--ro-bind"]
    assert binds and all(tmpfs < i for i in binds), argv


def _kernel_run(cage, source: str, folder):
    """Execute one code cell in a jailed kernel; its stdout."""
    import nbformat
    from nbclient import NotebookClient

    os.environ[jail.JAIL_ENV] = str(cage.root)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
    NotebookClient(nb, timeout=120, kernel_name="python3",
                   kernel_manager_class=jail._kernel_manager_class(),
                   resources={"metadata": {"path": str(folder)}}).execute()
    return "".join(o.get("text", "") for o in nb.cells[0].outputs)


#: three Adam steps of descentlab's element-wise kernel; prints the state's bytes
_ADAM_STEPS = """
import numpy as np
from descentlab.optim import adam
rng = np.random.default_rng(7)
p, m, v = rng.standard_normal(1000), np.zeros(1000), np.zeros(1000)
for t in (1, 2, 3):
    adam.adam_kernel(p, rng.standard_normal(1000), m, v, v, t, 0.1, 0.9, 0.999, 1e-8, 0.01,
                     False, False, False)
print(p.tobytes().hex(), m.tobytes().hex(), v.tobytes().hex())
"""


@needs_bwrap
def test_graded_kernels_run_descentlab_as_plain_python_and_get_the_compiled_bits(
        tmp_path, monkeypatch):
    """Inside the sandbox Numba is not even imported, so there is no compiled-code cache
    to share between students or to poison; the plain-Python reference gives the same
    bits as the grader's compiled one.  Nor is there a debugger to attach."""

    monkeypatch.delenv(jail.JAIL_ENV, raising=False)
    monkeypatch.delenv("NUMBA_DISABLE_JIT", raising=False)
    cage = jail.Jail()
    try:
        probe = ("import sys\nfrom descentlab.optim import adam\n"
                 "from ipykernel.debugger import _is_debugpy_available\n"
                 "print('numba' in sys.modules, type(adam.adam_kernel.serial).__name__,\n"
                 "      _is_debugpy_available)")
        assert _kernel_run(cage, probe, tmp_path).split() == ["False", "function", "False"]
        inside = _kernel_run(cage, _ADAM_STEPS, tmp_path).split()
    finally:
        cage.cleanup()
    compiled = subprocess.run(
        [sys.executable, "-c", _ADAM_STEPS + "from numba.core.dispatcher import Dispatcher\n"
         "assert isinstance(adam.adam_kernel.serial, Dispatcher)"],
        capture_output=True, text=True, check=True, env={**os.environ}).stdout.split()
    assert len(inside) == 3 and inside == compiled


@needs_bwrap
def test_a_kernel_whose_shutdown_fails_is_killed_and_a_stuck_heartbeat_does_not_hang_the_grader(
        monkeypatch, tmp_path):
    """The stall that once stopped a whole grading run: a failed shutdown request left a live
    kernel behind, and joining its client's heartbeat thread waited for ever."""
    import asyncio
    import time

    from jupyter_client.manager import AsyncKernelManager

    async def refused(self, now=False, restart=False):
        raise RuntimeError("control channel broken by the student")

    async def never(self):  # a heartbeat thread stuck in a ping nobody answers
        await asyncio.Event().wait()

    monkeypatch.setattr(AsyncKernelManager, "_async_shutdown_kernel", refused)
    monkeypatch.setattr(jail._kernel_client_class().hb_channel_class, "_async_run", never)
    monkeypatch.setattr(jail, "HEARTBEAT_JOIN", 1.0)
    monkeypatch.delenv(jail.JAIL_ENV, raising=False)
    cage = jail.Jail()
    try:
        started = time.monotonic()
        out = _kernel_run(cage, "import os\nprint(os.getpid())", tmp_path)
        # the kernel is PID 2 or 3 in its own namespace: find it from outside by its scratch
        assert out.strip().isdigit()
        assert time.monotonic() - started < 120
        left = [p for p in os.listdir("/proc") if p.isdigit()
                and _cmdline(p).startswith(jail.BWRAP) and str(cage.root) in _cmdline(p)]
        assert left == [], "a jailed kernel outlived its notebook"
    finally:
        cage.cleanup()


def _cmdline(pid: str) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""
