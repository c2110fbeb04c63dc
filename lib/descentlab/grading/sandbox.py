"""Running a submission's code in a separate process, away from the reference.

The grading checks run here, in the trusted process; only the student's
function runs over there (:mod:`descentlab.grading._child`).  Arguments go
over a pipe, results and the arguments as the function left them come back,
so the checks see exactly what an in-process call would have shown them.
Nothing the student's code does (monkeypatching ``descentlab.grading``,
redefining numpy functions, importing the reference) can reach the checks or
the reference values.

When the grader runs as root, the child runs as ``nobody``, so it cannot
rewrite the course's files or the gradebook either.
"""

from __future__ import annotations

import os
import pickle
import pwd
import resource
import select
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

__all__ = ["StudentProcess", "RemoteFunction", "RemoteError"]

CHILD = Path(__file__).with_name("_child.py")


class RemoteError(Exception):
    """The student's function raised (or could not be called) in the sandbox."""


def _limits(memory_bytes: int, cpu_seconds: int):
    def apply():
        os.setsid()
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 5))
    return apply


def _nobody_can_run(python: str) -> bool:
    """Whether the unprivileged user can read the interpreter and our package."""
    try:
        pw = pwd.getpwnam("nobody")
    except KeyError:
        return False
    try:
        probe = subprocess.run([python, "-c", "import numpy, sys; sys.exit(0)"], user=pw.pw_uid,
                               group=pw.pw_gid, capture_output=True, cwd="/", timeout=60,
                               env={"PATH": os.environ.get("PATH", ""), "HOME": "/tmp"})
    except OSError:  # e.g. the interpreter lives under a private home directory
        return False
    return probe.returncode == 0


_NOBODY_OK: bool | None = None


class StudentProcess:
    """A child interpreter holding one submission's code.

    ``cells`` are (index, source) pairs, executed in order; a failing cell is
    recorded in :attr:`cell_errors` and the next one still runs.
    """

    def __init__(self, cells: list[tuple[int, str]], forbidden: tuple[str, ...],
                 call_timeout: float = 60.0, cell_timeout: int = 60,
                 memory_bytes: int = 4 << 30, cpu_seconds: int = 600):
        global _NOBODY_OK
        self.call_timeout = call_timeout
        self.dead: str | None = None
        env = {k: v for k, v in os.environ.items() if not k.startswith(("NBGRADER", "JPY"))}
        self._home = tempfile.TemporaryDirectory(prefix="descentlab-student-")
        env.update(MPLBACKEND="Agg", PYTHONWARNINGS="ignore", HOME=self._home.name,
                   MPLCONFIGDIR=self._home.name, PYTHONDONTWRITEBYTECODE="1")
        kwargs = {}
        if os.geteuid() == 0:
            if _NOBODY_OK is None:
                _NOBODY_OK = _nobody_can_run(sys.executable)
            if _NOBODY_OK:
                pw = pwd.getpwnam("nobody")
                os.chown(self._home.name, pw.pw_uid, pw.pw_gid)
                kwargs.update(user=pw.pw_uid, group=pw.pw_gid, extra_groups=[])
        read_fd, write_fd = os.pipe()
        self._proc = subprocess.Popen(
            [sys.executable, "-B", str(CHILD)], stdin=subprocess.PIPE, stdout=write_fd,
            stderr=subprocess.DEVNULL, env=env, cwd=self._home.name,
            preexec_fn=_limits(memory_bytes, cpu_seconds), **kwargs)
        os.close(write_fd)
        self._out = read_fd
        self._send(("exec", cells, forbidden, int(cell_timeout)))
        # executing the notebook's cells may legitimately take a while
        reply = self._receive(timeout=cell_timeout * max(1, len(cells)) + 30)
        self.cell_errors: dict[int, str] = reply[1] if reply and reply[0] == "ready" else {}
        if reply is None or reply[0] != "ready":
            self.dead = self.dead or "the notebook's code could not be run"

    # -- protocol ---------------------------------------------------------
    def _send(self, message) -> None:
        data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        try:
            self._proc.stdin.write(struct.pack("<Q", len(data)) + data)
            self._proc.stdin.flush()
        except (BrokenPipeError, OSError):
            self.dead = self.dead or "the student process has exited"

    def _read_exactly(self, n: int, timeout: float) -> bytes | None:
        chunks, remaining = [], n
        while remaining:
            ready, _, _ = select.select([self._out], [], [], timeout)
            if not ready:
                return None
            chunk = os.read(self._out, remaining)
            if not chunk:
                return None
            chunks.append(chunk)
            remaining -= len(chunk)
        return b"".join(chunks)

    def _receive(self, timeout: float):
        if self.dead:
            return None
        header = self._read_exactly(8, timeout)
        if header is None:
            self._kill(f"no answer within {timeout:.0f} s" if self._proc.poll() is None
                       else "the student process crashed")
            return None
        body = self._read_exactly(struct.unpack("<Q", header)[0], timeout)
        if body is None:
            self._kill("the student process stopped mid-answer")
            return None
        return pickle.loads(body)

    def _kill(self, why: str) -> None:
        self.dead = self.dead or why
        if self._proc.poll() is None:
            try:
                os.killpg(self._proc.pid, 9)
            except (ProcessLookupError, PermissionError):
                self._proc.kill()
        self._proc.wait()

    # -- API ----------------------------------------------------------------
    def call(self, name: str, args: tuple, kwargs: dict):
        if self.dead:
            raise RemoteError(f"RuntimeError: not run: {self.dead}")
        try:
            self._send(("call", name, args, kwargs))
        except (pickle.PicklingError, TypeError) as exc:
            raise RemoteError(f"TypeError: the arguments could not be sent ({exc})") from None
        reply = self._receive(self.call_timeout)
        if reply is None:
            raise RemoteError(f"TimeoutError: {name} did not return: {self.dead}")
        status, payload = reply
        if status != "ok":
            raise RemoteError(payload)
        return payload

    def function(self, name: str) -> RemoteFunction:
        return RemoteFunction(self, name)

    def close(self) -> None:
        if self._proc.poll() is None:
            self._send(("bye",))
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._kill("closed")
        if self._proc.stdin:
            self._proc.stdin.close()
        os.close(self._out)
        self._home.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def _copy_back(original, after) -> None:
    """Make ``original`` look as the student's function left its copy."""
    if isinstance(original, dict) and isinstance(after, dict):
        original.clear()
        original.update(after)
    elif isinstance(original, list) and isinstance(after, list):
        original[:] = after
    elif (isinstance(original, np.ndarray) and isinstance(after, np.ndarray)
          and original.shape == after.shape and original.dtype == after.dtype
          and original.flags.writeable):
        np.copyto(original, after)
    elif isinstance(original, np.random.Generator) and isinstance(after, np.random.Generator):
        # the generator advanced over there; the next call must continue from there
        original.bit_generator.state = after.bit_generator.state
    elif type(original) is type(after) and hasattr(original, "__dict__"):
        original.__dict__.update(after.__dict__)


class RemoteFunction:
    """Calls a function that lives in a :class:`StudentProcess`, as if it were local."""

    def __init__(self, process: StudentProcess, name: str):
        self.process = process
        self.__name__ = self.__qualname__ = name

    def __call__(self, *args, **kwargs):
        kind, result, args_after, kwargs_after = self.process.call(self.__name__, args, kwargs)
        for original, after in zip(args, args_after):
            _copy_back(original, after)
        for key, original in kwargs.items():
            _copy_back(original, kwargs_after.get(key))
        return iter(result) if kind == "iterator" else result
