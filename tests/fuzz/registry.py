"""What is fuzzed, and the strategy for every argument.

Targets come from each module's ``__all__``: every public function, every
public class (its constructor) and every public method of those classes.  A
callable added later is fuzzed as soon as each of its arguments has a
strategy here; until then :func:`missing` names what to register, and
``test_every_public_callable_has_a_strategy`` fails with that list.

An argument's strategy is an :class:`Arg`: plausible values (``valid``) and
malformed ones (``bad``), each a function of the :class:`Ctx` of the example
so far (the instance whose method is called, the arguments drawn before),
so ``grads`` can match ``params`` and ``gamma`` can match ``x``.  Lookup is by
``"<qualname>.<arg>"`` first (``"trajectory.name"``, ``"Surface.value.x"``;
base classes' names count, so Quadratic uses Surface's), then by the bare
argument name.  Each example corrupts at most two arguments and draws the
others plausibly, and about a third of the examples corrupt none, so both
success and refusal are exercised.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
from hypothesis import strategies as st

from . import values as V

#: The modules whose public API is fuzzed (``descentlab.<name>``).
MODULES = ("optim", "schedulers", "init", "layers", "surfaces", "grading")

#: Public callables that are deliberately not fuzzed, with the reason.
EXEMPT = {
    "optim.Optimizer": "abstract base class: NotImplementedError is its contract; every "
                       "subclass (and so every inherited method) is fuzzed",
    "optim.Hyper": "a descriptor taking a check function, fuzzed through every hyperparameter",
    "schedulers.LRScheduler": "abstract base class; every subclass is fuzzed",
    "grading.GradingFailure": "the verdict exception itself",
}
#: Named tuples (the layers' caches) are plain records, exempt as a kind: any
#: value builds one, and forged ones are fuzzed as backward's ``cache``.
RECORD_REASON = "a plain record (named tuple); forged ones are fuzzed where they are taken"


def _is_record(obj) -> bool:
    return isinstance(obj, type) and issubclass(obj, tuple) and hasattr(obj, "_fields")

#: Targets whose plausible inputs cannot succeed, with the reason (every other
#: target with arguments must both succeed and refuse during its fuzz).
ONE_SIDED = {
    "grading.check": "it passes only a correct implementation of the exercise; the fuzz's "
                     "student functions are all wrong, so it ends in the verdict",
}

#: Exceptions that are a target's documented verdict, not a validation failure.
VERDICTS: dict[str, tuple[str, ...]] = {
    "grading.check": ("GradingFailure",),
}


@dataclass
class Ctx:
    """The state of one example while its arguments are drawn."""

    guards: V.Guards
    target: "Target"
    instance: Any = None
    drawn: dict[str, Any] = field(default_factory=dict)


def _strategy(x):
    if callable(x) and not isinstance(x, st.SearchStrategy):
        return x
    return lambda ctx, s=x: s


@dataclass
class Arg:
    valid: Callable[[Ctx], st.SearchStrategy]
    bad: Callable[[Ctx], st.SearchStrategy]

    def __init__(self, valid, bad=None):
        self.valid = _strategy(valid)
        extra = _strategy(bad if bad is not None else st.nothing())
        self.bad = lambda ctx: extra(ctx) | V.junk


@dataclass(frozen=True)
class Target:
    id: str                   # "optim.Adam", "optim.Adam.step", "init.xavier_uniform"
    module: str               # "optim"
    owner: type | None        # the class whose method this is
    fn: Callable

    @property
    def qualnames(self) -> list[str]:
        """Lookup prefixes: the qualified name, then with each base class's name."""
        local = self.id.split(".", 1)[1]
        head, _, rest = local.partition(".")
        cls = self.owner if self.owner is not None else (self.fn if inspect.isclass(self.fn)
                                                         else None)
        names = [local]
        if cls is not None:
            for base in cls.__mro__[1:]:
                if base.__module__.startswith("descentlab"):
                    names.append(f"{base.__name__}.{rest}" if rest else base.__name__)
        return names


# -- enumeration ---------------------------------------------------------------

def _public_methods(cls) -> list[str]:
    out = []
    for name, member in inspect.getmembers(cls):
        if name.startswith("_") or not inspect.isfunction(member):
            continue
        if not any(c.__module__.startswith("descentlab") for c in cls.__mro__
                   if name in vars(c)):
            continue  # inherited from object, NamedTuple, ...
        out.append(name)
    return out


def targets(module: str) -> tuple[list[Target], list[str]]:
    """The fuzz targets of ``descentlab.<module>``, and the ids exempted."""
    mod = importlib.import_module(f"descentlab.{module}")
    found, exempt = [], []
    for name in mod.__all__:
        obj = getattr(mod, name)
        if not callable(obj):
            continue  # constants such as SURFACES
        tid = f"{module}.{name}"
        if tid in EXEMPT or _is_record(obj):
            exempt.append(tid)
            continue
        found.append(Target(tid, module, None, obj))
        if inspect.isclass(obj):
            for m in _public_methods(obj):
                found.append(Target(f"{tid}.{m}", module, obj, getattr(obj, m)))
    return found, exempt


