"""One chunk of a recompute run in its own transaction: changed rows updated, missing buyers
inserted, stage events appended, the run's cursor moved (fenced on the lease)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.analytics import runs
from service.analytics.chunks import ChunkStatements
from service.clock import Clock
from service.db import session_dialect
from service.events.service import join_log_writers

log = logging.getLogger("huitou.analytics")
RETRYABLE = {"40001", "40P01"}  # serialization failure, deadlock: rerun the chunk
CHUNK_TRIES = 3


class LeaseLost(Exception):
    """Another worker took the run over; this one stops without writing."""


@dataclass(frozen=True)
class ChunkDone:
    written: int
    changed: int
    seconds: float


async def write_chunk(
    sessions: async_sessionmaker[AsyncSession],
    statements: ChunkStatements,
    *,
    run_id: int,
    worker: str,
    low: int,
    high: int,
    clock: Clock,
    longest_ms: int,
) -> ChunkDone:
    """Members [low, high) in one transaction, retried on a serialization failure."""
    params = {"lo": low, "hi": high}
    for attempt in range(1, CHUNK_TRIES + 1):
        started = time.perf_counter()
        try:
            async with sessions() as session, session.begin():
                if session_dialect(session) == "postgresql":
                    # JIT compiles the chunk's large CASE expressions anew on every execution:
                    # seconds of compiling for a statement that runs in a fraction of one
                    await session.execute(text("SET LOCAL jit = off"))
                written = await _write(session, statements, params)
                await join_log_writers(session)  # an insert into the event log
                changed = rowcount(await session.execute(statements.events, params))
                moved = await runs.advance(
                    session,
                    run_id=run_id,
                    worker=worker,
                    now=clock.now(),
                    next_member_id=high,
                    rows=written,
                    changes=changed,
                    longest_tx_ms=longest_ms,
                )
                if not moved:
                    raise LeaseLost
        except DBAPIError as exc:
            if attempt == CHUNK_TRIES or getattr(exc.orig, "sqlstate", None) not in RETRYABLE:
                raise
            continue
        seconds = time.perf_counter() - started
        log.debug("analytics chunk %d-%d: %d rows in %.3fs", low, high, written, seconds)
        return ChunkDone(written, changed, seconds)
    raise AssertionError("unreachable")


async def _write(session: AsyncSession, statements: ChunkStatements, params: dict[str, int]) -> int:
    """Update the chunk's changed rows and insert the missing ones; the rows written."""
    if not await session.scalar(statements.existing, params):
        return await _insert(session, statements.insert_all, statements, params)
    written = await affected(session, await session.execute(statements.update, params))
    if await session.scalar(statements.missing, params):
        written += await _insert(session, statements.insert_missing, statements, params)
    return written


async def _insert(
    session: AsyncSession, plain: Any, statements: ChunkStatements, params: dict[str, int]
) -> int:
    try:
        async with session.begin_nested():
            result = await session.execute(plain, params)
        return await affected(session, result)
    except IntegrityError:  # an order's stage refresh added a row meanwhile: upsert the range
        return await affected(session, await session.execute(statements.insert_racing, params))


async def affected(session: AsyncSession, result: Any) -> int:
    """Rows a statement wrote. Python's sqlite3 reports -1 for one that starts WITH …, so ask
    SQLite itself (changes() counts the last INSERT's rows, upserted ones included)."""
    count = getattr(result, "rowcount", -1)
    if (count is None or count < 0) and session_dialect(session) == "sqlite":
        return int(await session.scalar(select(func.changes())) or 0)
    return int(count)


def rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
