"""Shop-wide figures a recompute needs once: the median gap between a member's paid orders."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.analytics.sql import epoch_s, grouped_median, whole_days_between
from service.db import session_dialect
from service.members.stats import counted_order
from service.orders.models import Order


async def shop_gap_x2(session: AsyncSession) -> int | None:
    """Twice the median, over every member's consecutive paid orders, of the whole days between
    them; None while nobody has bought twice. One pass over ix_orders_member_facts."""
    previous = func.lag(epoch_s(Order.paid_at)).over(
        partition_by=Order.member_id, order_by=Order.paid_at
    )
    lagged = (
        select(whole_days_between(epoch_s(Order.paid_at), previous).label("gap"))
        .where(counted_order())
        .subquery()
    )
    gaps = select(lagged.c.gap).where(lagged.c.gap.is_not(None)).subquery()
    row = (await session.execute(grouped_median(session_dialect(session), gaps, [], "gap"))).first()
    if row is None or row.median is None:
        return None
    return round(2 * float(row.median))
