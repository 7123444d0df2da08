"""The event log: appended in the writer's transaction, read after a cursor, never past a
writer still in flight (an event with a lower id that commits late is not skipped)."""

from __future__ import annotations

import asyncio
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.clock import FakeClock
from service.events.service import (
    append_event,
    cursor_position,
    move_cursor,
    read_events_after,
)


async def append(session: AsyncSession, kind: str, now: datetime) -> None:
    await append_event(session, type=kind, member_id=None, occurred_at=now, now=now)


async def read_types(sessions: async_sessionmaker[AsyncSession], position: int = 0) -> list[str]:
    async with sessions() as session, session.begin():
        return [e.type for e in await read_events_after(session, position=position, limit=10)]


async def test_events_are_read_in_order_after_a_cursor(
    sessions: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    async with sessions() as session, session.begin():
        for kind in ("a", "b", "c"):
            await append(session, kind, clock.now())
    async with sessions() as session, session.begin():
        assert await cursor_position(session, consumer="test", now=clock.now()) == 0
        events = await read_events_after(session, position=0, limit=2)
        assert [e.type for e in events] == ["a", "b"]
        await move_cursor(session, consumer="test", position=events[-1].id, now=clock.now())
    async with sessions() as session, session.begin():
        position = await cursor_position(session, consumer="test", now=clock.now())
        assert [e.type for e in await read_events_after(session, position=position, limit=10)] == [
            "c"
        ]


async def test_a_reader_waits_for_a_writer_in_flight_instead_of_skipping_its_event(
    sessions: async_sessionmaker[AsyncSession], clock: FakeClock, database_url: str
) -> None:
    if database_url.startswith("sqlite"):
        return  # SQLite has one writer at a time: there is never a writer in flight to skip
    slow = sessions()
    await slow.begin()
    await append(slow, "early", clock.now())  # takes the lower id, commits last
    async with sessions() as fast, fast.begin():
        await append(fast, "late", clock.now())
    reader = asyncio.create_task(read_types(sessions))
    async with sessions() as probe:
        while not await probe.scalar(  # the reader queues for the log's lock, it does not read
            text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
        ):
            assert not reader.done(), reader.result()
            await asyncio.sleep(0.01)  # polling another connection's state, not waiting for time
    await slow.commit()
    await slow.close()
    assert await reader == ["early", "late"]
