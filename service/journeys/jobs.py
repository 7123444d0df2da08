"""The journeys' periodic jobs: each batch is one transaction, opened and committed here."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

from service.job_context import JobContext
from service.journeys.advance import advance_due
from service.journeys.consume import consume_events
from service.journeys.time_triggers import Shop, run_time_triggers

MAX_BATCHES = 50  # per run, so one job never holds the scheduler for long


async def _drain(ctx: JobContext, batch: Callable[[AsyncSession], Awaitable[int]]) -> int:
    """Run batches in their own transactions until one comes back short."""
    done = 0
    for _ in range(MAX_BATCHES):
        async with ctx.sessions() as session, session.begin():
            count = await batch(session)
        done += count
        if count < ctx.settings.journey_batch_size:
            break
    return done


async def journey_events(ctx: JobContext) -> int:
    """Triggers, exits, goals and wait_for steps from the event log."""

    async def batch(session: AsyncSession) -> int:
        counts = await consume_events(
            session,
            now=ctx.clock.now(),
            worker=ctx.worker,
            limit=ctx.settings.journey_batch_size,
        )
        return counts["events"]

    return await _drain(ctx, batch)


async def journey_advance(ctx: JobContext) -> int:
    """Walk due enrolments and queue their messages."""

    async def batch(session: AsyncSession) -> int:
        return await advance_due(
            session,
            now=ctx.clock.now(),
            zone=ctx.settings.zone,
            worker=ctx.worker,
            limit=ctx.settings.journey_batch_size,
        )

    return await _drain(ctx, batch)


async def journey_time_triggers(ctx: JobContext) -> dict[str, int]:
    """Unpaid orders, replenishment, calendar and inactivity."""
    shop = Shop.from_settings(ctx.settings)
    async with ctx.sessions() as session, session.begin():
        return await run_time_triggers(session, now=ctx.clock.now(), shop=shop)
