"""Recompute runs: when one is due (pure), claiming one, and its leased, fenced progress.

A run is one row in `analytics_runs`. Whoever claims it holds a lease that each chunk renews;
a chunk first moves the run's cursor, fenced on the lease, so a worker that lost its lease stops
before it writes. A crashed run resumes from its cursor once the lease expires. Creating and
leasing runs happens under `pg_try_advisory_xact_lock` on PostgreSQL (SQLite's writers are
serial anyway), so replicas never start the same run twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from service.analytics.config import AnalyticsConfig
from service.analytics.models import AnalyticsRun, RunStatus
from service.db import session_dialect
from service.members.models import Member

ADVISORY_LOCK = 0x48_75_69_74_6F_75_41  # "HuitouA"
LEASE = timedelta(minutes=5)
MAX_ATTEMPTS = 5


@dataclass(frozen=True)
class LastRun:
    as_of: datetime
    config: dict[str, Any]


def due_reason(*, last: LastRun | None, config: AnalyticsConfig, now: datetime) -> str | None:
    """Why a scheduled recompute is due now, or None: never run, settings changed, or the
    shop's local `nightly_at` has passed since the last run's instant."""
    if last is None:
        return "first"
    if last.config != config.key():
        return "config"
    local = now.astimezone(config.zone)
    tonight = datetime.combine(local.date(), config.nightly_at, tzinfo=config.zone)
    if now >= tonight > last.as_of:
        return "nightly"
    return None


def config_values(config: AnalyticsConfig) -> dict[str, Any]:
    """The run's copy of the settings it computes with."""
    rules = config.stage
    return {
        "stage_mode": rules.mode,
        "stage_sleeping_days": rules.sleeping_days,
        "stage_at_risk_days": rules.at_risk_days,
        "stage_churned_days": rules.churned_days,
        "stage_reference_gap_days": rules.reference_gap_days,
        "stage_adaptive_min_orders": rules.adaptive_min_orders,
        "config": config.key(),
    }


def new_run(
    config: AnalyticsConfig, *, reason: str, as_of: datetime, now: datetime
) -> AnalyticsRun:
    return AnalyticsRun(
        reason=reason,
        status=RunStatus.QUEUED,
        as_of=as_of,
        requested_at=now,
        attempts=0,
        next_member_id=0,
        rows_written=0,
        stage_changes=0,
        chunks=0,
        longest_tx_ms=0,
        **config_values(config),
    )


def greatest(session: AsyncSession, column: Any, value: int) -> Any:
    """The larger of a column and a value (SQLite spells GREATEST as a two-argument max)."""
    name = "max" if session_dialect(session) == "sqlite" else "greatest"
    return getattr(func, name)(column, value)


async def singleton_lock(session: AsyncSession) -> bool:
    """True if this transaction may create or lease runs (always on SQLite)."""
    if session_dialect(session) != "postgresql":
        return True
    return bool(await session.scalar(select(func.pg_try_advisory_xact_lock(ADVISORY_LOCK))))


async def open_run(session: AsyncSession) -> AnalyticsRun | None:
    """The oldest queued or running run."""
    return await session.scalar(
        select(AnalyticsRun)
        .where(AnalyticsRun.status.in_([RunStatus.QUEUED, RunStatus.RUNNING]))
        .order_by(AnalyticsRun.id)
        .limit(1)
        .with_for_update()
    )


async def last_run(session: AsyncSession) -> LastRun | None:
    row = (
        await session.execute(
            select(AnalyticsRun.as_of, AnalyticsRun.config)
            .where(AnalyticsRun.status.in_([RunStatus.DONE, RunStatus.FAILED]))
            .order_by(AnalyticsRun.id.desc())
            .limit(1)
        )
    ).first()
    return LastRun(row.as_of, row.config) if row else None


async def claim(
    session: AsyncSession, *, config: AnalyticsConfig, now: datetime, worker: str
) -> AnalyticsRun | None:
    """Lease the open run (or a newly due one) to `worker`; None if there is nothing to do."""
    if not await singleton_lock(session):
        return None
    run = await open_run(session)
    if run is None:
        reason = due_reason(last=await last_run(session), config=config, now=now)
        if reason is None:
            return None
        run = new_run(config, reason=reason, as_of=now, now=now)
        session.add(run)
    elif run.status == RunStatus.RUNNING and run.leased_until and run.leased_until > now:
        return None
    if run.attempts >= MAX_ATTEMPTS:
        run.status, run.finished_at, run.leased_until = RunStatus.FAILED, now, None
        return None
    if run.bounds is None:  # not started yet (or before its boundaries): today's settings
        for name, value in config_values(config).items():
            setattr(run, name, value)
    if run.last_member_id is None:
        run.last_member_id = await session.scalar(select(func.max(Member.id))) or 0
    run.status, run.worker, run.leased_until = RunStatus.RUNNING, worker, now + LEASE
    run.attempts += 1
    run.started_at = run.started_at or now
    await session.flush()
    return run


async def request(
    session: AsyncSession, *, config: AnalyticsConfig, now: datetime
) -> tuple[AnalyticsRun, bool]:
    """Queue a manual run as of now, or return the one already open; and whether it is new."""
    if session_dialect(session) == "postgresql":  # wait for a claim in progress to finish
        await session.execute(select(func.pg_advisory_xact_lock(ADVISORY_LOCK)))
    existing = await open_run(session)
    if existing is not None:
        return existing, False
    run = new_run(config, reason="manual", as_of=now, now=now)
    session.add(run)
    await session.flush()
    return run, True


async def advance(
    session: AsyncSession,
    *,
    run_id: int,
    worker: str,
    now: datetime,
    next_member_id: int,
    rows: int,
    changes: int,
    longest_tx_ms: int,
) -> bool:
    """Move the cursor past a chunk and renew the lease; False if the lease was lost."""
    result = await session.execute(
        update(AnalyticsRun)
        .where(
            AnalyticsRun.id == run_id,
            AnalyticsRun.worker == worker,
            AnalyticsRun.status == RunStatus.RUNNING,
        )
        .values(
            next_member_id=next_member_id,
            rows_written=AnalyticsRun.rows_written + rows,
            stage_changes=AnalyticsRun.stage_changes + changes,
            chunks=AnalyticsRun.chunks + 1,
            longest_tx_ms=greatest(session, AnalyticsRun.longest_tx_ms, longest_tx_ms),
            leased_until=now + LEASE,
        )
    )
    return bool(getattr(result, "rowcount", 0))
