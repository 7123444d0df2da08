"""Apply orders idempotently: replays, retries and out-of-order statuses converge to one truth."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from service.analytics.member_stage import refresh_member_stage
from service.db import dialect_insert, session_dialect
from service.errors import NotFound
from service.events.service import append_event
from service.members.models import Member
from service.members.service import insert_member_if_new, normalize_contacts
from service.members.stats import recompute_stats
from service.orders.models import Order, OrderItem, OrderStatus, WebhookDelivery
from service.orders.schemas import IngestResult, OrderIn, OrderItemOut, OrderOut
from service.orders.status import TIMESTAMP_FIELD, transitions

AMOUNT_FIELDS = ("currency", "total", "discount_total", "source", "created_at")


class OrderNotFound(NotFound):
    code = "order_not_found"


async def claim_delivery(
    session: AsyncSession, *, source: str, delivery_id: str, now: datetime
) -> bool:
    """True the first time a delivery id is seen; a replay gets False and must change nothing."""
    inserted = await session.scalar(
        dialect_insert(session_dialect(session), WebhookDelivery)
        .values(source=source, delivery_id=delivery_id, received_at=now)
        .on_conflict_do_nothing(index_elements=["source", "delivery_id"])
        .returning(WebhookDelivery.id)
    )
    return inserted is not None


async def ensure_member(
    session: AsyncSession, order: OrderIn, *, now: datetime, region: str, loc: tuple[str | int, ...]
) -> int:
    """The order's member, created if unknown; contacts on the order fill only what is missing."""
    given = order.member
    contacts = normalize_contacts(given.phone, given.email, region=region, loc=(*loc, "member"))
    fill = {"phone": contacts.phone, "email": contacts.email, "name": given.name}
    fill = {k: v for k, v in fill.items() if v}
    member_id, created = await insert_member_if_new(
        session, external_id=given.external_id, now=now, values=fill
    )
    if created:
        await append_event(
            session, type="member.created", member_id=member_id, occurred_at=now, now=now
        )
        return member_id
    for field, value in fill.items():
        column = getattr(Member, field)
        await session.execute(
            update(Member)
            .where(Member.id == member_id, column.is_(None))
            .values({field: value, "updated_at": now})
        )
    return member_id


def _timestamps(
    order: OrderIn, entered: Sequence[OrderStatus], now: datetime
) -> dict[str, datetime]:
    """Status times the message carries, and `now` for a status entered without one."""
    stamps = {
        field: getattr(order, field) for field in TIMESTAMP_FIELD.values() if getattr(order, field)
    }
    for status in entered:
        stamps.setdefault(TIMESTAMP_FIELD[status], now)
    return stamps


def _refund_total(order: OrderIn) -> Any:
    if order.refund_total is not None:
        return order.refund_total
    return order.total if order.status == OrderStatus.REFUNDED else 0


async def ingest_order(
    session: AsyncSession,
    order: OrderIn,
    *,
    platform: str,
    now: datetime,
    region: str,
    loc: tuple[str | int, ...] = ("body",),
) -> IngestResult:
    """Record one order message; member stats and events follow in the same transaction."""
    member_id = await ensure_member(session, order, now=now, region=region, loc=loc)
    entered = transitions(None, order.status)
    values = {f: getattr(order, f) for f in AMOUNT_FIELDS} | _timestamps(order, entered, now)
    order_id = await session.scalar(
        dialect_insert(session_dialect(session), Order)
        .values(
            platform=platform,
            external_id=order.id,
            member_id=member_id,
            status=order.status,
            refund_total=_refund_total(order),
            recorded_at=now,
            updated_at=now,
            **values,
        )
        .on_conflict_do_nothing(index_elements=["platform", "external_id"])
        .returning(Order.id)
    )
    if order_id is not None:
        await _insert_items(session, order_id=order_id, member_id=member_id, order=order)
        events = ["order.created", *(f"order.{s.value}" for s in entered)]
        status = order.status
    else:
        order_id, status, events = await _merge_existing(session, order, platform=platform, now=now)
    if events:
        await recompute_stats(session, member_ids=[member_id])
        await _append_order_events(session, events, order, order_id, member_id, platform, now)
        await refresh_member_stage(session, member_id=member_id, now=now, events=events)
    counts = session.info.setdefault("orders_ingested", {})
    counts[platform] = counts.get(platform, 0) + 1
    return IngestResult(id=order.id, status=status, applied=bool(events), events=events)


