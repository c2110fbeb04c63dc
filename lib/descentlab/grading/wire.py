"""The message format between the grader and a student's process: data only.

Nothing that crosses from the student's side is unpickled.  A message is a
JSON document plus the raw bytes of each array (its dtype, from a short list
of number types, and its shape are in the JSON), so decoding it can build numbers, strings, lists, tuples, dicts, plain numpy
arrays and numpy random generators, and nothing else: no object of the
student's choosing, no code.

Identity travels as data: every array, list and dict is numbered the first
time it is written, and a second occurrence is written as a reference to
that number.  So an answer that shares an array with an argument (a
checkpoint that aliases the live weights) still shares it once decoded, and
what the student's function did to its arguments is visible on the grader's
side exactly as it would have been in one process.

This module is also loaded by the student's process (``_child.py``), by path
and under a private name: it must import nothing but the standard library and
numpy.
"""

from __future__ import annotations

import functools
import importlib
import json
import math
import re
import struct
import types

import numpy as np

__all__ = ["WireError", "pack", "unpack", "MAX_BYTES", "MAX_DEPTH"]

#: the largest message either side accepts (JSON and arrays together)
MAX_BYTES = 256 << 20
#: the deepest nesting of lists, tuples and dicts accepted
MAX_DEPTH = 64
#: the most containers, arrays and scalars in one message
MAX_ITEMS = 1_000_000
#: numpy dtype kinds that may cross: bool, integers, floats, complex
ARRAY_KINDS = "biufc"
#: bit generators a numpy Generator may be rebuilt from
BIT_GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")

#: modules whose functions may be sent by name (the grader hands a student's
#: gradient check ``np.linalg.norm``; nothing is pickled, the receiver looks the
#: name up in its own copy of the module)
FUNCTION_MODULES = ("numpy", "math", "descentlab.problems")
#: modules whose classes' instances may be sent as (class name, attribute dict):
#: the objectives a student's search calls.  Only the side that runs the
#: student's code builds them (``unpack(..., build_objects=True)``); the grader
#: never builds an object from the student's side, it only takes back the
#: state of an object it sent itself
OBJECT_MODULES = ("descentlab.problems",)

_HEADER = struct.Struct("<Q")


def _in(module: str, allowed) -> bool:
    return any(module == m or module.startswith(m + ".") for m in allowed)


def _function_name(obj) -> str | None:
    """``module:qualname`` of a function that may be sent by name, else None."""
    if isinstance(obj, np.ufunc):
        return f"numpy:{obj.__name__}" if getattr(np, obj.__name__, None) is obj else None
    module, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    if type(module) is not str or type(qualname) is not str or not _in(module, FUNCTION_MODULES):
        return None
    try:
        found = _lookup(module, qualname, FUNCTION_MODULES)
    except WireError:
        return None
    return f"{module}:{qualname}" if found is obj else None


def _lookup(module: str, qualname: str, allowed):
    if not _in(module, allowed) or "<" in qualname:
        raise WireError(f"{module}:{qualname} cannot be received")
    try:
        obj = importlib.import_module(module)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise WireError(f"{module}:{qualname} cannot be found ({exc})") from None
    return obj


class WireError(ValueError):
    """A message that is not data this format can carry, or a malformed one."""


# -- encoding (either side) -----------------------------------------------------------------

