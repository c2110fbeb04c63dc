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
    found = re.search(pattern, text)
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

    # §7
    assert number(r"max \|descentlab - torch\| = (\S+)", out) < 1e-12


# -- lecture 2 -------------------------------------------------------------------------

def check_02(out: str) -> None:
    assert number(r"constant lr: max \|PyTorch - classic\| over the path = (\S+)", out) < 1e-10
    assert number(r"lr drop at step 40: max \|PyTorch - classic\| = (\S+)", out) > 1e-2
    assert number(r"ClassicMomentum vs torch\.optim\.SGD.*difference (\S+)", out) < 1e-12
    rates = re.search(r"rates = \((\S+), (\S+)\),\s+√β = (\S+)", out)
    assert rates and rates.group(1) == rates.group(2) == rates.group(3)
    # momentum 0.9 reaches the deep basin, plain gradient descent does not
    assert re.search(r"β = 0\.00: .*shallow well", out)
    assert re.search(r"β = 0\.90: .*deep basin", out)


# -- lecture 3 -------------------------------------------------------------------------

def check_03(out: str) -> None:
    steps = re.findall(r"^\s+\d+\s+(\S+)\s+(\S+)\s+(\S+)$", out, re.M)
    assert len(steps) == 6 and all(float(taken) == pytest.approx(1e-3, rel=1e-6)
                                   for taken, _, _ in steps)
    # without the correction, step 10 is lr (1 - beta1^10) / sqrt(1 - beta2^10)
    assert float(steps[3][1]) == pytest.approx(1e-3 * (1 - 0.9 ** 10) / np.sqrt(1 - 0.999 ** 10),
                                               rel=1e-3)
    decay = number(r"\(1 - αλ\)\^t\s+(\S+)", out)
    l2 = re.search(r"Adam \+ L2.*large-gradient group (\S+), small-gradient group (\S+)", out)
    decoupled = re.search(r"AdamW \(decoupled\).*large-gradient group (\S+), "
                          r"small-gradient group (\S+)", out)
    assert abs(float(decoupled.group(1)) - decay) < 0.05
    assert abs(float(decoupled.group(2)) - decay) < 0.05
    assert float(l2.group(1)) > 0.8 and abs(float(l2.group(2))) < 0.1
    assert "verdict:" in out
    # Adagrad learns both weights; GD at 1/lambda_max leaves the rare one behind
    assert re.search(r"Adagrad, α = 0\.5 .*popular \d+, rare \d+", out)
    assert re.search(r"GD, α = 1/λmax .*rare None", out)


CLAIMS = {"01_gradient_descent": check_01, "02_momentum": check_02, "03_adaptive": check_03}
