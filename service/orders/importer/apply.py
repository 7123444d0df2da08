"""Apply one staged chunk in the caller's transaction: new members, new orders and their items
in a few INSERT … SELECT statements; orders already recorded merge by the webhook's rule."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, bindparam, delete, func, insert, literal, select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Select

from service.db import UtcDateTime, dialect_insert
from service.members.models import Member
from service.orders.importer.records import ImportOrder, message_of
from service.orders.importer.staging import (
    ORDER_COLUMNS,
    import_items,
    import_orders,
    import_touched,
)
from service.orders.merge import STATE_FIELDS, OrderState, merge
from service.orders.models import Order, OrderItem

PLATFORM = "native"
COPIED = [c for c in ORDER_COLUMNS if c not in {"seq", "member_external_id", "repeated"}]


Recorded = dict[int, tuple[int, int, OrderState]]  # staged seq -> order id, member id, state


@dataclass
class Merged:
    updated: int  # orders recorded before this chunk that it changed
    unchanged: int


def _same_order() -> Any:
    return and_(Order.platform == PLATFORM, Order.external_id == import_orders.c.external_id)


async def recorded_orders(conn: AsyncConnection, *, repeated_only: bool = False) -> Recorded:
    """Staged orders the database has already, with their state, locked on PostgreSQL."""
    s, state = import_orders.c, [Order.__table__.c[f] for f in STATE_FIELDS]
    query = select(s.seq, Order.id, Order.member_id, *state).join_from(
        import_orders, Order, _same_order()
    )
    rows = await conn.execute(
        (query.where(s.repeated) if repeated_only else query).with_for_update(of=Order)
    )
    return {seq: (order_id, member, OrderState(*rest)) for seq, order_id, member, *rest in rows}


async def mark_recorded(conn: AsyncConnection) -> None:
    await conn.execute(
        update(import_orders)
        .values(existing=True)
        .where(select(Order.id).where(_same_order()).exists())
    )


async def insert_new(conn: AsyncConnection, *, now: datetime) -> int:
    """Insert the staged orders not recorded yet, and their items; returns how many orders."""
    i, s = import_items.c, import_orders.c
    item_columns = ["order_id", "member_id", "sku", "quantity", "price"]
    if conn.dialect.name == "postgresql":
        # One statement: items go only to the orders this INSERT made (not to one a webhook
        # made meanwhile), which RETURNING names.
        # Their members are noted for the stats from RETURNING too.
        orders = _insert_orders(conn.dialect.name, now, first_id=None)
        new = orders.returning(Order.id, Order.member_id, Order.external_id).cte("new")
        items = insert(OrderItem).from_select(
            item_columns,
            select(new.c.id, new.c.member_id, i.sku, i.quantity, i.price)
            .join_from(new, import_orders, s.external_id == new.c.external_id)
            .join(import_items, i.order_seq == s.seq)
            .order_by(i.seq),
        )
        noted = (
            dialect_insert("postgresql", import_touched)
            .from_select(["member_id"], select(new.c.member_id).distinct())
            .on_conflict_do_nothing(index_elements=["member_id"])
        )
        count = (
            select(func.count())
            .select_from(new)
            .add_cte(items.cte("items"))
            .add_cte(noted.cte("noted"))
        )
        return await conn.scalar(count) or 0
    # SQLite: this transaction holds the write lock (BEGIN IMMEDIATE), so no one else inserts
    # meanwhile: the new orders take ids from the staged order's place in the chunk, and their
    # items name them without looking each order up again. A conflict would be a bug: it fails.
    first_id = (await conn.scalar(select(func.max(Order.id))) or 0) + 1
    created = (await conn.execute(_insert_orders("sqlite", now, first_id=first_id))).rowcount
    chosen = (
        select(s.seq + first_id, s.member_id, i.sku, i.quantity, i.price)
        .join_from(import_items, import_orders, s.seq == i.order_seq)
        .where(~s.existing)
        .order_by(i.seq)
    )
    await conn.execute(insert(OrderItem).from_select(item_columns, chosen))
    return created


def _insert_orders(dialect: str, now: datetime, *, first_id: int | None) -> Any:
    s = import_orders.c
    stamp = literal(now, UtcDateTime())
    ids: list[Any] = []
    columns: list[str] = []
    member: Any = Member.id
    staged: Any = import_orders.join(Member, Member.external_id == s.member_external_id)
    if first_id is not None:  # SQLite: the id and the member known already
        ids, columns, member, staged = [s.seq + first_id], ["id"], s.member_id, import_orders
    chosen: Select[Any] = (
        select(*ids, literal(PLATFORM), member, *(s[c] for c in COPIED), stamp, stamp)
        .select_from(staged)
        .where(~s.existing)
        .order_by(s.seq)
    )
    statement = dialect_insert(dialect, Order).from_select(
        [*columns, "platform", "member_id", *COPIED, "recorded_at", "updated_at"], chosen
    )
    if first_id is None:
        statement = statement.on_conflict_do_nothing(index_elements=["platform", "external_id"])
    return statement.execution_options(preserve_rowcount=True)


async def merge_recorded(
    conn: AsyncConnection,
    recorded: Recorded,
    orders: list[ImportOrder],
    repeats: list[tuple[int, int, ImportOrder]],
    *,
    now: datetime,
) -> Merged:
    """Orders recorded before this chunk, and later lines of an order within it, change the
    order exactly as the same messages posted to the webhook one after another would."""
    states = dict(recorded)
    if repeats:
        states = await recorded_orders(conn, repeated_only=True) | states
    messages = sorted([(seq, seq, orders[seq]) for seq in recorded] + repeats)
    changed, items = _fold(states, messages, now)
    await _write(conn, states, changed, items, now)
    updated = len(changed & recorded.keys())
    return Merged(updated=updated, unchanged=len(recorded) - updated)


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
