"""Append events in the writer's transaction; read them after a consumer's cursor."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from service.db import current_tx_id, dialect_insert, session_dialect, visible_tx_horizon
from service.events.models import Event, EventCursor


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
    await session.execute(
        insert(Event).values(
            type=type,
            member_id=member_id,
            order_id=order_id,
            payload=payload or {},
            occurred_at=occurred_at,
            recorded_at=now,
            tx_id=current_tx_id(),
        )
    )
    counts = session.info.setdefault("events_written", {})
    counts[type] = counts.get(type, 0) + 1


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
