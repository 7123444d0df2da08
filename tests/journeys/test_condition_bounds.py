"""The arithmetic that turns `field op literal` into `column op :parameter`, as tables."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from service.journeys.bounds import (
    elapsed_at_least,
    elapsed_at_most,
    int64_outcome,
    integer_plan,
    real_plan,
    shifted,
)
from service.journeys.condition_tree import ElapsedUnit

NOW = datetime(2026, 6, 18, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("op", "bound", "plan"),
    [
        (">=", "3", (">=", 3)),
        (">=", "2.5", (">=", 3)),
        (">", "2.5", (">=", 3)),
        (">", "3", (">=", 4)),
        ("<=", "2.5", ("<=", 2)),
        ("<", "2.5", ("<=", 2)),
        ("<", "3", ("<=", 2)),
        (">=", "-2.5", (">=", -2)),
        ("<", "-2.5", ("<=", -3)),
        ("==", "3.0", ("==", 3)),
        ("==", "2.5", False),
        ("!=", "2.5", True),
        (">=", "7000.5", (">=", 7001)),  # money 70.005 in cents
        (">", "1E+30", (">=", 10**30 + 1)),
    ],
)
def test_integer_plan(op: str, bound: str, plan: tuple[str, int] | bool) -> None:
    assert integer_plan(op, Decimal(bound)) == plan


@pytest.mark.parametrize(
    ("op", "k", "outcome"),
    [
        (">=", 5, None),
        (">=", 2**63, False),
        ("<=", 2**63, True),
        ("==", 2**63, False),
        ("!=", 2**63, True),
        (">=", -(2**63) - 1, True),
        ("<=", -(2**63) - 1, False),
    ],
)
def test_int64_outcome(op: str, k: int, outcome: bool | None) -> None:
    assert int64_outcome(op, k) is outcome


@pytest.mark.parametrize(
    ("unit", "k", "at_least", "at_most"),
    [
        (ElapsedUnit.DAYS_SINCE, 30, ("<=", -30), (">", -31)),
        (ElapsedUnit.DAYS_SINCE, -1, ("<=", 1), (">", 0)),
        (ElapsedUnit.DAYS_UNTIL, 7, (">=", 7), ("<", 8)),
        (ElapsedUnit.HOURS_SINCE, 2, ("<=", -2), (">", -3)),
    ],
)
def test_elapsed_bounds(
    unit: ElapsedUnit, k: int, at_least: tuple[str, int], at_most: tuple[str, int]
) -> None:
    assert elapsed_at_least(unit, k) == at_least
    assert elapsed_at_most(unit, k) == at_most


@pytest.mark.parametrize("micro", [-1, 0, 1])
@pytest.mark.parametrize("k", [-2, 0, 30])
def test_elapsed_bounds_agree_with_floor(k: int, micro: int) -> None:
    """At, and a microsecond either side of, the boundary the rewrite matches floor()."""
    unit = ElapsedUnit.DAYS_SINCE
    for at in (
        NOW - timedelta(days=k, microseconds=micro),
        NOW - timedelta(days=k + 1, microseconds=micro),
    ):
        days = (NOW - at) // timedelta(days=1)
        op, steps = elapsed_at_least(unit, k)
        boundary = NOW + steps * unit.step
        assert (days >= k) == (at <= boundary if op == "<=" else at >= boundary)
        op, steps = elapsed_at_most(unit, k)
        boundary = NOW + steps * unit.step
        assert (days <= k) == (at > boundary if op == ">" else at < boundary)


def test_shifted_past_the_datetime_range_is_none() -> None:
    assert shifted(NOW, -30, timedelta(days=1)) == NOW - timedelta(days=30)
    assert shifted(NOW, 10**12, timedelta(days=1)) is None
    assert shifted(NOW, -(10**6), timedelta(days=1)) is None


@pytest.mark.parametrize(
    ("op", "bound", "plan"),
    [
        (">=", "0.5", (">=", 0.5)),  # a double reads as the bound: the comparison stands
        ("==", "0.1", ("==", 0.1)),  # 0.1 reads as 0.1, whatever its binary expansion
        ("==", "0.30000000000000001", False),  # no double reads as this
        ("!=", "0.30000000000000001", True),
        (">", "0.30000000000000001", (">", 0.3)),  # 0.3 reads below it
        (">=", "0.30000000000000001", (">", 0.3)),
        ("<", "0.30000000000000001", ("<=", 0.3)),
        ("<=", "0.30000000000000001", ("<=", 0.3)),
        (">", "9007199254740993", (">", 2.0**53)),  # 2**53 + 1 rounds to the even 2**53, below
        ("<=", "9007199254740993", ("<=", 2.0**53)),
        (">", "9007199254740995", (">=", 2.0**53 + 4)),  # … and 2**53 + 3 to 2**53 + 4, above
        ("<=", "9007199254740995", ("<", 2.0**53 + 4)),
        ("<", "1E+400", True),  # beyond every double
        (">", "1E+400", False),
        (">", "-1E+400", True),
        ("==", "1E+400", False),
    ],
)
def test_real_plan(op: str, bound: str, plan: tuple[str, float] | bool) -> None:
    assert real_plan(op, Decimal(bound)) == plan
