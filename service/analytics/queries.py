"""The report queries: counts and sums in SQL (GROUP BY and window functions), one statement
each; ratios are taken from these exact integers by the caller.

Every report counts paid orders the way member stats do (paid, not cancelled, not refunded in
full) and their net amounts (partial refunds deducted), as the orders stand today.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Integer,
    case,
    column,
    distinct,
    func,
    literal_column,
    null,
    select,
    type_coerce,
    values,
)
from sqlalchemy.ext.asyncio import AsyncSession

from service.analytics.config import TierBounds
from service.analytics.lifecycle import StageParams, StageRules, stage_sql
from service.analytics.models import LifecycleSnapshot
from service.analytics.periods import Bucket, buckets_table
from service.analytics.rfm import cents
from service.analytics.sql import DAY_SECONDS, epoch_of, epoch_s, whole_days_between
from service.db import UtcDateTime
from service.members.stats import counted_order
from service.orders.models import Order

NEW_BUYER_WINDOWS = (30, 60, 90)


def _in_range(start_at: datetime, end_at: datetime) -> Any:
    return (Order.paid_at >= start_at) & (Order.paid_at < end_at)


async def funnel_counts(
    session: AsyncSession, *, start_at: datetime, end_at: datetime, up_to: int
) -> list[int]:
    """Members with at least k paid orders in the range, for k = 1 … up_to."""
    per_member = (
        select(Order.member_id, func.count().label("n"))
        .where(counted_order(), _in_range(start_at, end_at))
        .group_by(Order.member_id)
        .subquery()
    )
    n = per_member.c.n
    row = (
        await session.execute(
            select(
                *(
                    func.coalesce(func.sum(case((n >= k, 1), else_=0)), 0)
                    for k in range(1, up_to + 1)
                )
            )
        )
    ).one()
    return [int(v) for v in row]


def _first_paid() -> Any:
    return (
        select(Order.member_id, func.min(Order.paid_at).label("first_at"))
        .where(counted_order())
        .group_by(Order.member_id)
        .subquery("firsts")
    )


async def return_counts(session: AsyncSession, found: list[Bucket]) -> dict[int, tuple[int, int]]:
    """Per period: distinct buyers, and those whose first paid order came before the period."""
    periods, firsts = buckets_table(found), _first_paid()
    returning = case((firsts.c.first_at < periods.c.start_at, Order.member_id))
    rows = await session.execute(
        select(
            periods.c.idx,
            func.count(distinct(Order.member_id)),
            func.count(distinct(returning)),
        )
        .select_from(Order)
        .join(periods, (Order.paid_at >= periods.c.start_at) & (Order.paid_at < periods.c.end_at))
        .join(firsts, firsts.c.member_id == Order.member_id)
        .where(counted_order())
        .group_by(periods.c.idx)
    )
    return {idx: (int(buyers), int(back)) for idx, buyers, back in rows}


def _first_two() -> Any:
    """Per buyer: the first paid order's instant and the seconds from it to the second."""
    ranked = (
        select(
            Order.member_id,
            Order.paid_at,
            epoch_s(Order.paid_at).label("paid_s"),
            func.row_number()
            .over(partition_by=Order.member_id, order_by=(Order.paid_at, Order.id))
            .label("rn"),
        )
        .where(counted_order())
        .subquery("ranked")
    )
    first_s = func.max(case((ranked.c.rn == 1, ranked.c.paid_s)))
    second_s = func.max(case((ranked.c.rn == 2, ranked.c.paid_s)))
    return (
        select(
            ranked.c.member_id,
            func.min(ranked.c.paid_at).label("first_at"),
            (second_s - first_s).label("gap_s"),
        )
        .where(ranked.c.rn <= 2)
        .group_by(ranked.c.member_id)
        .subquery("first_two")
    )


async def new_buyer_counts(
    session: AsyncSession, found: list[Bucket]
) -> dict[int, tuple[int, ...]]:
    """Per period: buyers whose first paid order fell in it, and how many of them paid a
    second order within each of NEW_BUYER_WINDOWS days of the first."""
    periods, two = buckets_table(found), _first_two()
    within = [
        func.coalesce(func.sum(case((two.c.gap_s <= days * DAY_SECONDS, 1), else_=0)), 0)
        for days in NEW_BUYER_WINDOWS
    ]
    rows = await session.execute(
        select(periods.c.idx, func.count(), *within)
        .select_from(two)
        .join(periods, (two.c.first_at >= periods.c.start_at) & (two.c.first_at < periods.c.end_at))
        .group_by(periods.c.idx)
    )
    return {row[0]: tuple(int(v) for v in row[1:]) for row in rows}


