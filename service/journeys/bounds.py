"""Pure arithmetic that turns `field op literal` into a column-versus-parameter comparison.

An integer x (a count, cents, whole days) compared with any decimal bound becomes x >= k, x <= k,
x == k or x != k for an integer k, or a constant. A count of whole elapsed units becomes a bound
on the instant itself, computed from `now` in Python, so the planner sees `t <= :boundary`.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from service.journeys.condition_tree import ElapsedUnit

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def integer_plan(op: str, bound: Decimal) -> tuple[str, int] | bool:
    """`x op bound` for every integer x, as (">=" | "<=" | "==" | "!=", k), or a constant.

    x >= 2.5 <=> x >= 3;  x > 2.5 <=> x >= 3;  x <= 2.5 <=> x <= 2;  x < 2.5 <=> x <= 2;
    x == 2.5 never holds and x != 2.5 always does.
    """
    up = int(bound.to_integral_value(ROUND_CEILING))
    down = int(bound.to_integral_value(ROUND_FLOOR))
    plans: dict[str, tuple[str, int] | bool] = {
        ">=": (">=", up),
        ">": (">=", down + 1),
        "<=": ("<=", down),
        "<": ("<=", up - 1),
        "==": ("==", up) if up == down else False,
        "!=": ("!=", up) if up == down else True,
    }
    return plans[op]


def real_plan(op: str, bound: Decimal) -> tuple[str, float] | bool:
    """`x op bound` for every finite double x read as its shortest decimal (`repr`), as
    (op, double), or a constant.

    Reading doubles by their shortest decimals keeps their order, and the bound lies in the
    rounding interval of f, the double nearest it: so if f reads above the bound, x > bound <=>
    x >= f and x <= bound <=> x < f; if below, x >= bound <=> x > f and x < bound <=> x <= f; if
    f reads as the bound, the comparison stands. Equality needs f to read as the bound.
    """
    nearest = float(bound)
    if math.isinf(nearest):
        below = nearest > 0  # every double lies below the bound
        return {"<": below, "<=": below, ">": not below, ">=": not below, "!=": True}.get(op, False)
    reads = Decimal(repr(nearest))
    if reads == bound:
        return op, nearest
    if op in ("==", "!="):
        return op == "!="
    if reads > bound:
        return {">": ">=", ">=": ">=", "<": "<", "<=": "<"}[op], nearest
    return {">": ">", ">=": ">", "<": "<=", "<=": "<="}[op], nearest


def int64_outcome(op: str, k: int) -> bool | None:
    """What `x op k` is for every 64-bit x when k lies outside that range; None inside it."""
    if INT64_MIN <= k <= INT64_MAX:
        return None
    if op in ("==", "!="):
        return op == "!="
    return (op == "<=") == (k > INT64_MAX)


def elapsed_at_least(unit: ElapsedUnit, k: int) -> tuple[str, int]:
    """elapsed(t) >= k as `t op now + steps * unit`, returned as (op, steps).

    since: floor((now - t) / u) >= k  <=>  now - t >= k*u  <=>  t <= now - k*u
    until: floor((t - now) / u) >= k  <=>  t - now >= k*u  <=>  t >= now + k*u
    (floor(y) >= k <=> y >= k for an integer k; exact to the microsecond, negative k alike.)
    """
    return ("<=", -k) if unit.is_since else (">=", k)


def elapsed_at_most(unit: ElapsedUnit, k: int) -> tuple[str, int]:
    """elapsed(t) <= k as (op, steps), since floor(y) <= k <=> y < k + 1.

    since: now - t < (k+1)*u  <=>  t > now - (k+1)*u
    until: t - now < (k+1)*u  <=>  t < now + (k+1)*u
    """
    return (">", -(k + 1)) if unit.is_since else ("<", k + 1)


def shifted(now: datetime, steps: int, step: timedelta) -> datetime | None:
    """now + steps * step, or None past the datetime range (every instant lies on one side)."""
    try:
        return now + step * steps
    except OverflowError:
        return None
