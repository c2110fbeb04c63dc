r"""SequentialLR: hand over from one schedule to the next at given steps."""

from __future__ import annotations

import bisect

import numpy as np

from .plateau import ReduceLROnPlateau
from .scheduler import (LRScheduler, _epoch, _milestones, _optimizer, _result, _times,
                        _user_values)

__all__ = ["SequentialLR", "sequential"]


class SequentialLR(LRScheduler):
    r"""Run ``schedulers[0]`` until ``milestones[0]``, then ``schedulers[1]``
    until ``milestones[1]``, and so on.

    .. math::
        \eta_t = \eta^{(i)}_{t - m_i} \quad \text{for } m_i \le t < m_{i+1},
        \qquad m_0 = 0,

    where :math:`\eta^{(i)}_s` is the :math:`i`-th schedule :math:`s` steps
    after it took over: at its milestone each scheduler restarts from step 0
    (torch's closed form at 0 for the chainable ones).  A linear warm-up into
    a cosine decay (Goyal et al. 2017; Loshchilov & Hutter 2017)::

        warmup = LinearLR(opt, start_factor=0.1, total_iters=5)
        decay = CosineAnnealingLR(opt, T_max=95)
        sched = SequentialLR(opt, [warmup, decay], milestones=[5])

    Build the schedulers on the same optimizer, one after another, as in
    torch: each one steps when built, and SequentialLR then undoes those steps
    and starts over from the optimizer's ``initial_lr``.

    Args:
        optimizer: the descentlab optimizer all the schedulers drive.
        schedulers: a list of at least one scheduler (not ReduceLROnPlateau,
            which needs a metric, nor another SequentialLR).
        milestones: strictly increasing steps >= 1, one fewer than the schedulers.
        last_epoch: index of the last step; -1 starts the schedule.
    """

    def __init__(self, optimizer, schedulers, milestones, last_epoch=-1):
        owner = "SequentialLR"
        optimizer = _optimizer(optimizer, owner)
        if isinstance(schedulers, LRScheduler) or not isinstance(schedulers, (list, tuple)):
            raise TypeError(f"{owner}: schedulers must be a list of schedulers, "
                            f"got {type(schedulers).__name__}")
        if not schedulers:
            raise ValueError(f"{owner}: schedulers is empty; give at least one scheduler")
        for i, s in enumerate(schedulers):
            if not isinstance(s, LRScheduler):
                raise TypeError(f"{owner}: schedulers[{i}] must be a descentlab scheduler, "
                                f"got {type(s).__name__}")
            if isinstance(s, ReduceLROnPlateau):
                raise ValueError(f"{owner}: schedulers[{i}] is a ReduceLROnPlateau, which "
                                 "steps on a metric and cannot be sequenced")
            if isinstance(s, SequentialLR):
                raise ValueError(f"{owner}: schedulers[{i}] is a SequentialLR; "
                                 "give its schedulers directly instead")
            if s.optimizer is not optimizer:
                raise ValueError(f"{owner}: schedulers[{i}] ({type(s).__name__}) drives another "
                                 "optimizer; all must drive this one")
        milestones = _milestones(milestones, "milestones", owner)
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(f"{owner}: milestones must have one fewer entry than schedulers, "
                             f"got {len(milestones)} milestones for {len(schedulers)} schedulers")
        last_epoch = _epoch(last_epoch, owner)

        self._schedulers = list(schedulers)
        self._milestones = milestones
        self.last_epoch = last_epoch + 1
        self.optimizer = optimizer
        # Back to the start: the schedulers stepped once each when built.
        optimizer.lr = vars(optimizer)["initial_lr"]
        for s in self._schedulers:
            s.last_epoch -= 1
        first = self._schedulers[bisect.bisect_right(self._milestones, 0)]
        first._initial_step()
        self._last_lr = first.get_last_lr()

    def step(self) -> None:
        self.last_epoch += 1
        idx = bisect.bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[idx]
        if idx > 0 and self._milestones[idx - 1] == self.last_epoch:
            scheduler._restart()
        else:
            scheduler.step()
        self._last_lr = scheduler.get_last_lr()

    def _next(self, epoch, initial):
        raise AssertionError("SequentialLR delegates every step to its schedulers")

    _not_plain = ("_schedulers",)

    def _can_dry_run(self):
        # its parts are checked one by one (and may be LambdaLRs)
        return False

    def state_dict(self):
        state = self._plain_state("_schedulers")
        state["_schedulers"] = [s.state_dict() for s in self._schedulers]
        return state

    def load_state_dict(self, state_dict):
        state = self._checked_state(state_dict)
        saved = state.pop("_schedulers")
        if len(saved) != len(self._schedulers):
            raise ValueError(f"SequentialLR: state_dict holds {len(saved)} schedulers, "
                             f"this one has {len(self._schedulers)}")
        _milestones(state["_milestones"], "state_dict['_milestones']", "SequentialLR")
        if len(state["_milestones"]) != len(saved) - 1:
            raise ValueError("SequentialLR: state_dict['_milestones'] must have one fewer "
                             f"entry than schedulers, got {state['_milestones']!r}")
        # every part is checked before anything changes
        checked = [s._checked_state(d) for s, d in zip(self._schedulers, saved)]
        self.__dict__.update(state)
        for s, d in zip(self._schedulers, checked):
            s.load_state_dict(d)


def sequential(t, schedules, milestones):
    r"""SequentialLR in closed form: :math:`\eta^{(i)}(t - m_i)` for
    :math:`m_i \le t < m_{i+1}`.

    ``schedules`` are functions of the step that take arrays, such as
    ``functools.partial(cosine_annealing, base_lr=0.1, T_max=95)``.
    """
    owner = "sequential"
    t, scalar = _times(t, owner)
    if not isinstance(schedules, (list, tuple)) or not schedules:
        raise TypeError(f"{owner}: schedules must be a non-empty list of functions, "
                        f"got {schedules!r}")
    for i, f in enumerate(schedules):
        if not callable(f):
            raise TypeError(f"{owner}: schedules[{i}] must be callable, got {f!r}")
    milestones = _milestones(milestones, "milestones", owner)
    if len(milestones) != len(schedules) - 1:
        raise ValueError(f"{owner}: milestones must have one fewer entry than schedules, "
                         f"got {len(milestones)} milestones for {len(schedules)} schedules")
    starts = np.asarray([0, *milestones], dtype=np.float64)
    which = np.searchsorted(starts, t, side="right") - 1
    out = np.empty_like(t)
    for i, f in enumerate(schedules):
        here = which == i
        out[here] = _user_values(f(t[here] - starts[i]), f"schedules[{i}]", owner)
    return _result(out, scalar)
