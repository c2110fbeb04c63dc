"""The student side of the grading sandbox.  Run as a script, never imported.

It imports nothing from descentlab, so the reference implementations are not
in this process at all, and an import hook refuses the forbidden modules to
the student's code.  Requests arrive on stdin and answers leave on a private
file descriptor as length-prefixed pickles; the student's prints go to
/dev/null (fd 1 and 2 are redirected, so even C-level writes cannot corrupt
the protocol).
"""

import importlib.abc
import itertools
import linecache
import os
import pickle
import signal
import struct
import sys


def _send(fd, message):
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    os.write(fd, struct.pack("<Q", len(data)))
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _receive(stream):
    header = stream.read(8)
    if len(header) < 8:
        return None
    (size,) = struct.unpack("<Q", header)
    return pickle.loads(stream.read(size))


class _Refuse(importlib.abc.MetaPathFinder):
    def __init__(self, forbidden):
        self.forbidden = tuple(forbidden)

    def find_spec(self, name, path=None, target=None):
        if any(name == f or name.startswith(f + ".") for f in self.forbidden):
            raise ImportError(f"{name} is not available to graded code: it is (or contains) the "
                              "reference you are asked to implement")
        return None


class _CellTimeout(Exception):
    pass


def _alarm(signum, frame):
    raise _CellTimeout("this cell ran out of time")


def _describe(exc):
    return f"{type(exc).__name__}: {exc}"


def _materialise(result, limit=100_000):
    # generators cannot travel between processes: send what they yield
    if hasattr(result, "__next__") and not isinstance(result, (str, bytes, dict, list, tuple)):
        return ("iterator", list(itertools.islice(result, limit)))
    return ("value", result)


def main():
    protocol = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    sys.path[:] = [p for p in sys.path if p and os.path.abspath(p) != os.path.dirname(__file__)]
    stdin = sys.stdin.buffer
    namespace = {"__name__": "__main__"}
    signal.signal(signal.SIGALRM, _alarm)
    while True:
        request = _receive(stdin)
        if request is None or request[0] == "bye":
            return
        if request[0] == "exec":
            _, cells, forbidden, cell_timeout = request
            for name in list(sys.modules):
                if any(name == f or name.startswith(f + ".") for f in forbidden):
                    del sys.modules[name]
            sys.meta_path.insert(0, _Refuse(forbidden))
            errors = {}
            for index, source in cells:
                filename = f"<cell {index}>"
                linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
                signal.alarm(cell_timeout)
                try:
                    exec(compile(source, filename, "exec"), namespace)
                except BaseException as exc:  # noqa: BLE001 - a failing cell is reported, not fatal
                    if isinstance(exc, (KeyboardInterrupt,)):
                        raise
                    errors[index] = _describe(exc)
                finally:
                    signal.alarm(0)
            _send(protocol, ("ready", errors))
        elif request[0] == "call":
            _, name, args, kwargs = request
            fn = namespace.get(name)
            if not callable(fn):
                _send(protocol, ("missing", f"NameError: the notebook defines no function {name!r}"))
                continue
            try:
                kind, result = _materialise(fn(*args, **kwargs))
            except BaseException as exc:  # noqa: BLE001 - SystemExit too: it is the student's
                _send(protocol, ("raised", _describe(exc)))
                continue
            try:
                _send(protocol, ("ok", (kind, result, args, kwargs)))
            except Exception as exc:  # noqa: BLE001 - unpicklable results
                _send(protocol, ("raised", f"TypeError: the result could not be sent back ({exc})"))


if __name__ == "__main__":
    main()
