"""The sandbox every piece of student code runs in: bubblewrap (``bwrap``).

Both nbgrader's kernel and the verification child run as::

    bwrap --unshare-all --uid 65534 --gid 65534 --die-with-parent --new-session
          (read-only: the system, the interpreter, the venv, a copy of the package)
          (writable: one private scratch folder holding this submission only)

so student code has its own mount, PID, network, IPC and user namespaces: it
sees no ``solutions/``, no course folder (gradebook, other submissions), not
the repository's ``lib/``, cannot signal the grader or another student, has
no network, and everything it started dies with the submission.  Resource
limits (memory, file size, processes, core dumps) are set on the way in; CPU
is limited per cell, not per life (see ``_child.py`` and the kernel's
per-cell timeout).

The package the sandbox sees is a read-only, non-editable copy made for the
run (:class:`Jail`): the kernel gets the whole package (its test cells call
the checks), the verification child gets it without the forbidden modules
(the references are not even on its disk), and forbidden third-party
packages (torch) are hidden under an empty folder.

Inside, descentlab runs as the plain Python it is written in
(``NUMBA_DISABLE_JIT=1``, and :mod:`descentlab._jit` then does not even
import Numba).  Its kernels give the same bits either way (``make test``
runs the library's tests both ways), and a graded notebook calls them on a
few small arrays: loading compiled code from a cache cost each kernel more
CPU than running the Python, and a cache is one more thing a submission
could poison.  The trusted grading process keeps its compiled references.

The uid inside is ``nobody``; bubblewrap maps it to the grader's uid
outside, without any capability, so the interpreter is reachable wherever it
is installed (even under a private home directory) while everything the
sandbox can see is read-only except its scratch.
"""

from __future__ import annotations

import importlib.util
import os
import resource
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
from functools import lru_cache
from pathlib import Path

__all__ = ["BWRAP", "unavailable", "Jail", "PACKAGE"]

BWRAP = shutil.which("bwrap") or "/usr/bin/bwrap"
PACKAGE = Path(__file__).resolve().parents[1]          # lib/descentlab
INSIDE_HOME = "/home/student"
INSIDE_PKG = "/opt/descentlab"

#: system folders shown read-only (those that exist)
SYSTEM = ("/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin")
#: the few files of /etc programs need; not /etc itself (it holds the hosts' secrets)
ETC = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime",
       "/etc/fonts", "/etc/ssl", "/etc/alternatives", "/etc/passwd", "/etc/group",
       "/etc/nsswitch.conf", "/etc/mime.types", "/etc/matplotlibrc")

MEMORY_BYTES = 4 << 30
FILE_BYTES = 1 << 30
#: /tmp inside is a tmpfs of this size (its pages are memory, outside RLIMIT_AS)
TMP_BYTES = 256 << 20
#: processes (and threads) a submission may add on top of those its uid already runs
PROCESSES = 512