class _Encoder:
    def __init__(self, origins: dict[int, int] | None = None):
        self.origins = origins or {}     # id(obj) -> its number in the request it came from
        self.arrays: list[bytes] = []
        self.seen: dict[int, int] = {}   # id(obj) -> its number
        self.keep: list = []             # keeps numbered objects alive, so ids stay unique
        self.items = 0
        self.size = 0

    def _number(self, obj, node: dict) -> dict:
        n = len(self.seen)
        self.seen[id(obj)] = n
        self.keep.append(obj)
        node["id"] = n
        if id(obj) in self.origins:
            node["from"] = self.origins[id(obj)]
        return node

    def _array(self, a: np.ndarray, tag: str) -> dict:
        if a.dtype.kind not in ARRAY_KINDS or a.dtype.fields is not None:
            raise WireError(f"an array of dtype {a.dtype} cannot be sent (numbers only)")
        # raw bytes, with dtype and shape in the JSON: np.save/np.load cost a parsed
        # header per array, most of a message's time (a graded trajectory is ~1000 calls)
        data = np.ascontiguousarray(a).tobytes()
        self.size += len(data)
        if self.size > MAX_BYTES:
            raise WireError(f"the message is larger than {MAX_BYTES >> 20} MiB")
        self.arrays.append(data)
        return {tag: len(self.arrays) - 1, "dtype": a.dtype.str, "shape": list(a.shape)}

    def __call__(self, obj, depth: int = 0):
        self.items += 1
        if self.items > MAX_ITEMS:
            raise WireError(f"the message holds more than {MAX_ITEMS} items")
        if depth > MAX_DEPTH:
            raise WireError(f"the value is nested more than {MAX_DEPTH} levels deep")
        kind = type(obj)  # exact types: a subclass could redefine anything
        if obj is None or kind in (bool, str):
            return obj
        if kind is int:
            return obj if abs(obj) < 1 << 256 else self._too_big(obj)
        if kind is float:
            return obj if math.isfinite(obj) else {"float": repr(obj)}
        if id(obj) in self.seen:
            return {"ref": self.seen[id(obj)]}
        if kind is np.ndarray:
            return self._number(obj, self._array(obj, "array"))
        if isinstance(obj, np.generic) and kind.__module__ == "numpy":
            return self._array(np.asarray(obj), "scalar")
        if kind is list:
            node = self._number(obj, {"list": None})
            node["list"] = [self(x, depth + 1) for x in obj]
            return node
        if kind is tuple:
            return {"tuple": [self(x, depth + 1) for x in obj]}
        if kind is dict:
            node = self._number(obj, {"dict": None})
            node["dict"] = [[self(k, depth + 1), self(v, depth + 1)] for k, v in obj.items()]
            return node
        if kind is np.random.Generator:
            bit = type(obj.bit_generator).__name__
            if bit not in BIT_GENERATORS:
                raise WireError(f"a Generator on {bit} cannot be sent")
            node = self._number(obj, {"rng": bit})
            node["state"] = self(obj.bit_generator.state, depth + 1)
            return node
        if kind is functools.partial:
            return {"partial": [self(obj.func, depth + 1), self(obj.args, depth + 1),
                                self(dict(obj.keywords), depth + 1)]}
        if kind is types.MethodType and _in(type(obj.__self__).__module__, OBJECT_MODULES):
            # a bound method of an objective (problem.loss_and_grad): the object
            # travels as one, and the receiver looks the method up on it
            return {"method": [self(obj.__self__, depth + 1), obj.__func__.__name__]}
        if callable(obj) and not isinstance(obj, type):
            name = _function_name(obj)
            if name is not None:
                return {"fn": name}
        if _in(kind.__module__, OBJECT_MODULES) and hasattr(obj, "__dict__"):
            node = self._number(obj, {"obj": f"{kind.__module__}:{kind.__qualname__}"})
            node["state"] = self(vars(obj), depth + 1)
            return node
        raise WireError(f"a value of type {kind.__module__}.{kind.__qualname__} cannot be sent: "
                        "graded values must be numbers, strings, lists, tuples, dicts, plain "
                        "numpy arrays or numpy random generators")

    @staticmethod
    def _too_big(obj):
        raise WireError("an integer with more than 256 bits cannot be sent")


def pack(obj, origins: dict[int, int] | None = None) -> tuple[bytes, dict[int, object]]:
    """(framed message, {number: object}) for ``obj``; WireError for anything else.

    The frame is the total length, the JSON's length, the JSON, then each
    array's raw bytes after their length.  ``origins`` maps ``id()`` of objects that came in
    a request to their numbers there, so the answer can say "this is the
    array you sent me as number 3" (see :func:`unpack`'s ``adopt``).
    """
    enc = _Encoder(origins)
    doc = enc(obj)
    raw = json.dumps(doc, allow_nan=False, separators=(",", ":")).encode()
    if len(raw) + enc.size > MAX_BYTES:
        raise WireError(f"the message is larger than {MAX_BYTES >> 20} MiB")
    parts = [_HEADER.pack(len(raw)), raw]
    for blob in enc.arrays:
        parts += [_HEADER.pack(len(blob)), blob]
    body = b"".join(parts)
    numbered = {n: o for n, o in zip(range(len(enc.keep)), enc.keep)}
    return _HEADER.pack(len(body)) + body, numbered


# -- decoding (the grader's side; the input is hostile) -------------------------------------

