r"""LambdaLR: the learning rate is the initial one times a function of the step."""

from __future__ import annotations

from .. import _checks
from .scheduler import LRScheduler, _restore_callable, _saved_callable

__all__ = ["LambdaLR"]


class LambdaLR(LRScheduler):
    r"""Set the learning rate to :math:`\eta_0\,\lambda(t)`.

    .. math::
        \eta_t = \eta_0\, \lambda(t)

    Any schedule can be written this way; it is its own closed form.

    Args:
        optimizer: a descentlab optimizer.
        lr_lambda: a function of the step index :math:`t` (an int) that
            returns the factor, or torch's list with one function per
            parameter group (here, one).
        last_epoch: index of the last step; -1 starts the schedule.

    Saving: as in torch, :meth:`state_dict` cannot save a plain function or
    lambda (it stores ``None`` in its place).  A callable *object* is saved
    by its attributes (``__dict__``), which :meth:`load_state_dict` writes
    back into the object the new scheduler was built with.  So, to resume,
    build the scheduler with the same function, then load.
    """

    def __init__(self, optimizer, lr_lambda, last_epoch=-1):
        fns = list(lr_lambda) if isinstance(lr_lambda, (list, tuple)) else [lr_lambda]
        if len(fns) != 1:
            raise ValueError(f"LambdaLR: lr_lambda has {len(fns)} functions, but a descentlab "
                             "optimizer has one parameter group")
        if not callable(fns[0]):
            raise TypeError(f"LambdaLR: lr_lambda must be callable, got {fns[0]!r}")
        self.lr_lambdas = fns
        super().__init__(optimizer, last_epoch)

    def _next(self, epoch, initial):
        factor = self.lr_lambdas[0](epoch)
        factor = _checks.real(factor, f"lr_lambda({epoch})", "LambdaLR")
        return self.base_lrs[0] * factor, None

    _not_plain = ("lr_lambdas",)

    def _can_dry_run(self):
        return False

    def state_dict(self):
        state = self._plain_state("lr_lambdas")
        state["lr_lambdas"] = [_saved_callable(fn) for fn in self.lr_lambdas]
        return state

    def load_state_dict(self, state_dict):
        state = self._checked_state(state_dict)
        saved = state.pop("lr_lambdas")
        for fn, attrs in zip(self.lr_lambdas, saved):
            if attrs is not None:
                _restore_callable(fn, {}, "lr_lambda", "LambdaLR")  # check before changing
        self.__dict__.update(state)
        for fn, attrs in zip(self.lr_lambdas, saved):
            _restore_callable(fn, attrs, "lr_lambda", "LambdaLR")
