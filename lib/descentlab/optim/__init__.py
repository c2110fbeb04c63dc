"""Optimizers with torch.optim's names, defaults and numerics, on numpy arrays.

Every class updates a list of float32/float64 arrays in place::

    opt = Adam([w, b], lr=1e-2)
    opt.step([dw, db])
    opt.state[0]["exp_avg"]          # inspectable state, named as in torch

Each module holds one algorithm: its Numba kernel (``*_kernel``, usable from
other compiled code) and its class.  The float64 trajectories equal
torch.optim's single-tensor implementation to about 1e-15 relative.
"""

from .adadelta import Adadelta
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .adamax import Adamax
from .classic_momentum import ClassicMomentum
from .local_gains import LocalGains
from .nadam import NAdam
from .optimizer import Hyper, Optimizer
from .radam import RAdam
from .rmsprop import RMSprop
from .sgd import SGD

#: The classes that mirror torch.optim, by torch's name.
TORCH_OPTIMIZERS = ("SGD", "Adagrad", "RMSprop", "Adadelta", "Adam", "AdamW", "Adamax",
                    "NAdam", "RAdam")
#: Course extras with no torch counterpart.
EXTRAS = ("ClassicMomentum", "LocalGains")

__all__ = ["Optimizer", "Hyper", *TORCH_OPTIMIZERS, *EXTRAS]
