"""Member analytics as the API and the scheduler use them: queue, run and read recomputes;
keep one member's stage current on an order."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.analytics import runs
from service.analytics.config import AnalyticsConfig
from service.analytics.member_stage import refresh_member_stage
from service.analytics.models import AnalyticsRun
from service.analytics.recompute import RunResult, run_pending
from service.errors import NotFound

__all__ = ["RunResult", "refresh_member_stage", "run_pending"]


class RunNotFound(NotFound):
    code = "analytics_run_not_found"


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
