"""Lecture 05 (batch size and tuning): executed once, every claim of its text
checked against what its cells print.

Expected values come from closed forms (the variance law, ln C, the
delay-stability formula), from statistics with a stated confidence (four
standard errors), or are the inequalities and rankings the text states;
none is copied from a run of ours.
"""

import math
import os
import re
from pathlib import Path

import nbformat
import numpy as np
import pytest

from descentlab.notebooks import LECTURES, execute

from .lecture_claims import number
from .test_lectures import NOJIT, ROOT, WIDGET_MIME, cells, printed

PATH = LECTURES / "05_batch_size_and_tuning.ipynb"

pytestmark = pytest.mark.skipif(NOJIT, reason="the lecture runs the jitted library")


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("PYTHONPATH", os.pathsep.join([str(ROOT / "lib"),
                                             *filter(None, [os.environ.get("PYTHONPATH")])]))
    mp.delenv("MPLBACKEND", raising=False)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                "NUMBA_NUM_THREADS"):
        mp.setenv(var, "1")
    keep = tmp_path_factory.mktemp("lecture05")
    try:
        run = execute(PATH, keep=keep, timeout=120)
    finally:
        mp.undo()
    print(f"{PATH.name}: {run.seconds:.1f} s")
    assert run.ok, f"{PATH.name} failed: {run.error}"
    return nbformat.read(str(keep / PATH.name), as_version=4)


@pytest.fixture(scope="module")
def out(executed):
    return printed(executed)


