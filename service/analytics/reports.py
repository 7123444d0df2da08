"""The shop reports: the report queries' exact counts turned into rows with ratios.

Ranges are local dates of the shop's zone, both ends included; periods are days, ISO weeks or
calendar months, the first and last clipped to the range.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from service.analytics import queries
from service.analytics.config import AnalyticsConfig
from service.analytics.models import Stage, ValueTier
from service.analytics.periods import Bucket, Period, buckets, check_range, local_midnight
from service.analytics.report_schemas import (
    ConcentrationRow,
    FunnelRow,
    LifecycleRow,
    NewBuyersRow,
    Report,
    ReturnRateRow,
    money,
    ratio,
)

FUNNEL_DEPTH = 5


def _envelope(
    name: str,
    first: date,
    last: date,
    config: AnalyticsConfig,
    now: datetime,
    rows: list[Any],
    period: Period | None = None,
) -> Report[Any]:
    return Report[Any](
        report=name,
        date_from=first,
        date_to=last,
        period=period.value if period else None,
        timezone=config.timezone,
        generated_at=now,
        rows=rows,
    )


def _range(first: date, last: date, config: AnalyticsConfig) -> tuple[datetime, datetime]:
    """The UTC instants from local midnight of `first` to the midnight after `last`."""
    check_range(first, last)
    zone = config.zone
    return local_midnight(first, zone), local_midnight(last + timedelta(days=1), zone)


async def repurchase_funnel(
    session: AsyncSession, *, first: date, last: date, config: AnalyticsConfig, now: datetime
) -> Report[FunnelRow]:
    """For k = 1 … 5: members with at least k paid orders in the range, and the share of them
    with at least k + 1 (the last row: 5 orders, and a 6th or more)."""
    start_at, end_at = _range(first, last, config)
    counts = await queries.funnel_counts(
        session, start_at=start_at, end_at=end_at, up_to=FUNNEL_DEPTH + 1
    )
    rows = [
        FunnelRow(
            k=k, members=counts[k - 1], repurchased=counts[k], rate=ratio(counts[k], counts[k - 1])
        )
        for k in range(1, FUNNEL_DEPTH + 1)
    ]
    return _envelope("repurchase-funnel", first, last, config, now, rows)


async def return_rate(
    session: AsyncSession,
    *,
    first: date,
    last: date,
    period: Period,
    config: AnalyticsConfig,
    now: datetime,
) -> Report[ReturnRateRow]:
    found = buckets(first, last, period, config.zone)
    counts = await queries.return_counts(session, found)
    rows = []
    for b in found:
        buyers, back = counts.get(b.index, (0, 0))
        rows.append(
            ReturnRateRow(
                period_start=b.start_date,
                period_end=b.end_date,
                buyers=buyers,
                returning=back,
                rate=ratio(back, buyers),
            )
        )
    return _envelope("return-rate", first, last, config, now, rows, period)


def _new_buyers_row(b: Bucket, counts: tuple[int, ...], now: datetime) -> NewBuyersRow:
    new, *repurchased = counts
    fields: dict[str, Any] = {}
    for days, count in zip(queries.NEW_BUYER_WINDOWS, repurchased, strict=True):
        complete = b.end_at + timedelta(days=days) <= now
        fields |= {
            f"repurchased_{days}d": count,
            f"rate_{days}d": ratio(count, new) if complete else None,
            f"complete_{days}d": complete,
        }
    return NewBuyersRow(period_start=b.start_date, period_end=b.end_date, new_buyers=new, **fields)


async def new_buyers(
    session: AsyncSession,
    *,
    first: date,
    last: date,
    period: Period,
    config: AnalyticsConfig,
    now: datetime,
) -> Report[NewBuyersRow]:
    """Per period: members whose first paid order fell in it, and the share who paid a second
    within 30, 60 and 90 days (a rate is null while its window is still open)."""
    found = buckets(first, last, period, config.zone)
    counts = await queries.new_buyer_counts(session, found)
    empty = (0,) * (1 + len(queries.NEW_BUYER_WINDOWS))
    rows = [_new_buyers_row(b, counts.get(b.index, empty), now) for b in found]
    return _envelope("new-buyers", first, last, config, now, rows, period)


async def lifecycle(
    session: AsyncSession,
    *,
    first: date,
    last: date,
    period: Period,
    config: AnalyticsConfig,
    now: datetime,
) -> Report[LifecycleRow]:
    """Members per stage at the end of each period: the snapshot of the period's last day if
    a recompute stored one, else derived from the orders (fixed thresholds)."""
    found = buckets(first, last, period, config.zone)
    stored = await queries.snapshot_counts(session, [b.end_date for b in found])
    instants = {b.index: min(b.end_at, now) for b in found}
    missing = [(b.index, instants[b.index]) for b in found if b.end_date not in stored]
    derived = await queries.derived_stage_counts(session, missing, config.stage)
    rows = []
    for b in found:
        counts = stored.get(b.end_date)
        source = "snapshot" if counts is not None else "derived"
        counts = counts if counts is not None else derived.get(b.index, {})
        rows.append(
            LifecycleRow(
                period_start=b.start_date,
                period_end=b.end_date,
                as_of=instants[b.index],
                source=source,
                **{s.value: counts.get(s.value, 0) for s in Stage},
            )
        )
    return _envelope("lifecycle", first, last, config, now, rows, period)


async def value_concentration(
    session: AsyncSession, *, first: date, last: date, config: AnalyticsConfig, now: datetime
) -> Report[ConcentrationRow]:
    """Share of buyers against share of net revenue, by AOV tier and by AOV decile, over the
    buyers of the range (their AOV in the range)."""
    start_at, end_at = _range(first, last, config)
    groups = await queries.concentration(
        session, start_at=start_at, end_at=end_at, tiers=config.tiers
    )
    tiers = [("tier", t.value) for t in ValueTier]
    deciles = [("decile", str(d)) for d in range(10, 0, -1)]
    buyers = sum(groups.get(k, queries.Group()).buyers for k in tiers)
    revenue = sum(groups.get(k, queries.Group()).revenue_cents for k in tiers)
    rows = []
    for kind, key in tiers + deciles:
        g = groups.get((kind, key), queries.Group())
        rows.append(
            ConcentrationRow(
                group=kind,
                key=key,
                buyers=g.buyers,
                buyer_share=ratio(g.buyers, buyers),
                orders=g.orders,
                revenue=money(g.revenue_cents),
                revenue_share=ratio(g.revenue_cents, revenue),
                average_order_value=money(_half_up(g.revenue_cents, g.orders))
                if g.orders
                else None,
                repeat_buyers=g.repeat_buyers,
                repeat_rate=ratio(g.repeat_buyers, g.buyers),
            )
        )
    return _envelope("value-concentration", first, last, config, now, rows)


def _half_up(numerator: int, denominator: int) -> int:
    return (2 * numerator + denominator) // (2 * denominator)