@lru_cache(maxsize=1)
def unavailable() -> str | None:
    """None when bubblewrap can sandbox here, else the reason it cannot."""
    if not os.path.exists(BWRAP):
        return (f"bubblewrap is not installed ({BWRAP} not found); install the Debian package "
                "'bubblewrap' (make sandbox-tools)")
    probe = [BWRAP, *_namespaces(), *_binds_for_python(), "--proc", "/proc", "--dev", "/dev",
             sys.executable, "-I", "-c", "import os; print(os.getuid())"]
    try:
        done = subprocess.run(probe, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bubblewrap could not start a sandbox ({exc})"
    if done.returncode != 0 or done.stdout.strip() != "65534":
        return (f"bubblewrap could not start a sandbox here (exit {done.returncode}: "
                f"{done.stderr.strip()[:300]}); user namespaces may be disabled")
    return None


def _namespaces() -> list[str]:
    return ["--unshare-all", "--uid", "65534", "--gid", "65534", "--die-with-parent",
            "--new-session", "--hostname", "sandbox"]


def _binds_for_python() -> list[str]:
    args = []
    for path in SYSTEM:
        if os.path.isdir(path):
            args += ["--ro-bind", path, path] if not os.path.islink(path) else \
                    ["--symlink", os.readlink(path), path]
    for path in ETC:
        if os.path.exists(path):
            args += ["--ro-bind", path, path]
    seen = set()
    for prefix in (sys.base_prefix, sys.prefix, os.path.dirname(os.path.dirname(sys.executable))):
        prefix = os.path.realpath(prefix)
        if prefix not in seen and not any(prefix.startswith(p + "/") for p in SYSTEM):
            seen.add(prefix)
            args += ["--ro-bind", prefix, prefix]
    # the venv's interpreter may be a symlink into base_prefix: bind where it points too
    real = os.path.dirname(os.path.dirname(os.path.realpath(sys.executable)))
    if real not in seen and not any(real.startswith(p + "/") for p in SYSTEM):
        args += ["--ro-bind", real, real]
    if os.path.realpath(sys.prefix) != sys.prefix:
        args += ["--ro-bind", os.path.realpath(sys.prefix), sys.prefix]
    return args


def _processes_of_this_uid() -> int:
    uid, count = os.getuid(), 0
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid == uid:
                    count += len(os.listdir(f"/proc/{entry.name}/task"))
            except OSError:
                continue
    return count


def limits(memory_bytes: int = MEMORY_BYTES, file_bytes: int = FILE_BYTES):
    """A preexec_fn setting the sandbox's resource limits.

    RLIMIT_NPROC counts the outside uid's processes, which the sandbox shares
    with the grader, so the limit is what runs now plus :data:`PROCESSES`.
    """
    nproc = _processes_of_this_uid() + PROCESSES

    def apply():
        try:
            os.setsid()  # a group of its own, so killing it kills everything it started
        except OSError:
            pass  # already a session leader (jupyter_client asks for a new session)
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
        resource.setrlimit(resource.RLIMIT_FSIZE, (file_bytes, file_bytes))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
    return apply


def _readonly_tree(root: Path) -> None:
    for path in [root, *root.rglob("*")]:
        mode = path.lstat().st_mode
        if not stat.S_ISLNK(mode):
            path.chmod(mode & ~0o222)


def _hidden_packages(forbidden: tuple[str, ...]) -> list[str]:
    """Folders (or files) of forbidden third-party packages, to hide from the child."""
    found = []
    for name in sorted({f.split(".")[0] for f in forbidden} - {"descentlab"}):
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            continue
        if spec is None:
            continue
        for location in spec.submodule_search_locations or [spec.origin]:
            if location and os.path.exists(location):
                found.append(os.path.realpath(location))
    return found


@lru_cache(maxsize=1)
def _hidden_from_kernels() -> tuple[str, ...]:
    """What a graded kernel does without: the debugger ipykernel loads when it can (a
    graded kernel is never debugged, and loading it was about 0.1 s of CPU at every kernel's
    start)."""
    return tuple(_hidden_packages(("debugpy",)))


class Jail:
    """The read-only package copies for one grading run, and the bwrap command lines.

    ``root`` holds ``kernel/descentlab`` (the whole package) and, per set of
    forbidden modules, ``child-<n>/descentlab`` without them plus the child's
    two scripts.  Nothing there is writable, inside or outside the sandbox.
    """

    def __init__(self, root: Path | str | None = None):
        if root is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="descentlab-jail-")
            root = self._tmp.name
        self.root = Path(root)
        kernel = self.root / "kernel"
        if not kernel.exists():
            shutil.copytree(PACKAGE, kernel / "descentlab",
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.nbi", "*.nbc"))
            _readonly_tree(kernel)

    def child_package(self, forbidden: tuple[str, ...]) -> Path:
        """A copy of the package without the forbidden modules, and the child's scripts."""
        key = str(abs(hash(tuple(sorted(forbidden)))))
        where = self.root / f"child-{key}"
        if where.exists():
            return where
        staging = Path(tempfile.mkdtemp(dir=self.root, prefix=".staging-"))
        shutil.copytree(self.root / "kernel" / "descentlab", staging / "descentlab")
        for path in (staging / "descentlab").rglob("*"):
            path.chmod(path.stat().st_mode | 0o200)
        for name in forbidden:
            if name == "descentlab" or not name.startswith("descentlab."):
                continue
            stem = staging.joinpath(*name.split("."))
            shutil.rmtree(stem, ignore_errors=True)
            stem.with_suffix(".py").unlink(missing_ok=True)
        (staging / "grader").mkdir()
        for script in ("_child.py", "wire.py"):
            shutil.copy2(PACKAGE / "grading" / script, staging / "grader" / script)
        _readonly_tree(staging)
        try:
            staging.rename(where)
        except OSError:  # another worker made it first
            shutil.rmtree(staging, ignore_errors=True)
        return where

    def command(self, argv: list[str], scratch: Path | str, *, package: Path,
                hide: list[str] = (), rw: list[str] = (), ro: list[tuple[str, str]] = ()) -> list[str]:
        """``argv`` wrapped in bwrap, with ``scratch`` as the writable home and cwd."""
        # the private /tmp first: a venv or checkout that lives under /tmp (a CI clone)
        # is bound over it afterwards, not hidden by it
        args = [BWRAP, *_namespaces(), "--size", str(TMP_BYTES), "--tmpfs", "/tmp",
                *_binds_for_python(), "--proc", "/proc", "--dev", "/dev",
                "--dir", "/home", "--bind", str(scratch), INSIDE_HOME,
                "--ro-bind", str(package), INSIDE_PKG]
        for outside, inside in ro:
            args += ["--ro-bind", str(outside), inside]
        for path in rw:
            args += ["--bind", str(path), str(path)]
        for path in hide:
            args += ["--tmpfs", path] if os.path.isdir(path) else ["--ro-bind", "/dev/null", path]
        # bwrap's own root is a tmpfs: read-only, so nothing is written outside scratch and /tmp
        # inside, the parent is bwrap as PID 1, which ipykernel's parent poller takes for an
        # orphaned kernel; --die-with-parent does that job instead
        args += ["--unsetenv", "JPY_PARENT_PID", "--remount-ro", "/", "--chdir", INSIDE_HOME, "--"]
        return args + list(argv)

    def env(self, extra: dict | None = None) -> dict:
        """The environment inside: nothing of the grader's but what Python needs."""
        keep = ("PATH", "LANG", "LC_ALL", "TZ")
        env = {k: os.environ[k] for k in keep if k in os.environ}
        # NUMBA_DISABLE_JIT: descentlab runs as the plain Python it is written in (see the
        # module's docstring); nothing compiled, so no compiled-code cache to share or poison
        env.update(HOME=INSIDE_HOME, PYTHONPATH=INSIDE_PKG, PYTHONNOUSERSITE="1",
                   PYTHONDONTWRITEBYTECODE="1", MPLBACKEND="Agg",
                   MPLCONFIGDIR=f"{INSIDE_HOME}/.config/matplotlib", TMPDIR=INSIDE_HOME,
                   NUMBA_DISABLE_JIT="1",
                   OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
                   NUMBA_NUM_THREADS="1")
        env.update(extra or {})
        return env

    def cleanup(self) -> None:
        for path in [self.root, *self.root.rglob("*")]:
            if path.is_dir() and not path.is_symlink():
                path.chmod(path.stat().st_mode | 0o700)
        if getattr(self, "_tmp", None) is not None:
            self._tmp.cleanup()


# -- nbgrader's kernel, in the same sandbox --------------------------------------------------

#: set by the grader for the run: the Jail root whose package copy kernels import
JAIL_ENV = "DESCENTLAB_JAIL"


#: seconds a whole notebook's kernel may live (set per submission by the grader)
BUDGET_ENV = "DESCENTLAB_KERNEL_BUDGET"


def _kill_group(process) -> None:
    if process is None or process.poll() is not None:
        return  # gone already: its pid may belong to someone else by now
    try:
        os.killpg(process.pid, 9)
    except OSError:
        pass


#: seconds the grader waits for a kernel client's heartbeat thread to stop
HEARTBEAT_JOIN = 10.0


@lru_cache(maxsize=1)
def _kernel_client_class():
    from jupyter_client.asynchronous import AsyncKernelClient
    from jupyter_client.channels import HBChannel

    class BoundedHBChannel(HBChannel):
        """A heartbeat whose stop cannot hang the grader.

        jupyter_client's ``stop`` joins the heartbeat thread for ever.  Once a
        kernel is gone that thread may sit in a ping that is never answered (its
        IPC socket has no peer any more), and the grader with it: this is how a
        whole grading run once stalled behind one student.  The thread is a
        daemon; after :data:`HEARTBEAT_JOIN` seconds it is left to die with
        the worker.
        """

        def stop(self) -> None:
            self._running = False
            self._exit.set()
            self.join(HEARTBEAT_JOIN)
            if not self.is_alive():
                self.close()

    class JailedKernelClient(AsyncKernelClient):
        hb_channel_class = BoundedHBChannel

    return JailedKernelClient


@lru_cache(maxsize=1)
def _kernel_manager_class():
    from jupyter_client.manager import AsyncKernelManager

    class JailedKernelManager(AsyncKernelManager):
        """nbgrader's kernel inside bubblewrap.

        The kernel talks to nbgrader over ZeroMQ's IPC transport: Unix sockets
        in a private runtime folder that is the only thing (besides a copy of
        the submission's folder, its scratch) the sandbox may write.  A
        Unix socket works across network namespaces, TCP on localhost would not.
        Interrupts go as messages: a signal to bwrap would not reach the kernel.
        """

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.jail = Jail(os.environ[JAIL_ENV])
            self._runtime = Path(tempfile.mkdtemp(prefix="descentlab-kernel-"))
            self._scratch = Path(tempfile.mkdtemp(prefix="descentlab-scratch-"))
            self.transport = "ipc"
            self.ip = str(self._runtime / "kernel")
            self.connection_file = str(self._runtime / "connection.json")
            self.client_factory = _kernel_client_class()

        async def _async_pre_start_kernel(self, **kw):
            cwd = kw.pop("cwd", None)
            if cwd and os.path.isdir(cwd):
                # the kernel works on its own copy of this submission's folder, nothing else
                shutil.copytree(cwd, self._scratch, dirs_exist_ok=True, symlinks=True)
            kw["env"] = self.jail.env()
            kw["cwd"] = str(self._scratch)
            # its banner and log are not the grader's output (results come over the sockets)
            kw["stdout"] = kw["stderr"] = subprocess.DEVNULL
            cmd, kw = await super()._async_pre_start_kernel(**kw)
            kw["preexec_fn"] = limits()
            return cmd, kw

        def format_kernel_cmd(self, extra_arguments=None):
            self.kernel_spec.interrupt_mode = "message"
            cmd = super().format_kernel_cmd(extra_arguments)
            return self.jail.command(cmd, self._scratch, package=self.jail.root / "kernel",
                                     rw=[str(self._runtime)], hide=_hidden_from_kernels())

        async def _async_interrupt_kernel(self):
            # by message (a signal to bwrap would not reach the kernel), and never blocking:
            # a dead kernel's IPC socket has no peer, and a plain send would wait for ever
            import zmq

            if not await self._async_is_alive():
                return
            msg = self.session.msg("interrupt_request", content={})
            self._connect_control_socket()
            self._control_socket.setsockopt(zmq.SNDTIMEO, 2000)
            self._control_socket.setsockopt(zmq.LINGER, 0)
            try:
                self.session.send(self._control_socket, msg)
            except zmq.ZMQError:
                pass

        # AsyncKernelManager binds interrupt_kernel to the base coroutine at class creation
        interrupt_kernel = _async_interrupt_kernel

        async def _async_launch_kernel(self, kernel_cmd, **kw):
            await super()._async_launch_kernel(kernel_cmd, **kw)
            # a notebook gets its cells' time and no more: a kernel whose sockets a student
            # broke (nbclient would wait on it for ever) is killed, and nbgrader moves on
            budget = float(os.environ.get(BUDGET_ENV, "0") or 0)
            if budget > 0:
                self._watchdog = threading.Timer(budget, _kill_group, (self.provisioner.process,))
                self._watchdog.daemon = True
                self._watchdog.start()

        async def _async_shutdown_kernel(self, now=False, restart=False):
            process = getattr(self.provisioner, "process", None)
            try:
                await super()._async_shutdown_kernel(now=now, restart=restart)
            except Exception:  # noqa: BLE001 - e.g. a control channel the student broke
                pass
            if not restart:
                # whatever happened above, nothing of this submission outlives its grading
                _kill_group(process)

        shutdown_kernel = _async_shutdown_kernel

        async def _async_cleanup_resources(self, restart=False):
            if not restart:
                # nbclient skips the shutdown of a kernel it thinks dead: kill before the
                # watchdog goes, or a live kernel is left with no one to stop it
                _kill_group(getattr(self.provisioner, "process", None))
            if getattr(self, "_watchdog", None) is not None:
                self._watchdog.cancel()
            await super()._async_cleanup_resources(restart=restart)
            if not restart:
                shutil.rmtree(self._runtime, ignore_errors=True)
                shutil.rmtree(self._scratch, ignore_errors=True)

        cleanup_resources = _async_cleanup_resources

    return JailedKernelManager


def __getattr__(name):
    if name == "JailedKernelManager":
        return _kernel_manager_class()
    if name == "JailedKernelClient":
        return _kernel_client_class()
    raise AttributeError(name)