def unpack(body: bytes, adopt: dict[int, object] | None = None, *,
           build_objects: bool = False) -> tuple[object, dict]:
    """(value, {number: object}) from a message body (without its leading total length).

    ``adopt`` maps the numbers of objects this side sent to the objects
    themselves: an array, list, dict or Generator the answer says came from
    number n is written into ``adopt[n]`` (same type, and for arrays the
    same shape and dtype) and that very object is used, so identity and
    in-place changes survive the trip.

    ``build_objects`` lets an ``obj`` node (an instance of a class in
    :data:`OBJECT_MODULES`) be built from its attribute dict: only the
    student's side, which receives the grader's objectives, passes it.
    Without it, an ``obj`` node must name an object this side sent, whose
    attributes then come back through adoption alone.
    """
    if len(body) > MAX_BYTES:
        raise WireError(f"the message is larger than {MAX_BYTES >> 20} MiB")
    view = memoryview(body)
    if len(view) < 8:
        raise WireError("the message is truncated")
    (n,) = _HEADER.unpack(view[:8])
    if 8 + n > len(view):
        raise WireError("the message is truncated")
    try:
        doc = json.loads(bytes(view[8:8 + n]).decode("utf-8"))
    except RecursionError:
        raise WireError("the message is nested too deeply") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise WireError(f"the message is not valid JSON ({exc})") from None
    blobs, offset = [], 8 + n
    while offset < len(view):
        if offset + 8 > len(view):
            raise WireError("the message is truncated")
        (size,) = _HEADER.unpack(view[offset:offset + 8])
        if offset + 8 + size > len(view):
            raise WireError("the message is truncated")
        blobs.append(bytes(view[offset + 8:offset + 8 + size]))
        offset += 8 + size
    memo: dict = {}
    return _decode(doc, blobs, memo, adopt or {}, build_objects), memo


#: the dtypes an array may arrive as (``dtype.str``): byte order, kind, item size
_DTYPE = re.compile(r"[<>|][biufc](1|2|4|8|16|32)")
#: numpy's own limit on dimensions
MAX_NDIM = 64


def _load(blob: bytes, node: dict) -> np.ndarray:
    dtype, shape = node.get("dtype"), node.get("shape")
    if type(dtype) is not str or not _DTYPE.fullmatch(dtype):
        raise WireError(f"an array of dtype {str(dtype)[:40]!r} cannot be received")
    if (type(shape) is not list or len(shape) > MAX_NDIM
            or not all(type(n) is int and n >= 0 for n in shape)):
        raise WireError("an array with a malformed shape")
    try:
        dt = np.dtype(dtype)
    except TypeError as exc:
        raise WireError(f"an array of dtype {dtype!r} cannot be received ({exc})") from None
    if dt.kind not in ARRAY_KINDS or dt.fields is not None or dt.itemsize != int(dtype[2:]):
        raise WireError(f"an array of dtype {dtype!r} cannot be received")
    if math.prod(shape) * dt.itemsize != len(blob):
        raise WireError(f"an array of shape {tuple(shape)} and dtype {dtype} cannot hold "
                        f"{len(blob)} bytes")
    try:
        # a writable array that owns its memory
        return np.frombuffer(blob, dtype=dt).reshape(shape).copy()
    except ValueError as exc:  # an empty array whose sides overflow numpy's index type
        raise WireError(f"an array of shape {tuple(shape)} cannot be made ({exc})") from None


