"""Detecting a student function that calls the reference instead of implementing it.

Two independent checks:

* statically, every global name the function (and any function it defines)
  reads is looked up; a name bound to an object from a forbidden module
  (``descentlab.optim.Adam``, ``torch.optim``, …) is reported;
* dynamically, while the function runs, a profile hook watches every call;
  entering code that lives in a forbidden module is reported.

Inside the out-of-process verifier the forbidden modules cannot even be
imported (see :mod:`descentlab.grading.sandbox`), which catches anything
these two miss.
"""

from __future__ import annotations

import builtins
import inspect
import sys
import types
from collections.abc import Callable, Iterable

__all__ = ["static_uses", "Tripwire", "ReferenceUsed"]


class ReferenceUsed(Exception):
    """The student's function called into a forbidden (reference) module."""


def _module_of(obj) -> str:
    if isinstance(obj, types.ModuleType):
        return obj.__name__
    module = getattr(obj, "__module__", None)
    if module is None:
        module = getattr(type(obj), "__module__", "") or ""
    py_func = getattr(obj, "py_func", None)  # a Numba dispatcher wraps the real function
    if py_func is not None:
        module = getattr(py_func, "__module__", module)
    return module or ""


def _forbidden(module: str, forbidden: Iterable[str]) -> bool:
    return any(module == f or module.startswith(f + ".") for f in forbidden)


def _code_objects(code: types.CodeType):
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _code_objects(const)


def static_uses(fn: Callable, forbidden: Iterable[str]) -> list[str]:
    """Global names read by ``fn`` that are bound to forbidden objects."""
    forbidden = tuple(forbidden)
    fn = inspect.unwrap(fn)
    code = getattr(fn, "__code__", None)
    if code is None:
        return [] if not _forbidden(_module_of(fn), forbidden) else [getattr(fn, "__name__", "fn")]
    namespace = getattr(fn, "__globals__", {})
    found = []
    for c in _code_objects(code):
        for name in c.co_names:
            obj = namespace.get(name, getattr(builtins, name, None))
            if obj is not None and _forbidden(_module_of(obj), forbidden):
                found.append(f"{name} (from {_module_of(obj)})")
    for cell in fn.__closure__ or ():
        try:
            obj = cell.cell_contents
        except ValueError:
            continue
        if _forbidden(_module_of(obj), forbidden):
            found.append(f"{getattr(obj, '__name__', type(obj).__name__)} (from {_module_of(obj)})")
    return sorted(set(found))


class Tripwire:
    """Context manager that records calls into forbidden modules while active."""

    def __init__(self, forbidden: Iterable[str]):
        self.forbidden = tuple(forbidden)
        self.hits: list[str] = []
        self._paths = self._source_paths()

    def _source_paths(self) -> tuple[str, ...]:
        paths = []
        for name in self.forbidden:
            module = sys.modules.get(name)
            origin = getattr(module, "__file__", None) if module else None
            if origin:
                # a package: everything under its folder; a module: its file
                paths.append(origin.rsplit("/", 1)[0] + "/" if origin.endswith("__init__.py")
                             else origin)
        return tuple(paths)

    def _hook(self, frame, event, arg):
        if self.hits or frame.f_code is _EXIT_CODE:
            return
        if event == "call":
            filename = frame.f_code.co_filename
            module = frame.f_globals.get("__name__", "")
            if (self._paths and filename.startswith(self._paths)) or \
                    _forbidden(module, self.forbidden):
                self.hits.append(f"{frame.f_code.co_qualname} (from {module or filename})")
        elif event == "c_call" and _forbidden(_module_of(arg), self.forbidden):
            self.hits.append(f"{getattr(arg, '__name__', repr(arg))} (from {_module_of(arg)})")

    def __enter__(self):
        self._previous = sys.getprofile()
        sys.setprofile(self._hook)
        return self

    def __exit__(self, *exc):
        sys.setprofile(self._previous)
        return False


_EXIT_CODE = Tripwire.__exit__.__code__