def parameters(target: Target) -> list[inspect.Parameter]:
    params = list(inspect.signature(target.fn).parameters.values())
    return params[1:] if target.owner is not None else params  # drop self


def lookup(target: Target, name: str) -> Arg | None:
    for q in target.qualnames:
        if f"{q}.{name}" in ARGS:
            return ARGS[f"{q}.{name}"]
    return ARGS.get(name)


def extras(target: Target):
    for q in target.qualnames:
        if q in EXTRAS:
            return EXTRAS[q]
    return None


def missing(target: Target) -> list[str]:
    """What must be registered before ``target`` can be fuzzed."""
    out = []
    for p in parameters(target):
        if p.kind is p.VAR_POSITIONAL or p.kind is p.VAR_KEYWORD:
            if extras(target) is None:
                out.append(f"EXTRAS[{target.id.split('.', 1)[1]!r}] for **{p.name}")
        elif lookup(target, p.name) is None:
            out.append(f"ARGS[{p.name!r}] (or ARGS['{target.id.split('.', 1)[1]}.{p.name}'])")
    if target.owner is not None and target.owner.__name__ not in INSTANCES:
        out.extend(m for m in missing(Target(target.id.rsplit(".", 1)[0], target.module, None,
                                             target.owner)) if m not in out)
    return out


# -- drawing a call --------------------------------------------------------------

#: Arguments drawn before the others, because the others' strategies read them.
_FIRST = ("optimizer", "x", "params", "cache", "exercise", "exercise_id", "schedulers",
          "schedules", "surface", "name", "steps", "shape")


