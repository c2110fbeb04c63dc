"""Running a submission's code in a separate process, away from the reference.

The grading checks run here, in the trusted process; only the student's
function runs over there (:mod:`descentlab.grading._child`).  Arguments go
over a pipe, results and the arguments as the function left them come back,
so the checks see exactly what an in-process call would have shown them.
Nothing the student's code does (monkeypatching ``descentlab.grading``,
redefining numpy functions, importing the reference) can reach the checks or
the reference values.

Nothing crosses back as code: answers are data-only messages
(:mod:`descentlab.grading.wire`, JSON and raw array bytes, never pickle), with
size and depth limits, and identity (an answer sharing an array with an
argument) travels as data.  With a :class:`~descentlab.grading.jail.Jail`
the child runs in bubblewrap: no view of the course, the solutions or the
reference's files, its own PID namespace, no network, as ``nobody``.
"""

from __future__ import annotations

import os
import resource
import select
import signal
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

from . import wire

__all__ = ["StudentProcess", "RemoteFunction", "RemoteError", "ProtocolError"]

CHILD = Path(__file__).with_name("_child.py")


class RemoteError(Exception):
    """The student's function raised (or could not be called) in the sandbox."""


class ProtocolError(RemoteError):
    """The student's process answered with something that is not a valid message."""


def _limits(memory_bytes: int):
    def apply():
        os.setsid()
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    return apply


def _death(returncode) -> str:
    if returncode is None:
        return "the student process stopped answering"
    if returncode < 0 or returncode > 128:
        number = -returncode if returncode < 0 else returncode - 128
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = f"signal {number}"
        why = {"SIGKILL": " (a memory, time or process limit, or os.kill)",
               "SIGXCPU": " (its CPU time limit)", "SIGXFSZ": " (its file size limit)",
               "SIGSEGV": " (a crash)"}.get(name, "")
        return f"the student process was killed by {name}{why}"
    return f"the student process exited with status {returncode}"


