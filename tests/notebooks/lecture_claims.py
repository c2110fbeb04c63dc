"""What lectures 01-03 claim, checked against what their cells print.

Each ``check_*`` receives the stdout of one executed lecture (see
test_lectures.py, which executes each lecture once).  Expected values come
from closed forms, from other printed numbers, or from the inequality or
ranking the text states; never from a number copied out of a past run.
Where a printed value is a statistic, the tolerance says how many standard
errors it allows.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest


def number(pattern: str, text: str) -> float:
    found = re.search(pattern, text, re.M)
    assert found, f"the output has no line matching {pattern!r}"
    return float(found.group(1))


def numbers(pattern: str, text: str) -> list[tuple[str, ...]]:
    found = re.findall(pattern, text, re.M)
    assert found, f"the output has no line matching {pattern!r}"
    return found


def optional_int(text: str) -> int | None:
    return None if text == "None" else int(text)


# -- lecture 1 -------------------------------------------------------------------------

def check_01(out: str) -> None:
    # §2: "about κ/2 steps per factor e at η*, about κ at η = 1/L" - measured on runs,
    # compared with the exact -1/ln(rate) and with the rounded statement
    rows = numbers(r"^κ = +(\d+): steps per factor e at η\* +(\S+) .*at η = 1/L +(\S+) ", out)
    assert len(rows) == 3
    for kappa, best, safe in rows:
        kappa, best, safe = float(kappa), float(best), float(safe)
        assert best == pytest.approx(-1 / math.log((kappa - 1) / (kappa + 1)), abs=0.01)
        assert safe == pytest.approx(-1 / math.log(1 - 1 / kappa), abs=0.01)
        assert best == pytest.approx(kappa / 2, rel=0.02)      # "about κ/2"
        assert safe == pytest.approx(kappa, rel=0.12)          # "about κ" (4.48 at κ = 5)

    # §3: per epoch SGD reaches the target first, per update batch GD does
    reach = {label.split(",")[0].split(" (")[0]: (float(epochs), int(updates)) for label, epochs, updates in
             numbers(r"^(.+?) +loss 0\.1 first reached after (\S+) epochs = +(\d+) updates", out)}
    gd, mini, sgd = reach["batch GD"], reach["minibatch SGD"], reach["SGD"]
    assert sgd[0] < mini[0] < gd[0], "per epoch: SGD, then minibatch, then batch GD"
    assert gd[1] < mini[1] < sgd[1], "per update the ranking reverses"

    # the noise floor: constant steps settle at the stationary value of the noisy
    # recursion (20 seeds x 1000 correlated steps: about 4 standard errors allowed)
    floors = numbers(r"^constant η = (\S+) +mean f over the last 1000 steps (\S+), "
                     r"stationary value .* summed (\S+)$", out)
    assert len(floors) == 2
    for lr, measured, theory in floors:
        lam = np.array([0.1, 1.0])                     # S.quadratic(kappa=10)
        assert float(theory) == pytest.approx(np.sum(float(lr) / (2 * (2 - float(lr) * lam))),
                                              abs=1e-4)
        assert float(measured) == pytest.approx(float(theory), rel=0.25)
    big, small = (float(f[1]) for f in floors)
    assert 5 < big / small < 20, "a floor about ten times lower for a ten times smaller step"
    # the decreasing schedule keeps going down at the O(1/t) rate (asymptotic: a
    # slope between -1.2 and -0.7 over steps 300 to 3000)
    assert -1.2 < number(r"log-log slope (\S+)", out) < -0.7

    # §4: the learning rate on a real run
    runs = {lr: tuple(map(float, rest)) for lr, *rest in numbers(
        r"^η = (\S+) +training loss: epoch 1 (\S+), epoch 20 (\S+);  validation loss: "
        r"epoch 1 (\S+), epoch 20 (\S+);  gap at epoch 20 (\S+)$", out)}
    slow, good, wild = runs["0.001"], runs["0.1"], runs["10"]
    assert slow[1] > 3 * good[1], "η = 1e-3 is still far from trained after 20 epochs"
    assert wild[1] < good[1], "at η = 10 the training loss still falls"
    assert wild[2] > wild[3] > wild[1], "validation loss high after epoch 1, falls, stays above"
    assert wild[4] > 10 * good[4], "a persistent gap, more than ten times that at η = 0.1"

    # the diverging MLP run is reported as such
    assert re.search(r"η = 3\s+final training loss (inf|nan|\d\.\d+e\+\d{2,})", out)

    # §5: sampling with replacement misses about 1/e of the examples (200 epochs
    # of 1077 draws: the mean has a standard deviation of about 0.001)
    assert abs(number(r"never drawn in an epoch: (\S+)", out) - np.exp(-1)) < 0.01
    # "every reshuffled run ends below every run with replacement"
    per_seed = {k: np.array(v.split(), dtype=float) for k, v in
                numbers(r"^(shuffle|replacement) +final loss per seed: \[(.*)\]$", out)}
    assert per_seed["shuffle"].max() < per_seed["replacement"].min()

    # §6: training loss keeps falling, validation loss flattens (within a few percent
    # of its minimum at the end), and the early-stopping rule keeps its best epoch
    kept = int(number(r"early stopping keeps epoch (\d+)", out))
    train_kept, train_end, val_min, val_end = (float(x) for x in numbers(
        rf"^training loss: epoch {kept} (\S+), epoch 60 (\S+); validation loss: minimum (\S+), "
        r"epoch 60 (\S+)$", out)[0])
    assert train_end < train_kept
    assert val_min <= val_end < 1.05 * val_min
    # on a plateau, the kept epoch is within rounding of the best of the whole run
    assert val_min - 5e-4 <= number(r"early stopping keeps epoch \d+: validation loss (\S+)", out) \
        <= 1.02 * val_min + 5e-4
    # "a factor of ten in the tolerance moves the rules by tens of epochs, or they never fire"
    tolerances = numbers(r"^tolerance \S+: objective change fires at epoch (\S+), gradient norm at "
                         r"epoch (\S+) ", out)
    assert len(tolerances) == 3
    for rule in (0, 1):
        fired = [optional_int(row[rule]) for row in tolerances]
        for loose, tight in zip(fired, fired[1:]):
            assert tight is None or (loose is not None and tight - loose >= 10), fired

    # §7: "~1e-16 relative for the optimizer alone"; the network adds its own rounding
    sgd = [float(x) for x in re.findall(r"^SGD \(float64, 300 steps\): max relative difference from "
                                        r"torch\.optim (\S+)", out, re.M)]
    assert len(sgd) == 3 and max(sgd) < 1e-15
    assert number(r"max \|descentlab - torch\| = (\S+)", out) < 1e-12


# -- lecture 2 -------------------------------------------------------------------------

def check_02(out: str) -> None:
    # §1: the weights μ^k momentum puts on past gradients
    rows = numbers(r"^μ = (\S+): sum of the weights over (\d+) steps (\S+), 1/\(1 - μ\) = \S+; "
                   r"half of the weight on the last (\d+) gradients", out)
    assert {float(r[0]) for r in rows} == {0.5, 0.9, 0.99}
    for mu, steps, total, half in rows:
        mu, steps, total, half = float(mu), int(steps), float(total), int(half)
        assert total == pytest.approx((1 - mu ** steps) / (1 - mu), rel=1e-6)
        # smallest h with (1 - μ^h)/(1 - μ) >= total/2, and "about ln 2 / ln(1/μ)"
        assert half == math.ceil(math.log(1 - (1 - mu ** steps) / 2) / math.log(mu) - 1e-9)
        assert abs(half - math.log(2) / math.log(1 / mu)) <= 1
    # Polyak's rates: GD matches its prediction to the step; the heavy ball needs more
    # steps than ln(1e-6)/ln(rate) but keeps the √κ scaling
    table = numbers(r"^ +(\d+) +(\d+) +(\d+) +(\d+) +(\d+)$", out)
    assert [int(r[0]) for r in table] == [10, 100, 1000]
    per_sqrt_kappa = []
    for kappa, gd, gd_pred, hb, hb_pred in (map(int, r) for r in table):
        assert abs(gd - math.log(1e-6) / math.log((kappa - 1) / (kappa + 1))) <= 1
        rho = (math.sqrt(kappa) - 1) / (math.sqrt(kappa) + 1)
        assert hb_pred == round(math.log(1e-6) / math.log(rho))
        assert hb > hb_pred
        per_sqrt_kappa.append(hb / math.sqrt(kappa))
    assert max(per_sqrt_kappa) < 1.5 * min(per_sqrt_kappa)
    assert table[-1][1] > 10 * table[-1][3], "κ = 1000: heavy ball far fewer steps than GD"

    # §2: the explorer's rates equal the closed forms (κ = 100)
    gd_rates, polyak_rates = numbers(r"^η = \S+, μ = \S+: rates per eigenvector \(λmin, λmax\) = "
                                     r"\((\S+), (\S+)\)$", out)
    for rate in gd_rates:
        assert float(rate) == pytest.approx(99 / 101, abs=1e-4)
    for rate in polyak_rates:
        assert float(rate) == pytest.approx(9 / 11, abs=1e-4)
    rates = re.search(r"rates = \((\S+), (\S+)\),\s+√μ = (\S+)", out)
    assert rates and rates.group(1) == rates.group(2) == rates.group(3)
    assert float(rates.group(3)) == pytest.approx(math.sqrt(0.9), abs=1e-4)

    # §3: the two conventions agree at a constant rate and part after a drop
    assert number(r"constant lr: max \|PyTorch - classic\| over the path = (\S+)", out) < 1e-10
    assert number(r"lr drop at step 40: max \|PyTorch - classic\| = (\S+)", out) > 1e-2

    # §4: the look-ahead gradient brakes across the valley; Nesterov ends far lower
    assert number(r"Nesterov +new step .*\|Δy\| = (\S+)", out) < \
        number(r"heavy ball new step .*\|Δy\| = (\S+)", out)
    momentum_f = number(r"SGD\+momentum +f after 30 steps \S+, after 120 steps (\S+)", out)
    nesterov_f = number(r"SGD\+Nesterov +f after 30 steps \S+, after 120 steps (\S+)", out)
    assert nesterov_f < momentum_f / 10, "more than ten times lower"

    # §5: momentum 0.9 reaches the deep basin, plain gradient descent does not
    assert re.search(r"μ = 0\.00: .*shallow well", out)
    assert re.search(r"μ = 0\.90: .*deep basin", out)

    # §6
    assert number(r"ClassicMomentum vs torch\.optim\.SGD.*difference (\S+)", out) < 1e-12

    # §7: passes counted from torch's own operations, against the text's derivation
    passes = {(task, impl): (float(p), ops.split()) for task, impl, p, ops in numbers(
        r"^(SGD momentum|SGD Nesterov), (for-loop|foreach|fused): (\S+) passes, aten ops (.*)$",
        out)}
    assert len(passes) == 6
    assert passes["SGD momentum", "for-loop"] == (8.0, ["mul_", "add_", "add_"])
    assert passes["SGD momentum", "foreach"][0] == 8.0
    nesterov = passes["SGD Nesterov", "for-loop"]
    assert nesterov[0] == 11.0 and "add" in nesterov[1], "an out-of-place add: the temporary"
    for task in ("SGD momentum", "SGD Nesterov"):
        assert passes[task, "fused"][0] == 5.0, "read θ, g, d; write θ, d"


# -- lecture 3 -------------------------------------------------------------------------

def check_03(out: str) -> None:
    # §1 local gains: the first step has a zero product and keeps gain 1; then the
    # shallow gain climbs, the steep one shrinks, and the method beats GD at η*
    assert re.search(r"gains after step 1: \[1\.? +1\.?\]", out)
    shallow = number(r"after step 150: shallow x (\S+),", out)
    steep = number(r"after step 150: shallow x \S+, steep y (\S+)", out)
    assert shallow > 1 > steep
    assert number(r"f after 150 steps: local gains (\S+),", out) < \
        number(r"f after 150 steps: local gains \S+, GD at η\* (\S+)", out)

    # §2 Adagrad on sparse features.  The gradient ratio at w = 0 is
    # (p1 + p1 p2)/(p2 + p1 p2) for independent features (2000 samples and noise 0.1:
    # a 5% tolerance is several standard errors); κ is the curvature ratio, not that
    p1, p2 = (float(x) for x in numbers(r"^feature frequencies: \[(\S+) +(\S+)\]", out)[0])
    ratio = number(r"gradient at the start: .* ratio (\S+)$", out)
    assert ratio == pytest.approx((p1 + p1 * p2) / (p2 + p1 * p2), rel=0.05)
    kappa = number(r"κ = (\S+), diagonal ratio", out)
    assert kappa > 1.5 * ratio, "the gradient ratio (~10) is not the curvature ratio (~18)"
    assert number(r"diagonal ratio (\S+)", out) == pytest.approx(p1 / p2, rel=0.02)
    settle = {label: (optional_int(pop), optional_int(rare)) for label, pop, rare in numbers(
        r"^(GD, η = 1/λmax|GD, η\*|Adagrad, η = 0\.5).* popular (\S+), rare (\S+)$", out)}
    pop, rare = settle["GD, η = 1/λmax"]
    assert pop is not None and pop > 1 and rare is None, "not in one step; rare left behind"
    pop, rare = settle["GD, η*"]
    assert abs(pop - rare) <= 5, "at η* both converge at the same rate"
    pop, rare = settle["Adagrad, η = 0.5"]
    assert pop <= 15 and rare <= 15 and rare < min(settle["GD, η*"])
    # the effective rate: after step 1 both coordinates moved by η, so the ratio of the
    # effective rates is the ratio of the first gradients; near the optimum it hardly falls
    first = numbers(r"^effective rate at step 1: popular (\S+), rare (\S+), ratio rare/popular (\S+)$", out)[0]
    assert float(first[2]) == pytest.approx(ratio, rel=2e-3)
    assert float(first[0]) == pytest.approx(0.5 / abs(number(r"gradient at the start: popular (\S+),", out)),
                                            rel=1e-3)
    last = numbers(r"^effective rate at step 60: popular (\S+), rare (\S+)$", out)[0]
    for i in (0, 1):
        assert 0.5 * float(first[i]) < float(last[i]) <= float(first[i])
    # sparse features in minibatches: the fraction of batches with the rare feature is
    # 1 - (1 - p)^b (750 batches: within 0.035, about 3 binomial standard errors)
    seen, closed = (float(x) for x in numbers(
        r"^batches containing the rare feature: (\S+) of \d+ \(1 - \(1 - p\)\^b = (\S+) ", out)[0])
    assert abs(seen - closed) < 0.035 and seen < 0.2, "about one batch in ten"
    jitter = {label: (float(pop), float(rare)) for label, pop, rare in numbers(
        r"^(SGD, η = 0\.5|SGD, η = 1|Adagrad, η = 0\.3) +mean \|w - w\*\| over the last 100 steps: "
        r"popular (\S+), rare (\S+)$", out)}
    sgd_small, sgd_big, ada = jitter["SGD, η = 0.5"], jitter["SGD, η = 1"], jitter["Adagrad, η = 0.3"]
    assert sgd_small[1] > ada[1], "SGD at 0.5 leaves the rare weight further than Adagrad"
    assert sgd_big[1] < sgd_small[1] and sgd_big[0] > sgd_small[0], "the SGD trade-off"
    assert ada[0] < min(sgd_small[0], sgd_big[0]), "Adagrad: least popular jitter"
    pop_rate, rare_rate = (float(x) for x in numbers(
        r"^Adagrad's effective rate after \d+ steps: popular (\S+), rare (\S+)$", out)[0])
    assert rare_rate > 5 * pop_rate, "many times the popular one's"

    # §4 Adam: with a constant gradient every corrected step is η; without the
    # correction, step t is η (1 - β1^t) / sqrt(1 - β2^t)
    steps = re.findall(r"^\s+(\d+)\s+(\S+)\s+(\S+)\s+(\S+)$", out, re.M)
    assert [int(t) for t, *_ in steps] == [1, 2, 5, 10, 100, 1000]
    for t, taken, without, _ in steps:
        assert float(taken) == pytest.approx(1e-3, rel=1e-6)
        assert float(without) == pytest.approx(
            1e-3 * (1 - 0.9 ** int(t)) / np.sqrt(1 - 0.999 ** int(t)), rel=2e-3)
    assert float(steps[3][3]) > 6, "more than 6 times at t = 10"
    # the signal-to-noise reading: mean progress per step is η E[g]/sqrt(E[g²]); 1000
    # coordinates x 1000 steps make the standard error about 1% at σ = 10, so 5% is ~5 SE
    snr = numbers(r"^σ = +(\S+): mean progress per step over steps 1001-2000 = (\S+) η;  "
                  r"E\[g\]/√E\[g²\] = 1/√\(1 \+ σ²\) = (\S+)$", out)
    assert len(snr) == 4
    for sigma, progress, predicted in snr:
        assert float(predicted) == pytest.approx(1 / np.sqrt(1 + float(sigma) ** 2), abs=1e-4)
        assert float(progress) == pytest.approx(float(predicted), rel=0.05)
    assert float(snr[-1][1]) < 0.2, "with noisy gradients Adam's steps shrink"

    # AdamW vs L2: decoupled decay shrinks both groups like (1 - ηλ)^t
    decay = number(r"\(1 - ηλ\)\^t\s+(\S+)", out)
    assert decay == pytest.approx((1 - 0.01 * 0.1) ** 1000, abs=1e-3)
    l2 = re.search(r"Adam \+ L2.*large-gradient group (\S+), small-gradient group (\S+)", out)
    decoupled = re.search(r"AdamW \(decoupled\).*large-gradient group (\S+), "
                          r"small-gradient group (\S+)", out)
    assert abs(float(decoupled.group(1)) - decay) < 0.05
    assert abs(float(decoupled.group(2)) - decay) < 0.05
    assert float(l2.group(1)) > 0.8 and abs(float(l2.group(2))) < 0.1

    # the zoo on Rosenbrock: RAdam's first steps shoot off; RMSprop spikes, AMSGrad not
    zoo = {label: (float(first), int(spikes)) for label, first, spikes in numbers(
        r"^(RAdam|Adam|RMSprop|AMSGrad) +longest of the first 5 steps +(\S+);  steps that raise "
        r"f tenfold: (\d+)$", out)}
    assert zoo["RAdam"][0] > 10 * zoo["Adam"][0]
    assert zoo["RMSprop"][1] >= 1 and zoo["AMSGrad"][1] == 0

    # §5 saddle: GD escapes at ceil(ln(1/y0)/ln(1 + 2η)), adaptive methods sooner
    # (Adagrad last of them); afterwards momentum explodes, GD ends below Adam and
    # RMSprop, whose steps stay about η per coordinate (η = 0.05, y0 = 1e-3)
    saddle = {label: (int(esc), float(y), float(f), float(step)) for label, esc, y, f, step in numbers(
        r"^(SGD|SGD\+momentum|Adagrad|RMSprop|Adam) +\|y\| > 1 after (\d+) steps;  step 120: "
        r"y = (\S+), f = (\S+), mean step length over the last 20 steps (\S+)$", out)}
    assert saddle["SGD"][0] == math.ceil(math.log(1e3) / math.log(1 + 2 * 0.05))
    for adaptive in ("Adagrad", "RMSprop", "Adam"):
        assert saddle[adaptive][0] < saddle["SGD"][0]
    assert saddle["Adagrad"][0] > max(saddle["RMSprop"][0], saddle["Adam"][0])
    assert abs(saddle["SGD+momentum"][1]) > 1e10
    for adaptive in ("RMSprop", "Adam"):
        assert saddle["SGD"][2] < saddle[adaptive][2], "GD ends lower"
        assert 0.05 <= saddle[adaptive][3] <= 2 * math.sqrt(2) * 0.05, "steps about η"
    assert saddle["SGD"][3] > 10 * 0.05

    # §6 the generalisation experiment: neither chosen rate on its grid's edge, and
    # the verdict follows from the printed gap and spread
    edges = numbers(r"^(SGD \+ momentum 0\.9|Adam): chosen lr \S+, grid \S+ to \S+, on the grid's "
                    r"edge: (yes|no)$", out)
    assert len(edges) == 2 and all(e == "no" for _, e in edges)
    gap = number(r"difference of the means \(SGD\+momentum - Adam\): (\S+);", out)
    spread = number(r"largest seed-to-seed range within a method: (\S+)$", out)
    if abs(gap) <= spread:
        assert "verdict: the difference is within the seed-to-seed variation" in out
    else:
        assert "is ahead by more than the seed-to-seed variation" in out

    # §7: float64 agrees to rounding, float32 "to about 1e-7"
    for dtype, limit in (("float64", 1e-15), ("float32", 1e-6)):
        found = [float(x) for x in re.findall(rf"^\w+ \({dtype}, \d+ steps\): max relative difference "
                                              r"from torch\.optim (\S+)", out, re.M)]
        assert len(found) == 8 and max(found) < limit, (dtype, found)

    # §8 passes counted from torch's own operations, against the text's derivation
    passes = {impl: float(p) for impl, p in numbers(
        r"^torch Adam, (for-loop|foreach|fused) on cpu: (\S+) passes", out)}
    assert passes["for-loop"] == pytest.approx(18, abs=0.01)
    assert passes["foreach"] == pytest.approx(18, abs=0.01)
    assert passes["fused"] == pytest.approx(7, abs=0.01), "read θ, g, m, v; write θ, m, v"


CLAIMS = {"01_gradient_descent": check_01, "02_momentum": check_02, "03_adaptive": check_03}