def draw_call(data, target: Target, guards: V.Guards, *, plausible: bool = False):
    """Draw ``(callable, kwargs, ctx)`` for one example of ``target``."""
    ctx = Ctx(guards, target)
    fn = target.fn
    if target.owner is not None:
        ctx.instance = data.draw(instance(target.owner, guards), label="self")
        fn = getattr(ctx.instance, target.fn.__name__)
    params = parameters(target)
    names = [p.name for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    corrupt = set() if plausible or not names else data.draw(
        st.sets(st.sampled_from(names), max_size=2), label="corrupt")
    order = sorted(params, key=lambda p: _FIRST.index(p.name) if p.name in _FIRST else 99)
    kwargs: dict[str, Any] = {}
    for p in order:
        if p.kind is p.VAR_POSITIONAL:
            continue
        if p.kind is p.VAR_KEYWORD:
            more = data.draw(extras(target)(ctx, plausible), label=f"**{p.name}")
            ctx.drawn.update(more)
            kwargs.update(more)
            continue
        arg = lookup(target, p.name)
        bad = p.name in corrupt
        if not bad and p.default is not p.empty and data.draw(st.integers(0, 2)) == 0:
            continue  # leave the default
        value = data.draw((arg.bad if bad else arg.valid)(ctx), label=p.name)
        ctx.drawn[p.name] = value
        kwargs[p.name] = value
    return fn, kwargs, ctx


@functools.cache
def _instance_target(cls) -> Target:
    module = cls.__module__.split(".")[1]
    return Target(f"{module}.{cls.__name__}", module, None, cls)


def instance(cls, guards: V.Guards):
    """A plausible, successfully built instance of ``cls``."""
    source = INSTANCES.get(cls.__name__)
    if source is not None:
        return source(guards)
    return _built(cls)


@functools.cache
def _built(cls):
    # built once per class (strategy construction is a large part of an
    # example's cost); the example's guards are read when it is drawn
    @st.composite
    def build(draw):
        fn, kwargs, _ = draw_call(draw_data_shim(draw), _instance_target(cls),
                                  V.Guards.current, plausible=True)
        try:
            return fn(**kwargs)
        except (ValueError, TypeError):
            from hypothesis import reject
            reject()
    return build()


class draw_data_shim:
    """Lets :func:`draw_call` run inside ``st.composite`` (``draw`` instead of ``data.draw``)."""

    def __init__(self, draw):
        self._draw = draw

    def draw(self, strategy, label=None):
        return self._draw(strategy)


# -- strategies by argument name ---------------------------------------------------

def _num(lo, hi):
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


unit = _num(0.0, 0.999)
unit_closed = _num(0.0, 1.0)
small_pos = _num(1e-6, 10.0)
nonneg = _num(0.0, 10.0)
anyreal = _num(-10.0, 10.0)
bools = st.booleans() | st.just(np.bool_(True))
small_ints = st.integers(1, 20)
neg = st.sampled_from([-1.0, -1e-12, -math.inf, math.nan, math.inf, 1e308, -0.0])
bad_unit = st.sampled_from([1.0, 1.5, -0.1, math.nan, math.inf, 10**400, (0.9,), "0.9"])


def _seedlike(ctx):
    return st.none() | st.integers(0, 2**32) | st.builds(np.random.default_rng, st.integers(0, 99))


bad_rng = st.sampled_from([-1, np.random.RandomState(0), np.random.SeedSequence(1), 0.5,
                           "seed", np.random.default_rng, np.int64(-3)])


def _params(ctx):
    one = st.builds(lambda s, d: (s, d), V.small_shapes(0, 3), st.sampled_from(V.FLOATS))
    return st.lists(one, min_size=1, max_size=3).flatmap(
        lambda specs: st.tuples(*[V.guarded(ctx.guards, s, d) for s, d in specs]).map(list))


def _bad_params(ctx):
    def aliased(a, k):
        whole = ctx.guards.array((6,), np.float64, "normal", k)
        return [whole[:4], whole[2:]] if k % 2 else [a, a]
    return (st.lists(V.bad_arrays(), min_size=1, max_size=2)
            | V.bad_arrays()
            | st.just([])
            | st.builds(aliased, V.guarded(ctx.guards, (3,)), V.SEEDS)
            | st.tuples(V.guarded(ctx.guards, (2,))).map(tuple))


def _grads(ctx):
    ps = getattr(ctx.instance, "params", None) or [np.zeros(1)]
    return st.tuples(*[V.guarded(ctx.guards, p.shape, p.dtype) for p in ps]).map(list) | (
        st.just(list(ps)))  # a gradient that is the parameter itself


def _bad_grads(ctx):
    ps = getattr(ctx.instance, "params", None) or [np.zeros(1)]

    def one_bad(bad, i):
        out = [np.zeros_like(p) for p in ps]
        out[i % len(out)] = bad
        return out
    return (st.builds(one_bad, V.bad_arrays(ps[0].shape, ps[0].dtype), st.integers(0, 9))
            | st.just([np.zeros_like(p) for p in ps] * 2)
            | st.just([np.zeros_like(p, dtype=np.float32 if p.dtype == np.float64 else np.float64)
                       for p in ps])
            | st.just(np.zeros_like(ps[0])))


def _mutated_state(ctx, valid: bool):
    """The instance's own state_dict, with one entry replaced by a malformed value."""
    state = ctx.instance.state_dict()
    if valid:
        return st.just(state)
    paths = list(_leaves(state))

    def mutate(path, value):
        import copy
        s = copy.deepcopy(state)
        holder = s
        for key in path[:-1]:
            holder = holder[key]
        if value is _DELETE:
            if isinstance(holder, dict):
                del holder[path[-1]]
            else:
                holder.pop(path[-1])
        else:
            holder[path[-1]] = value
        return s
    if not paths:
        return V.junk

    def replacement(path):
        leaf = state
        for key in path:
            leaf = leaf[key]
        return st.tuples(st.just(path), _same_kind_but_bad(leaf) | _same_kind_but_bad(leaf)
                         | V.junk | st.just(_DELETE))
    mutated = st.sampled_from(paths).flatmap(replacement).map(lambda pv: mutate(*pv))
    return mutated | mutated | mutated  # weighted against the generic junk


def _same_kind_but_bad(leaf):
    """Values a kind check alone would accept in place of ``leaf``."""
    if isinstance(leaf, (bool, np.bool_)):
        return st.sampled_from([not leaf, np.bool_(not leaf)])
    if isinstance(leaf, (int, np.integer)):
        return st.sampled_from([0, -1, -2, 1, 2**63, -2**63 - 1, 10**30])
    if isinstance(leaf, (float, np.floating)):
        return st.sampled_from([0.0, -1.0, -0.0, math.nan, math.inf, -math.inf, 1e308, 5e-324])
    if isinstance(leaf, str):
        return st.sampled_from(["", "x", leaf.upper()])
    if isinstance(leaf, np.ndarray):
        return V.bad_arrays(leaf.shape or (1,), leaf.dtype if leaf.dtype in V.FLOATS else None)
    if isinstance(leaf, (list, tuple)):
        return st.sampled_from([[], [0], [-1, -2], [math.nan], [2, 1], list(leaf) * 2])
    if isinstance(leaf, dict):
        return st.sampled_from([{}, {"x": 1}])
    return V.junk


_DELETE = object()


def _leaves(obj, path=()):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield (*path, k)
            yield from _leaves(v, (*path, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield (*path, i)
            yield from _leaves(v, (*path, i))


def _optimizers(ctx):
    import descentlab.optim as O

    def make(kind, shape, dtype):
        w = ctx.guards.array(shape, dtype, "normal", 0)
        return {"sgd": lambda: O.SGD([w], lr=0.1, momentum=0.9),
                "sgd0": lambda: O.SGD([w], lr=0.5),
                "adam": lambda: O.Adam([w], lr=0.01),
                "adagrad": lambda: O.Adagrad([w], lr=0.1),
                "rmsprop": lambda: O.RMSprop([w], lr=0.01, momentum=0.5)}[kind]()
    return st.builds(make, st.sampled_from(["sgd", "sgd0", "adam", "adagrad", "rmsprop"]),
                     V.small_shapes(1, 2), st.sampled_from(V.FLOATS))


def _bad_optimizers(ctx):
    import descentlab.optim as O
    return st.sampled_from([O.SGD, O.Optimizer, "SGD", [np.zeros(2)]])


def _schedulers(ctx):
    import descentlab.optim as O
    import descentlab.schedulers as S
    opt = ctx.drawn.get("optimizer")
    if not isinstance(opt, O.Optimizer):
        opt = O.SGD([ctx.guards.array((2,), np.float64, "normal", 1)], lr=0.1)
    makers = [lambda: S.LinearLR(opt, start_factor=0.1, total_iters=4),
              lambda: S.CosineAnnealingLR(opt, T_max=10),
              lambda: S.StepLR(opt, step_size=3),
              lambda: S.ExponentialLR(opt, gamma=0.9),
              lambda: S.LambdaLR(opt, lambda t: 1.0 / (t + 1))]
    return st.lists(st.sampled_from(makers), min_size=1, max_size=3).map(lambda ms: [m() for m in ms])


def _bad_schedulers(ctx):
    import descentlab.optim as O
    import descentlab.schedulers as S

    def other():
        o = O.SGD([np.zeros(2)], lr=0.1)
        return [S.StepLR(o, 2)]

    def plateau():
        o = ctx.drawn.get("optimizer")
        o = o if isinstance(o, O.Optimizer) else O.SGD([np.zeros(2)], lr=0.1)
        return [S.ReduceLROnPlateau(o)]
    return st.just([]) | st.builds(other) | st.builds(plateau)


def _milestones(ctx):
    before = ctx.drawn.get("schedulers", ctx.drawn.get("schedules"))
    n = len(before) - 1 if isinstance(before, (list, tuple)) and before else None
    sizes = st.just(n) if n is not None and n >= 0 else st.integers(0, 3)
    return sizes.flatmap(lambda k: st.lists(st.integers(1, 30), min_size=k, max_size=k,
                                            unique=True).map(sorted))


bad_milestones = (st.sampled_from([[3, 2], [0], [-1], [1, 1], "12", [1.5], [2**63], [True],
                                   np.array([1, 2]), [[1]], {1: 2}, [None]])
                  | st.lists(V.bad_ints, min_size=1, max_size=2))

times = (st.integers(0, 100) | _num(0.0, 500.0)
         | st.lists(st.integers(0, 50), max_size=5).map(np.array)
         | st.lists(_num(0.0, 50.0), max_size=5)
         | st.builds(lambda k: np.arange(k, dtype=np.float32), st.integers(0, 5)))
bad_times = st.sampled_from([-1, -0.5, math.nan, math.inf, np.array([1.0, np.nan]),
                             np.array([1 + 1j]), np.array([True]), "5", [1, [2]], [[1, 2], [3]],
                             np.array(["1"]), np.array([None], dtype=object), 10**400,
                             np.array([1.0], dtype=">f8"), 1e308, np.array([-1])])


def _user_fn(ctx):
    # users' functions here never raise themselves: what they return is the test
    return V.user_callables | st.just(lambda t: np.full(np.shape(t), 0.5))


def _array_like_x(ctx, fallback):
    """Per-feature layer arrays (gamma, running_mean, ...) when x is an array,
    plain numbers otherwise (the schedulers' gamma)."""
    x = ctx.drawn.get("x")
    if not isinstance(x, np.ndarray) or x.ndim == 0:
        return fallback
    dtype = x.dtype if x.dtype in V.FLOATS else np.float64
    if "_feature_shape" in ctx.drawn:  # one layout for gamma, beta, ... of an example
        return V.guarded(ctx.guards, ctx.drawn["_feature_shape"], dtype, readonly_ok=True)
    shapes = {(x.shape[1],) if x.ndim >= 2 else (x.shape[0],), (x.shape[-1],), x.shape[1:] or (1,)}

    def remember(shape):
        ctx.drawn["_feature_shape"] = shape
        return shape
    return st.sampled_from(sorted(shapes)).map(remember).flatmap(
        lambda s: V.guarded(ctx.guards, s, dtype, readonly_ok=True))


def _bad_like_x(ctx, fallback):
    x = ctx.drawn.get("x")
    if not isinstance(x, np.ndarray) or x.ndim < 2:
        return fallback | V.bad_arrays()
    return V.bad_arrays((x.shape[1],), x.dtype if x.dtype in V.FLOATS else None) | fallback


def per_feature(fallback_valid, fallback_bad):
    return Arg(lambda ctx: _array_like_x(ctx, fallback_valid),
               lambda ctx: _bad_like_x(ctx, fallback_bad))


def _layer_x(ctx):
    return V.small_shapes(1, 4, 2, 4).flatmap(
        lambda s: V.guarded(ctx.guards, s, readonly_ok=True))


def _forward_of(ctx):
    """The forward function paired with a ``*_backward`` target."""
    mod = importlib.import_module(f"descentlab.{ctx.target.module}")
    name = ctx.target.fn.__name__.replace("_backward", "_forward")
    return getattr(mod, name, None)


def _cache(ctx):
    forward = _forward_of(ctx)
    ftarget = Target(f"{ctx.target.module}.{forward.__name__}", ctx.target.module, None, forward)

    @st.composite
    def run_forward(draw):
        fn, kwargs, _ = draw_call(draw_data_shim(draw), ftarget, ctx.guards, plausible=True)
        try:
            out, cache = fn(**kwargs)
        except (ValueError, TypeError):
            from hypothesis import reject
            reject()
        ctx.drawn["_out"] = out
        return cache
    return run_forward()


def _bad_cache(ctx):
    @st.composite
    def forged(draw):
        cache = draw(_cache(ctx))
        fields = list(cache._fields)
        which = draw(st.sampled_from(fields))
        old = getattr(cache, which)
        if isinstance(old, np.ndarray):
            new = draw(V.bad_arrays(old.shape if old.ndim else (1,),
                                    old.dtype if old.dtype in V.FLOATS else None)
                       | st.builds(lambda s: np.zeros(s, old.dtype), V.small_shapes(0, 3, 0, 5))
                       | V.junk)
        else:
            new = draw(V.junk | st.sampled_from([np.zeros(3), (1, 2), (), np.dtype("int8")]))
        return cache._replace(**{which: new})
    return forged() | _cache(ctx).map(tuple)


def _dout(ctx):
    out = ctx.drawn.get("_out")
    if out is None:
        return _layer_x(ctx)
    return V.guarded(ctx.guards, out.shape, out.dtype, readonly_ok=True)


def _bad_dout(ctx):
    out = ctx.drawn.get("_out")
    if out is None:
        return V.bad_arrays()
    return V.bad_arrays(out.shape or (1,), out.dtype)


def _exercises():
    from descentlab.grading.assignments import EXERCISES
    return EXERCISES


def _exercise_id(ctx):
    return st.sampled_from(sorted(_exercises()))


bad_exercise_id = st.sampled_from(["", "ps1", "ps3_adaptive.", ".adam_step", "ps3_adaptive.Adam",
                                   "ps3_adaptive.adam_step.first_step", ["ps3_adaptive.adam_step"],
                                   b"ps3_adaptive.adam_step"])


def _part(ctx):
    ex = ctx.drawn.get("exercise")
    if ex is None:
        ex = _exercises().get(ctx.drawn.get("exercise_id")) if isinstance(
            ctx.drawn.get("exercise_id"), str) else None
    parts = sorted(getattr(ex, "parts", {})) or ["first_step"]
    return st.sampled_from(parts)


def _student_fn(ctx):
    def raises(*args, **kwargs):
        raise ZeroDivisionError("the student's own bug")

    def zeros_like_first(*args, **kwargs):
        first = next((a for a in args if isinstance(a, np.ndarray)), np.zeros(1))
        return np.zeros_like(first)
    return (V.user_callables | st.sampled_from([raises, zeros_like_first])
            | st.just(lambda *a, **k: (np.array([np.nan]), {"exp_avg": "x"})))


def _surface(ctx):
    import descentlab.surfaces as S
    return st.sampled_from(sorted(S.SURFACES)) | st.sampled_from(sorted(S.SURFACES)).map(S.get)


def _surface_instance(guards):
    import descentlab.surfaces as S
    return (st.sampled_from(sorted(S.SURFACES)).map(S.get)
            | st.builds(S.quadratic, _num(1.0, 100.0), _num(0.1, 5.0), anyreal))


pairs = st.tuples(anyreal, anyreal)
bad_pairs = st.sampled_from([(1.0,), (1.0, 2.0, 3.0), (math.nan, 0.0), (math.inf, 1.0),
                             (10**400, 0.0), (0.0, -10**400), "ab", (2.0, 1.0), (1.0, 1.0),
                             ("a", "b"), np.array([1.0, 2.0, 3.0]), (1 + 1j, 0.0),
                             (Weird := V.Weird(), Weird), [[1.0, 2.0]]])
coords = (anyreal | st.integers(-5, 5) | _num(-1e6, 1e6)
          | st.lists(anyreal, max_size=4).map(np.array)
          | st.builds(lambda k: np.linspace(-2, 2, k).reshape(-1, 1), st.integers(0, 4))
          | st.just(np.array([1, 2], dtype=np.int8)))
bad_coords = st.sampled_from([np.array([1 + 1j]), np.array(["a"]), np.array([True]), "1.0",
                              np.array([None], dtype=object), [[1.0], [2.0, 3.0]], 10**400,
                              np.ones((3, 2)), np.ones((1,) * 32), np.array([1.0], dtype=">f8")])


def _trajectory_hyper(ctx, plausible):
    import descentlab.surfaces as S
    names = ["lr", "momentum", "betas", "eps", "weight_decay", "nesterov", "dampening",
             "alpha", "centered", "rho", "lr_decay", "amsgrad", "beta", "gain_min", "gain_max",
             "maximize", "momentum_decay", "initial_accumulator_value",
             "decoupled_weight_decay"]
    steps = ctx.drawn.get("steps", 100)
    schedule = (st.builds(lambda k: np.full(k, 0.01), st.just(steps))
                if isinstance(steps, int) and 0 <= steps <= 1000 else st.just(0.01))
    lr = (_num(0.0, 0.5) | schedule) if plausible else (
        _num(0.0, 0.5) | schedule | neg
        | st.sampled_from([np.array([0.1, np.nan]), np.ones(3), [0.1, "x"], np.array([-0.1])]))
    if plausible:
        return st.fixed_dictionaries({}, optional={"lr": lr})
    values = V.junk | unit | bools | st.sampled_from([(0.9, 0.99), (0.9,), (1.5, 0.5)])
    return st.fixed_dictionaries(
        {}, optional={"lr": lr, **{n: values for n in names[1:]},
                      "not_a_hyperparameter": st.just(1.0)})


def _surface_params(ctx, plausible):
    names = ["kappa", "lam_max", "angle", "a", "b", "A", "bowl", "wall", "floor", "amplitude",
             "frequency", "wells"]
    values = small_pos if plausible else (small_pos | V.junk | neg)
    return st.fixed_dictionaries({}, optional={n: values for n in names})


wells_valid = st.lists(st.tuples(small_pos, anyreal, anyreal, small_pos), min_size=1,
                       max_size=3).map(tuple)
bad_wells = st.sampled_from([(), ((1.0, 2.0),), ((1.0, 2.0, 3.0, math.nan),),
                             ((1.0, 0.0, 0.0, 0.0),), ((-1.0, 0.0, 0.0, 1.0),), "wells",
                             np.ones((2, 4)), ((10**400, 0.0, 0.0, 1.0),), [[1, 2, 3, 4, 5]]])

shapes_valid = (st.integers(0, 5) | V.small_shapes(0, 4, 0, 4)
                | V.small_shapes(0, 3, 0, 4).map(list)
                | V.small_shapes(1, 3, 1, 4).map(lambda s: np.array(s)))
bad_shapes = (st.sampled_from([-1, (-1, 2), (2.0, 3), "23", (2, "3"), None, (2**63,),
                               (2**64, 1), (2**62, 2**62), (10**30,), (1,) * 70, ((2, 3),),
                               np.array([2.5, 3.0]), (True, 2), np.array([[2, 3]]),
                               {2: 3}, (np.int64(-2),), (np.uint64(2**64 - 1), 2)])
              | st.lists(V.bad_ints, min_size=1, max_size=3).map(tuple))

NONLIN = ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
          "conv_transpose3d", "sigmoid", "tanh", "relu", "leaky_relu", "selu"]
modes = st.sampled_from(["fan_in", "fan_out", "triangular", "triangular2", "exp_range", "min",
                         "max"])
bad_modes = st.sampled_from(["FAN_IN", "", "fan", "tri", "minimum", b"min"])


def _coef_for_kind(ctx):
    """As many coefficients as the formula of the drawn kind reads (or any number)."""
    from descentlab.surfaces import catalog
    need = catalog._COEFFICIENTS.get(ctx.drawn.get("kind"))
    sizes = st.integers(0, 6) if need is None else st.just(need) | st.just(need + 4)
    return sizes.map(lambda k: np.full(k, 0.5))


def _surface_ctor(**over):
    return {
        "Surface.name": Arg(st.sampled_from(["quadratic", "x"])),
        "Surface.title": Arg(st.just("T")),
        "Surface.latex": Arg(st.just("f")),
        "Surface.params": Arg(st.just({})),
        "Surface.xlim": Arg(pairs, bad_pairs),
        "Surface.ylim": Arg(pairs, bad_pairs),
        "Surface.start": Arg(pairs, bad_pairs),
        "Surface.minimisers": Arg(st.lists(pairs, max_size=2).map(tuple)),
        "Surface.saddles": Arg(st.lists(pairs, max_size=2).map(tuple)),
        "Surface.min_value": Arg(st.none() | anyreal),
        "Surface.kind": Arg(st.integers(0, 7), V.bad_ints | st.sampled_from([8, 100, -1])),
        "Surface.coef": Arg(_coef_for_kind, V.bad_arrays()),
        "Quadratic.lam_min": Arg(small_pos, neg),
        "Quadratic.lam_max": Arg(small_pos, neg),
        **over,
    }


ARGS: dict[str, Arg] = {
    # -- optim ------------------------------------------------------------------
    "params": Arg(_params, _bad_params),
    "grads": Arg(_grads, _bad_grads),
    "state_dict": Arg(lambda ctx: _mutated_state(ctx, True), lambda ctx: _mutated_state(ctx, False)),
    "lr": Arg(_num(0.0, 1.0) | st.just(0), neg),
    "momentum": Arg(unit_closed, bad_unit | neg),
    "dampening": Arg(unit_closed, bad_unit | neg),
    "weight_decay": Arg(nonneg, neg),
    "nesterov": Arg(bools),
    "maximize": Arg(bools),
    "amsgrad": Arg(bools),
    "centered": Arg(bools),
    "decoupled_weight_decay": Arg(bools),
    "lr_decay": Arg(nonneg, neg),
    "initial_accumulator_value": Arg(nonneg, neg),
    "eps": Arg(_num(1e-12, 1e-2), neg | st.just(0.0)),
    "alpha": Arg(unit, bad_unit),
    "rho": Arg(unit, bad_unit),
    "beta": Arg(unit, bad_unit),
    "betas": Arg(st.tuples(unit, unit) | st.tuples(unit, unit).map(list),
                 st.sampled_from([(0.9,), (0.9, 0.99, 0.999), (1.0, 0.5), (0.5, math.nan),
                                  (-0.1, 0.9), "ab", (0.9, "0.9"), np.array([0.9, 0.99])])),
    "momentum_decay": Arg(nonneg, neg),
    "gain_min": Arg(_num(0.01, 1.0), neg | st.just(0.0)),
    "gain_max": Arg(_num(1.0, 100.0), neg | st.just(0.0)),
    # -- schedulers -------------------------------------------------------------
    "optimizer": Arg(_optimizers, _bad_optimizers),
    "last_epoch": Arg(st.just(-1) | st.integers(-1, 5), V.bad_ints | st.just(-2)),
    "step_size": Arg(small_ints, V.bad_ints | st.just(0)),
    "gamma": per_feature(_num(0.01, 1.0), neg | st.just(0.0)),
    "milestones": Arg(_milestones, bad_milestones),
    "lr_lambda": Arg(_user_fn, st.sampled_from([[lambda t: 1.0] * 2, [], 3, "f"])),
    "T_max": Arg(small_ints | st.just(1), V.bad_ints | st.just(0)),
    "eta_min": Arg(_num(0.0, 0.01), neg),
    "start_factor": Arg(_num(0.01, 1.0), neg | st.just(0.0) | st.just(1.5)),
    "end_factor": Arg(_num(0.0, 1.0), neg | st.just(1.5)),
    "total_iters": Arg(st.integers(0, 20), V.bad_ints),
    "base_lr": Arg(_num(0.0, 0.1), neg),
    "max_lr": Arg(_num(0.0, 1.0) | st.lists(_num(0.0, 1.0), min_size=1, max_size=1),
                  neg | st.just([0.1, 0.2]) | st.just([])),
    "step_size_up": Arg(small_ints, V.bad_ints | st.just(0)),
    "step_size_down": Arg(st.none() | small_ints, V.bad_ints | st.just(0)),
    "mode": Arg(modes, bad_modes),
    "scale_fn": Arg(st.none() | _user_fn(None), st.sampled_from([3, "f"])),
    "scale_mode": Arg(st.sampled_from(["cycle", "iterations"]), bad_modes),
    "cycle_momentum": Arg(bools),
    "base_momentum": Arg(_num(0.5, 0.85), bad_unit | neg),
    "max_momentum": Arg(_num(0.85, 0.99), bad_unit | neg),
    "total_steps": Arg(st.none() | small_ints, V.bad_ints | st.just(0)),
    "epochs": Arg(st.none() | small_ints, V.bad_ints | st.just(0)),
    "steps_per_epoch": Arg(st.none() | small_ints, V.bad_ints | st.just(0)),
    "pct_start": Arg(_num(0.05, 0.95), bad_unit | neg | st.just(0.0)),
    "anneal_strategy": Arg(st.sampled_from(["cos", "linear"]), bad_modes),
    "div_factor": Arg(_num(1.0, 100.0), neg | st.just(0.0)),
    "final_div_factor": Arg(_num(1.0, 1e4), neg | st.just(0.0)),
    "three_phase": Arg(bools),
    "factor": Arg(_num(0.01, 0.99), bad_unit | neg),
    "patience": Arg(st.integers(0, 5), V.bad_ints),
    "threshold": Arg(_num(0.0, 0.1), neg),
    "threshold_mode": Arg(st.sampled_from(["rel", "abs"]), bad_modes),
    "cooldown": Arg(st.integers(0, 5), V.bad_ints),
    "min_lr": Arg(_num(0.0, 1e-3) | st.lists(_num(0.0, 1e-3), min_size=1, max_size=1), neg),
    "decay_rate": Arg(nonneg, neg),
    "power": Arg(nonneg, neg),
    "T_0": Arg(small_ints, V.bad_ints | st.just(0)),
    # CosineAnnealingWarmRestarts.step(epoch=None) (the l04 branch): torch's fractional epoch
    "epoch": Arg(st.none() | st.integers(0, 30) | _num(0.0, 30.0), V.bad_ints | neg),
    "T_mult": Arg(st.integers(1, 3), V.bad_ints | st.just(0)),
    "schedulers": Arg(_schedulers, _bad_schedulers),
    "schedules": Arg(st.lists(_user_fn(None), min_size=1, max_size=3),
                     st.sampled_from([[], [3], "f", (print, 3)])),
    "t": Arg(times, bad_times),
    "metrics": Arg(anyreal | st.just(math.nan) | st.builds(np.float32, anyreal)
                   | st.builds(np.array, anyreal),
                   st.sampled_from([np.array([1.0, 2.0]), "0.5", 1 + 1j, [0.5], 10**400])),
    "ReduceLROnPlateau.is_better.a": Arg(anyreal, V.nasty_floats),
    "ReduceLROnPlateau.is_better.best": Arg(anyreal, V.nasty_floats),
    "CyclicLR.scale_fn.x": Arg(anyreal | st.integers(0, 10), V.nasty_floats),
    # -- init ---------------------------------------------------------------------
    "shape": Arg(shapes_valid, bad_shapes),
    "nonlinearity": Arg(st.sampled_from(NONLIN), st.sampled_from(["ReLU", "softmax", "", b"relu"])),
    "param": Arg(st.none() | anyreal, V.nasty_floats),
    "a": Arg(anyreal, V.nasty_floats),
    "b": Arg(_num(10.0, 20.0), V.nasty_floats),
    "val": Arg(anyreal, V.nasty_floats),
    "mean": Arg(anyreal, V.nasty_floats),
    "std": Arg(nonneg, neg),
    "gain": Arg(small_pos, V.nasty_floats),
    "rng": Arg(_seedlike, bad_rng),
    # -- layers -------------------------------------------------------------------
    "x": Arg(_layer_x, lambda ctx: V.bad_arrays()),
    "beta": per_feature(unit, bad_unit),  # a layer's shift, or LocalGains' number
    "running_mean": per_feature(V.bad_arrays(), V.bad_arrays()),
    "running_var": per_feature(V.bad_arrays(), V.bad_arrays()),
    "training": Arg(bools),
    # group normalisation's group count (the norm branch), whatever it is called
    **{name: Arg(st.integers(1, 4), V.bad_ints | st.just(0)) for name in ("num_groups", "groups")},
    "p": Arg(unit, bad_unit | neg),
    "cache": Arg(_cache, _bad_cache),
    "dout": Arg(_dout, _bad_dout),
    # -- surfaces -----------------------------------------------------------------
    "trajectory.name": Arg(st.sampled_from(["SGD", "Adagrad", "RMSprop", "Adadelta", "Adam",
                                            "AdamW", "Adamax", "NAdam", "RAdam",
                                            "ClassicMomentum", "LocalGains"]),
                           st.sampled_from(["sgd", "Optimizer", "Hyper", "__init__", ""])),
    "get.name": Arg(_surface, st.sampled_from(["Rosenbrock", "", "__class__"])),
    "surface": Arg(_surface, st.sampled_from(["Rosenbrock", "", "__class__"])),
    "x0": Arg(st.none() | pairs | pairs.map(list) | pairs.map(np.array), bad_pairs),
    "steps": Arg(st.integers(0, 30), V.bad_ints),
    "noise": Arg(_num(0.0, 1.0), neg),
    "seed": Arg(st.integers(0, 2**32), V.bad_ints),
    "sigma": Arg(_num(0.0, 1.0), neg),
    "path": Arg(st.builds(lambda k: np.ones((k, 2)), st.integers(0, 5))
                | st.lists(pairs, max_size=4).map(np.array),
                lambda ctx: V.bad_arrays((3, 2))),
    "kappa": Arg(_num(1.0, 1e3), neg | st.just(0.5)),
    "lam_max": Arg(small_pos, neg),
    "angle": Arg(anyreal, neg),
    "A": Arg(nonneg, neg),
    "bowl": Arg(nonneg, neg),
    "wall": Arg(small_pos, neg),
    "floor": Arg(small_pos, neg),
    "amplitude": Arg(nonneg, neg),
    "frequency": Arg(small_pos, neg),
    "wells": Arg(wells_valid, bad_wells),
    "n": Arg(st.integers(2, 20), V.bad_ints | st.just(1)),
    "xlim": Arg(st.none() | pairs.filter(lambda p: p[0] < p[1]), bad_pairs),
    "ylim": Arg(st.none() | pairs.filter(lambda p: p[0] < p[1]), bad_pairs),
    **{f"Surface.{m}.{c}": Arg(coords, bad_coords)
       for m in ("value", "grad", "value_and_grad") for c in ("x", "y")},
    **_surface_ctor(),
    # -- grading ------------------------------------------------------------------
    "exercise_id": Arg(_exercise_id, bad_exercise_id),
    "exercise": Arg(lambda ctx: _exercise_id(ctx).map(_exercises().get),
                    st.sampled_from(["ps3_adaptive.adam_step", None])),
    "fn": Arg(_student_fn, st.sampled_from([None, 3, "adam_step", np.zeros(2)])),
    "part": Arg(_part, st.sampled_from(["", "FIRST_STEP", "first step", 0])),
    "hidden": Arg(bools),
    "wrap.message": Arg(st.text(max_size=300), st.sampled_from([b"text", ["a", "b"]])),
    "wrap.width": Arg(st.integers(1, 120), V.bad_ints | st.just(0)),
    "in_process": Arg(st.just(True), st.sampled_from([False, 0, "no"])),
}

#: Strategies for ``**kwargs``: functions of (ctx, plausible) giving a dict.
EXTRAS: dict[str, Callable] = {
    "trajectory": _trajectory_hyper,
    "get": _surface_params,
}

#: Instances for method targets where building from the constructor's
#: strategies is not the best source (None means: build from them).
INSTANCES: dict[str, Callable[[V.Guards], st.SearchStrategy]] = {
    "Surface": _surface_instance,
    "Quadratic": lambda guards: st.builds(
        __import__("descentlab.surfaces", fromlist=["quadratic"]).quadratic,
        _num(1.0, 100.0), _num(0.1, 5.0), anyreal),
}

