"""descentlab: a hands-on course on optimization for deep learning.

The package is the course's numerical reference.  Submodules load on first
use, so ``import descentlab`` is instant and compiles nothing::

    import descentlab as dl
    opt = dl.optim.Adam([w], lr=1e-2)
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_SUBMODULES = ("optim", "schedulers", "init", "layers", "surfaces", "widgets", "data", "models",
               "training", "compare", "grading", "cli", "bench")

__all__ = ["__version__", *_SUBMODULES]


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_SUBMODULES))
