"""Exercises where students write one optimizer step, called again and again.

The student's function has the signature ``step(w, dw, state, **hyper) ->
new_w``: it receives copies of the parameters and the gradient, returns the
new parameters and keeps whatever it needs between calls in ``state``, a dict
that is empty on the first call.  Each part plays a number of steps on fixed
random gradients and compares some of what it observes (the returned
parameters, the state entries) with the reference.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .exercise import Case, Exercise, Raised, observe_state, snapshot


@dataclass(frozen=True)
class StepPart:
    """How one graded part plays the step function."""

    points: int
    steps: int
    observe: tuple[str, ...]          # "w" and/or "state"
    hyper: tuple[dict, ...]           # visible cases: one hyperparameter dict each
    hidden_hyper: tuple[dict, ...]    # hidden cases
    shapes: tuple[tuple[int, ...], ...] = ((5,), (3, 4))
    grad_scale: float = 1.0
    dtype: type = np.float64
    #: hyperparameters that change from step to step (a schedule), cycled:
    #: e.g. {"lr": (0.1, 0.1, 0.01)}; they override the case's value
    vary: dict = field(default_factory=dict)


@dataclass
class StepExercise(Exercise):
    state_keys: tuple[str, ...] = ()
    plan: dict[str, StepPart] = field(default_factory=dict)

    def __post_init__(self):
        self.parts = {name: part.points for name, part in self.plan.items()}

    def cases(self, part: str, hidden: bool) -> list[Case]:
        plan = self.plan[part]
        hypers = plan.hidden_hyper if hidden else plan.hyper
        cases = []
        for k, hyper in enumerate(hypers):
            # distinct, reproducible data per (exercise, part, case, visibility)
            seed = [sum(map(ord, self.id)), sum(map(ord, part)), k, int(hidden)]
            rng = np.random.default_rng(seed)
            shape = plan.shapes[k % len(plan.shapes)]
            w0 = rng.standard_normal(shape).astype(plan.dtype)
            grads = [(plan.grad_scale * rng.standard_normal(shape)).astype(plan.dtype)
                     for _ in range(plan.steps)]
            per_step = [{**hyper, **{n: v[t % len(v)] for n, v in plan.vary.items()}}
                        for t in range(plan.steps)]
            shown = {**hyper, **{n: "changing every step" for n in plan.vary}}
            label = (f"{'hidden ' if hidden else ''}case {k + 1} of {len(hypers)}: "
                     f"{', '.join(f'{n}={v}' for n, v in shown.items())}; w of shape {shape}, "
                     f"{np.dtype(plan.dtype).name}")
            cases.append(Case(label, dict(w0=w0, grads=grads, hyper=per_step,
                                          observe=plan.observe)))
        return cases

    def play(self, fn: Callable, case: Case):
        w = case.data["w0"].copy()
        state: dict = {}
        observed = []
        for g, hyper in zip(case.data["grads"], case.data["hyper"]):
            new_w = self.call(fn, w.copy(), g.copy(), state, **hyper)
            seen = {}
            if isinstance(new_w, Raised):
                observed.append({v: new_w for v in self._variables(case)})
                break
            if "w" in case.data["observe"]:
                seen["returned w"] = snapshot(new_w)
            if "state" in case.data["observe"]:
                seen.update(observe_state(state, self.state_keys))
            observed.append(seen)
            if not isinstance(new_w, np.ndarray) or new_w.shape != w.shape:
                break  # nothing sensible to feed into the next step
            w = new_w.astype(w.dtype, copy=True)
        return observed

    def _variables(self, case: Case) -> list[str]:
        names = ["returned w"] if "w" in case.data["observe"] else []
        if "state" in case.data["observe"]:
            names += [f"state[{k!r}]" for k in self.state_keys]
        return names


def from_optimizer(cls, names: dict[str, str], state_map: dict[str, str], hyper_map=None):
    """A reference step function built on a descentlab optimizer class.

    ``names`` maps the student's hyperparameter names to the class's
    arguments (e.g. ``beta1 -> betas[0]`` is handled by ``hyper_map``);
    ``state_map`` maps the student's state keys to the optimizer's.
    """
    def reference(w, dw, state, **hyper):
        kwargs = hyper_map(hyper) if hyper_map else {names.get(k, k): v for k, v in hyper.items()}
        w = np.array(w, copy=True)
        opt = cls([w], **kwargs)
        if state:
            for mine, theirs in state_map.items():
                opt.state[0][theirs] = snapshot(state[mine])
        opt.step([np.ascontiguousarray(dw)])
        for mine, theirs in state_map.items():
            state[mine] = snapshot(opt.state[0][theirs])
        return w
    return reference
