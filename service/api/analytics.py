from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Annotated, Literal

from fastapi import APIRouter, BackgroundTasks, Path, Query, Request, status
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.analytics import replenishment
from service.analytics import service as analytics_service
from service.analytics.config import AnalyticsConfig
from service.analytics.models import AnalyticsRun, ReplenishmentCycle
from service.analytics.schemas import CycleOut, RunOut
from service.api.deps import ClockDep, DbSession, Marketer, SettingsDep
from service.clock import Clock

router = APIRouter(prefix="/analytics", tags=["analytics"], dependencies=[Marketer])
log = logging.getLogger("huitou.analytics")


async def _run_now(
    sessions: async_sessionmaker[AsyncSession], clock: Clock, config: AnalyticsConfig
) -> None:
    """Start the queued run in this process; the scheduler resumes it if this one stops."""
    try:
        await analytics_service.run_pending(sessions, clock=clock, config=config)
    except Exception:  # recorded on the run; the next scheduler tick retries it
        log.exception("analytics recompute failed")


@router.post("/recompute", status_code=status.HTTP_202_ACCEPTED, response_model=RunOut)
async def recompute(
    request: Request,
    background: BackgroundTasks,
    session: DbSession,
    clock: ClockDep,
    settings: SettingsDep,
) -> AnalyticsRun:
    """Recompute RFM, segments, stages, tiers and replenishment cycles now (as of now).

    Answers at once with the queued run (or the one already open) and runs it after the
    response; follow it at `GET /v1/analytics/runs/{id}`.
    """
    config = AnalyticsConfig.from_settings(settings)
    run, _ = await analytics_service.request_recompute(session, config=config, now=clock.now())
    background.add_task(_run_now, request.app.state.sessions, clock, config)
    return run


@router.get("/runs", response_model=list[RunOut])
async def list_runs(
    session: DbSession, limit: Annotated[int, Query(ge=1, le=100)] = 20
) -> Sequence[AnalyticsRun]:
    """The latest recompute runs, newest first."""
    return await analytics_service.list_runs(session, limit=limit)


@router.get("/runs/{run_id}", response_model=RunOut)
async def get_run(run_id: Annotated[int, Path(ge=1)], session: DbSession) -> AnalyticsRun:
    return await analytics_service.get_run(session, run_id=run_id)


@router.get("/replenishment", response_model=list[CycleOut])
async def list_cycles(
    session: DbSession, scope: Literal["sku", "category"] | None = None
) -> Sequence[ReplenishmentCycle]:
    """Every learned replenishment cycle (per sku, and per category as the fallback)."""
    return await replenishment.list_cycles(session, scope=scope)
