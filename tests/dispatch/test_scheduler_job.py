"""The dispatcher runs as a periodic job: every few seconds in the scheduler, once per `tick`."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.clock import FakeClock
from service.job_context import JobContext
from service.scheduler import periodic_jobs, run_once
from service.settings import Settings
from tests.dispatch.kit import Harness, add_member, queue
from tests.gateway_server import FakeSmsGateway


def test_dispatch_is_a_periodic_job_at_the_configured_interval() -> None:
    jobs = {job.name: job for job in periodic_jobs(Settings(dispatch_interval_seconds=2.5))}
    assert jobs["dispatch_messages"].every == timedelta(seconds=2.5)


async def test_a_tick_dispatches_due_messages(
    harness: Harness, clock: FakeClock, fake: FakeSmsGateway
) -> None:
    async with harness.sessions() as session, session.begin():
        member = await add_member(session, now=clock.now())
        await queue(session, member, now=clock.now(), key="k1")
    ctx = JobContext(
        harness.sessions,
        clock,
        harness.settings,
        harness.secrets,
        gateways=harness.gateways,
        renderer=harness.renderer,
    )
    results = await run_once(ctx)
    assert results["dispatch_messages"] == {"claimed": 1, "reaped": 0, "sent": 1}
    assert fake.delivered["k1"] == 1


async def test_without_gateways_the_job_skips(
    sessions: async_sessionmaker[AsyncSession], clock: FakeClock, harness: Harness
) -> None:
    ctx = JobContext(sessions, clock, harness.settings, harness.secrets)
    assert (await run_once(ctx))["dispatch_messages"] == "skipped: no gateways"
    assert ctx.worker.count(":") == 2  # host:pid:nonce
