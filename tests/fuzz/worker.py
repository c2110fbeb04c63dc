"""The fuzz child: ``python -m tests.fuzz.worker MODULE EXAMPLES [TARGET_ID ...]``.

Runs a Hypothesis search per target of ``descentlab.MODULE`` (or of the
planted faults in :mod:`.planted` for MODULE ``planted``) and writes one JSON
object per line on stdout:

* ``{"run": id, "example": ...}`` just before each call, flushed, so that if
  the process dies (segfault, abort) the parent knows the example that
  killed it;
* ``{"done": id, "examples": n, "ok": n, "refused": n, "failure": null | text}``
  per target (calls that succeeded, and that raised ValueError/TypeError);
* ``{"end": true}`` when every target has run.

A failure is any exception other than ValueError, TypeError or the target's
documented verdict, or a canary-guarded array written out of bounds.  It is
shrunk by Hypothesis and reported with the minimal example.
"""

from __future__ import annotations

import faulthandler
import json
import sys
import time
import traceback
import warnings

import numpy as np
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from . import registry as R
from . import values as V


class Finding(Exception):
    """A property violation, with the example already described."""


def describe(value, depth: int = 0) -> str:
    """A short, informative repr (arrays by shape, dtype and layout)."""
    if isinstance(value, np.ndarray):
        flags = "".join(f for f, on in (("C", value.flags.c_contiguous),
                                        ("W", value.flags.writeable),
                                        ("A", value.flags.aligned)) if on)
        kind = "" if type(value) is np.ndarray else f"{type(value).__name__} "
        return f"<{kind}array {value.shape} {value.dtype} {flags or '-'} strides={value.strides}>"
    if depth > 2:
        return "..."
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        inner = ", ".join(f"{k}={describe(getattr(value, k), depth + 1)}" for k in value._fields)
        return f"{type(value).__name__}({inner})"
    if isinstance(value, (list, tuple)):
        inner = ", ".join(describe(v, depth + 1) for v in value[:6])
        more = ", ..." if len(value) > 6 else ""
        return f"[{inner}{more}]" if isinstance(value, list) else f"({inner}{more})"
    if isinstance(value, dict):
        inner = ", ".join(f"{k!r}: {describe(v, depth + 1)}" for k, v in list(value.items())[:12])
        return "{" + inner + "}"
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


def _emit(**record) -> None:
    sys.stdout.write(json.dumps(record) + "\n")
    sys.stdout.flush()


def _allowed(target: R.Target) -> tuple[type, ...]:
    allowed = [ValueError, TypeError]
    if target.id in R.VERDICTS:
        import descentlab.grading as G
        allowed += [getattr(G, name) for name in R.VERDICTS[target.id]]
    return tuple(allowed)


def _probe(result, ctx: R.Ctx) -> None:
    """Use what a successful call built or changed, so a bad value it let in
    fails here rather than in some later, unrelated call."""
    import descentlab.optim as O
    import descentlab.schedulers as S
    import descentlab.surfaces as SF

    for obj in (result, ctx.instance):
        if isinstance(obj, O.Optimizer):
            obj.step([np.ones_like(p) for p in obj.params])
            obj.load_state_dict(obj.state_dict())
        elif isinstance(obj, S.LRScheduler):
            for _ in range(3):
                obj.optimizer.step([np.ones_like(p) for p in obj.optimizer.params])
                obj.step(1.0) if isinstance(obj, S.ReduceLROnPlateau) else obj.step()
            obj.load_state_dict(obj.state_dict())
        elif isinstance(obj, SF.Surface):
            obj.value(0.25, -0.5)
            obj.value_and_grad(np.linspace(-1, 1, 3), 0.5)
            SF.trajectory("Adam", obj, steps=2, lr=0.01)
    name = getattr(ctx.target.fn, "__name__", "")
    if ctx.target.owner is None and name.endswith("_forward") and isinstance(result, tuple):
        import importlib
        backward = getattr(importlib.import_module(f"descentlab.{ctx.target.module}"),
                           name.replace("_forward", "_backward"), None)
        if backward is not None:
            out, cache = result
            backward(np.ones_like(out), cache)


def fuzz(target: R.Target, examples: int) -> tuple[int, dict[str, int], str | None]:
    allowed = _allowed(target)
    count = 0
    outcomes = {"ok": 0, "refused": 0}

    @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck), report_multiple_bugs=False,
              phases=[Phase.explicit, Phase.generate, Phase.shrink], print_blob=False)
    @given(st.data())
    def run(data):
        nonlocal count
        guards = V.Guards.start()
        fn, kwargs, ctx = R.draw_call(data, target, guards)
        example = f"{target.id}(" + ", ".join(f"{k}={describe(v)}" for k, v in kwargs.items()) + ")"
        if ctx.instance is not None:
            example += f" on {describe(ctx.instance)}"
        _emit(run=target.id, example=example)
        count += 1
        try:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                result = fn(**kwargs)
                _probe(result, ctx)
            outcomes["ok"] += 1
        except allowed:
            outcomes["refused"] += 1
        except Exception as exc:  # noqa: BLE001 - any other exception is the finding
            tb = "".join(traceback.format_exception(exc)[-6:])
            raise Finding(f"{type(exc).__name__}: {exc}\n    example: {example}\n{tb}") from None
        trampled = guards.trampled()
        if trampled:
            raise Finding(f"silent out-of-bounds write: {'; '.join(trampled)}\n"
                          f"    example: {example}")

    try:
        run()
    except Finding as found:
        return count, outcomes, str(found)
    except Exception as exc:  # noqa: BLE001 - a failure while drawing or building an instance
        tb = "".join(traceback.format_exception(exc)[-8:])
        return count, outcomes, (f"{type(exc).__name__} outside the call (building inputs): "
                                 f"{exc}\n{tb}")
    return count, outcomes, None


def examples_for(target: R.Target, examples: int) -> int:
    """A method without arguments (state_dict, get_last_lr) varies only by its
    instance, which its class's own targets already draw: a fifth will do."""
    if target.owner is not None and not R.parameters(target):
        return max(5, examples // 5)
    return examples


def main(argv: list[str]) -> int:
    faulthandler.enable()  # a segfault dumps the Python stack on stderr
    module, examples, only = argv[0], int(argv[1]), set(argv[2:])
    if module == "planted":
        from .planted import targets
        found = targets()
    else:
        found, _ = R.targets(module)
    for target in found:
        if only and target.id not in only:
            continue
        if R.missing(target):
            _emit(done=target.id, examples=0, failure=None, skipped=R.missing(target))
            continue
        start = time.perf_counter()
        n, outcomes, failure = fuzz(target, examples_for(target, examples))
        _emit(done=target.id, examples=n, failure=failure, **outcomes,
              seconds=round(time.perf_counter() - start, 2))
    _emit(end=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
