"""Uplift of a treatment group over a control group, with 95% confidence intervals (pure).

- Conversion rates: the absolute difference with Newcombe's hybrid score interval (his method
  10: Wilson intervals of each rate, combined), which keeps its coverage at small counts and
  rates near 0 or 1 where the Wald interval does not; the relative uplift (rate ratio − 1) with
  the Katz log interval, undefined when either group has no conversions.
- Means (revenue per member): the difference with Welch's normal approximation (unequal
  variances, sample variances), and the relative uplift (ratio of means − 1) with the delta
  method; undefined with fewer than two members in a group or a control mean of 0.

Means and variances come in as exact fractions (from integer cents), so the only rounding is
the floating point of the square roots and of the normal quantile.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from statistics import NormalDist

Z95 = NormalDist().inv_cdf(0.975)  # 1.959963984540054


@dataclass(frozen=True)
class Interval:
    low: float
    high: float


@dataclass(frozen=True)
class Sample:
    """A group's values summarised exactly: count, sum and sum of squares."""

    n: int
    total: int
    squares: int

    @property
    def mean(self) -> Fraction:
        return Fraction(self.total, self.n)

    @property
    def variance(self) -> Fraction:
        """The sample variance (n − 1 in the denominator); needs n ≥ 2."""
        return Fraction(self.n * self.squares - self.total**2, self.n * (self.n - 1))


def wilson(x: int, n: int, z: float = Z95) -> Interval:
    """Wilson's score interval for the proportion x / n (n > 0)."""
    p = x / n
    scale = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / scale
    half = z / scale * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return Interval(max(0.0, centre - half), min(1.0, centre + half))


def rate_difference(x1: int, n1: int, x2: int, n2: int, z: float = Z95) -> Interval | None:
    """Newcombe's hybrid score interval for x1/n1 − x2/n2; None if a group is empty."""
    if n1 == 0 or n2 == 0:
        return None
    p1, p2 = x1 / n1, x2 / n2
    first, second = wilson(x1, n1, z), wilson(x2, n2, z)
    d = p1 - p2
    low = d - math.sqrt((p1 - first.low) ** 2 + (second.high - p2) ** 2)
    high = d + math.sqrt((first.high - p1) ** 2 + (p2 - second.low) ** 2)
    return Interval(low, high)


def relative_rate_uplift(x1: int, n1: int, x2: int, n2: int, z: float = Z95) -> Interval | None:
    """Katz's log interval for the rate ratio (x1/n1)/(x2/n2), less 1; None without
    conversions in either group."""
    if x1 == 0 or x2 == 0 or n1 == 0 or n2 == 0:
        return None
    ratio = (x1 / n1) / (x2 / n2)
    se = math.sqrt(1 / x1 - 1 / n1 + 1 / x2 - 1 / n2)
    return Interval(ratio * math.exp(-z * se) - 1, ratio * math.exp(z * se) - 1)


def mean_difference(treated: Sample, control: Sample, z: float = Z95) -> Interval | None:
    """Welch's normal-approximation interval for the difference of means."""
    if treated.n < 2 or control.n < 2:
        return None
    d = float(treated.mean - control.mean)
    se = math.sqrt(float(treated.variance / treated.n + control.variance / control.n))
    return Interval(d - z * se, d + z * se)


def relative_mean_uplift(treated: Sample, control: Sample, z: float = Z95) -> Interval | None:
    """Delta-method interval for mean(treated)/mean(control), less 1."""
    if treated.n < 2 or control.n < 2 or control.total <= 0:
        return None
    ratio = treated.mean / control.mean
    spread = treated.variance / treated.n + ratio**2 * control.variance / control.n
    se = math.sqrt(float(spread)) / float(control.mean)
    r = float(ratio)
    return Interval(r - z * se - 1, r + z * se - 1)
