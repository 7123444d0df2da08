"""The confidence intervals against published values and worked examples."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest

from service.analytics import uplift
from service.analytics.journey_report import round_half_up
from service.analytics.uplift import Interval, Sample


def rounded(interval: Interval | None) -> tuple[float, float] | None:
    return None if interval is None else (round(interval.low, 4), round(interval.high, 4))


@pytest.mark.parametrize(
    ("x", "n", "expected"),
    [  # Newcombe (1998), Statistics in Medicine 17:857, Table I, method 3 (score)
        (81, 263, (0.2553, 0.3662)),
        (15, 148, (0.0624, 0.1605)),
        (0, 20, (0.0, 0.1611)),
        (1, 29, (0.0061, 0.1718)),
    ],
)
def test_wilson_interval(x: int, n: int, expected: tuple[float, float]) -> None:
    assert rounded(uplift.wilson(x, n)) == expected


@pytest.mark.parametrize(
    ("counts", "expected"),
    [  # Newcombe (1998), Statistics in Medicine 17:873, Table II, method 10 (hybrid score)
        ((56, 70, 48, 80), (0.0524, 0.3339)),
        ((9, 10, 3, 10), (0.1705, 0.8090)),
        ((6, 7, 2, 7), (0.0582, 0.8062)),
        ((5, 56, 0, 29), (-0.0381, 0.1926)),
        ((0, 10, 0, 20), (-0.1611, 0.2775)),
        ((10, 10, 0, 20), (0.6791, 1.0)),
    ],
)
def test_newcombe_interval_for_a_difference_of_rates(
    counts: tuple[int, int, int, int], expected: tuple[float, float]
) -> None:
    assert rounded(uplift.rate_difference(*counts)) == expected


def test_katz_interval_for_the_relative_uplift() -> None:
    """56/70 against 48/80: ratio 4/3, se of its log √(1/56 − 1/70 + 1/48 − 1/80) = √(1/84);
    4/3 · e^(±1.96 · 0.10911) = 1.0766 … 1.6512, less one."""
    assert rounded(uplift.relative_rate_uplift(56, 70, 48, 80)) == (0.0766, 0.6512)


def test_welch_interval_for_a_difference_of_means() -> None:
    """[3, 5, 7] (mean 5, variance 4) against [1, 2, 3, 4] (mean 2.5, variance 5/3):
    se √(4/3 + 5/12) = √1.75 = 1.3229; 2.5 ± 1.96 · 1.3229 = −0.0928 … 5.0928."""
    treated, control = Sample(3, 15, 83), Sample(4, 10, 30)
    assert (treated.mean, treated.variance) == (5, 4)
    assert (control.mean, control.variance) == (Fraction(5, 2), Fraction(5, 3))
    assert rounded(uplift.mean_difference(treated, control)) == (-0.0928, 5.0928)


def test_delta_method_interval_for_the_ratio_of_means() -> None:
    """The same groups: ratio 2, se √(4/3 + 2² · (5/3)/4) / 2.5 = √3 / 2.5 = 0.6928;
    2 ± 1.96 · 0.6928 = 0.6421 … 3.3579, less one."""
    interval = uplift.relative_mean_uplift(Sample(3, 15, 83), Sample(4, 10, 30))
    assert rounded(interval) == (-0.3579, 2.3579)


@pytest.mark.parametrize(
    "interval",
    [
        uplift.rate_difference(0, 0, 3, 10),  # an empty group
        uplift.relative_rate_uplift(3, 10, 0, 10),  # no control conversions: no ratio
        uplift.relative_rate_uplift(0, 10, 3, 10),  # none treated: the log is undefined
        uplift.mean_difference(Sample(1, 5, 25), Sample(4, 10, 30)),  # no variance of one
        uplift.relative_mean_uplift(Sample(3, 15, 83), Sample(4, 0, 0)),  # a control mean of 0
    ],
)
def test_undefined_intervals_are_none(interval: Interval | None) -> None:
    assert interval is None


@pytest.mark.parametrize(
    ("value", "places", "expected"),
    [
        (Fraction(1, 8), 2, "0.13"),
        (Fraction(-1, 8), 2, "-0.13"),
        (Fraction(1, 3), 4, "0.3333"),
        (Fraction(2, 3), 4, "0.6667"),
        (Fraction(-5, 1000), 2, "-0.01"),
        (Fraction(0), 2, "0.00"),
        (Fraction(123456789, 100), 2, "1234567.89"),
    ],
)
def test_round_half_up(value: Fraction, places: int, expected: str) -> None:
    assert round_half_up(value, places) == Decimal(expected)
    assert str(round_half_up(value, places)) == expected
