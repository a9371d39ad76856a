"""Learning-rate decay against SPEC section 7."""
from __future__ import annotations

import math

import pytest

from dlcli.optim import learning_rate


def test_first_epoch_uses_lr0_for_every_schedule():
    for name in ("none", "inverse_time", "exponential", "inverse_sqrt"):
        assert learning_rate(name, 0.2, 0) == pytest.approx(0.2)


def test_inverse_time():
    assert learning_rate("inverse_time", 0.2, 1, decay_rate=1.0) == pytest.approx(0.1)
    assert learning_rate("inverse_time", 0.2, 3, decay_rate=0.5) == pytest.approx(0.2 / 2.5)


def test_exponential():
    assert learning_rate("exponential", 0.2, 2) == pytest.approx(0.2 * 0.95 ** 2)
    assert learning_rate("exponential", 1.0, 3, base=0.5) == pytest.approx(0.125)


def test_inverse_sqrt():
    assert learning_rate("inverse_sqrt", 0.2, 3, k=2.0) == pytest.approx(0.2 * 2 / math.sqrt(4))


def test_fixed_interval_holds_the_rate_between_steps():
    rates = [learning_rate("inverse_time", 1.0, e, interval=3) for e in range(7)]
    assert rates[:3] == [1.0, 1.0, 1.0]
    assert rates[3:6] == [0.5, 0.5, 0.5]
    assert rates[6] == pytest.approx(1 / 3)


def test_none_never_changes():
    assert {learning_rate("none", 0.3, e) for e in range(50)} == {0.3}