@dataclass(frozen=True)
class Group:
    buyers: int = 0
    orders: int = 0
    revenue_cents: int = 0
    repeat_buyers: int = 0


def _ranked_buyers(start_at: datetime, end_at: datetime, tiers: TierBounds) -> Any:
    per_buyer = (
        select(
            Order.member_id,
            func.count().label("n"),
            type_coerce(func.sum(cents(Order.total) - cents(Order.refund_total)), BigInteger).label(
                "revenue"
            ),
        )
        .where(counted_order(), _in_range(start_at, end_at))
        .group_by(Order.member_id)
        .subquery("per_buyer")
    )
    n, revenue = per_buyer.c.n, per_buyer.c.revenue
    aov = (2 * revenue + n) // (2 * n)  # cents, half up: as member stats round it
    ranked = select(
        per_buyer,
        func.rank().over(order_by=aov).label("ra"),
        func.count().over().label("total"),
    ).subquery("ranked")
    ra, total = ranked.c.ra, ranked.c.total
    tier = case(
        (100 * (ra - 1) >= (100 - tiers.high_percent) * total, "high"),
        (100 * (ra - 1) >= (100 - tiers.medium_percent) * total, "medium"),
        else_="low",
    )
    decile = 1 + (10 * (ra - 1)) // total
    return ranked, tier, decile


async def concentration(
    session: AsyncSession, *, start_at: datetime, end_at: datetime, tiers: TierBounds
) -> dict[tuple[str, str], Group]:
    """Buyers, orders, net revenue and repeat buyers per AOV tier and per AOV decile (10 = top)."""
    ranked, tier, decile = _ranked_buyers(start_at, end_at, tiers)
    c = ranked.c
    sums = (
        func.count(),
        func.sum(c.n),
        func.sum(c.revenue),
        func.sum(case((c.n >= 2, 1), else_=0)),
    )
    out: dict[tuple[str, str], Group] = {}
    for kind, key in (("tier", tier), ("decile", decile)):
        rows = await session.execute(
            select(key.label("grp"), *sums).group_by(literal_column("grp"))
        )
        for value, buyers, orders, revenue, repeat in rows:
            out[(kind, str(value))] = Group(int(buyers), int(orders), int(revenue), int(repeat))
    return out


async def snapshot_counts(session: AsyncSession, days: list[date]) -> dict[date, dict[str, int]]:
    """Stored daily stage counts for these local dates (the dates a run took them)."""
    rows = await session.execute(
        select(
            LifecycleSnapshot.snapshot_date, LifecycleSnapshot.stage, LifecycleSnapshot.members
        ).where(LifecycleSnapshot.snapshot_date.in_(days))
    )
    out: dict[date, dict[str, int]] = {}
    for day, stage, members in rows:
        out.setdefault(day, {})[str(stage)] = int(members)
    return out


async def derived_stage_counts(
    session: AsyncSession, points: list[tuple[int, datetime]], rules: StageRules
) -> dict[int, dict[str, int]]:
    """Members per stage at past instants, from the orders paid before each (fixed thresholds).

    Each paid order opens a span until the member's next one, during which they have k orders
    and the days since the last grow; a point falls in exactly one span per member.
    """
    if not points:
        return {}
    order = (Order.paid_at, Order.id)
    spans = (
        select(
            Order.paid_at.label("start_at"),
            epoch_s(Order.paid_at).label("start_s"),
            func.lead(Order.paid_at)
            .over(partition_by=Order.member_id, order_by=order)
            .label("next_at"),
            func.row_number().over(partition_by=Order.member_id, order_by=order).label("k"),
        )
        .where(counted_order())
        .subquery("spans")
    )
    at = (
        values(
            column("idx", Integer),
            column("at", UtcDateTime()),
            column("at_s", BigInteger),
            name="points",
        )
        .data([(i, instant, epoch_of(instant)) for i, instant in points])
        .cte("points")
    )
    fixed = StageParams.of(replace(rules, mode="fixed"))
    stage = stage_sql(
        fixed,
        paid_orders=spans.c.k,
        days_since=whole_days_between(at.c.at_s, spans.c.start_s),
        member_gap_x2=null(),
        shop_gap_x2=null(),
    ).label("stage")
    rows = await session.execute(
        select(at.c.idx, stage, func.count())
        .select_from(spans)
        .join(
            at,
            (spans.c.start_at < at.c.at)
            & (spans.c.next_at.is_(None) | (spans.c.next_at >= at.c.at)),
        )
        .group_by(at.c.idx, literal_column("stage"))
    )
    out: dict[int, dict[str, int]] = {}
    for idx, name, members in rows:
        out.setdefault(idx, {})[name] = int(members)
    return out
