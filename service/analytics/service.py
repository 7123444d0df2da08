"""Member analytics: recompute runs (nightly and on demand), and what the API reads.

A run computes the RFM and value-tier boundaries in one read, then rewrites member analytics by
member-id chunks, each its own short transaction, then relearns the replenishment cycles and
writes the day's stage snapshot. The long reads run outside any transaction block (no write lock
on SQLite, no transaction id on PostgreSQL), so other writers and event readers keep moving.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Date, delete, func, insert, literal, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.analytics import runs
from service.analytics.chunks import ChunkStatements, chunk_statements
from service.analytics.config import AnalyticsConfig
from service.analytics.lifecycle import ADAPTIVE
from service.analytics.member_stage import refresh_member_stage
from service.analytics.models import (
    AnalyticsRun,
    LifecycleSnapshot,
    MemberAnalytics,
    RunStatus,
)
from service.analytics.replenishment import learn_cycles
from service.analytics.rfm import Bounds, compute_bounds
from service.analytics.shop import shop_gap_x2
from service.analytics.sql import reading, table
from service.clock import Clock
from service.db import session_dialect
from service.errors import NotFound

log = logging.getLogger("huitou.analytics")
Sessions = async_sessionmaker[AsyncSession]
RETRYABLE = {"40001", "40P01"}  # serialization failure, deadlock: rerun the chunk
CHUNK_TRIES = 3

__all__ = ["refresh_member_stage"]


class RunNotFound(NotFound):
    code = "analytics_run_not_found"


class LeaseLost(Exception):
    """Another worker took the run over; this one stops without writing."""


@dataclass(frozen=True)
class RunResult:
    run_id: int
    rows_written: int
    stage_changes: int
    chunks: int
    cycles: int
    longest_tx_ms: int  # the longest write transaction
    longest_read_ms: int = 0  # the longest read, outside any transaction block
    members_seconds: float = 0.0  # boundaries, chunks, snapshot
    cycles_seconds: float = 0.0  # replenishment cycles


@dataclass
class _Progress:
    rows: int = 0
    changes: int = 0
    chunks: int = 0
    longest_s: float = 0.0
    longest_read_s: float = 0.0

    def tx(self, seconds: float) -> None:
        self.longest_s = max(self.longest_s, seconds)

    def read(self, seconds: float) -> None:
        self.longest_read_s = max(self.longest_read_s, seconds)

    @property
    def longest_ms(self) -> int:
        return round(self.longest_s * 1000)


def default_worker() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


async def run_pending(
    sessions: Sessions, *, clock: Clock, config: AnalyticsConfig, worker: str | None = None
) -> RunResult | None:
    """Run the open or due recompute, if this worker gets it; None if there is nothing to do."""
    worker = worker or default_worker()
    async with sessions() as session, session.begin():
        run = await runs.claim(session, config=config, now=clock.now(), worker=worker)
    if run is None:
        return None
    try:
        return await _execute(sessions, run, clock=clock, config=config, worker=worker)
    except LeaseLost:
        log.warning("analytics run %s was taken over by another worker", run.id)
        return None
    except Exception as exc:
        await _record_error(sessions, run.id, worker=worker, error=repr(exc))
        raise


async def _execute(
    sessions: Sessions, run: AnalyticsRun, *, clock: Clock, config: AnalyticsConfig, worker: str
) -> RunResult:
    progress, started = _Progress(), time.perf_counter()
    dialect, bounds, gap_x2 = await _bounds(sessions, run, config=config, progress=progress)
    await _fenced(sessions, run.id, worker, bounds=bounds.to_json(), shop_gap_days_x2=gap_x2)
    statements = chunk_statements(
        dialect, config, bounds, as_of=run.as_of, now=clock.now(), shop_gap_x2=gap_x2
    )
    low, last = run.next_member_id, run.last_member_id or 0
    while low <= last:
        high = low + config.chunk_size
        await _chunk(sessions, statements, run.id, worker, low, high, clock, progress)
        low = high
    members_s, started = time.perf_counter() - started, time.perf_counter()
    cycles, write_s, read_s = await learn_cycles(
        sessions, min_pairs=config.replenish_min_pairs, now=clock.now()
    )
    progress.tx(write_s)
    progress.read(read_s)
    cycles_s, started = time.perf_counter() - started, time.perf_counter()
    await _finish(sessions, run, worker=worker, config=config, clock=clock, progress=progress)
    return RunResult(
        run.id,
        progress.rows,
        progress.changes,
        progress.chunks,
        cycles,
        progress.longest_ms,
        longest_read_ms=round(progress.longest_read_s * 1000),
        members_seconds=members_s + time.perf_counter() - started,
        cycles_seconds=cycles_s,
    )


async def _bounds(
    sessions: Sessions, run: AnalyticsRun, *, config: AnalyticsConfig, progress: _Progress
) -> tuple[str, Bounds, int | None]:
    """The run's boundaries: stored by an earlier attempt, else computed now (one read)."""
    started = time.perf_counter()
    async with reading(sessions) as conn:
        dialect = conn.dialect.name
        if run.bounds is not None:
            return dialect, Bounds.from_json(run.bounds), run.shop_gap_days_x2
        bounds = await compute_bounds(conn, as_of=run.as_of, tiers=config.tiers)
        adaptive = config.stage.mode == ADAPTIVE
        gap_x2 = await shop_gap_x2(conn) if adaptive else None
    progress.read(time.perf_counter() - started)
    return dialect, bounds, gap_x2


