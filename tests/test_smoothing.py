"""The bias-corrected EWMA against the course formula worked by hand, and the text plot."""
from __future__ import annotations

import math

import pytest

from dlcli.errors import InputError
from dlcli.reports.smoothing import ewma
from dlcli.reports.termplot import text_plot


def test_ewma_matches_the_course_formula_by_hand() -> None:
    # beta = 0.5, x = 4, 2, 6:
    # v1 = 0.5*0 + 0.5*4 = 2   -> 2 / (1 - 0.5)   = 4
    # v2 = 0.5*2 + 0.5*2 = 2   -> 2 / (1 - 0.25)  = 8/3
    # v3 = 0.5*2 + 0.5*6 = 4   -> 4 / (1 - 0.125) = 32/7
    assert ewma([4.0, 2.0, 6.0], 0.5) == pytest.approx([4.0, 8 / 3, 32 / 7])


def test_bias_correction_starts_the_curve_where_the_data_starts() -> None:
    smoothed = ewma([10.0] * 50, 0.98)
    assert smoothed == pytest.approx([10.0] * 50)  # uncorrected, v1 would be 0.2


def test_beta_zero_is_the_identity_and_noise_is_reduced() -> None:
    noisy = [1.0 + (0.5 if i % 2 else -0.5) for i in range(100)]
    assert ewma(noisy, 0.0) == noisy
    tail = ewma(noisy, 0.9)[50:]
    assert max(tail) - min(tail) < 0.2 * (max(noisy) - min(noisy))


def test_gaps_and_non_finite_values_are_skipped_not_averaged() -> None:
    # t counts only the averaged values: after a gap the next value is still step 2.
    assert ewma([4.0, None, float("nan"), 2.0], 0.5) == \
        pytest.approx([4.0, None, None, 8 / 3])
    assert ewma([math.inf], 0.9) == [None]


@pytest.mark.parametrize("beta", [-0.1, 1.0, 1.5])
def test_beta_outside_the_unit_interval_is_an_input_error(beta: float) -> None:
    with pytest.raises(InputError, match=r"\[0, 1\)"):
        ewma([1.0], beta)


def test_text_plot_puts_high_values_on_top_and_labels_the_axes() -> None:
    lines = text_plot({"cost": ([0, 1, 2], [0.9, 0.5, 0.1])}, width=3, height=3)
    assert lines[:3] == ["0.9 |*  ", "    | * ", "0.1 |  *"]
    assert lines[3] == "    +---"
    assert lines[4].split() == ["0", "2"]
    assert lines[5] == "* cost"


def test_text_plot_joins_points_and_draws_the_first_series_on_top() -> None:
    lines = text_plot({"a": ([0, 10], [1.0, 1.0]), "b": ([0, 10], [1.0, 0.0])},
                      width=11, height=2)
    assert lines[0].endswith("|" + "*" * 11)  # joined across the empty columns, over b
    assert lines[1].endswith("|" + " " * 6 + "o" * 5)  # b's lower half
    assert lines[-1] == "* a  o b"


def test_text_plot_without_finite_values_says_so() -> None:
    assert text_plot({"cost": ([0, 1], [None, math.nan])}) == ["(no values to plot)"]