def _decode(doc, blobs: list[bytes], memo: dict, adopt: dict, build_objects: bool = False):
    """Rebuild the value ``doc`` describes; only the types :func:`pack` writes come out."""
    counter = [0]

    def target(node, kind):
        origin = node.get("from")
        if origin is None:
            return None
        if type(origin) is not int:
            raise WireError("a malformed origin")
        mine = adopt.get(origin)
        return mine if type(mine) is kind else None

    def number(node, obj):
        n = node.get("id")
        if type(n) is not int or n in memo:
            raise WireError("an object number is missing or repeated")
        memo[n] = obj
        return obj

    def build(node, depth):
        counter[0] += 1
        if counter[0] > MAX_ITEMS:
            raise WireError(f"the message holds more than {MAX_ITEMS} items")
        if depth > MAX_DEPTH + 2:
            raise WireError(f"the value is nested more than {MAX_DEPTH} levels deep")
        kind = type(node)
        if node is None or kind in (bool, str, int, float):
            return node
        if kind is not dict or not node:
            raise WireError(f"unexpected {kind.__name__} in the message")
        tag = next(iter(node))
        if tag == "ref":
            if type(node["ref"]) is not int or node["ref"] not in memo:
                raise WireError("a reference to an object not sent before")
            return memo[node["ref"]]
        if tag == "float" and node["float"] in ("nan", "inf", "-inf"):
            return float(node["float"])
        if tag in ("array", "scalar"):
            i = node[tag]
            if type(i) is not int or not 0 <= i < len(blobs):
                raise WireError("a reference to an array not sent")
            a = _load(blobs[i], node)
            if tag == "scalar":
                return a[()] if a.ndim == 0 else _fail("a scalar that is not 0-d")
            mine = target(node, np.ndarray)
            if (mine is not None and mine.shape == a.shape and mine.dtype == a.dtype
                    and mine.flags.writeable):
                np.copyto(mine, a)
                a = mine
            return number(node, a)
        if tag == "list" and type(node["list"]) is list:
            out = target(node, list)
            out = number(node, [] if out is None else out)
            items = [build(x, depth + 1) for x in node["list"]]
            out[:] = items
            return out
        if tag == "tuple" and type(node["tuple"]) is list:
            return tuple(build(x, depth + 1) for x in node["tuple"])
        if tag == "dict" and type(node["dict"]) is list:
            out = target(node, dict)
            out = number(node, {} if out is None else out)
            items = {}
            for pair in node["dict"]:
                if type(pair) is not list or len(pair) != 2:
                    raise WireError("a malformed dict entry")
                key = build(pair[0], depth + 1)
                try:
                    hash(key)
                except TypeError:
                    raise WireError(f"an unhashable dict key ({type(key).__name__})") from None
                items[key] = build(pair[1], depth + 1)
            out.clear()
            out.update(items)
            return out
        if tag == "rng" and node["rng"] in BIT_GENERATORS:
            mine = target(node, np.random.Generator)
            if mine is None or type(mine.bit_generator).__name__ != node["rng"]:
                mine = np.random.Generator(getattr(np.random, node["rng"])())
            number(node, mine)
            state = build(node.get("state"), depth + 1)
            try:
                mine.bit_generator.state = state
            except Exception as exc:  # noqa: BLE001 - a forged state is a malformed message
                raise WireError(f"a random generator's state is invalid ({exc})") from None
            return mine
        if tag == "fn" and type(node["fn"]) is str and node["fn"].count(":") == 1:
            fn = _lookup(*node["fn"].split(":"), FUNCTION_MODULES)
            return fn if callable(fn) else _fail(f"{node['fn']} is not a function")
        if tag == "partial" and type(node["partial"]) is list and len(node["partial"]) == 3:
            fn, args, kwargs = (build(x, depth + 1) for x in node["partial"])
            if not (callable(fn) and type(args) is tuple and type(kwargs) is dict
                    and all(type(k) is str for k in kwargs)):
                raise WireError("a malformed partial function")
            return functools.partial(fn, *args, **kwargs)
        if tag == "method" and type(node["method"]) is list and len(node["method"]) == 2:
            owner, name = build(node["method"][0], depth + 1), node["method"][1]
            if not (_in(type(owner).__module__, OBJECT_MODULES) and type(name) is str
                    and name.isidentifier() and (not name.startswith("_") or name == "__call__")):
                raise WireError("a malformed method reference")
            method = getattr(type(owner), name, None)
            if not isinstance(method, types.FunctionType):
                raise WireError(f"{type(owner).__qualname__} has no method {name!r}")
            return getattr(owner, name)
        if tag == "obj" and type(node["obj"]) is str and node["obj"].count(":") == 1:
            module, qualname = node["obj"].split(":")
            origin = node.get("from")
            mine = adopt.get(origin) if type(origin) is int else None
            if mine is not None and (type(mine).__module__, type(mine).__qualname__) == \
                    (module, qualname):
                # one of ours: its containers come back through adoption, and
                # nothing else of it is taken from the other side
                number(node, mine)
                build(node.get("state"), depth + 1)
                return mine
            if not build_objects:
                raise WireError(f"an object of class {module}.{qualname} cannot be received")
            cls = _lookup(module, qualname, OBJECT_MODULES)
            if not isinstance(cls, type):
                raise WireError(f"{module}:{qualname} is not a class")
            obj = number(node, cls.__new__(cls))
            state = build(node.get("state"), depth + 1)
            if type(state) is not dict or not all(type(k) is str for k in state):
                raise WireError("a malformed object state")
            obj.__dict__.update(state)
            return obj
        raise WireError(f"unexpected {tag!r} in the message")

    return build(doc, 0)


def _fail(why: str):
    raise WireError(why)
