"""descentlab._checks: the shared argument checks, through the public functions."""

from fractions import Fraction

import numpy as np
import pytest

from descentlab import _checks
from descentlab.init import xavier_std
from descentlab.optim import Adam
from descentlab.surfaces import quadratic


@pytest.mark.parametrize("value", [10**400, -10**400, Fraction(10**400, 3), 10**5000],
                         ids=["int", "negative int", "fraction", "5000 digits"])
def test_a_number_beyond_the_float_range_is_a_value_error(value):
    # float() of a huge int raises OverflowError; found by tests/fuzz
    with pytest.raises(ValueError, match="lr is too large for a float"):
        _checks.real(value, "lr", "Adam")


@pytest.mark.parametrize("call", [
    lambda: Adam([np.zeros(2)], lr=10**400),
    lambda: xavier_std((3, 4), gain=10**400),
    lambda: quadratic(lam_max=-10**400),
    lambda: quadratic().value(10**400, 0.0),
])
def test_public_functions_refuse_huge_integers_by_name(call):
    with pytest.raises(ValueError, match="too large for a float"):
        call()


def test_the_message_stays_short():
    with pytest.raises(ValueError) as info:
        _checks.real(10**400, "gain")
    assert len(str(info.value)) < 120 and "400 digits" in str(info.value)


def test_floats_at_the_edge_of_the_range_pass_through():
    assert _checks.real(2**1023, "x") == float(2**1023)
    assert _checks.real(Fraction(1, 3), "x") == 1 / 3
    assert _checks.real(np.int64(-5), "x") == -5.0