async def _merge_existing(
    session: AsyncSession, order: OrderIn, *, platform: str, now: datetime
) -> tuple[int, OrderStatus, list[str]]:
    current = await session.scalar(
        select(Order)
        .where(Order.platform == platform, Order.external_id == order.id)
        .with_for_update()
    )
    assert current is not None
    entered = transitions(current.status, order.status)
    changes: dict[str, Any] = {
        field: stamp
        for field, stamp in _timestamps(order, entered, now).items()
        if getattr(current, field) is None
    }
    refund = _refund_total(order)
    if refund > current.refund_total:
        changes["refund_total"] = refund
    if entered:
        changes |= {f: getattr(order, f) for f in AMOUNT_FIELDS[:4]} | {"status": order.status}
        if order.items:
            await session.execute(delete(OrderItem).where(OrderItem.order_id == current.id))
            await _insert_items(
                session, order_id=current.id, member_id=current.member_id, order=order
            )
    if not changes:
        return current.id, current.status, []
    await session.execute(
        update(Order).where(Order.id == current.id).values(updated_at=now, **changes)
    )
    # A late timestamp or a further refund changes the stats without a new status.
    return (
        current.id,
        changes.get("status", current.status),
        [f"order.{s.value}" for s in entered] or ["order.updated"],
    )


async def _insert_items(
    session: AsyncSession, *, order_id: int, member_id: int, order: OrderIn
) -> None:
    if order.items:
        await session.execute(
            insert(OrderItem),
            [
                {
                    "order_id": order_id,
                    "member_id": member_id,
                    "sku": i.sku,
                    "quantity": i.quantity,
                    "price": i.price,
                }
                for i in order.items
            ],
        )


async def _append_order_events(
    session: AsyncSession,
    events: list[str],
    order: OrderIn,
    order_id: int,
    member_id: int,
    platform: str,
    now: datetime,
) -> None:
    payload = {
        "order_id": order.id,
        "platform": platform,
        "total": str(order.total),
        "source": order.source,
    }
    for event_type in events:
        await append_event(
            session,
            type=event_type,
            member_id=member_id,
            order_id=order_id,
            occurred_at=_occurred_at(order, event_type, now),
            now=now,
            payload=payload,
        )


def _occurred_at(order: OrderIn, event_type: str, now: datetime) -> datetime:
    """When the shop says it happened, else when we learned of it."""
    if event_type == "order.created":
        return order.created_at
    field = {f"order.{s.value}": f for s, f in TIMESTAMP_FIELD.items()}.get(event_type)
    stamp: datetime | None = getattr(order, field) if field else None
    return stamp or now


async def get_order(
    session: AsyncSession, *, external_id: str, platform: str = "native"
) -> OrderOut:
    order = await session.scalar(
        select(Order).where(Order.platform == platform, Order.external_id == external_id)
    )
    if order is None:
        raise OrderNotFound(
            f"no {platform} order with id {external_id!r}", loc=["path", "order_id"]
        )
    return (await order_views(session, [order]))[0]


async def member_orders(session: AsyncSession, *, member_id: int, limit: int) -> list[OrderOut]:
    orders = await session.scalars(
        select(Order)
        .where(Order.member_id == member_id)
        .order_by(Order.created_at.desc())
        .limit(limit)
    )
    return await order_views(session, list(orders))


async def order_views(session: AsyncSession, orders: Sequence[Order]) -> list[OrderOut]:
    ids = [o.id for o in orders]
    items: dict[int, list[OrderItemOut]] = {i: [] for i in ids}
    for item in await session.scalars(
        select(OrderItem).where(OrderItem.order_id.in_(ids)).order_by(OrderItem.id)
    ):
        items[item.order_id].append(
            OrderItemOut(sku=item.sku, quantity=item.quantity, price=item.price)
        )
    members = dict(
        (
            await session.execute(
                select(Member.id, Member.external_id).where(
                    Member.id.in_({o.member_id for o in orders})
                )
            )
        ).all()
    )
    return [
        OrderOut(
            id=o.external_id,
            platform=o.platform,
            member_external_id=members[o.member_id],
            status=o.status,
            currency=o.currency,
            total=o.total,
            discount_total=o.discount_total,
            refund_total=o.refund_total,
            source=o.source,
            created_at=o.created_at,
            paid_at=o.paid_at,
            shipped_at=o.shipped_at,
            delivered_at=o.delivered_at,
            cancelled_at=o.cancelled_at,
            refunded_at=o.refunded_at,
            items=items[o.id],
        )
        for o in orders
    ]
