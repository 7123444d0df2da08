"""Append events in the writer's transaction; read them after a consumer's cursor.

Event ids come from a sequence, and on PostgreSQL concurrent writers commit in any order: a
reader that saw id 101 could move its cursor past 100 while 100 was still being written, and
skip it for ever. So every transaction that appends events holds a shared advisory lock on the
log until it ends, and a reader briefly takes the lock exclusively before it reads: once it has
it, every event written so far is committed or gone, and it reads no further than the newest
of them. Writers never wait for each other; a reader waits only for the writers in flight
(milliseconds). The lock is per database. SQLite has one writer at a time, so its log is always
settled.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from service.db import dialect_insert, session_dialect, table_of
from service.events.models import Event, EventCursor

EVENT_LOG_LOCK = 0x6875_6974_6F75_0001  # "huitou" + 1: the advisory lock key of the event log
WRITING = "event_log_writer"


async def join_log_writers(session: AsyncSession) -> None:
    """Hold the log's shared lock until this transaction ends (once per transaction). Every
    statement that inserts into `events` runs after this; `append_events` calls it."""
    transaction = session.get_transaction()
    if session_dialect(session) != "postgresql" or session.info.get(WRITING) is transaction:
        return
    await session.execute(select(func.pg_advisory_xact_lock_shared(EVENT_LOG_LOCK)))
    session.info[WRITING] = transaction


# Built once (composing a statement costs more than running it); the rows come as parameters.
_INSERT_EVENTS = insert(table_of(Event))


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
    await join_log_writers(session)
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


async def settled_position(session: AsyncSession) -> int | None:
    """The newest event id below which the log can no longer change; None on SQLite (all)."""
    if session_dialect(session) != "postgresql":
        return None
    await session.execute(select(func.pg_advisory_lock(EVENT_LOG_LOCK)))
    try:
        newest = await session.scalar(select(func.coalesce(func.max(Event.id), 0)))
    finally:
        await session.execute(select(func.pg_advisory_unlock(EVENT_LOG_LOCK)))
    return int(newest or 0)


async def read_events_after(session: AsyncSession, *, position: int, limit: int) -> Sequence[Event]:
    """Committed events after `position`, oldest first, never past a writer still in flight."""
    query = select(Event).where(Event.id > position).order_by(Event.id).limit(limit)
    settled = await settled_position(session)
    if settled is not None:
        query = query.where(Event.id <= settled)
    return (await session.scalars(query)).all()


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