class StudentProcess:
    """A child interpreter holding one submission's code.

    Cells run one at a time with :meth:`run_cell` (or all at once when
    ``cells``, (index, source) pairs, are given); a failing cell is recorded
    in :attr:`cell_errors` and the next one still runs.  ``jail`` (a
    :class:`~descentlab.grading.jail.Jail`) runs the child in bubblewrap;
    without one it is an ordinary child process (``--unsafe-no-sandbox``).

    :attr:`dead` says why the child can no longer answer; :attr:`started`
    is False when it never came up (the sandbox's fault, not the student's).
    """

    def __init__(self, cells: list[tuple[int, str]] | None = None,
                 forbidden: tuple[str, ...] = (), call_timeout: float = 60.0,
                 cell_timeout: int = 60, memory_bytes: int = 4 << 30, jail=None):
        self.call_timeout = call_timeout
        self.cell_timeout = int(cell_timeout)
        self.dead: str | None = None
        self.started = False
        self.protocol_errors: list[str] = []
        self.cell_errors: dict[int, str] = {}
        self._home = tempfile.TemporaryDirectory(prefix="descentlab-student-")
        read_fd, write_fd = os.pipe()
        if jail is not None:
            from .jail import INSIDE_PKG, _hidden_packages, limits

            package = jail.child_package(tuple(forbidden))
            argv = jail.command([sys.executable, "-I", "-B", f"{INSIDE_PKG}/grader/_child.py"],
                                self._home.name, package=package,
                                hide=_hidden_packages(tuple(forbidden)))
            env, preexec = jail.env(), limits(memory_bytes)
        else:
            argv = [sys.executable, "-B", str(CHILD)]
            env = {k: v for k, v in os.environ.items() if not k.startswith(("NBGRADER", "JPY"))}
            env.update(MPLBACKEND="Agg", PYTHONWARNINGS="ignore", HOME=self._home.name,
                       MPLCONFIGDIR=self._home.name, PYTHONDONTWRITEBYTECODE="1")
            preexec = _limits(memory_bytes)
        try:
            self._proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=write_fd,
                                          stderr=subprocess.DEVNULL, env=env, cwd=self._home.name,
                                          preexec_fn=preexec)
        except OSError as exc:
            os.close(read_fd)
            self._proc = None
            self.dead = f"the sandbox could not be started ({exc})"
            return
        finally:
            os.close(write_fd)
        self._out = read_fd
        hello = self._receive(timeout=120)
        if not (hello and hello[0] == "hello"):
            self._kill(self.dead or "it never said hello")
            self.dead = f"the sandbox could not be started: {self.dead}"
            return
        self.started = True
        self._send(("setup", tuple(forbidden), self.cell_timeout))
        if self._receive(timeout=60) != ("ready",):
            self._kill(self.dead or "it did not set up")
        for index, source in cells or ():
            self.run_cell(index, source)

    # -- protocol ---------------------------------------------------------
    def _send(self, message) -> dict:
        data, numbered = wire.pack(message)
        try:
            self._proc.stdin.write(data)
            self._proc.stdin.flush()
        except (BrokenPipeError, OSError):
            self.dead = self.dead or _death(self._proc.poll())
        return numbered

    def _read_exactly(self, n: int, timeout: float) -> bytes | None:
        chunks, remaining = [], n
        while remaining:
            ready, _, _ = select.select([self._out], [], [], timeout)
            if not ready:
                return None
            chunk = os.read(self._out, min(remaining, 1 << 24))
            if not chunk:
                return None
            chunks.append(chunk)
            remaining -= len(chunk)
        return b"".join(chunks)

    def _receive(self, timeout: float, adopt: dict | None = None):
        if self.dead or self._proc is None:
            return None
        header = self._read_exactly(8, timeout)
        if header is None:
            self._kill(f"no answer within {timeout:.0f} s" if self._proc.poll() is None
                       else _death(self._proc.poll()))
            return None
        (size,) = struct.unpack("<Q", header)
        if size > wire.MAX_BYTES + (1 << 20):
            return self._protocol(f"an answer of {size} bytes (the limit is "
                                  f"{wire.MAX_BYTES >> 20} MiB)")
        body = self._read_exactly(size, timeout)
        if body is None:
            self._kill("the student process stopped mid-answer")
            return None
        try:
            message, _ = wire.unpack(body, adopt)
        except wire.WireError as exc:
            return self._protocol(str(exc))
        except (RecursionError, MemoryError) as exc:
            return self._protocol(f"{type(exc).__name__} while reading the answer")
        if type(message) is not tuple or not message or type(message[0]) is not str:
            return self._protocol(f"an answer of type {type(message).__name__}")
        return message

    def _protocol(self, why: str):
        self.protocol_errors.append(why)
        self._kill(f"protocol error: {why}")
        return None

    def _kill(self, why: str) -> None:
        self.dead = self.dead or why
        if self._proc is not None and self._proc.poll() is None:
            try:
                os.killpg(self._proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                self._proc.kill()
        if self._proc is not None:
            self._proc.wait()

    # -- API ----------------------------------------------------------------
    def run_cell(self, index: int, source: str) -> str | None:
        """Run one notebook cell; its error (or why it could not run), None if it ran."""
        if self.dead:
            return f"not run: {self.dead}"
        self._send(("exec", int(index), str(source)))
        reply = self._receive(self.cell_timeout + 15)
        if reply is None:
            error = f"not run: {self.dead}"
        elif len(reply) == 2 and reply[0] == "done" and (reply[1] is None or type(reply[1]) is str):
            error = reply[1]
        else:
            self._protocol("an unexpected reply to a cell")
            error = f"not run: {self.dead}"
        if error is not None:
            self.cell_errors[index] = error
        return error

    def call(self, name: str, args: tuple, kwargs: dict):
        if self.dead:
            raise RemoteError(f"RuntimeError: not run: {self.dead}")
        try:
            sent = self._send(("call", name, tuple(args), dict(kwargs)))
        except wire.WireError as exc:
            raise RemoteError(f"TypeError: the arguments could not be sent ({exc})") from None
        reply = self._receive(self.call_timeout, adopt=sent)
        if reply is None:
            kind = ProtocolError if self.protocol_errors else RemoteError
            raise kind(f"TimeoutError: {name} did not return: {self.dead}")
        if reply[0] == "ok" and len(reply) == 5 and reply[1] in ("value", "iterator"):
            return reply[1], reply[2]
        if reply[0] in ("raised", "missing") and len(reply) == 2 and type(reply[1]) is str:
            raise RemoteError(reply[1])
        self._protocol(f"an unexpected reply {reply[0]!r:.40}")
        raise ProtocolError(f"RuntimeError: {name} did not return: {self.dead}")

    def function(self, name: str) -> RemoteFunction:
        return RemoteFunction(self, name)

    def close(self) -> None:
        if self._proc is not None:
            if self._proc.poll() is None:
                try:
                    self._send(("bye",))
                    self._proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    pass
            # the whole sandbox goes, whatever the student left running in it
            self._kill("closed")
            if self._proc.stdin:
                try:
                    self._proc.stdin.close()
                except OSError:
                    pass
            os.close(self._out)
        self._home.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


class RemoteFunction:
    """Calls a function that lives in a :class:`StudentProcess`, as if it were local.

    The arguments as the function left them are written back into the
    caller's objects (:func:`descentlab.grading.wire.unpack`'s ``adopt``), and
    an answer that shares an object with an argument shares it here too.
    """

    def __init__(self, process: StudentProcess, name: str):
        self.process = process
        self.__name__ = self.__qualname__ = name

    def __call__(self, *args, **kwargs):
        kind, result = self.process.call(self.__name__, args, kwargs)
        return iter(result) if kind == "iterator" else result
