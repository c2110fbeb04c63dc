"""Scalar helpers that reproduce torch's CPU element-wise formulas.

They are inlined into the kernels' loops; the arguments are already in the
parameters' dtype, so float32 stays float32 as it does in torch.
"""

from .._jit import inline


@inline
def lerp(start, end, weight, weight_minus_one):
    """``torch.lerp(start, end, weight)`` for a scalar weight.

    torch switches formulas at weight 0.5 so that the result is exact at both
    ends (weight 0 gives start, weight 1 gives end).
    """
    if weight < 0.5:
        return start + weight * (end - start)
    return end + weight_minus_one * (end - start)
