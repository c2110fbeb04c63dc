"""Lecture 06 (initialization, normalization and dropout): executed once, every
claim of its text checked against what its cells print.

Expected values are closed forms (the ReLU's second moment, 1/2 - 1/(2 pi),
|x_hat| = 1 for a batch of two, torch's calculate_gain and F.*_norm), statistics
with a stated allowance, or the inequalities and rankings the text states;
none is copied from a run of ours.
"""

import math
import os
import re

import nbformat
import pytest
import torch

from descentlab.notebooks import LECTURES, execute

from .lecture_claims import number
from .test_lectures import NOJIT, ROOT, WIDGET_MIME, cells, printed

PATH = LECTURES / "06_initialization_and_normalization.ipynb"

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
    keep = tmp_path_factory.mktemp("lecture06")
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


def test_lecture_shows_an_explorer_no_errors_and_no_stderr(executed):
    outputs = [o for c in cells(executed, "code") for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert not [o for o in outputs if o.output_type == "stream" and o.name == "stderr"
                and "it/s" not in o.text and "%|" not in o.text]
    widgets = [o for o in outputs if WIDGET_MIME in o.get("data", {})]
    # tqdm bars are widgets too; the explorer is the one with a static picture
    assert any("image/png" in o["data"] for o in widgets)


def test_cites_its_papers(executed):
    refs = "\n".join(c.source for c in cells(executed, "markdown")).split("## References")[-1]
    for author, year in [("Glorot", "2010"), ("He", "2015"), ("Ioffe", "2015"),
                         ("Santurkar", "2018"), ("Ba", "2016"), ("Ulyanov", "2016"),
                         ("Wu", "2018"), ("Srivastava", "2014"), ("LeCun", "1998"),
                         ("Loshchilov", "2019")]:
        assert any(author in line and year in line for line in refs.splitlines()), author


def test_constant_init_keeps_units_and_their_gradients_identical(out):
    const = re.search(r"constant: first-layer gradients differ between units by (\S+); "
                      r"after 20 GD steps the hidden units differ by (\S+)", out)
    assert float(const.group(1)) == 0.0 and float(const.group(2)) == 0.0
    xav = re.search(r"xavier: first-layer gradients differ between units by (\S+); "
                    r"after 20 GD steps the hidden units differ by (\S+)", out)
    assert float(xav.group(1)) > 0 and float(xav.group(2)) > 0


def test_relu_halves_the_second_moment_not_the_variance(out):
    m = re.search(r"E\[relu\(h\)\^2\] / Var\(h\) = (\S+) ± (\S+) \(theory 1/2\)", out)
    assert abs(float(m.group(1)) - 0.5) <= 5 * float(m.group(2))
    v = number(r"Var\(relu\(h\)\) / Var\(h\) = (\S+)", out)
    assert v == pytest.approx(0.5 - 0.5 / math.pi, abs=0.005)
    assert v < 0.45  # the variance falls further than the second moment


def test_calculate_gain_equals_torch(out):
    rows = re.findall(r"^  (\w+)\s+(\S+)\s+(\S+)$", out, re.M)
    params = {"leaky_relu": 0.01}
    assert {r[0] for r in rows} >= {"linear", "tanh", "relu", "leaky_relu", "selu"}
    for name, ours, theirs in rows:
        want = torch.nn.init.calculate_gain(name, params.get(name))
        assert float(ours) == pytest.approx(want, abs=1e-9) == float(theirs)


def test_tanh_gain_one_decays_and_five_thirds_settles(out):
    def series(gain):
        found = re.search(rf"tanh, gain {gain}: .* = (\S+), (\S+), (\S+)", out)
        return [float(v) for v in found.groups()]

    g1, g53 = series(r"1\.0000"), series(r"1\.6667")
    assert g1[0] > g1[1] > g1[2] and g1[2] < 0.01          # "keeps shrinking"
    assert g1[1] * 20 == pytest.approx(g1[2] * 200, rel=0.6)  # "roughly like 1/l"
    assert abs(g53[1] - g53[2]) < 1e-3 and 0.5 < g53[2] < 2  # "a fixed point of order 1"


def stats(out):
    rows = re.findall(r"^\s*(tanh|relu)\s+(\w+): activation std layer 1 (\S+), layer 20 (\S+), "
                      r"spread (\S+); gradient std layer 1 (\S+), layer 20 (\S+)$", out, re.M)
    return {(a, s): tuple(map(float, rest)) for a, s, *rest in rows}


def test_per_layer_statistics_match_the_text(out):
    s = stats(out)
    assert len(s) == 10
    for act in ("tanh", "relu"):
        a1, a20, spread, g1, g20 = s[act, "small"]
        assert a20 < 1e-10 * a1 and g1 < 1e-10 * g20           # collapse, > 10 decades
        a1, a20, spread, g1, g20 = s[act, "kaiming"]
        assert spread <= 2                                       # within a factor 2
    assert s["relu", "large"][1] > 1e10 * s["relu", "large"][0]  # ReLU explodes
    a1, a20, spread, g1, g20 = s["tanh", "large"]
    assert spread < 1.1 and g1 > 1e6 * g20                       # looks fine, gradients explode
    assert number(r"fraction of saturated units \(\|a\| > 0\.99\) at layer 20 = (\S+)", out) > 0.5
    a1, a20, spread, g1, g20 = s["tanh", "xavier"]
    assert a20 < a1 / 2                                          # alive but shrinking
    # ReLU under Xavier: about sqrt(2) per layer over 19 layers, within a factor 4
    spread = s["relu", "xavier"][2]
    assert 2 ** 9.5 / 4 < spread < 2 ** 9.5 * 4
    g1, g20 = s["relu", "kaiming"][3:]
    assert 0.5 < g1 / g20 < 2                                    # ReLU gradients within 2
    g1, g20 = s["tanh", "kaiming"][3:]
    assert 1 < g1 / g20 < 10                                     # tanh: grow by a few times


def test_explorer_reports_the_collapse_under_small_weights(out):
    lines = re.findall(r"^activation std: layer 1 (\S+), layer 20 (\S+) \(spread (\S+)x\)", out,
                       re.M)
    assert len(lines) == 2
    assert float(lines[0][2]) <= 2 and float(lines[1][2]) > 1e6
    losses = re.findall(r"training loss (\S+) -> (\S+)$", out, re.M)
    assert float(losses[0][1]) < float(losses[0][0])              # kaiming trains
    assert float(losses[1][1]) == pytest.approx(math.log(10), abs=0.01)  # small: stuck at ln 10


def test_batchnorm_claims(out):
    m = re.search(r"running_var after one batch: \[([^\]]+)\]; 0\.9 \+ 0\.1 \* unbiased batch "
                  r"variance: \[([^\]]+)\]", out)
    assert m.group(1).split() == m.group(2).split()
    assert number(r"max \|running stats - torch's\| = (\S+)", out) < 1e-12
    assert "eval mode on a batch of one sample works" in out
    for name in ("dx", "dgamma", "dbeta"):
        assert number(rf"{name}: max relative error against finite differences = (\S+)", out) < 1e-6
    xhat = re.search(r"batch of 2: \|x_hat\| = \[([^\]]+)\]", out).group(1).split()
    assert len(xhat) == 10 and all(abs(float(v) - 1) < 1e-5 for v in xhat)
    assert re.search(r"batch of 1: batchnorm_forward: x has shape \(1, 5\)", out)


def test_normalisation_family_equals_torch(out):
    diffs = re.findall(r"^(\S+)(?: \(G=3\))?: max relative difference from torch\.nn\.functional "
                       r"\(float64, out and all gradients\) (\S+)$", out, re.M)
    assert {d[0] for d in diffs} == {"batch_norm", "group_norm", "instance_norm"}
    assert all(float(d[1]) <= 1e-9 for d in diffs)
    m = re.search(r"G=1 vs layer norm: max difference (\S+); G=C vs instance norm: (\S+)", out)
    assert float(m.group(1)) < 1e-12 and float(m.group(2)) < 1e-12


def test_dropout_claims(out):
    rows = re.findall(r"K = +(\d+) masks: mean \|p_MC - p_weight-scaling\| = (\S+), predictions "
                      r"agree on (\S+) of", out)
    d = {int(k): (float(a), float(b)) for k, a, b in rows}
    assert d[1][0] > d[10][0] >= d[100][0] * 0.98              # falls with K ...
    assert d[10][0] - d[100][0] < d[1][0] - d[10][0]            # ... and levels off
    assert d[100][1] > 0.95                                     # agree on nearly all images
    gaps = dict(re.findall(r"dropout p = (\S+): .* gap (\S+);", out))
    # "no clear reduction of the gap": not even halved
    assert float(gaps["0.5"]) > 0.5 * float(gaps["0.0"])


def test_device_cell(out):
    assert re.search(r"^device: (cpu|cuda|mps)", out, re.M)
    assert "speed-up vs cpu" in out and "cpu (descentlab, Numba)" in out


def bn_sweeps(out):
    rows = re.findall(r"^(init scale s|learning rate|batch size) (\S+): plain val acc (\S+) \(train "
                      r"loss (\S+)\), BN val acc (\S+) \(train loss (\S+)\)$", out, re.M)
    return {(sweep, float(v)): tuple(map(float, rest)) for sweep, v, *rest in rows}


def test_batchnorm_sweeps_match_the_text(out):
    s = bn_sweeps(out)
    assert len(s) == 11
    chance = 0.1
    # scale: without BN 0.1 stays at chance with the loss at ln 10, 10 diverges;
    # with BN every scale trains (validation accuracy > 0.5)
    plain_acc, plain_loss, bn_acc, _ = s["init scale s", 0.1]
    assert plain_loss == pytest.approx(math.log(10), abs=0.05) and plain_acc < 2 * chance
    assert not math.isfinite(s["init scale s", 10.0][1])
    assert all(s["init scale s", v][2] > 0.5 for v in (0.1, 1.0, 10.0))
    # learning rate: BN's largest trainable rate is larger; ahead at the default
    largest = dict(re.findall(r"largest learning rate that trains \(validation accuracy > 0\.5\), "
                              r"(plain|BN): (\S+)", out))
    for name, bn in (("plain", False), ("BN", True)):
        trains = [v for (sweep, v), r in s.items() if sweep == "learning rate"
                  and r[2 if bn else 0] > 0.5]
        assert float(largest[name]) == max(trains)
    assert float(largest["BN"]) > float(largest["plain"])
    assert s["learning rate", 0.1][2] > s["learning rate", 0.1][0]
    # batch size: BN far behind the plain net at 2, which trains normally; BN trains
    # from 8 on; at 128 (rate 0.4) the plain net fails, 0.4 being beyond its largest rate
    plain2, _, bn2, _ = s["batch size", 2.0]
    assert plain2 > 0.5 and bn2 < plain2 - 0.3 and bn2 < 3 * chance
    assert all(s["batch size", b][2] > 0.5 for b in (8.0, 32.0, 128.0))
    assert s["batch size", 128.0][0] < 0.5 and 0.1 * 128 / 32 > float(largest["plain"])
    assert re.search(r"batch size 1 with BN: batchnorm_forward: x has shape \(1, 64\)", out)


def test_batchnorm_is_invariant_to_the_weight_scale(out):
    rows = dict(((float(s), (float(d), float(r), float(t))) for s, d, r, t in re.findall(
        r"^s = (\S+): max \|logits\(s\) - logits\(1\)\| = (\S+); \|dL/dW_1\|\(s\) / "
        r"\|dL/dW_1\|\(1\) = (\S+) \(theory 1/s = (\S+)\)", out, re.M)))
    assert set(rows) == {0.1, 10.0}
    for s, (diff, ratio, theory) in rows.items():
        assert theory == pytest.approx(1 / s)
        assert ratio == pytest.approx(1 / s, rel=0.01)  # 1/s up to eps's effect
        assert diff < 1e-2                               # logits are O(1)
    assert rows[10.0][0] < rows[0.1][0]                  # "eps matters more at s = 0.1"


def test_batchnorm_noise_falls_with_the_batch_and_vanishes_in_eval(out):
    rows = re.findall(r"^batch of +(\d+): std of the image's logits across batches (\S+); the most "
                      r"frequent class is predicted in (\S+) of them", out, re.M)
    spread = [float(r[1]) for r in rows]
    assert [int(r[0]) for r in rows] == [2, 4, 16, 64]
    assert all(a > b for a, b in zip(spread, spread[1:]))
    # "at batch 2 the prediction itself changes", "a mild perturbation" at 64
    assert float(rows[0][2]) < 0.9 and float(rows[-1][2]) >= 0.9
    assert number(r"eval mode, batch of 16: std of the image's logits across batches (\S+)", out) == 0
