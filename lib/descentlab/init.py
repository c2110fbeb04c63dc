r"""Weight initialisation, functional: torch.nn.init's names, arguments and defaults.

torch fills a tensor in place (``xavier_uniform_(w)``); here each function
takes a ``shape`` and returns a new float64 array, so a notebook can sample,
plot and compare without a tensor in sight::

    w = init.kaiming_normal((256, 128), nonlinearity="relu", rng=0)

Where a scale depends on the layer it uses torch's fans.  A weight of shape
:math:`(\text{out}, \text{in}, k_1, \dots, k_m)` (a linear layer's
``(out, in)``, a convolution's ``(out, in, kH, kW)``) has receptive field
:math:`r = \prod_i k_i` (1 for a linear layer) and

.. math::
    \text{fan\_in} = \text{in} \cdot r, \qquad \text{fan\_out} = \text{out} \cdot r .

``fan_in`` counts the inputs summed into one output unit, ``fan_out`` the
outputs one input unit feeds.  Keeping :math:`\operatorname{Var}(w) \cdot
\text{fan\_in}` at 1 keeps the variance of activations constant through the
forward pass; keeping :math:`\operatorname{Var}(w) \cdot \text{fan\_out}` at 1
does the same for gradients in the backward pass.

* Glorot & Bengio, *Understanding the difficulty of training deep feedforward
  neural networks*, AISTATS 2010 (Xavier): compromise between the two,
  :math:`\operatorname{Var}(w) = 2 / (\text{fan\_in} + \text{fan\_out})`.
* He, Zhang, Ren & Sun, *Delving Deep into Rectifiers: Surpassing
  Human-Level Performance on ImageNet Classification*, ICCV 2015 (Kaiming):
  a ReLU zeroes half its inputs, so :math:`\operatorname{Var}(w) = 2 /
  \text{fan}`.

``rng`` is a ``numpy.random.Generator`` (used and advanced), an int seed
(same numbers every call) or None (a fresh generator).  The samples come from
numpy, not from torch's generator: same distributions, different numbers.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import numpy as np

from . import _checks

__all__ = ["calculate_gain", "calculate_fan_in_and_fan_out", "xavier_std", "kaiming_std",
           "constant", "zeros", "uniform", "normal", "xavier_uniform", "xavier_normal",
           "kaiming_uniform", "kaiming_normal"]

#: nonlinearities whose gain is 1 (torch: linear maps, and sigmoid by convention).
_GAIN_ONE = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
           "conv_transpose3d", "sigmoid")
_MODES = ("fan_in", "fan_out")


def _shape(shape, name: str = "shape") -> tuple[int, ...]:
    """An int or a sequence of ints >= 0, as a tuple (numpy's notion of a shape)."""
    dims = (shape,) if isinstance(shape, numbers.Integral) else shape
    if isinstance(dims, (str, bytes)) or not isinstance(dims, Sequence | np.ndarray):
        raise TypeError(f"{name} must be an int or a sequence of ints, got {shape!r}")
    out = []
    for i, d in enumerate(dims):
        if isinstance(d, (bool, np.bool_)) or not isinstance(d, numbers.Integral):
            raise TypeError(f"{name}[{i}] must be an int, got {d!r} of type "
                            f"{type(d).__name__} (in {name}={shape!r})")
        if d < 0:
            raise ValueError(f"{name}[{i}] must be >= 0, got {d} (in {name}={shape!r})")
        out.append(int(d))
    return tuple(out)


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    r"""The gain torch recommends for ``nonlinearity``: the factor by which to
    scale a weight's standard deviation so activations keep their variance.

    ================================  ==============================================
    nonlinearity                      gain
    ================================  ==============================================
    linear, conv{1,2,3}d,             :math:`1`
    conv_transpose{1,2,3}d, sigmoid
    tanh                              :math:`5/3`
    relu                              :math:`\sqrt{2}`
    leaky_relu                        :math:`\sqrt{2 / (1 + \text{negative\_slope}^2)}`
    selu                              :math:`3/4`
    ================================  ==============================================

    The ReLU gain is He et al. (2015): half the pre-activations are zeroed,
    so :math:`E[\mathrm{relu}(y)^2] = \operatorname{Var}(y)/2`, and a factor 2
    in the variance restores it.  A leaky ReLU with slope :math:`a` keeps
    :math:`(1 + a^2)/2` of it.  ``param`` is the negative slope (default
    0.01) and is ignored by every other nonlinearity, as in torch.  The values
    equal ``torch.nn.init.calculate_gain``'s (returned as a float even where
    torch returns the int 1).

    Raises:
        ValueError: ``nonlinearity`` is not one of the above.
        TypeError: ``nonlinearity`` is not a string, or ``param`` (for
            leaky_relu) is not a real number.
    """
    if not isinstance(nonlinearity, str):
        raise TypeError(f"nonlinearity must be a string such as 'relu', got {nonlinearity!r}")
    if nonlinearity in _GAIN_ONE:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        negative_slope = 0.01 if param is None else _checks.real(param, "param")
        try:
            return math.sqrt(2.0 / (1 + negative_slope ** 2))
        except OverflowError:  # |slope| > 1.3e154 (found by the fuzz): 1 + slope**2 is
            return math.sqrt(2.0) / abs(negative_slope)  # slope**2 to double precision
    if nonlinearity == "selu":
        return 3.0 / 4  # found empirically (pytorch/pytorch#50664)
    known = ", ".join(repr(n) for n in (*_GAIN_ONE, "tanh", "relu", "leaky_relu", "selu"))
    raise ValueError(f"nonlinearity {nonlinearity!r} is not supported; use one of {known}")


def calculate_fan_in_and_fan_out(shape) -> tuple[int, int]:
    r"""``(fan_in, fan_out)`` of a weight of ``shape`` = (out, in, *kernel), as torch computes them.

    .. math::
        \text{fan\_in} = \text{shape}[1] \cdot r, \qquad
        \text{fan\_out} = \text{shape}[0] \cdot r, \qquad
        r = \textstyle\prod_{i \ge 2} \text{shape}[i].

    Raises ValueError for fewer than 2 dimensions, like torch: a vector (a
    bias) has no fan-in/fan-out structure.
    """
    dims = _shape(shape)
    if len(dims) < 2:
        raise ValueError(f"shape must have at least 2 dimensions (out, in, *kernel) to have a "
                         f"fan-in and fan-out, got shape={shape!r}")
    receptive_field = math.prod(dims[2:])
    return dims[1] * receptive_field, dims[0] * receptive_field


def xavier_std(shape, gain: float = 1.0) -> float:
    r"""The standard deviation Glorot & Bengio (2010) prescribe for ``shape``:
    :math:`\text{gain} \cdot \sqrt{2 / (\text{fan\_in} + \text{fan\_out})}`.

    Raises ValueError where fan_in + fan_out = 0 (a weight with no elements).
    """
    return _xavier_std(shape, gain, empty_ok=False)


def kaiming_std(shape, a: float = 0.0, mode: str = "fan_in",
                nonlinearity: str = "leaky_relu") -> float:
    r"""The standard deviation He et al. (2015) prescribe for ``shape``:
    :math:`\text{gain} / \sqrt{\text{fan\_mode}}` with
    ``gain = calculate_gain(nonlinearity, a)``.

    Raises ValueError where the chosen fan is 0 (a weight with no elements).
    """
    return _kaiming_std(shape, a, mode, nonlinearity, empty_ok=False)


def _xavier_std(shape, gain, *, empty_ok: bool) -> float:
    # Every argument is checked even for an empty weight, which the samplers
    # return empty (torch's no-op) instead of failing on a zero fan.
    gain = _checks.nonnegative(gain, "gain")
    fan_in, fan_out = calculate_fan_in_and_fan_out(shape)
    if fan_in + fan_out == 0:
        if empty_ok:
            return 0.0
        raise ValueError(f"shape={shape!r} has fan_in + fan_out = 0; there is no scale to set")
    return gain * math.sqrt(2.0 / float(fan_in + fan_out))


def _kaiming_std(shape, a, mode, nonlinearity, *, empty_ok: bool) -> float:
    if not isinstance(mode, str):
        raise TypeError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    if mode.lower() not in _MODES:  # torch lower-cases mode too
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    gain = calculate_gain(nonlinearity, _checks.real(a, "a"))
    fan_in, fan_out = calculate_fan_in_and_fan_out(shape)
    fan = fan_in if mode.lower() == "fan_in" else fan_out
    if fan == 0:
        if empty_ok:
            return 0.0
        raise ValueError(f"shape={shape!r} has {mode.lower()} = 0; there is no scale to set")
    return gain / math.sqrt(fan)


def constant(shape, val: float) -> np.ndarray:
    """An array of ``shape`` filled with ``val`` (torch's ``constant_``)."""
    return np.full(_shape(shape), _checks.real(val, "val"), dtype=np.float64)


def zeros(shape) -> np.ndarray:
    """An array of ``shape`` filled with zeros (torch's ``zeros_``)."""
    return np.zeros(_shape(shape), dtype=np.float64)


def uniform(shape, a: float = 0.0, b: float = 1.0, rng=None) -> np.ndarray:
    r"""Samples from :math:`\mathcal{U}(a, b)`: mean :math:`(a+b)/2`, variance :math:`(b-a)^2/12`.

    Raises ValueError when :math:`a > b` (torch's ``uniform_`` does too) or
    when the bounds are not finite.
    """
    dims = _shape(shape)
    a, b = _checks.real(a, "a"), _checks.real(b, "b")
    if not math.isfinite(b - a):
        raise ValueError(f"a and b must be finite with a finite width b - a, got a={a!r}, b={b!r}")
    if a > b:
        raise ValueError(f"a must be <= b, got a={a!r} > b={b!r}")
    return _checks.generator(rng).uniform(a, b, dims)


def normal(shape, mean: float = 0.0, std: float = 1.0, rng=None) -> np.ndarray:
    r"""Samples from :math:`\mathcal{N}(\text{mean}, \text{std}^2)`.

    Raises ValueError when ``std`` < 0 (torch's ``normal_`` does too).
    """
    dims = _shape(shape)
    mean = _checks.real(mean, "mean")
    if not math.isfinite(mean):
        raise ValueError(f"mean must be finite, got {mean!r}")
    std = _checks.nonnegative(std, "std")
    return _checks.generator(rng).normal(mean, std, dims)


def xavier_uniform(shape, gain: float = 1.0, rng=None) -> np.ndarray:
    r"""Glorot & Bengio (2010) uniform: samples from
    :math:`\mathcal{U}(-\text{bound}, \text{bound})`,

    .. math::
        \text{bound} = \text{gain} \cdot \sqrt{\frac{6}{\text{fan\_in} + \text{fan\_out}}},

    so that :math:`\operatorname{Var}(w) = \text{bound}^2/3 = \text{gain}^2 \cdot
    2/(\text{fan\_in} + \text{fan\_out})`.  ``shape`` is (out, in, *kernel);
    see :func:`calculate_fan_in_and_fan_out`.
    """
    dims = _shape(shape)
    std = _xavier_std(dims, gain, empty_ok=True)
    bound = math.sqrt(3.0) * std  # torch's order of operations: same bound to the bit
    return uniform(dims, -bound, bound, rng)


def xavier_normal(shape, gain: float = 1.0, rng=None) -> np.ndarray:
    r"""Glorot & Bengio (2010) normal: samples from :math:`\mathcal{N}(0, \text{std}^2)`,

    .. math::
        \text{std} = \text{gain} \cdot \sqrt{\frac{2}{\text{fan\_in} + \text{fan\_out}}}.
    """
    dims = _shape(shape)
    std = _xavier_std(dims, gain, empty_ok=True)
    return normal(dims, 0.0, std, rng)


def kaiming_uniform(shape, a: float = 0.0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu", rng=None) -> np.ndarray:
    r"""He et al. (2015) uniform: samples from :math:`\mathcal{U}(-\text{bound}, \text{bound})`,

    .. math::
        \text{bound} = \text{gain} \cdot \sqrt{\frac{3}{\text{fan\_mode}}}, \qquad
        \text{gain} = \texttt{calculate\_gain}(\text{nonlinearity}, a).

    ``mode="fan_in"`` keeps the forward activations' variance,
    ``mode="fan_out"`` the backward gradients'.  ``a`` is the negative slope of
    a leaky ReLU (ignored for other nonlinearities); torch's defaults
    (``a=0``, ``"leaky_relu"``) give the ReLU gain :math:`\sqrt 2`.
    """
    dims = _shape(shape)
    std = _kaiming_std(dims, a, mode, nonlinearity, empty_ok=True)
    bound = math.sqrt(3.0) * std
    return uniform(dims, -bound, bound, rng)


def kaiming_normal(shape, a: float = 0.0, mode: str = "fan_in",
                   nonlinearity: str = "leaky_relu", rng=None) -> np.ndarray:
    r"""He et al. (2015) normal: samples from :math:`\mathcal{N}(0, \text{std}^2)`,

    .. math::
        \text{std} = \frac{\text{gain}}{\sqrt{\text{fan\_mode}}}, \qquad
        \text{gain} = \texttt{calculate\_gain}(\text{nonlinearity}, a).

    Arguments as :func:`kaiming_uniform`.
    """
    dims = _shape(shape)
    std = _kaiming_std(dims, a, mode, nonlinearity, empty_ok=True)
    return normal(dims, 0.0, std, rng)
