"""Apply orders idempotently: replays, retries and out-of-order statuses converge to one truth."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from service.analytics.member_stage import stage_change
from service.db import session_dialect
from service.errors import NotFound
from service.events.service import NewEvent, append_events
from service.members.models import Member
from service.members.service import insert_new_member, normalize_contacts
from service.members.stats import recompute_stats
from service.orders.merge import (
    STAMP_FIELDS,
    STATE_FIELDS,
    OrderMessage,
    OrderState,
    initial_state,
    merge,
)
from service.orders.models import Order, OrderItem, OrderStatus
from service.orders.schemas import IngestResult, OrderIn, OrderItemOut, OrderOut
from service.orders.statements import (
    CLAIM_DELIVERY,
    FILL_CONTACTS,
    INSERT_ITEMS,
    INSERT_ORDER,
    ITEMS,
    ORDERS,
    RECORDED_ORDER,
)
from service.orders.status import TIMESTAMP_FIELD, transitions


class OrderNotFound(NotFound):
    code = "order_not_found"


async def claim_delivery(
    session: AsyncSession, *, source: str, delivery_id: str, now: datetime
) -> bool:
    """True the first time a delivery id is seen; a replay gets False and must change nothing."""
    inserted = await session.scalar(
        CLAIM_DELIVERY[session_dialect(session)],
        {"source": source, "delivery_id": delivery_id, "received_at": now},
    )
    return inserted is not None


async def ensure_member(
    session: AsyncSession,
    order: OrderIn,
    *,
    now: datetime,
    region: str,
    loc: tuple[str | int, ...],
    events: list[NewEvent] | None = None,
) -> int:
    """The order's member, created if unknown; contacts on the order fill only what is missing.

    `member.created` is appended to `events` for the caller to write, or written now.
    """
    given = order.member
    contacts = normalize_contacts(given.phone, given.email, region=region, loc=(*loc, "member"))
    fill = {"phone": contacts.phone, "email": contacts.email, "name": given.name or None}
    known = {k: v for k, v in fill.items() if v}
    new_id = await insert_new_member(session, external_id=given.external_id, now=now, values=known)
    if new_id is not None:
        event = NewEvent("member.created", new_id, now)
        await _append_or_collect(session, event, events, now=now)
        return new_id
    member_id: int | None = await session.scalar(
        FILL_CONTACTS,
        {"key": given.external_id, "now": now} | {f"given_{k}": v for k, v in fill.items()},
    )
    assert member_id is not None
    return member_id


async def _append_or_collect(
    session: AsyncSession, event: NewEvent, events: list[NewEvent] | None, *, now: datetime
) -> None:
    if events is None:
        await append_events(session, [event], now=now)
    else:
        events.append(event)


def message_of(order: OrderIn) -> OrderMessage:
    """The order message in the form the merge rule reads."""
    return OrderMessage(
        status=order.status,
        currency=order.currency,
        total=order.total,
        discount_total=order.discount_total,
        source=order.source,
        refund_total=order.refund_total,
        stamps={f: getattr(order, f) for f in STAMP_FIELDS if getattr(order, f)},
    )


def state_of(order: Any) -> OrderState:
    """The recorded order (an ORM object or a Core row) as the merge rule reads it."""
    return OrderState(**{f: getattr(order, f) for f in STATE_FIELDS})


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
    new_events: list[NewEvent] = []
    member_id = await ensure_member(
        session, order, now=now, region=region, loc=loc, events=new_events
    )
    initial = initial_state(message_of(order), now=now)
    order_id = await session.scalar(
        INSERT_ORDER[session_dialect(session)],
        {f: getattr(initial, f) for f in STATE_FIELDS}
        | {
            "platform": platform,
            "external_id": order.id,
            "member_id": member_id,
            "created_at": order.created_at,
            "recorded_at": now,
            "updated_at": now,
        },
    )
    if order_id is not None:
        await _insert_items(session, order_id=order_id, member_id=member_id, order=order)
        events = ["order.created", *(f"order.{s.value}" for s in transitions(None, order.status))]
        status = order.status
    else:
        order_id, status, events = await _merge_existing(session, order, platform=platform, now=now)
    if events:
        await recompute_stats(session, member_ids=[member_id])
        new_events += _order_events(events, order, order_id, member_id, platform, now)
        # after the order's events in the log, so a stage change follows what caused it
        if moved := await stage_change(session, member_id=member_id, now=now, events=events):
            new_events.append(moved)
        counts = session.info.setdefault("orders_ingested", {})  # "applied", as the metric says
        counts[platform] = counts.get(platform, 0) + 1
    await append_events(session, new_events, now=now)
    return IngestResult(id=order.id, status=status, applied=bool(events), events=events)


async def _merge_existing(
    session: AsyncSession, order: OrderIn, *, platform: str, now: datetime
) -> tuple[int, OrderStatus, list[str]]:
    current = (await session.execute(RECORDED_ORDER, {"platform": platform, "key": order.id})).one()
    changes, entered = merge(state_of(current), message_of(order), now=now)
    if entered and order.items:
        await session.execute(delete(ITEMS).where(ITEMS.c.order_id == current.id))
        await _insert_items(session, order_id=current.id, member_id=current.member_id, order=order)
    if not changes:
        return current.id, current.status, []
    await session.execute(
        update(ORDERS).where(ORDERS.c.id == current.id).values(updated_at=now, **changes)
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
            INSERT_ITEMS,
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


def _order_events(
    events: list[str],
    order: OrderIn,
    order_id: int,
    member_id: int,
    platform: str,
    now: datetime,
) -> list[NewEvent]:
    payload = {
        "order_id": order.id,
        "platform": platform,
        "total": str(order.total),
        "source": order.source,
    }
    return [
        NewEvent(event_type, member_id, _occurred_at(order, event_type, now), order_id, payload)
        for event_type in events
    ]


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
