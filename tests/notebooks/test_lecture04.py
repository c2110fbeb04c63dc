"""Lecture 04 (schedules and training state): executed once, headless, and
every claim of its text checked against what its cells print.

Expected values come from closed forms (geometric sums, the noise floor, the
momentum ratio at a rate drop, torch's documented arithmetic), from
statistical criteria stated next to each check, or from the inequality or
ranking the text states; never from a copy of our own run's output.
"""

import math
import os
import re

import nbformat
import numpy as np
import pytest

from descentlab.notebooks import LECTURES, execute

from .lecture_claims import number
from .test_lectures import DEVICE, NOJIT, ROOT, WIDGET_MIME, cells, printed

PATH = LECTURES / "04_schedules_and_state.ipynb"
FLOAT = r"([-+]?\d*\.?\d+(?:e[-+]?\d+)?)"

pytestmark = pytest.mark.skipif(NOJIT, reason="the lecture runs the jitted library; under "
                                              "NUMBA_DISABLE_JIT=1 it would take many minutes")


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    keep = tmp_path_factory.mktemp("lecture04")
    saved = {k: os.environ.get(k) for k in ("PYTHONPATH", "MPLBACKEND", "OMP_NUM_THREADS",
                                            "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                                            "NUMBA_NUM_THREADS")}
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT / "lib"), *filter(None, [saved["PYTHONPATH"]])])
    os.environ.pop("MPLBACKEND", None)
    # one thread per pool, as test_lectures does: two kernels may share two cores
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                "NUMBA_NUM_THREADS"):
        os.environ[var] = "1"
    try:
        run = execute(PATH, keep=keep, timeout=120)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    print(f"{PATH.name}: {run.seconds:.1f} s")
    assert run.ok, f"{PATH.name} failed: {run.error}"
    nb = nbformat.read(str(keep / PATH.name), as_version=4)
    return nb, printed(nb)


@pytest.fixture(scope="module")
def out(executed):
    return executed[1]


def floats(text):
    return [float(x) for x in re.findall(FLOAT, text)]


def line(pattern, out):
    found = re.search(pattern, out, re.M)
    assert found, f"the output has no line matching {pattern!r}"
    return found


# -- what every lecture shows ------------------------------------------------------

