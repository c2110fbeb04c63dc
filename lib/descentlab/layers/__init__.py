"""Layers as CS231n writes them, with torch's conventions.

``*_forward(x, ...) -> (out, cache)`` and ``*_backward(dout, cache)``, one
layer per module:

* :mod:`.batchnorm`: batch normalisation (Ioffe & Szegedy 2015), torch's
  ``F.batch_norm`` with in-place running statistics;
* :mod:`.dropout`: inverted dropout (Srivastava et al. 2014), torch's ``F.dropout``;
* :mod:`.layernorm`: layer normalisation (Ba et al. 2016), torch's ``F.layer_norm``;
* :mod:`.groupnorm`: group normalisation (Wu & He 2018), torch's ``F.group_norm``;
* :mod:`.instancenorm`: instance normalisation (Ulyanov et al. 2016), torch's
  ``F.instance_norm`` without running statistics.

Inputs are float32 or float64 and C-contiguous (non-contiguous arrays are
refused, not silently copied); outputs have the input's dtype.  A cache is a
small named tuple that holds the caller's input by reference: do not modify
the input in place between forward and backward.
"""

from .batchnorm import BatchNormCache, batchnorm_backward, batchnorm_forward
from .dropout import DropoutCache, dropout_backward, dropout_forward
from .groupnorm import GroupNormCache, groupnorm_backward, groupnorm_forward
from .instancenorm import InstanceNormCache, instancenorm_backward, instancenorm_forward
from .layernorm import LayerNormCache, layernorm_backward, layernorm_forward

__all__ = ["batchnorm_forward", "batchnorm_backward", "dropout_forward", "dropout_backward",
           "layernorm_forward", "layernorm_backward", "groupnorm_forward", "groupnorm_backward",
           "instancenorm_forward", "instancenorm_backward", "BatchNormCache", "DropoutCache",
           "LayerNormCache", "GroupNormCache", "InstanceNormCache"]