def test_lecture_shows_an_explorer_and_no_errors(executed):
    # what test_lectures.py checks of every lecture it executes
    outputs = [o for c in cells(executed, "code") for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    # the explorers (tqdm's progress bars are widgets too, without a picture)
    explorers = [o for o in outputs if WIDGET_MIME in o.get("data", {}) and "image/png" in o["data"]]
    assert len(explorers) == 2


def floats(pattern, text):
    found = re.findall(pattern, text, re.M)
    assert found, f"no line matches {pattern!r}"
    return [tuple(float(v.replace(",", "")) for v in (f if isinstance(f, tuple) else (f,)))
            for f in found]


def test_variance_law_within_four_standard_errors(out):
    rows = floats(r"^b = +(\d+): measured (\S+) ± (\S+) \(standard error\), formula (\S+),", out)
    assert [int(r[0]) for r in rows] == [1, 2, 4, 8, 16, 32, 64, 128, 256]
    for b, mean, se, formula in rows:
        assert abs(mean - formula) <= 4 * se, (b, mean, se, formula)
    n = int(number(r"correction at b = 256 of n = (\d+)", out))
    factor = number(r"\(n-b\)/\(n-1\) = (\S+)", out)
    assert factor == pytest.approx((n - 256) / (n - 1), abs=1e-4)
    assert 1 - factor > 1 / 3  # "removes more than a third"
    scales = floats(r"noise scale η n/b at η = (\S+), b = (\d+): (\S+)$", out)
    assert scales[0][2] == pytest.approx(scales[1][2], rel=1e-2)      # equal noise
    assert scales[2][2] == pytest.approx(scales[0][2] / 2, rel=1e-2)   # half the noise


def test_hardware_sweep_is_reported(out):
    # timings are printed, never asserted (a shared machine makes them noisy); what the
    # text states about them is mechanism, and the waste figure is arithmetic
    assert re.search(r"^device: (cpu|cuda|mps)", out, re.M)
    rows = floats(r"^(\d+)\s+([\d,]+)(?:\s+[\d,]+)?$", out)
    assert [int(r[0]) for r in rows][:10] == [1, 4, 16, 64, 96, 100, 128, 256, 1024, 4096]
    assert all(r[1] > 0 for r in rows)
    assert re.search(r"gain from b = 1 to 4: \S+x; from b = 1024 to 4096: \S+x", out)
    assert math.ceil(100 / 8) == 13 and 13 * 8 - 100 == 4 and abs(4 / 104 - 0.04) < 0.005
    if "device: cuda" in out or "device: mps" in out:
        assert re.search(r"crossover batch size: (\d+|None)", out)


def test_scaling_rules(out):
    acc = {(rule, int(b)): (loss, a) for rule, b, loss, a in re.findall(
        r"^(linear|sqrt) +b = +(\d+): lr = \S+, final train loss (\S+), val accuracy (\S+)",
        out, re.M)}
    base = float(acc["linear", 32][1])
    for b in (128, 512):
        assert abs(float(acc["linear", b][1]) - base) <= 0.02
    for b in (128, 512, 1024):
        assert float(acc["sqrt", b][1]) < base
    assert float(acc["linear", 1024][0]) > 10 * math.log(10)
    warm = number(r"linear\+warm-up b = 1024: .*val accuracy (\S+)", out)
    assert warm < 0.9


def test_generalisation_claims(out):
    rows = floats(r"^b = +(\d+): test accuracy (\S+) after \d+ epochs, (\S+) after", out)
    epochs = [r[1] for r in rows]
    assert [int(r[0]) for r in rows] == [8, 32, 128, 512]
    assert all(a >= b for a, b in zip(epochs, epochs[1:]))     # falls steadily
    spread = re.search(r"fixed epochs (\S+), fixed updates (\S+)", out)
    se, su = float(spread.group(1)), float(spread.group(2))
    assert su < 0.03 and su < se / 5
    assert abs(se - (max(epochs) - min(epochs))) < 1e-3
    assert number(r"best batch size at fixed epochs: (\d+)", out) <= 32
    sharp = floats(r"^b = +(\d+) \(same number of updates\): .*sharpness (\S+)$", out)
    assert 0.5 <= sharp[0][1] / sharp[1][1] <= 2
    rescaled = re.search(r"max \|Δ logits\| = (\S+), sharpness (\S+) -> (\S+)", out)
    assert float(rescaled.group(1)) < 1e-10
    assert float(rescaled.group(3)) > 5 * float(rescaled.group(2))


def test_increase_the_batch_instead(out):
    runs = floats(r"^[AB]: .*final val accuracy (\S+), val loss \S+, (\d+) updates", out)
    (acc_a, upd_a), (acc_b, upd_b) = runs
    assert abs(acc_a - acc_b) <= 0.02
    assert upd_b < upd_a / 2


def test_stratified_batches_lower_the_variance(out):
    rows = floats(r"^b = (\d+): random (\S+), stratified (\S+), ratio (\S+)$", out)
    assert len(rows) == 3
    for _, rand, strat, ratio in rows:
        assert strat < rand and 0.5 <= ratio <= 0.8


def test_search_claims(out):
    assert re.search(r"distinct x values tried: grid 3, random 9", out)
    regret = {k: (float(m), float(p)) for k, m, p in re.findall(
        r"^(grid|random): median regret (\S+), found the peak .* in (\d+)% of", out, re.M)}
    assert regret["random"][0] < regret["grid"][0] and regret["random"][1] > regret["grid"][1]
    best = {k: (float(a), float(lr)) for k, a, lr in re.findall(
        r"^(grid|random): best val accuracy (\S+) at lr = (\S+),", out, re.M)}
    assert best["grid"][0] > 0.9 and best["random"][0] > 0.9
    assert best["grid"][1] == pytest.approx(1.0)            # the grid's upper edge
    shares = re.search(r"share per decade 1e-4\.\.1: \[(.*)\]", out).group(1).split()
    # 10,000 draws: each share has a binomial sd of 0.0043; 4 sd
    assert all(abs(float(s) - 0.25) < 0.018 for s in shares)
    assert number(r"uniform on \[1e-4, 1\] puts (\d+)% of", out) == pytest.approx(90, abs=2)
    ranges = re.findall(r"^range \[(\S+), (\S+)\]: best lr (\S+) \(val accuracy (\S+)\), "
                        r"edge: (\w+)", out, re.M)
    assert ranges[0][4] == "high" and ranges[1][4] == "None"
    assert float(ranges[1][3]) > float(ranges[0][3]) + 0.1


def test_validation_and_seeds(out):
    rows = re.findall(r"^lr = (\S+): one split \S+; 5-fold CV \S+ ± \S+; 5 seeds (\S+) ± (\S+)$",
                      out, re.M)
    (_, m1, s1), (_, m2, s2) = rows
    assert abs(float(m2) - float(m1)) > 3 * (float(s1) + float(s2))
    assert math.sqrt(0.95 * 0.05 / 360) == pytest.approx(0.011, abs=0.0005)  # the text's 1.1 points


def test_what_to_watch(out):
    init = re.search(r"loss at initialisation (\S+), ln C = (\S+)", out)
    assert float(init.group(2)) == pytest.approx(math.log(10), abs=1e-4)
    assert abs(float(init.group(1)) - math.log(10)) < 0.1
    assert number(r"20 examples, .* training accuracy ([\d.]+),", out) == 1.0
    ratios = floats(r"^lr = \S+: median update/weight ratio of W1 over one epoch (\S+)$", out)
    low, mid, high = (r[0] for r in ratios)
    assert low < 1e-3 < mid < 1 < high


def test_stale_gradients(out):
    assert number(r"averaged, vs one batch of 64: max difference (\S+)", out) < 1e-12
    rows = floats(r"^delay (\d+): largest stable lr \(simulated\) (\S+), formula (\S+)$", out)
    assert [int(r[0]) for r in rows] == list(range(9))
    for tau, sim, formula in rows:
        assert formula == pytest.approx(2 * math.sin(math.pi / (2 * (2 * tau + 1))), abs=1e-4)
        assert sim == pytest.approx(formula, rel=0.01)
        if tau >= 4:
            assert formula == pytest.approx(math.pi / (2 * tau + 1), rel=0.02)
    assert all(a[1] > b[1] for a, b in zip(rows, rows[1:]))
    assert 0.07 <= rows[8][1] / rows[0][1] <= 0.13


def test_agreement_and_device_cells(out):
    from descentlab.compare import pick_device

    assert set(re.findall(r"^device: (cuda|mps|cpu)", out, re.M)) == {pick_device().type}
    assert re.search(r"\bcpu\s+\d+\.\d\d (ms|us|s)\b", out)
    agreements = floats(r"max relative difference from torch\.optim (\S+)$", out)
    assert len(agreements) == 2 and all(a[0] <= 1e-12 for a in agreements)
    assert "speed-up vs cpu" in out
    passes = dict(re.findall(r"^SGD momentum \((foreach|fused)\): (\S+) passes", out, re.M))
    assert passes == {"foreach": "8.00", "fused": "5.00"}


def test_lecture_is_committed_clean():
    nb = nbformat.read(str(PATH), as_version=4)
    assert all(c.outputs == [] and c.execution_count is None
               for c in nb.cells if c.cell_type == "code")
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    for author, year in [("Goyal", "2017"), ("Hoffer", "2017"), ("Keskar", "2017"),
                         ("Dinh", "2017"), ("Masters", "2018"), ("Smith", "2018"),
                         ("Bergstra", "2012"), ("Smith", "2017")]:
        refs = text.split("## References")[-1]
        assert any(author in line and year in line for line in refs.splitlines()), author
