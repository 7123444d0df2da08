"""Append events in the writer's transaction; read them after a consumer's cursor."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from service.db import (
    current_tx_id,
    dialect_insert,
    session_dialect,
    table_of,
    visible_tx_horizon,
)
from service.events.models import Event, EventCursor

# Built once (composing a statement costs more than running it); the rows come as parameters.
_INSERT_EVENTS = insert(table_of(Event)).values(tx_id=current_tx_id())


@dataclass(frozen=True)
class NewEvent:
    type: str
    member_id: int | None
    occurred_at: datetime
    order_id: int | None = None
    payload: dict[str, Any] = field(default_factory=dict)


async def append_events(
    session: AsyncSession, events: Sequence[NewEvent], *, now: datetime
) -> None:
    """Append events in the writer's transaction, in this order, in one executemany."""
    if not events:
        return
    await session.execute(
        _INSERT_EVENTS,
        [
            {
                "type": e.type,
                "member_id": e.member_id,
                "order_id": e.order_id,
                "payload": e.payload,
                "occurred_at": e.occurred_at,
                "recorded_at": now,
            }
            for e in events
        ],
    )
    counts = session.info.setdefault("events_written", {})
    for e in events:
        counts[e.type] = counts.get(e.type, 0) + 1


async def append_event(
    session: AsyncSession,
    *,
    type: str,
    member_id: int | None,
    occurred_at: datetime,
    now: datetime,
    order_id: int | None = None,
    payload: dict[str, Any] | None = None,
) -> None:
    await append_events(
        session, [NewEvent(type, member_id, occurred_at, order_id, payload or {})], now=now
    )


async def read_events_after(session: AsyncSession, *, position: int, limit: int) -> Sequence[Event]:
    """Committed events after `position`, oldest first, never past a still-running writer."""
    return (
        await session.scalars(
            select(Event)
            .where(Event.id > position, Event.tx_id < visible_tx_horizon())
            .order_by(Event.id)
            .limit(limit)
        )
    ).all()


async def cursor_position(session: AsyncSession, *, consumer: str, now: datetime) -> int:
    """The consumer's position, row-locked on PostgreSQL so one replica consumes at a time."""
    await session.execute(
        dialect_insert(session_dialect(session), EventCursor)
        .values(consumer=consumer, position=0, updated_at=now)
        .on_conflict_do_nothing(index_elements=["consumer"])
    )
    position = await session.scalar(
        select(EventCursor.position).where(EventCursor.consumer == consumer).with_for_update()
    )
    return position or 0


async def move_cursor(
    session: AsyncSession, *, consumer: str, position: int, now: datetime
) -> None:
    await session.execute(
        update(EventCursor)
        .where(EventCursor.consumer == consumer)
        .values(position=position, updated_at=now)
    )