def test_runs_clean_with_explorer_device_and_agreement(executed):
    nb, out = executed
    outputs = [o for c in cells(nb, "code") for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    widgets = [o for o in outputs if WIDGET_MIME in o.get("data", {})]
    # the explorer, with a static picture for exports (tqdm's bars are widgets too)
    assert any("image/png" in o["data"] for o in widgets)
    from descentlab.compare import pick_device

    assert {d for d, _ in DEVICE.findall(out)} == {pick_device().type}
    assert "speed-up vs cpu" in out and re.search(r"\bcpu\s+\d+(\.\d+)? (ms|us|s)\b", out)


def test_every_scheduler_equals_torch(out):
    rows = re.findall(r"^(\S.*?)\s+(?:1000 steps: )?max relative difference from torch's lr "
                      + FLOAT + "$", out, re.M)
    names = {r[0].strip() for r in rows}
    import descentlab.schedulers as sch

    assert set(sch.TORCH_SCHEDULERS) <= names
    assert any("step(epoch" in n for n in names)
    for name, err in rows:
        assert float(err) <= 1e-12, name


# -- 1. why decay --------------------------------------------------------------------

def test_total_step_of_geometric_schedules_is_the_closed_form(out):
    for kind, eta0, total in (("exponential", 0.5, 0.5 / (1 - 0.99)),
                              ("step decay", 0.5, 0.5 * 100 / (1 - 0.5))):
        found = line(kind + r":\s+sum of 10\^6 rates " + FLOAT + r", .* = " + FLOAT, out)
        assert float(found.group(1)) == pytest.approx(total, rel=1e-6)
        assert float(found.group(2)) == pytest.approx(total, rel=1e-6)


def test_geometric_decays_stall_and_inverse_time_keeps_going(out):
    rows = {m.group(1).strip(): (float(m.group(2)), float(m.group(3))) for m in re.finditer(
        r"^(\S.*?)\s+E\|θ\|² at T/2 " + FLOAT + ", at T " + FLOAT, out, re.M)}
    assert len(rows) == 4
    exp = next(v for k, v in rows.items() if k.startswith("exponential"))
    step = next(v for k, v in rows.items() if k.startswith("step decay"))
    inv = next(v for k, v in rows.items() if k.startswith("inverse time"))
    for half, end in (exp, step):
        assert abs(end - half) <= 0.01 * half            # "stop moving"
    assert inv[1] < inv[0]                                # "keeps improving"
    assert inv[1] < min(exp[1], step[1])                  # "ends lowest"


def test_constant_rate_noise_floor_matches_the_formula(out):
    found = line(r"measured floor " + FLOAT + ", formula " + FLOAT + r", relative standard error "
                 r"of the measurement " + FLOAT, out)
    measured, formula, se = map(float, found.groups())
    # the formula from the text, for h = (1, 0.02), sigma = 0.1, eta = 0.5
    h = np.array([1.0, 0.02])
    assert formula == pytest.approx(np.sum(0.5 * 0.01 / (h * (2 - 0.5 * h))), rel=1e-3)
    assert abs(measured / formula - 1) < 4 * se          # within four standard errors


def test_frozen_slow_coordinate_is_the_product_of_the_factors(out):
    found = re.findall(r"slow coordinate frozen at mean " + FLOAT + " ± " + FLOAT
                       + r", prediction prod\(1 - η_t h\) = " + FLOAT, out)
    assert len(found) == 2
    # the predictions, recomputed here from the schedules' formulas
    t = np.arange(2000)
    expected = [np.prod(1 - 0.5 * 0.99 ** t * 0.02), np.prod(1 - 0.5 * 0.5 ** (t // 100) * 0.02)]
    for (mean, se, pred), exp in zip(found, expected):
        assert float(pred) == pytest.approx(exp, abs=1e-4)
        assert abs(float(mean) - exp) < 4 * float(se)


def test_power_decay_violates_the_second_condition(out):
    sums = [float(x) for x in re.findall(r"sum of eta_t\^2 over\s+\d+ steps: " + FLOAT, out)]
    assert len(sums) == 5 and all(b > a for a, b in zip(sums, sums[1:]))
    growth = number(r"growth per decade " + FLOAT, out)
    assert growth == pytest.approx(10 ** 0.4, rel=0.05)
    # the partial sum itself against the integral 0.01 * N^0.4 / 0.4 (+ O(1))
    assert sums[-1] == pytest.approx(0.01 * 1e6 ** 0.4 / 0.4, rel=0.1)


def test_averaging_reaches_the_optimal_rate(out):
    rows = re.findall(r"T =\s*(\d+): last iterate E θ² = " + FLOAT + r" \(η_T σ²/2h = " + FLOAT
                      + r"\), averaged E θ̄² = " + FLOAT + r" \(σ²/\(h² T\) = " + FLOAT, out)
    assert len(rows) == 2
    for T, last, last_theory, avg, avg_theory in rows:
        T = int(T)
        assert float(last_theory) == pytest.approx(0.1 * T ** -0.3 / 2, rel=1e-3)
        assert float(avg_theory) == pytest.approx(1 / T, rel=1e-3)
        # 1000 replicas: the mean square has a relative standard error of about
        # sqrt(2/1000) = 4.5%; the asymptotic formulas hold to a few percent more
        assert float(last) == pytest.approx(float(last_theory), rel=0.2)
    T, last, _, avg, avg_theory = rows[-1]
    assert 0.8 < float(avg) / float(avg_theory) < 1.5    # "close to the optimal"
    assert float(last) / float(avg) > 20                  # "more than twenty times below"
    found = line(r"last iterate improves " + FLOAT + r"x .* averaged " + FLOAT + "x", out)
    assert 1.5 < float(found.group(1)) < 2.7              # about 10^0.3 = 2
    assert 7 < float(found.group(2)) < 15                 # about tenfold


# -- 2. classic family ----------------------------------------------------------

def test_classic_closed_forms_equal_torchs_classes(out):
    errs = re.findall(r"closed form vs torch: max relative difference " + FLOAT, out)
    assert len(errs) == 6 and all(float(e) <= 1e-12 for e in errs)


# -- 3. modern schedules ----------------------------------------------------------

def test_sgdr_restarts_where_the_cycles_double(out):
    found = line(r"SGDR restarts at steps \[([\d, ]+)\]", out)
    assert [int(x) for x in found.group(1).split(",")] == [50 * (2 ** k - 1) for k in (1, 2, 3)]


def per_seed(label, out):
    found = line(re.escape(label) + r".*?test accuracy per seed \[([^\]]+)\], mean " + FLOAT, out)
    acc = np.array([float(x) for x in found.group(1).split(",")])
    assert float(found.group(2)) == pytest.approx(acc.mean(), abs=1e-4)
    return acc


def test_snapshot_verdict_follows_from_the_numbers(out):
    ens = per_seed("SGDR, ensemble of 3 snapshots", out)
    single = per_seed("SGDR, last snapshot", out)
    gap, spread = ens.mean() - single.mean(), max(np.ptp(ens), np.ptp(single))
    verdict = line(r"ensemble - last snapshot: .*\n.*verdict: (.*)$", out).group(1)
    assert ("ahead by more" in verdict) == (gap > spread + 1e-4)


def test_range_test_suggestion_trains_and_the_lowest_loss_rate_does_not(out):
    lowest = number(r"lowest loss \S+ at lr " + FLOAT, out)
    suggested = number(r"suggested lr \(a tenth of that\): " + FLOAT, out)
    assert suggested == pytest.approx(lowest / 10, rel=0.01)
    good = line(r"at the suggested lr \S+: validation accuracy " + FLOAT + ", training loss "
                + FLOAT, out)
    bad = line(r"at the lowest-loss rate lr \S+: validation accuracy " + FLOAT
               + ", training loss " + FLOAT, out)
    assert float(good.group(1)) > 0.9                       # "trains the MLP well"
    assert float(good.group(1)) > float(bad.group(1))
    assert float(bad.group(2)) > 10 * float(good.group(2))  # "leaves the loss high"


def test_fair_test_of_cycles(out):
    acc = {k: per_seed(k, out) for k in ("constant", "cosine", "triangular")}
    best = max(("constant", "cosine"), key=lambda k: acc[k].mean())
    gap = acc["triangular"].mean() - acc[best].mean()
    spread = max(np.ptp(a) for a in acc.values())
    verdict = line(r"triangular - best of the others.*\n.*verdict: (.*)$", out).group(1)
    # the text says the cycles end within the seed-to-seed variation
    assert abs(gap) <= spread + 1e-4 and "within the seed-to-seed range" in verdict


# -- 4. plateau ----------------------------------------------------------------------

def test_each_reduction_follows_a_stall_longer_than_patience(out):
    rows = re.findall(r"^epoch (\d+): lr " + FLOAT + " -> " + FLOAT + "; validation loss "
                      + FLOAT + ", best so far " + FLOAT + r" at epoch (\d+)", out, re.M)
    assert len(rows) >= 3                                   # "keeps cutting"
    patience, factor = 3, 0.3
    for epoch, before, after, loss, best, best_epoch in rows:
        assert int(epoch) - int(best_epoch) > patience
        assert float(after) == pytest.approx(factor * float(before), rel=1e-2)
        assert float(loss) >= float(best) * (1 - 1e-4)      # no improvement by the threshold
    assert len({r[4] for r in rows}) == 1                   # the best never moves again
    assert number(r"reductions: (\d+)", out) == len(rows)


# -- 5. practice --------------------------------------------------------------------

def test_decaying_too_early_freezes(out):
    const = line(r"^constant\s+training loss after epoch 10: " + FLOAT + ", after epoch 20: "
                 + FLOAT, out)
    frozen = line(r"^halved every epoch\s+training loss after epoch 10: " + FLOAT
                  + ", after epoch 20: " + FLOAT, out)
    f10, f20 = float(frozen.group(1)), float(frozen.group(2))
    assert abs(f20 - f10) / f10 < 0.01                      # "barely changes"
    assert f20 > 3 * float(const.group(2))                  # "well above"
    # and the schedule really is frozen: total step after epoch 10 is 2^-10 of ...
    assert sum(0.5 ** k for k in range(10, 20)) < 1e-3 * sum(0.5 ** k for k in range(10))


def test_a_drop_at_the_floor_lowers_it(out):
    rows = {m.group(1).strip(): tuple(map(float, m.group(2, 3, 4))) for m in re.finditer(
        r"^(constant|drop ×0\.1 at epoch 10)\s+training loss at epochs 5, 10: " + FLOAT + ", "
        + FLOAT + "; mean over epochs 11-20: " + FLOAT, out, re.M)}
    (c5, c10, c_mean), (_, _, d_mean) = rows["constant"], rows["drop ×0.1 at epoch 10"]
    assert abs(c10 - c5) / c5 < 0.2 and abs(c_mean - c10) / c10 < 0.2   # a floor
    assert d_mean < c_mean                                              # "lowers it"


# -- 6. torch traps ------------------------------------------------------------------

def test_hand_edits(out):
    step = floats(line(r"1\. StepLR.*steps 2-4: \[([^\]]+)\]", out).group(1))
    lam = floats(line(r"1\. LambdaLR.*steps 2-4: \[([^\]]+)\]", out).group(1))
    assert step == pytest.approx([0.01, 0.005, 0.005])      # chained from the edit
    assert lam == pytest.approx([0.1 * 0.5 ** (t // 3) for t in (2, 3, 4)])   # overwritten


def test_lambda_factor_trap(out):
    lrs = floats(line(r"2\. LambdaLR\(epoch // 30\).*: \[([^\]]+)\]", out).group(1))
    assert lrs == pytest.approx([0.1 * (e // 30) for e in (0, 29, 30, 60, 90)])
    assert lrs[0] == lrs[1] == 0.0


def test_exponential_per_epoch(out):
    lrs = [float(x) for x in re.findall(r"'(\S+)'", line(r"3\. ExponentialLR.*", out).group(0))]
    assert lrs == pytest.approx([0.1 * 0.1 ** k for k in range(6)], rel=1e-6)


def test_call_order(out):
    right = line(r"4\. optimizer, scheduler: rates used by updates 1-3 \[([^\]]+)\]; torch says: "
                 r"(.*)$", out)
    wrong = line(r"4\. scheduler, optimizer: rates used by updates 1-3 \[([^\]]+)\]; torch says: "
                 r"(.*)$", out)
    r = [float(x.strip("' ")) for x in right.group(1).split(",")]
    w = [float(x.strip("' ")) for x in wrong.group(1).split(",")]
    assert r == pytest.approx([0.1, 0.01, 0.001]) and w == pytest.approx([0.01, 0.001, 1e-4])
    assert "no warning" in right.group(2) and "Detected call of" in wrong.group(2)


def test_per_update_cosine(out):
    per = int(number(r"\((\d+) updates per epoch", out))
    cos = lambda t: 0.05 * (1 + math.cos(math.pi * t / 10))  # noqa: E731
    per_epoch = floats(line(r"stepped per epoch: lr after epochs 1-3 \[([^\]]+)\]", out).group(1))
    per_update = floats(line(r"stepped per update: lr after epochs 1-3 \[([^\]]+)\]", out)
                        .group(1))
    assert per_epoch == pytest.approx([cos(k) for k in (1, 2, 3)], abs=1e-5)
    assert per_update == pytest.approx([cos(k * per) for k in (1, 2, 3)], abs=1e-5)
    # "through its trough twice (at updates 10 and 30) and climbing again"
    assert (per - 10) // 20 + 1 == 2 and cos(per + 1) > cos(per)


# -- 7. schedules x optimizers ---------------------------------------------------------

def test_rate_drop_under_the_two_momentum_conventions(out):
    torch_form = float(line(r"^SGD\s+step after the drop / step before: " + FLOAT, out).group(1))
    classic = float(line(r"^ClassicMomentum\s+step after the drop / step before: " + FLOAT,
                         out).group(1))
    assert torch_form == pytest.approx(0.1, abs=1e-4)
    assert classic == pytest.approx(0.9 + 0.1 * (1 - 0.9), abs=1e-4)


def test_warmup_and_radam_shrink_the_first_steps(out):
    first = {m.group(1).strip(): float(m.group(2)) for m in re.finditer(
        r"^(Adam, no warm-up|Adam, warm-up 100 updates|RAdam, no warm-up)\s+mean \|update\| per "
        r"weight, step 1: " + FLOAT, out, re.M)}
    adam = first["Adam, no warm-up"]
    assert 0.5 * 0.01 < adam <= 0.01                        # "almost the full rate"
    for other in ("Adam, warm-up 100 updates", "RAdam, no warm-up"):
        assert 30 < adam / first[other] < 300               # "about a hundred times smaller"


# -- 8. training state -----------------------------------------------------------------

def test_resume_is_identical_in_descentlab_and_torch(out):
    assert number(r"descentlab: max \|straight - resumed\|.*: " + FLOAT, out) == 0.0
    assert number(r"torch:\s+max \|straight - resumed\|.*: " + FLOAT, out) == 0.0
    assert float(line(r"descentlab vs torch, same run: .* " + FLOAT + "$", out).group(1)) < 1e-10


def test_lost_state(out):
    rows = {m.group(1).strip(): tuple(map(float, m.group(2, 4, 5))) for m in re.finditer(
        r"^(complete state|Adam's moments lost|scheduler state lost)\s+loss after 1 update / at "
        r"the save point " + FLOAT + "; largest loss in the next 5 updates " + FLOAT
        + "; lr after a resumed epoch " + FLOAT + r" \(straight run " + FLOAT, out, re.M)}
    assert len(rows) == 3
    ratio, lr, straight = rows["complete state"]
    assert ratio < 1 and lr == pytest.approx(straight, rel=1e-2)   # goes on as the straight run
    ratio, lr, straight = rows["Adam's moments lost"]
    assert ratio > 1                                                # "the loss jumps"
    ratio, lr, straight = rows["scheduler state lost"]
    assert abs(lr - straight) > straight                            # "far from the straight run's"


# -- 9. explorer ------------------------------------------------------------------------

def test_explorer_rates_are_the_closed_form(out):
    assert number(r"rates recorded from the optimizer vs the closed form: max difference "
                  + FLOAT, out) < 1e-12
    assert re.search(r"^warm-up \+ cosine, lr 0\.2, 12 epochs: final rate", out, re.M)


# -- sources --------------------------------------------------------------------------------

CITED = [("Robbins", "1951"), ("Polyak", "1992"), ("Ruppert", "1988"), ("Loshchilov", "2017"),
         ("Huang", "2017"), ("Smith", "2017"), ("Smith", "2019"), ("Goyal", "2017"),
         ("Liu", "2020"), ("Sutskever", "2013"), ("Moulines", "2011")]


def test_cites_its_papers():
    nb = nbformat.read(str(PATH), as_version=4)
    references = "\n".join(c.source for c in cells(nb, "markdown")).split("## References")[-1]
    for author, year in CITED:
        assert [ln for ln in references.splitlines() if author in ln and year in ln], \
            f"no reference by {author} ({year})"


def test_scale_constant_at_the_top():
    nb = nbformat.read(str(PATH), as_version=4)
    first_code = next(c.source for c in cells(nb, "code"))
    assert re.search(r"^SCALE = 1\b", first_code, re.M)
