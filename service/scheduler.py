"""The clock of the system: a handful of periodic jobs, each one service call in one session."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from datetime import timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import delete

from service.analytics import service as analytics_service
from service.analytics.config import AnalyticsConfig
from service.job_context import JobContext
from service.journeys.jobs import journey_advance, journey_events, journey_time_triggers
from service.messaging.render import renderer_for
from service.messaging.setup import build_dispatcher
from service.orders.models import WebhookDelivery
from service.settings import Settings

log = logging.getLogger("huitou.scheduler")


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    every: timedelta
    run: Callable[[JobContext], Awaitable[object]]


async def purge_webhook_deliveries(ctx: JobContext) -> int:
    """Forget delivery ids after a week; status merging keeps later replays harmless anyway."""
    async with ctx.sessions() as session, session.begin():
        result = await session.execute(
            delete(WebhookDelivery).where(
                WebhookDelivery.received_at < ctx.clock.now() - timedelta(days=7)
            )
        )
    return int(getattr(result, "rowcount", 0) or 0)


async def analytics_recompute(ctx: JobContext) -> object:
    """The nightly member analytics recompute (or a queued, due or interrupted one), if this
    replica gets it; it works in short chunk transactions and may take minutes."""
    config = AnalyticsConfig.from_settings(ctx.settings)
    result = await analytics_service.run_pending(ctx.sessions, clock=ctx.clock, config=config)
    return asdict(result) if result else None


async def dispatch_messages(ctx: JobContext) -> dict[str, int] | str:
    """Send every due outbox message (and settle unknown outcomes); counts by outcome."""
    if ctx.gateways is None:
        return "skipped: no gateways"
    dispatcher = build_dispatcher(
        sessions=ctx.sessions,
        clock=ctx.clock,
        settings=ctx.settings,
        instance=ctx.secrets,
        gateways=ctx.gateways,
        renderer=ctx.renderer or renderer_for(ctx.settings),
        worker=ctx.worker,
    )
    return await dispatcher.run()


def periodic_jobs(settings: Settings) -> list[PeriodicJob]:
    """In the order `huitou tick` runs them: events enrol before due enrolments advance, and
    the messages they queue are sent in the same tick."""
    return [
        PeriodicJob("journey_events", timedelta(seconds=5), journey_events),
        PeriodicJob("journey_time_triggers", timedelta(minutes=1), journey_time_triggers),
        PeriodicJob("journey_advance", timedelta(seconds=5), journey_advance),
        PeriodicJob("purge_webhook_deliveries", timedelta(hours=1), purge_webhook_deliveries),
        PeriodicJob("analytics_recompute", timedelta(minutes=5), analytics_recompute),
        PeriodicJob(
            "dispatch_messages",
            timedelta(seconds=settings.dispatch_interval_seconds),
            dispatch_messages,
        ),
    ]


def jobs_named(jobs: list[PeriodicJob], names: Sequence[str] | None) -> list[PeriodicJob]:
    """The jobs called `names`, in their usual order; all of them if None."""
    if names is None:
        return jobs
    unknown = sorted(set(names) - {job.name for job in jobs})
    if unknown:
        known = ", ".join(job.name for job in jobs)
        raise ValueError(f"no periodic job named {', '.join(unknown)}; the jobs are {known}")
    return [job for job in jobs if job.name in names]


async def run_once(ctx: JobContext, jobs: list[PeriodicJob] | None = None) -> dict[str, object]:
    """Run every job once as of the context's clock (`huitou tick`)."""
    results: dict[str, object] = {}
    for job in jobs if jobs is not None else periodic_jobs(ctx.settings):
        results[job.name] = await job.run(ctx)
    return results


@asynccontextmanager
async def run_scheduler(
    ctx: JobContext, *, enabled: bool
) -> AsyncIterator[AsyncIOScheduler | None]:
    if not enabled:
        yield None
        return
    scheduler = AsyncIOScheduler(timezone="UTC")
    for job in periodic_jobs(ctx.settings):
        scheduler.add_job(
            job.run,
            "interval",
            args=[ctx],
            seconds=job.every.total_seconds(),
            id=job.name,
            coalesce=True,
            max_instances=1,
            next_run_time=ctx.clock.now(),
        )
    scheduler.start()
    log.info("scheduler started with %d jobs", len(scheduler.get_jobs()))
    try:
        yield scheduler
    finally:
        scheduler.shutdown(wait=False)
