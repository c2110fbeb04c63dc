"""PS1-PS4 read as one book with the lectures (issue 11): a notation box opens each
problem set, and the statements the text makes about schedules hold."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import numpy as np
import pytest

from descentlab.schedulers import exponential_decay, inverse_time, step_decay

ROOT = Path(__file__).resolve().parents[2]
PROBLEM_SETS = ["ps1_gradient_descent", "ps2_momentum", "ps3_adaptive", "ps4_schedules_and_state"]


def cells(folder: str, assignment: str):
    return nbformat.read(str(ROOT / folder / assignment / f"{assignment}.ipynb"), as_version=4).cells


@pytest.mark.parametrize("folder", ["solutions", "assignments"])
@pytest.mark.parametrize("assignment", PROBLEM_SETS)
def test_each_problem_set_opens_with_a_notation_box(folder, assignment):
    box = cells(folder, assignment)[1]
    assert box.cell_type == "markdown" and box.source.startswith("> **Notation**")
    # the rows every optimizer problem set shares: the table's symbols, torch's code names
    assert r"$\eta$" in box.source and "`lr`" in box.source and r"$\theta$" in box.source


def test_ps1_says_exponential_and_step_decay_break_robbins_monro():
    text = next(c.source for c in cells("solutions", PROBLEM_SETS[0])
                if c.source.startswith("## 5. Learning-rate decay"))
    assert "gently" not in text and "*faster*" in text and "finite" in text
    # the total step is a derive part now (total_step_exponential): the text must not give it
    assert r"1-e^{-k}" not in text and r"1 - e^{-k}" not in text


def test_the_total_steps_ps1_states():
    # what ps1's derive part total_step_* asks for, and what its text says of 1/t:
    # exponential decay sums to eta0 / (1 - e^-k) (a geometric series), step decay to
    # eta0 * every / (1 - drop); 1/t's partial sums grow like log T without bound
    t = np.arange(200_000)
    lr0, k = 0.1, 0.05
    assert np.isclose(np.sum(exponential_decay(t, lr0, k)), lr0 / (1 - np.exp(-k)), rtol=1e-12)
    assert np.isclose(np.sum(step_decay(t, lr0, 10, 0.5)), lr0 * 10 / (1 - 0.5), rtol=1e-12)
    inv = np.cumsum(inverse_time(t, lr0, k))
    growth = inv[-1] - inv[len(t) // 2 - 1]   # the last half still adds lr0/k * log 2
    assert np.isclose(growth, lr0 / k * np.log(2), rtol=1e-3)
    # faster than 1/t: the ratio to the inverse-time rate goes to 0
    assert exponential_decay(1000, lr0, k) / inverse_time(1000, lr0, k) < 1e-15


@pytest.mark.parametrize("assignment", PROBLEM_SETS)
def test_plateau_and_warmup_symbols_do_not_reuse_the_tables_letters(assignment):
    # tau is dampening and a bare w the parameters (written theta in formulas)
    for cell in cells("solutions", assignment):
        if cell.cell_type == "markdown":
            for formula in re.findall(r"\$\$(.*?)\$\$", cell.source, re.S):
                assert not re.search(r"(?<![\\a-zA-Z])w_", formula), formula