async def _chunk(
    sessions: Sessions,
    statements: ChunkStatements,
    run_id: int,
    worker: str,
    low: int,
    high: int,
    clock: Clock,
    progress: _Progress,
) -> None:
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
                changed = _rowcount(await session.execute(statements.events, params))
                moved = await runs.advance(
                    session,
                    run_id=run_id,
                    worker=worker,
                    now=clock.now(),
                    next_member_id=high,
                    rows=written,
                    changes=changed,
                    longest_tx_ms=progress.longest_ms,
                )
                if not moved:
                    raise LeaseLost
        except DBAPIError as exc:
            if attempt == CHUNK_TRIES or _sqlstate(exc) not in RETRYABLE:
                raise
            continue
        seconds = time.perf_counter() - started
        progress.tx(seconds)
        log.debug("analytics chunk %d-%d: %d rows in %.3fs", low, high, written, seconds)
        progress.rows, progress.changes = progress.rows + written, progress.changes + changed
        progress.chunks += 1
        return


async def _finish(
    sessions: Sessions,
    run: AnalyticsRun,
    *,
    worker: str,
    config: AnalyticsConfig,
    clock: Clock,
    progress: _Progress,
) -> None:
    """The day's stage snapshot and the run marked done, in one transaction."""
    day = run.as_of.astimezone(config.zone).date()
    started = time.perf_counter()
    async with sessions() as session, session.begin():
        await session.execute(
            delete(LifecycleSnapshot).where(LifecycleSnapshot.snapshot_date == day)
        )
        counts = (
            select(
                literal(day, Date),
                MemberAnalytics.stage,
                func.count(),
                literal(run.id),
                literal(run.as_of, LifecycleSnapshot.taken_at.type),
            )
            .where(MemberAnalytics.stage.is_not(None))
            .group_by(MemberAnalytics.stage)
        )
        await session.execute(
            insert(table(LifecycleSnapshot)).from_select(
                ["snapshot_date", "stage", "members", "run_id", "taken_at"], counts
            )
        )
        progress.tx(time.perf_counter() - started)
        done = await session.execute(
            update(AnalyticsRun)
            .where(AnalyticsRun.id == run.id, AnalyticsRun.worker == worker)
            .values(
                status=RunStatus.DONE,
                finished_at=clock.now(),
                leased_until=None,
                longest_tx_ms=runs.greatest(
                    session, AnalyticsRun.longest_tx_ms, progress.longest_ms
                ),
                error=None,
            )
        )
        if not _rowcount(done):
            raise LeaseLost


async def _fenced(sessions: Sessions, run_id: int, worker: str, **values: Any) -> None:
    async with sessions() as session, session.begin():
        result = await session.execute(
            update(AnalyticsRun)
            .where(AnalyticsRun.id == run_id, AnalyticsRun.worker == worker)
            .values(**values)
        )
        if not _rowcount(result):
            raise LeaseLost


async def _record_error(sessions: Sessions, run_id: int, *, worker: str, error: str) -> None:
    """Keep the error and free the lease: the next tick retries (up to runs.MAX_ATTEMPTS)."""
    async with sessions() as session, session.begin():
        await session.execute(
            update(AnalyticsRun)
            .where(AnalyticsRun.id == run_id, AnalyticsRun.worker == worker)
            .values(error=error[:500], leased_until=None)
        )


async def _write(session: AsyncSession, statements: ChunkStatements, params: dict[str, int]) -> int:
    """Update the chunk's changed rows and insert the missing ones; the rows written."""
    if not await session.scalar(statements.existing, params):
        return await _insert(session, statements.insert_all, statements, params)
    written = await _affected(session, await session.execute(statements.update, params))
    if await session.scalar(statements.missing, params):
        written += await _insert(session, statements.insert_missing, statements, params)
    return written


async def _insert(
    session: AsyncSession, plain: Any, statements: ChunkStatements, params: dict[str, int]
) -> int:
    try:
        async with session.begin_nested():
            result = await session.execute(plain, params)
        return await _affected(session, result)
    except IntegrityError:  # an order's stage refresh added a row meanwhile: upsert the range
        return await _affected(session, await session.execute(statements.insert_racing, params))


async def _affected(session: AsyncSession, result: Any) -> int:
    """Rows a statement wrote. Python's sqlite3 reports -1 for one that starts WITH …, so ask
    SQLite itself (changes() counts the last INSERT's rows, upserted ones included)."""
    count = getattr(result, "rowcount", -1)
    if (count is None or count < 0) and session_dialect(session) == "sqlite":
        return int(await session.scalar(select(func.changes())) or 0)
    return int(count)


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


def _sqlstate(exc: DBAPIError) -> str | None:
    return getattr(exc.orig, "sqlstate", None)


async def request_recompute(
    session: AsyncSession, *, config: AnalyticsConfig, now: datetime
) -> tuple[AnalyticsRun, bool]:
    return await runs.request(session, config=config, now=now)


async def get_run(session: AsyncSession, *, run_id: int) -> AnalyticsRun:
    run = await session.get(AnalyticsRun, run_id)
    if run is None:
        raise RunNotFound(f"no analytics run {run_id}", loc=["path", "run_id"])
    return run


async def list_runs(session: AsyncSession, *, limit: int) -> Sequence[AnalyticsRun]:
    return (
        await session.scalars(select(AnalyticsRun).order_by(AnalyticsRun.id.desc()).limit(limit))
    ).all()
