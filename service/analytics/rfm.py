"""RFM scores and value tiers: class boundaries over the shop's buyers, once per run.

A buyer's score on a measure is 1 + floor(5 x below / buyers), where `below` counts the buyers
with strictly lower merit (more days since their last paid order, fewer paid orders, less net
spend): the SQL RANK rule. Equal values always share a score, and a tied group straddling a
quintile edge takes the lower one; when most buyers bought once, frequency skips scores (one-time
buyers F1, every repeat buyer F4 or F5).

Value tiers rank buyers by average order value the same way: a buyer with at least
(100 - high_percent)% of buyers strictly below is high, with at least (100 - medium_percent)%
medium, else low.

So score >= s exactly when the value exceeds the k-th smallest value, k = ceil((s - 1) n / 5):
the boundaries are a few order statistics, one sort per measure, and a chunk classifies its
members by comparison alone (recency by comparing last_paid_at with an instant).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    DateTime,
    Float,
    Integer,
    case,
    cast,
    func,
    literal,
    null,
    select,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection

from service.analytics.config import TierBounds
from service.analytics.models import ValueTier
from service.analytics.sql import DAY_SECONDS, epoch_of
from service.members.models import Member

TIER_CLASS = {3: ValueTier.HIGH, 2: ValueTier.MEDIUM, 1: ValueTier.LOW}


def cents(column: Any) -> Any:
    """A Money column as its stored integer cents (arithmetic on Money would scale literals)."""
    return type_coerce(column, BigInteger())


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def score_ranks(n: int) -> dict[int, int]:
    """score -> k: a value scores at least `score` if it exceeds the k-th smallest."""
    return {s: ceil_div((s - 1) * n, 5) for s in (5, 4, 3, 2)}


def tier_ranks(n: int, tiers: TierBounds) -> dict[int, int]:
    return {
        3: ceil_div((100 - tiers.high_percent) * n, 100),
        2: ceil_div((100 - tiers.medium_percent) * n, 100),
    }


@dataclass(frozen=True)
class Bounds:
    """Per measure, (class, limit) from the highest class down; the lowest class is implied.

    recency: the score is at least `class` if the days since the last paid order are fewer
    than `limit`; the others: if the value exceeds `limit`.
    """

    buyers: int
    recency: tuple[tuple[int, int], ...]
    frequency: tuple[tuple[int, int], ...]
    monetary: tuple[tuple[int, int], ...]
    tier: tuple[tuple[int, int], ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "buyers": self.buyers,
            **{
                name: [list(p) for p in getattr(self, name)]
                for name in ("recency", "frequency", "monetary", "tier")
            },
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


# Member stats set both from one aggregate: a member has a last payment iff a paid order.
BUYER = (Member.last_paid_at.is_not(None),)


def _picks(measure: str, value: Any, ranks: set[int]) -> Any:
    ordered = (
        select(value.label("v"), func.row_number().over(order_by=value).label("rn"))
        .where(*BUYER)
        .subquery()
    )
    return select(literal(measure).label("measure"), ordered.c.rn, ordered.c.v).where(
        ordered.c.rn.in_(sorted(ranks))
    )


MEASURES = {
    "r": Member.last_paid_at,  # oldest first: ascending merit is descending days
    "f": Member.paid_orders,
    "m": cents(Member.total_spent),
    "t": cents(Member.average_order_value),
}


async def _order_statistics(
    conn: AsyncConnection, n: int, wanted: dict[str, set[int]]
) -> dict[tuple[str, int], Any]:
    """The k-th smallest value of each measure, for the ranks wanted (k >= 1)."""
    if conn.dialect.name == "postgresql":  # percentile_disc: one plain sort per measure
        names = list(wanted)
        ranks = {m: sorted(wanted[m]) for m in names}
        picks = [
            type_coerce(  # the driver's values as they are (aware datetimes, integers)
                func.percentile_disc(
                    literal([(k - 0.5) / n for k in ranks[m]], ARRAY(Float()))  # ceil(.) = k
                ).within_group(MEASURES[m]),
                ARRAY(DateTime(timezone=True) if m == "r" else BigInteger()),
            )
            for m in names
        ]
        row = (await conn.execute(select(*picks).where(*BUYER))).one()
        return {
            (m, k): v
            for m, values in zip(names, row, strict=True)
            for k, v in zip(ranks[m], values, strict=True)
        }
    found: dict[tuple[str, int], Any] = {}
    for k in wanted.pop("r"):  # ix_members_last_paid_at: a walk of k entries, no sort
        oldest = select(Member.last_paid_at).where(*BUYER).order_by(Member.last_paid_at)
        found[("r", k)] = await conn.scalar(oldest.limit(1).offset(k - 1))
    counts = select(Member.paid_orders, func.count()).where(*BUYER).group_by(Member.paid_orders)
    seen, wanted_f = 0, sorted(wanted.pop("f"))  # few distinct order counts: count, don't sort
    for value, count in await conn.execute(counts.order_by(Member.paid_orders)):
        seen += count
        while wanted_f and wanted_f[0] <= seen:
            found[("f", wanted_f.pop(0))] = value
    for measure, ks in wanted.items():  # spend and AOV: ROW_NUMBER over each
        for _, rn, v in await conn.execute(_picks(measure, MEASURES[measure], ks)):
            found[(measure, int(rn))] = v
    return found


async def compute_bounds(conn: AsyncConnection, *, as_of: datetime, tiers: TierBounds) -> Bounds:
    """Buyers counted, then the needed order statistics of each measure."""
    n = int(await conn.scalar(select(func.count()).select_from(Member).where(*BUYER)) or 0)
    if n == 0:
        return Bounds(0, (), (), (), ())
    scores, tier = score_ranks(n), tier_ranks(n, tiers)
    ks = set(scores.values())
    found = await _order_statistics(
        conn, n, {"r": ks, "f": ks, "m": ks, "t": {k for k in tier.values() if k} or {1}}
    )
    found |= {(m, 0): -1 for m in ("f", "m", "t")}  # the 0th smallest: every value exceeds it
    now_s = epoch_of(as_of)

    def days(k: int) -> int:
        return max(0, (now_s - epoch_of(found[("r", k)])) // DAY_SECONDS)

    return Bounds(
        n,
        tuple((s, days(k)) for s, k in scores.items()),
        tuple((s, int(found[("f", k)])) for s, k in scores.items()),
        tuple((s, int(found[("m", k)])) for s, k in scores.items()),
        tuple((c, int(found[("t", k)])) for c, k in tier.items()),
    )


def above_sql(value: Any, pairs: tuple[tuple[int, int], ...]) -> Any:
    """The highest class whose limit `value` exceeds, else 1; NULL without bounds (no buyers)."""
    if not pairs:
        return cast(null(), Integer)
    return case(*((value > limit, klass) for klass, limit in pairs), else_=1)


def cutoff(as_of: datetime, days: int) -> datetime:
    """The instant T with: whole days from last_paid_at to as_of < days  <=>  last_paid_at >= T."""
    return datetime.fromtimestamp(epoch_of(as_of) - days * DAY_SECONDS + 1, UTC)


def recency_sql(last_paid_at: Any, pairs: tuple[tuple[int, int], ...], as_of: datetime) -> Any:
    """The recency score by comparing last_paid_at with instants (no date arithmetic)."""
    if not pairs:
        return cast(null(), Integer)
    whens = [
        (last_paid_at >= literal(cutoff(as_of, limit), Member.last_paid_at.type), klass)
        for klass, limit in pairs
        if limit > 0  # fewer than 0 days: nobody
    ]
    return case(*whens, else_=1) if whens else literal(1)
