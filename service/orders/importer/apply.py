"""Apply one staged chunk in the caller's transaction: new members, new orders and their items
in a few INSERT … SELECT statements; orders already recorded merge by the webhook's rule."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, delete, insert, literal, select, true, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Select

from service.db import UtcDateTime, dialect_insert
from service.members.models import Member
from service.orders.importer.records import ImportOrder, message_of
from service.orders.importer.staging import ORDER_COLUMNS, import_items, import_orders
from service.orders.merge import STATE_FIELDS, OrderState, merge
from service.orders.models import Order, OrderItem

PLATFORM = "native"
COPIED = [c for c in ORDER_COLUMNS if c not in {"seq", "member_external_id", "repeated"}]


@dataclass
class Merged:
    updated: int  # orders recorded before this chunk that it changed
    unchanged: int
    member_ids: set[int]  # members whose orders changed


async def insert_new_orders(conn: AsyncConnection, *, now: datetime) -> int:
    """Insert staged orders not recorded yet; each staged row learns its order and member id."""
    if conn.dialect.name == "postgresql":
        inserted = _insert(conn, now, new_only=False).cte("inserted")
        result = await conn.execute(
            update(import_orders)
            .values(order_id=inserted.c.id, member_id=inserted.c.member_id)
            .where(import_orders.c.external_id == inserted.c.external_id)
        )
        return result.rowcount
    # SQLite: this transaction holds the write lock, so what exists now is what conflicts.
    recorded = select(Order.id).where(
        Order.platform == PLATFORM, Order.external_id == import_orders.c.external_id
    )
    await conn.execute(update(import_orders).values(existing=recorded.exists()))
    count = (await conn.execute(_insert(conn, now, new_only=True))).rowcount
    await conn.execute(
        update(import_orders)
        .values(order_id=Order.id, member_id=Order.member_id)
        .where(~import_orders.c.existing, Order.platform == PLATFORM)
        .where(Order.external_id == import_orders.c.external_id)
    )
    return count


def _insert(conn: AsyncConnection, now: datetime, *, new_only: bool) -> Any:
    s = import_orders.c
    stamp = literal(now, UtcDateTime())
    chosen: Select[Any] = (
        select(literal(PLATFORM), Member.id, *(s[c] for c in COPIED), stamp, stamp)
        .join_from(import_orders, Member, Member.external_id == s.member_external_id)
        .where(~s.existing if new_only else true())
        .order_by(s.seq)
    )
    statement = (
        dialect_insert(conn.dialect.name, Order)
        .from_select(["platform", "member_id", *COPIED, "recorded_at", "updated_at"], chosen)
        .on_conflict_do_nothing(index_elements=["platform", "external_id"])
        .execution_options(preserve_rowcount=True)
    )
    if conn.dialect.name == "postgresql":
        statement = statement.returning(Order.id, Order.external_id, Order.member_id)
    return statement


async def insert_new_items(conn: AsyncConnection) -> int:
    i, s = import_items.c, import_orders.c
    chosen = (
        select(s.order_id, s.member_id, i.sku, i.quantity, i.price)
        .join_from(import_items, import_orders, s.seq == i.order_seq)
        .where(s.order_id.is_not(None))
        .order_by(i.seq)
    )
    statement = (
        insert(OrderItem)
        .from_select(["order_id", "member_id", "sku", "quantity", "price"], chosen)
        .execution_options(preserve_rowcount=True)
    )
    return (await conn.execute(statement)).rowcount


async def merge_recorded(
    conn: AsyncConnection,
    orders: list[ImportOrder],
    repeats: list[tuple[int, int, ImportOrder]],
    *,
    now: datetime,
) -> Merged:
    """Orders recorded before this chunk, and later lines of an order within it, change the
    order exactly as the same messages posted to the webhook one after another would."""
    s, columns = import_orders.c, [Order.__table__.c[f] for f in STATE_FIELDS]
    found = await conn.execute(
        select(s.seq, s.order_id, Order.id, Order.member_id, *columns)
        .join_from(import_orders, Order, Order.external_id == s.external_id)
        .where(Order.platform == PLATFORM, s.order_id.is_(None) | s.repeated)
        .with_for_update(of=Order)
    )
    states: dict[int, tuple[int, int, OrderState]] = {}
    messages: list[tuple[int, int, ImportOrder]] = []
    existing: set[int] = set()
    for seq, staged_id, order_id, member_id, *state in found:
        states[seq] = (order_id, member_id, OrderState(*state))
        if staged_id is None:
            existing.add(seq)
            messages.append((seq, seq, orders[seq]))
    messages.extend(repeats)
    changed, items = _fold(states, sorted(messages), now)
    await _write(conn, states, changed, items, now)
    updated = len(changed & existing)
    return Merged(
        updated=updated,
        unchanged=len(existing) - updated,
        member_ids={states[seq][1] for seq in changed},
    )


def _fold(
    states: dict[int, tuple[int, int, OrderState]],
    messages: list[tuple[int, int, ImportOrder]],
    now: datetime,
) -> tuple[set[int], dict[int, ImportOrder]]:
    changed: set[int] = set()
    items: dict[int, ImportOrder] = {}
    for _, first, order in messages:
        if first not in states:  # its first line was refused
            continue
        order_id, member_id, state = states[first]
        changes, entered = merge(state, message_of(order), now=now)
        if changes:
            states[first] = (order_id, member_id, replace(state, **changes))
            changed.add(first)
        if entered and order.items:
            items[first] = order
    return changed, items


async def _write(
    conn: AsyncConnection,
    states: dict[int, tuple[int, int, OrderState]],
    changed: set[int],
    items: dict[int, ImportOrder],
    now: datetime,
) -> None:
    if changed:
        await conn.execute(
            update(Order)
            .where(Order.id == bindparam("b_id"))
            .values({f: bindparam(f"b_{f}") for f in STATE_FIELDS} | {"updated_at": now}),
            [
                {"b_id": order_id} | {f"b_{f}": getattr(state, f) for f in STATE_FIELDS}
                for order_id, _, state in (states[seq] for seq in changed)
            ],
        )
    if items:
        ids = {states[seq][0]: (states[seq][1], order) for seq, order in items.items()}
        await conn.execute(delete(OrderItem).where(OrderItem.order_id.in_(ids)))
        await conn.execute(
            insert(OrderItem),
            [
                {"order_id": oid, "member_id": mid, "price": Decimal(item.price) / 100}
                | {"sku": item.sku, "quantity": item.quantity}
                for oid, (mid, order) in ids.items()
                for item in order.items
            ],
        )
