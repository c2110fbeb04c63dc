"""The student side of the grading sandbox.  Run as a script, never imported.

It imports nothing from descentlab but the message format (``wire.py``,
loaded by path under a private name), so the reference implementations are
not in this process at all, and an import hook refuses the forbidden modules
to the graded functions.  Requests arrive on stdin and answers leave on a
private file descriptor, both as data-only messages (JSON and raw array bytes, see
``wire.py``); the student's prints go to /dev/null (fd 1 and 2 are
redirected, so even C-level writes cannot corrupt the protocol).

The grader trusts nothing this process says beyond "these are the values":
whatever it sends is decoded as plain data, and a malformed answer fails the
part it was for.
"""

import importlib.abc
import importlib.util
import itertools
import linecache
import os
import resource
import signal
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("_descentlab_wire", os.path.join(_HERE, "wire.py"))
wire = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(wire)


def _send(fd, message, origins=None):
    data, _ = wire.pack(message, origins)
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _read(stream, n):
    data = stream.read(n)
    return data if data is not None and len(data) == n else None


def _receive(stream):
    header = _read(stream, 8)
    if header is None:
        return None, {}
    body = _read(stream, int.from_bytes(header, "little"))
    # the grader's messages may carry its objectives (wire.OBJECT_MODULES)
    return wire.unpack(body, build_objects=True) if body is not None else (None, {})


class _Unavailable:
    """Stands in for anything from a forbidden module: usable as a name, fails when used."""

    def __init__(self, name):
        object.__setattr__(self, "_name", name)

    def _refuse(self, *args, **kwargs):
        raise ImportError(f"{self._name} is not available to graded code: it is (or contains) "
                          "the reference you are asked to implement")

    __call__ = __iter__ = __len__ = __bool__ = __array__ = __getitem__ = _refuse

    def __getattr__(self, attr):
        if attr.startswith("__") and attr.endswith("__"):
            raise AttributeError(attr)
        return _Unavailable(f"{self._name}.{attr}")

    def __repr__(self):
        return f"<unavailable {self._name}>"


class _StubModule(type(sys)):
    def __getattr__(self, attr):
        if attr.startswith("__") and attr.endswith("__"):
            raise AttributeError(attr)
        return _Unavailable(f"{self.__name__}.{attr}")


class _Refuse(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Forbidden modules import as stand-ins: a scratch cell may ``import torch`` to compare
    (good practice), but calling anything from it fails with a message saying why."""

    def __init__(self, forbidden):
        self.forbidden = tuple(forbidden)

    def find_spec(self, name, path=None, target=None):
        if any(name == f or name.startswith(f + ".") for f in self.forbidden):
            return importlib.util.spec_from_loader(name, self, is_package=True)
        return None

    def create_module(self, spec):
        module = _StubModule(spec.name)
        module.__path__ = []
        return module

    def exec_module(self, module):
        pass


class _CellTimeout(Exception):
    pass


def _alarm(signum, frame):
    raise _CellTimeout("this cell ran out of time")


def _cpu(signum, frame):
    raise _CellTimeout("this cell ran out of CPU time")


def _describe(exc):
    return f"{type(exc).__name__}: {exc}"


def _budget(seconds):
    """A CPU budget for one cell or call, on top of what was used so far (not one for life)."""
    used = resource.getrusage(resource.RUSAGE_SELF)
    spent = int(used.ru_utime + used.ru_stime) + 1
    hard = resource.getrlimit(resource.RLIMIT_CPU)[1]
    soft = spent + seconds
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))
    signal.alarm(seconds)


def _materialise(result, limit=100_000):
    # generators cannot travel between processes: send what they yield
    if hasattr(result, "__next__") and not isinstance(result, (str, bytes, dict, list, tuple)):
        return "iterator", list(itertools.islice(result, limit))
    return "value", result


def _forget(forbidden):
    for name in list(sys.modules):
        if any(name == f or name.startswith(f + ".") for f in forbidden):
            del sys.modules[name]


def main():
    protocol = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    os.set_inheritable(protocol, False)
    sys.path[:] = [p for p in sys.path if p and os.path.abspath(p) != _HERE]
    # In the jail, the folder above this script holds the package copy made for
    # this assignment, the forbidden modules removed: the grader's objectives
    # (wire.OBJECT_MODULES) are rebuilt from it, and a scratch import of
    # descentlab works as it does in the notebook.  Outside the jail nothing is added.
    root = os.path.dirname(_HERE)
    if os.path.isdir(os.path.join(root, "descentlab")) and root not in sys.path:
        sys.path.append(root)
    stdin = sys.stdin.buffer
    namespace = {"__name__": "__main__"}
    cell_timeout = 60
    signal.signal(signal.SIGALRM, _alarm)
    signal.signal(signal.SIGXCPU, _cpu)
    _send(protocol, ("hello", os.getpid()))
    while True:
        request, memo = _receive(stdin)
        if request is None or request[0] == "bye":
            return
        if request[0] == "setup":
            _, forbidden, cell_timeout = request
            _forget(forbidden)
            sys.meta_path.insert(0, _Refuse(forbidden))
            _send(protocol, ("ready",))
        elif request[0] == "exec":
            # notebook cells may import anything (a scratch cell comparing with torch is
            # good practice); only the graded calls below run with the guard up
            _, index, source = request
            filename = f"<cell {index}>"
            linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
            error = None
            _budget(cell_timeout)
            try:
                exec(compile(source, filename, "exec"), namespace)
            except BaseException as exc:  # noqa: BLE001 - a failing cell is reported, not fatal
                error = _describe(exc)
            finally:
                signal.alarm(0)
            _send(protocol, ("done", error))
        elif request[0] == "call":
            _, name, args, kwargs = request
            fn = namespace.get(name)
            if not callable(fn):
                _send(protocol, ("missing", f"NameError: the notebook defines no function {name!r}"))
                continue
            origins = {id(obj): n for n, obj in memo.items()}
            _budget(cell_timeout)
            try:
                kind, result = _materialise(fn(*args, **kwargs))
            except BaseException as exc:  # noqa: BLE001 - SystemExit too: it is the student's
                _send(protocol, ("raised", _describe(exc)))
                continue
            finally:
                signal.alarm(0)
            try:
                _send(protocol, ("ok", kind, result, args, kwargs), origins)
            except Exception as exc:  # noqa: BLE001 - values that are not plain data
                _send(protocol, ("raised", f"TypeError: the answer could not be sent back ({exc})"))


if __name__ == "__main__":
    main()
