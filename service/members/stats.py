"""Member order statistics, derived from the orders in one statement (never incremented)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    BigInteger,
    BindParameter,
    ColumnElement,
    Select,
    Update,
    and_,
    bindparam,
    case,
    cast,
    func,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from service.members.models import Member
from service.orders.models import Order, OrderStatus

# A paid order counts while money stays with the shop: not cancelled, not refunded in full.
COUNTED_STATUSES = (
    OrderStatus.PAID,
    OrderStatus.SHIPPED,
    OrderStatus.DELIVERED,
    OrderStatus.REFUNDED,
)


def counted_order() -> ColumnElement[bool]:
    return and_(
        Order.paid_at.is_not(None),
        Order.status.in_(COUNTED_STATUSES),
        Order.total - Order.refund_total > 0,
    )


MemberIds = Sequence[int] | Select[tuple[int]] | BindParameter[Any]


def stats_select(member_ids: MemberIds) -> Select[tuple[int, ...]]:
    """Per member: paid orders, net spend in cents, rounded AOV in cents, first and last payment."""
    net = Order.total - Order.refund_total
    paid = func.count(Order.id)
    spent = cast(func.coalesce(func.sum(net), 0), BigInteger)  # PostgreSQL sums bigint to numeric
    return (
        select(
            Member.id.label("member_id"),
            paid.label("paid_orders"),
            spent.label("total_spent"),
            case((paid == 0, 0), else_=(2 * spent + paid) // (2 * paid)).label(
                "average_order_value"
            ),
            func.min(Order.paid_at).label("first_paid_at"),
            func.max(Order.paid_at).label("last_paid_at"),
        )
        .select_from(Member)
        .outerjoin(Order, and_(Order.member_id == Member.id, counted_order()))
        .where(Member.id.in_(member_ids))
        .group_by(Member.id)
    )


def recompute_statement(member_ids: MemberIds) -> Update:
    agg = stats_select(member_ids).subquery()
    return (
        update(Member)
        .where(Member.id == agg.c.member_id)
        .values(
            paid_orders=agg.c.paid_orders,
            total_spent=agg.c.total_spent,
            average_order_value=agg.c.average_order_value,
            first_paid_at=agg.c.first_paid_at,
            last_paid_at=agg.c.last_paid_at,
        )
        .execution_options(synchronize_session=False)
    )


# Built once: composing this statement and its cache key costs several times what running it
# does, and a webhook runs it for every order.
RECOMPUTE_LISTED = recompute_statement(bindparam("member_ids", expanding=True))


async def recompute_stats(
    session: AsyncSession, *, member_ids: Sequence[int] | Select[tuple[int]]
) -> None:
    """Bring these members' stats in line with their orders, whatever arrived in what order."""
    if isinstance(member_ids, Select):
        await session.execute(recompute_statement(member_ids))
    else:
        await session.execute(RECOMPUTE_LISTED, {"member_ids": list(member_ids)})
