"""RFM scores and value tiers: class boundaries over the shop's buyers in one statement.

A buyer's score on a measure is 1 + floor(5 x (rank - 1) / buyers), where rank is the SQL RANK
of the buyer's value among all buyers (ascending merit: most days since the last order first,
fewest orders, least net spend). Equal values share the lowest rank, so ties always share a
score and a tied group straddling a quintile edge takes the lower score; when most buyers
bought once, frequency skips scores (one-time buyers F1, every repeat buyer F4 or F5).

Value tiers rank buyers by average order value the same way: a buyer whose share of buyers
with a strictly lower AOV is at least (100 - high_percent)% is high, at least
(100 - medium_percent)% medium, else low.

Scores are stored per member by chunks (`chunks.py`). This module computes each non-empty
class's boundary value once per run, so a chunk classifies its members by comparison alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Integer,
    case,
    cast,
    func,
    literal,
    literal_column,
    null,
    select,
    type_coerce,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from service.analytics.config import TierBounds
from service.analytics.models import ValueTier
from service.analytics.sql import days_since
from service.members.models import Member

TIER_CLASS = {3: ValueTier.HIGH, 2: ValueTier.MEDIUM, 1: ValueTier.LOW}


def cents(column: Any) -> Any:
    """A Money column as its stored integer cents (arithmetic on Money would scale literals)."""
    return type_coerce(column, BigInteger())


@dataclass(frozen=True)
class Bounds:
    """Per measure, (class, boundary) for each non-empty class, highest class first.

    Recency boundaries are the most days a class holds; the others the least value.
    """

    buyers: int
    recency: tuple[tuple[int, int], ...]
    frequency: tuple[tuple[int, int], ...]
    monetary: tuple[tuple[int, int], ...]
    tier: tuple[tuple[int, int], ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "buyers": self.buyers,
            "recency": [list(p) for p in self.recency],
            "frequency": [list(p) for p in self.frequency],
            "monetary": [list(p) for p in self.monetary],
            "tier": [list(p) for p in self.tier],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Bounds:
        def pairs(name: str) -> tuple[tuple[int, int], ...]:
            return tuple((int(a), int(b)) for a, b in data[name])

        return cls(
            int(data["buyers"]),
            pairs("recency"),
            pairs("frequency"),
            pairs("monetary"),
            pairs("tier"),
        )


def _class(rank: Any, n: Any) -> Any:
    return 1 + (5 * (rank - 1)) // n


def _tier_class(rank: Any, n: Any, tiers: TierBounds) -> Any:
    return case(
        (100 * (rank - 1) >= (100 - tiers.high_percent) * n, 3),
        (100 * (rank - 1) >= (100 - tiers.medium_percent) * n, 2),
        else_=1,
    )


def bounds_select(*, as_of: datetime, tiers: TierBounds) -> Any:
    """(measure, class, boundary) rows: four window ranks over the buyers, one statement."""
    buyers = (
        select(
            days_since(Member.last_paid_at, as_of).label("d"),
            Member.paid_orders.label("f"),
            cents(Member.total_spent).label("m"),
            cents(Member.average_order_value).label("a"),
        )
        .where(Member.paid_orders > 0, Member.last_paid_at.is_not(None))
        .subquery()
    )
    ranked = (
        select(
            buyers,
            func.count().over().label("n"),
            func.rank().over(order_by=buyers.c.d.desc()).label("rr"),
            func.rank().over(order_by=buyers.c.f).label("rf"),
            func.rank().over(order_by=buyers.c.m).label("rm"),
            func.rank().over(order_by=buyers.c.a).label("ra"),
        )
        .cte("ranked")
        .prefix_with("MATERIALIZED")
    )
    c = ranked.c

    def part(measure: str, klass: Any, bound: Any) -> Any:
        return select(
            literal(measure).label("measure"),
            type_coerce(klass, Integer).label("cls"),
            type_coerce(bound, BigInteger).label("bound"),
            func.max(c.n).label("n"),
        ).group_by(literal_column("cls"))

    return union_all(
        part("r", _class(c.rr, c.n), func.max(c.d)),
        part("f", _class(c.rf, c.n), func.min(c.f)),
        part("m", _class(c.rm, c.n), func.min(c.m)),
        part("t", _tier_class(c.ra, c.n, tiers), func.min(c.a)),
    )


async def compute_bounds(session: AsyncSession, *, as_of: datetime, tiers: TierBounds) -> Bounds:
    found: dict[str, list[tuple[int, int]]] = {"r": [], "f": [], "m": [], "t": []}
    buyers = 0
    for measure, klass, bound, n in await session.execute(bounds_select(as_of=as_of, tiers=tiers)):
        found[measure].append((int(klass), int(bound)))
        buyers = int(n)
    ordered = {k: tuple(sorted(v, reverse=True)) for k, v in found.items()}
    return Bounds(buyers, ordered["r"], ordered["f"], ordered["m"], ordered["t"])


def score_sql(value: Any, pairs: tuple[tuple[int, int], ...], *, at_most: bool = False) -> Any:
    """The class of `value` given the boundaries: the highest class whose boundary it reaches."""
    if not pairs:  # no buyers yet: a typed NULL, so comparisons on it still type-check
        return cast(null(), Integer)
    *higher, (lowest, _) = pairs
    whens = [((value <= bound) if at_most else (value >= bound), klass) for klass, bound in higher]
    return case(*whens, else_=lowest) if whens else literal(lowest)
