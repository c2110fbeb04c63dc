"""PS1's and PS2's derive, measure and find-the-bug parts: each reference formula
against an independent computation (a brute-force search, the recurrence's own
spectral radius, a long partial sum, gradient descent run step by step), and the
handed buggy code in the notebook against the mistake the grader names for it."""

from __future__ import annotations

import math

import nbformat
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from descentlab.grading.assignments import ps1_gradient_descent as ps1
from descentlab.grading.assignments import ps2_momentum as ps2
from descentlab.problems import LeastSquaresProblem
from descentlab.schedulers import exponential_decay, step_decay

from .notebooks import ROOT

curvature = st.floats(0.01, 100.0)


@settings(max_examples=30, deadline=None)
@given(st.lists(curvature, min_size=2, max_size=6), st.integers(0, 2**16))
def test_ps1s_best_step_beats_every_other_constant_step(eigenvalues, seed):
    # rho(eta) = max_i |1 - eta h_i| on a fine grid: no rate does better than the formula's
    A = ps1._spd(seed, eigenvalues)
    h = np.asarray(eigenvalues)
    rho = lambda eta: np.max(np.abs(1 - np.multiply.outer(eta, h)), axis=-1)  # noqa: E731
    best = ps1._best_lr(A)
    grid = np.linspace(0, 2 / h.min(), 20001)
    assert rho(best) <= rho(grid).min() + 1e-12
    assert math.isclose(ps1._best_contraction(A), float(rho(best)), rel_tol=1e-9, abs_tol=1e-12)


def _radius(lr, momentum, h):
    """The spectral radius of momentum's 2x2 map on curvature h (the recurrence of PS2 part 4)."""
    a = 1 + momentum - lr * h
    return max(abs(np.roots([1.0, -a, momentum])))


@settings(max_examples=10, deadline=None)
@given(curvature, st.floats(1.0, 1e4))
def test_ps2s_heavy_ball_contracts_every_curvature_by_its_rate_and_no_grid_point_beats_it(m, kappa):
    L = m * kappa
    lr, mu, rate = ps2._hb_lr(m, L), ps2._hb_momentum(m, L), ps2._hb_root(m, L)
    assert math.isclose(rate, math.sqrt(mu), rel_tol=1e-12)
    # at (eta*, mu*) every curvature in [m, L] contracts by sqrt(mu*) (double roots at the ends)
    worst = max(_radius(lr, mu, h) for h in np.linspace(m, L, 41))
    assert worst <= rate * (1 + 1e-6) + 1e-12
    # a coarse search over (eta, mu) finds nothing faster on the two extreme curvatures
    for eta in np.linspace(0.2, 2.0, 19) * lr:
        for momentum in np.linspace(0.0, 0.999, 19):
            assert max(_radius(eta, momentum, m), _radius(eta, momentum, L)) >= rate * (1 - 1e-6)


@settings(max_examples=25, deadline=None)
@given(st.floats(0.01, 2.0), st.floats(0.05, 3.0), st.floats(0.05, 0.95), st.integers(1, 12))
def test_ps1s_total_steps_are_the_schedules_sums(lr0, k, drop, every):
    # sum the library's schedules far enough that the rest is below 1e-12 of the total
    t = np.arange(int(40 / k) + 10)
    assert math.isclose(ps1._total_exponential(lr0, k), float(np.sum(exponential_decay(t, lr0, k))),
                        rel_tol=1e-10)
    t = np.arange(every * int(math.log(1e-14) / math.log(drop) + 2))
    assert math.isclose(ps1._total_step(lr0, drop, every),
                        float(np.sum(step_decay(t, lr0, every, drop))), rel_tol=1e-10)


@pytest.mark.parametrize("hidden", [False, True])
def test_ps1s_largest_rate_is_the_edge_of_what_gradient_descent_reaches(hidden):
    # the grader's edges come from the Hessian's eigendecomposition; gradient descent run
    # step by step (LeastSquaresProblem.descend) must agree on both sides of each edge
    case = ps1.largest_lr.cases("reaches", hidden)[0]
    problem = LeastSquaresProblem(**case.data["kw"])
    target, budget = case.data["target"], case.data["budget"]
    low, high = ps1.largest_lr._edge(case)
    assert problem.descend(0.0, 0) > target            # the target needs some progress
    for edge, inside in ((low, 1.001), (high, 0.999)):
        assert problem.descend(edge * inside, budget) <= target
        assert problem.descend(edge / inside, budget) > target
    # the student-facing reference search lands within the tolerance of the upper edge
    found = ps1._largest_lr(problem.loss_and_grad, problem.w0, target, budget)
    assert high * (1 - 1e-3) <= found <= high


def _handed_local_gains():
    nb = nbformat.read(str(ROOT / "solutions" / "ps2_momentum" / "ps2_momentum.ipynb"), as_version=4)
    source = next(c.source for c in nb.cells if c.get("id") == "local_gains_handed")
    namespace = {"np": np}
    exec(source, namespace)  # noqa: S102 - our own notebook's cell
    return namespace["local_gains_step_handed"]


def test_ps2s_handed_local_gains_is_the_mistake_the_grader_names_for_it():
    handed = _handed_local_gains()
    found = ps2.local_gains.check(handed, "trajectory")
    assert found is not None and found.mistake == "both bugs of the handed implementation left in"
    # and each part fails it: the first step's zero product is one of its two bugs
    for part in ("first_step", "clipping"):
        assert ps2.local_gains.check(handed, part) is not None


def test_ps2s_handed_local_gains_still_brings_the_loss_down_as_the_text_says():
    # "It runs, and on a smooth problem its loss even goes down": the ravine of part 3
    handed = _handed_local_gains()
    w, state = np.array([1.0, 1.0]), {}
    for _ in range(200):
        w = handed(w, np.array([1.0, 50.0]) * w, state, lr=0.03, beta=0.2)
    assert np.linalg.norm(w) < 1e-6


def test_ps1s_largest_lr_is_judged_afresh_in_a_notebook_after_a_helper_is_fixed():
    # the student's search calls a helper; fixing the helper and re-running one test cell
    # must change the verdict (only the re-check reuses an answer between the two cells)
    case = ps1.largest_lr.cases("reaches", False)[0]
    edge = {"rate": 10.0}  # a helper's wrong answer: a rate that diverges

    def largest_lr(loss_and_grad, w0, target, budget):
        return edge["rate"]

    assert ps1.largest_lr.check(largest_lr, "reaches") is not None
    edge["rate"] = ps1.largest_lr._edge(case)[1]
    assert ps1.largest_lr.check(largest_lr, "reaches") is None
    assert ps1.largest_lr.check(largest_lr, "largest") is None
