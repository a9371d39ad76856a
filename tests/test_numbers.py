"""dlcli.numbers: how every table, bar and summary writes a number."""
from __future__ import annotations

import math

import pytest

from dlcli.numbers import clock, count, counted, duration, measure, setting, spread


@pytest.mark.parametrize("value,text", [
    (0, "0"), (7, "7"), (192000, "192,000"), (1234567, "1,234,567"), (None, "-")])
def test_count_uses_thousands_separators(value, text):
    assert count(value) == text


@pytest.mark.parametrize("value,text", [
    (0.05612345, "0.05612"), (0.3333333, "0.3333"), (0.5, "0.5"), (1438.2, "1,438"),
    (12345.0, "12,345"), (35120537.6, "3.512e+07"), (-35120537.6, "-3.512e+07"),
    (7.1e-6, "7.1e-06"), (1.0, "1"), (0.0, "0"), (float("nan"), "nan"),
    (float("inf"), "inf"), (-math.inf, "-inf"), (None, "-"), (3, "3"), (48000, "48,000")])
def test_measure_gives_four_significant_digits_and_never_a_long_number(value, text):
    assert measure(value) == text


@pytest.mark.parametrize("value,text", [
    (0.5, "0.5000"), (1.0, "1.000"), (0.0, "0.000"), (100.0, "100.0"), (0.05, "0.05000"),
    (35120537.6, "3.512e+07")])
def test_measure_padded_keeps_trailing_zeros_for_columns(value, text):
    assert measure(value, pad=True) == text


def test_measure_is_never_longer_than_a_table_cell():
    for exponent in range(-30, 31):
        for mantissa in (1.0, 1.23456789, 9.99999):
            assert len(measure(mantissa * 10.0 ** exponent, pad=True)) <= 10


@pytest.mark.parametrize("value,text", [
    (0.09999999999999999, "0.1"), (0.1, "0.1"), (7e-4, "0.0007"), (1e-5, "1e-05"),
    (0.001 * 3, "0.003"), (3.0, "3"), (2, "2"), (True, "true"), (None, "null"),
    ([16, 8], "[16, 8]"), ("adam", "adam"), (1e20, "1e+20"), (0.95, "0.95")])
def test_setting_reads_as_the_user_wrote_it(value, text):
    assert setting(value) == text


def test_setting_reads_back_to_the_same_float_to_twelve_digits():
    for value in (0.1, 7e-4, 1 / 3, 2.5e-7, 12345.678):
        assert float(setting(value)) == pytest.approx(value, rel=1e-11)


@pytest.mark.parametrize("mean,std,text", [
    (0.2019, 0.012, "0.202 ± 0.012"), (1.098, 0.00032, "1.09800 ± 0.00032"),
    (350.3, 47.2, "350 ± 47"), (1438.2, 1200.0, "1,400 ± 1,200"), (0.5, 0.0, "0.5 ± 0"),
    (None, 0.1, "-"), (3.5e7, 1e6, "3.5e+07 ± 1e+06")])
def test_spread_gives_mean_and_std_to_the_same_decimal_place(mean, std, text):
    assert spread(mean, std) == text


@pytest.mark.parametrize("value,text", [
    (0.0012345678901234, "0.001235"), (0.09999999999999999, "0.1"), (7e-4, "0.0007"),
    (1e-5, "1e-05"), (0.123456, "0.123456"), (0.9798123412312, "0.9798"), (10.0, "10"),
    ([0.97981234123, 0.5], "[0.9798, 0.5]"), ("he", "he"), (64, "64")])
def test_short_setting_keeps_what_a_person_typed_and_cuts_drawn_values_to_4_digits(value, text):
    assert setting(value, short=True) == text


@pytest.mark.parametrize("n,noun,plural,text", [
    (1, "seed", None, "1 seed"), (0, "seed", None, "0 seeds"), (3, "seed", None, "3 seeds"),
    (192000, "step", None, "192,000 steps"), (1, "search", "searches", "1 search"),
    (2, "search", "searches", "2 searches")])
def test_counted_puts_the_noun_in_the_right_number(n, noun, plural, text):
    assert counted(n, noun, plural) == text


@pytest.mark.parametrize("seconds,text", [
    (0, "0:00"), (7.9, "0:07"), (65, "1:05"), (725, "12:05"), (3725, "1:02:05"),
    (360000, "100:00:00"), (-1, "0:00"), (None, "-:--"), (float("inf"), "-:--")])
def test_clock_writes_a_duration_as_minutes_and_seconds_with_hours_when_needed(seconds, text):
    assert clock(seconds) == text


@pytest.mark.parametrize("seconds,text", [
    (0, "0 s"), (0.000512, "512 µs"), (0.001198, "1.20 ms"), (0.119, "119 ms"),
    (0.9996, "1.00 s"), (5.3, "5.30 s"), (12.345, "12.3 s"), (59.99, "1 min 00 s"),
    (123.4, "2 min 03 s"), (3725, "1 h 02 min"), (None, "-"), (float("nan"), "-")])
def test_duration_picks_the_unit_and_keeps_3_significant_digits(seconds, text):
    assert duration(seconds) == text
