"""Recompute runs: member analytics rewritten in short chunk transactions, then the
replenishment cycles relearned and the day's stage snapshot stored.

A run computes the RFM and value-tier boundaries in one read, then rewrites member analytics by
member-id chunks (`writes.py`). The long reads run outside any transaction block (no write lock
on SQLite, no transaction id on PostgreSQL), so other writers and event readers keep moving.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Date, delete, func, insert, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.analytics import runs
from service.analytics.chunks import chunk_statements
from service.analytics.config import AnalyticsConfig
from service.analytics.lifecycle import ADAPTIVE
from service.analytics.models import AnalyticsRun, LifecycleSnapshot, MemberAnalytics, RunStatus
from service.analytics.replenishment import learn_cycles
from service.analytics.rfm import Bounds, compute_bounds
from service.analytics.shop import shop_gap_x2
from service.analytics.sql import reading, table
from service.analytics.writes import LeaseLost, rowcount, write_chunk
from service.clock import Clock

log = logging.getLogger("huitou.analytics")
Sessions = async_sessionmaker[AsyncSession]
SQLITE_WRITE_SPELL = 1.0  # seconds of chunks before a pause
SQLITE_PAUSE = 0.12


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
    low, last, writing_since = run.next_member_id, run.last_member_id or 0, time.perf_counter()
    while low <= last:
        high = low + config.chunk_size
        await _chunk(sessions, statements, run.id, worker, low, high, clock, progress)
        low = high
        if dialect == "sqlite" and time.perf_counter() - writing_since > SQLITE_WRITE_SPELL:
            # SQLite's waiting writers poll every 100 ms and would miss the gaps between
            # back-to-back chunks: a pause each second bounds their wait (about 10% slower).
            await asyncio.sleep(SQLITE_PAUSE)
            writing_since = time.perf_counter()
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
    statements: Any,
    run_id: int,
    worker: str,
    low: int,
    high: int,
    clock: Clock,
    progress: _Progress,
) -> None:
    done = await write_chunk(
        sessions,
        statements,
        run_id=run_id,
        worker=worker,
        low=low,
        high=high,
        clock=clock,
        longest_ms=progress.longest_ms,
    )
    progress.tx(done.seconds)
    progress.rows, progress.changes = progress.rows + done.written, progress.changes + done.changed
    progress.chunks += 1


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
        if not rowcount(done):
            raise LeaseLost


async def _fenced(sessions: Sessions, run_id: int, worker: str, **values: Any) -> None:
    async with sessions() as session, session.begin():
        result = await session.execute(
            update(AnalyticsRun)
            .where(AnalyticsRun.id == run_id, AnalyticsRun.worker == worker)
            .values(**values)
        )
        if not rowcount(result):
            raise LeaseLost


async def _record_error(sessions: Sessions, run_id: int, *, worker: str, error: str) -> None:
    """Keep the error and free the lease: the next tick retries (up to runs.MAX_ATTEMPTS)."""
    async with sessions() as session, session.begin():
        await session.execute(
            update(AnalyticsRun)
            .where(AnalyticsRun.id == run_id, AnalyticsRun.worker == worker)
            .values(error=error[:500], leased_until=None)
        )
