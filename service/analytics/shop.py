"""Purchase gaps: whole days between a member's consecutive paid orders, and the shop's median."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from service.analytics.sql import DAY_SECONDS, epoch_s, grouped_median
from service.members.stats import counted_order
from service.orders.models import Order


def gap_days(*where: Any) -> Any:
    """(member_id, gap) for each paid order after a member's first, among orders `where`."""
    paid = (
        select(Order.member_id.label("member_id"), epoch_s(Order.paid_at).label("paid_s"))
        .where(counted_order(), *where)
        .cte("paid")
        .prefix_with("MATERIALIZED")  # the seconds once per order (SQLite parses text dates)
    )
    previous = func.lag(paid.c.paid_s).over(partition_by=paid.c.member_id, order_by=paid.c.paid_s)
    diffs = select(paid.c.member_id, (paid.c.paid_s - previous).label("diff")).subquery("diffs")
    return (
        select(diffs.c.member_id, (diffs.c.diff // DAY_SECONDS).label("gap"))
        .where(diffs.c.diff.is_not(None))
        .subquery("gaps")
    )


async def shop_gap_x2(conn: AsyncConnection) -> int | None:
    """Twice the median, over every member's consecutive paid orders, of the whole days between
    them; None while nobody has bought twice."""
    median = grouped_median(conn.dialect.name, gap_days(), [], "gap")
    row = (await conn.execute(median)).first()
    if row is None or row.median is None:
        return None
    return round(2 * float(row.median))
