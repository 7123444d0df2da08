"""The documented definitions, computed plainly in Python from the generated orders."""

from __future__ import annotations

import calendar
import itertools
import statistics
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from tests.analytics.world import FakeOrder, World

DAY = 86_400
# Rows: recency 5 (top) to 1; columns: frequency 1 to 5. The RF segment map of the README.
SEGMENT_GRID = {
    5: ["new_customers", "potential_loyalist", "potential_loyalist", "champions", "champions"],
    4: ["promising", "potential_loyalist", "potential_loyalist", "loyal", "loyal"],
    3: ["about_to_sleep", "about_to_sleep", "need_attention", "loyal", "loyal"],
    2: ["hibernating", "hibernating", "at_risk", "at_risk", "cannot_lose"],
    1: ["lost", "hibernating", "at_risk", "at_risk", "cannot_lose"],
}


def epoch(at: datetime) -> int:
    return calendar.timegm(at.utctimetuple())


def whole_days(later: datetime, earlier: datetime) -> int:
    return max(0, (epoch(later) - epoch(earlier)) // DAY)


def cents(amount: Decimal) -> int:
    return int(amount * 100)


@dataclass(frozen=True)
class Stats:
    paid: int
    net_cents: int
    aov_cents: int
    last_paid: datetime
    paid_times: tuple[datetime, ...]
    promo: int


def is_promo(order: FakeOrder) -> bool:
    if order.source in {"flash_sale", "clearance"}:
        return True
    gross = order.total + order.discount_total
    return order.discount_total > 0 and order.discount_total >= gross * Decimal("0.30")


def member_stats(world: World) -> dict[int, Stats]:
    by_member: dict[int, list[FakeOrder]] = defaultdict(list)
    for order in world.counted():
        by_member[order.member_id].append(order)
    out = {}
    for member_id, orders in by_member.items():
        net = sum(cents(o.net) for o in orders)
        paid = len(orders)
        aov = int((Decimal(net) / paid).quantize(Decimal(1), rounding=ROUND_HALF_UP))
        times = tuple(sorted(o.paid_at for o in orders if o.paid_at))
        promo = sum(1 for o in orders if is_promo(o))
        out[member_id] = Stats(paid, net, aov, times[-1], times, promo)
    return out


def classes(merit: dict[int, int]) -> dict[int, int]:
    """1 + floor(5 (rank - 1) / n), rank = 1 + buyers with strictly lower merit."""
    n = len(merit)
    ordered = sorted(merit.values())
    out = {}
    for member_id, value in merit.items():
        below = sum(1 for v in ordered if v < value)
        out[member_id] = 1 + (5 * below) // n
    return out


def tiers(aov: dict[int, int], high: int = 25, medium: int = 50) -> dict[int, str]:
    n, out = len(aov), {}
    for member_id, value in aov.items():
        share_below = Fraction(sum(1 for v in aov.values() if v < value), n)
        if share_below >= Fraction(100 - high, 100):
            out[member_id] = "high"
        elif share_below >= Fraction(100 - medium, 100):
            out[member_id] = "medium"
        else:
            out[member_id] = "low"
    return out


def gap_days(times: tuple[datetime, ...]) -> list[int]:
    return [whole_days(b, a) for a, b in itertools.pairwise(times)]


def median_x2(values: list[int]) -> int | None:
    return int(2 * statistics.median(values)) if values else None


def stage(
    paid: int,
    days: int,
    *,
    base: tuple[int, int, int] = (90, 180, 365),
    gap_x2: int | None = None,
    reference: int = 30,
) -> str:
    """Thresholds x clamp(gap / reference, 1/4, 4); no gap: the thresholds as they are."""
    factor = Fraction(1)
    if gap_x2 is not None:
        factor = min(max(Fraction(gap_x2, 2 * reference), Fraction(1, 4)), Fraction(4))
    sleeping, at_risk, churned = (b * factor for b in base)
    if days >= churned:
        return "churned"
    if days >= at_risk:
        return "at_risk"
    if days >= sleeping:
        return "sleeping"
    return "new" if paid == 1 else "active"


@dataclass(frozen=True)
class Expected:
    r: int
    f: int
    m: int
    segment: str
    stage: str
    tier: str
    promo: int
    promo_share: float
    gap_x2: int | None


def expected_members(
    world: World, as_of: datetime, *, adaptive: bool = False, min_orders: int = 3
) -> dict[int, Expected]:
    stats = member_stats(world)
    days = {m: whole_days(as_of, s.last_paid) for m, s in stats.items()}
    r = classes({m: -d for m, d in days.items()})
    f = classes({m: s.paid for m, s in stats.items()})
    m_ = classes({m: s.net_cents for m, s in stats.items()})
    tier = tiers({m: s.aov_cents for m, s in stats.items()})
    gaps = {m: median_x2(gap_days(s.paid_times)) for m, s in stats.items()}
    all_gaps = [g for s in stats.values() for g in gap_days(s.paid_times)]
    shop = median_x2(all_gaps)
    out = {}
    for member_id, s in stats.items():
        chosen = None
        if adaptive:
            chosen = gaps[member_id] if s.paid >= min_orders else shop
        out[member_id] = Expected(
            r[member_id],
            f[member_id],
            m_[member_id],
            SEGMENT_GRID[r[member_id]][f[member_id] - 1],
            stage(s.paid, days[member_id], gap_x2=chosen),
            tier[member_id],
            s.promo,
            s.promo / s.paid,
            gaps[member_id] if adaptive else None,  # gaps are computed in adaptive mode only
        )
    return out
