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

from service.db import table_of
from service.members.models import Member
from service.orders.models import Order, OrderStatus

# Core tables, not the ORM entities: the statements below run for every order webhook, and an
# ORM-enabled UPDATE goes through the ORM's bulk-update layer (about as costly as running it).
MEMBERS, ORDERS = table_of(Member), table_of(Order)

# A paid order counts while money stays with the shop: not cancelled, not refunded in full.
COUNTED_STATUSES = (
    OrderStatus.PAID,
    OrderStatus.SHIPPED,
    OrderStatus.DELIVERED,
    OrderStatus.REFUNDED,
)


def counted_order(order: Any = ORDERS.c) -> ColumnElement[bool]:
    """Paid and not cancelled or refunded in full; `order` may be the ORM entity or an alias."""
    return and_(
        order.paid_at.is_not(None),
        order.status.in_(COUNTED_STATUSES),
        order.total - order.refund_total > 0,
    )


MemberIds = Sequence[int] | Select[tuple[int]] | BindParameter[Any]


def stats_select(member_ids: MemberIds) -> Select[tuple[int, ...]]:
    """Per member: paid orders, net spend in cents, rounded AOV in cents, first and last payment."""
    net = ORDERS.c.total - ORDERS.c.refund_total
    paid = func.count(ORDERS.c.id)
    spent = cast(func.coalesce(func.sum(net), 0), BigInteger)  # PostgreSQL sums bigint to numeric
    return (
        select(
            MEMBERS.c.id.label("member_id"),
            paid.label("paid_orders"),
            spent.label("total_spent"),
            case((paid == 0, 0), else_=(2 * spent + paid) // (2 * paid)).label(
                "average_order_value"
            ),
            func.min(ORDERS.c.paid_at).label("first_paid_at"),
            func.max(ORDERS.c.paid_at).label("last_paid_at"),
        )
        .select_from(MEMBERS)
        .outerjoin(ORDERS, and_(ORDERS.c.member_id == MEMBERS.c.id, counted_order()))
        .where(MEMBERS.c.id.in_(member_ids))
        .group_by(MEMBERS.c.id)
    )


def _recompute_statement(member_ids: MemberIds) -> Update:
    agg = stats_select(member_ids).subquery()
    return (
        update(MEMBERS)
        .where(MEMBERS.c.id == agg.c.member_id)
        .values(
            paid_orders=agg.c.paid_orders,
            total_spent=agg.c.total_spent,
            average_order_value=agg.c.average_order_value,
            first_paid_at=agg.c.first_paid_at,
            last_paid_at=agg.c.last_paid_at,
        )
    )


# Built once: composing this statement and its cache key costs more than running it.
_RECOMPUTE_LISTED = _recompute_statement(bindparam("member_ids", expanding=True))


async def recompute_stats(
    session: AsyncSession, *, member_ids: Sequence[int] | Select[tuple[int]]
) -> None:
    """Bring these members' stats in line with their orders, whatever arrived in what order."""
    if isinstance(member_ids, Select):
        await session.execute(_recompute_statement(member_ids))
    else:
        await session.execute(_RECOMPUTE_LISTED, {"member_ids": list(member_ids)})
