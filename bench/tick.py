"""The engine on the clock at scale: a tick costs what is due, not what the shop holds.

`python -m bench tick [--quick]`, on each database:

1. `tick_scale`: the advance job drains the same 10,000 due enrolments (two sends each) in a
   shop of 10,000 members and in one of 1,000,000 (200,000 with --quick) whose other members
   also have enrolments, half waiting for tomorrow and half completed. Ratio: time(large) /
   time(small), target <= 1.5; `per_second` is enrolments advanced per second in the large
   shop. Medians of three runs (one with --quick), taken in turns.
2. `dry_run`: a holiday journey's dry run (audience `paid_orders >= 2 and city == 杭州`) over
   the large shop, against one hand-written `SELECT count(*)` with the same predicate.
   Ratio: ours / baseline, target <= 3. `entered_journey_ms` is the same dry run for a
   journey every member has entered before, which probes enrolments for each candidate.
"""

from __future__ import annotations

import asyncio
import shutil
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
from sqlalchemy import delete, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bench.common import BenchOptions, fresh_database, result_line
from bench.tick_population import TWO_SENDS, add_journey, add_members, enrol_members
from service.clock import FakeClock
from service.db import make_engine, make_sessionmaker
from service.instance import load_secrets
from service.job_context import JobContext
from service.journeys.dryrun import dry_run
from service.journeys.enrolments import LiveJourney
from service.journeys.jobs import journey_advance
from service.journeys.models import Enrolment, EnrolmentState, EnrolmentStep
from service.journeys.rule import JourneyRule
from service.journeys.time_triggers import Shop
from service.messaging.outbox import Message
from service.settings import Settings

NOW = datetime(2026, 9, 15, 2, tzinfo=UTC)  # 10:00 in Shanghai, a fortnight before National Day
DUE = 10_000
BATCH = 500
HOLIDAY_CARE = {
    "key": "national-day-care",
    "name": "国庆关怀 National Day care",
    "trigger": {
        "type": "calendar",
        "occasion": {"kind": "holiday", "name": "national_day"},
        "zone": "shop",
    },
    "audience": {
        "and": [
            {">=": [{"var": "member.paid_orders"}, 2]},
            {"==": [{"var": "member.city"}, "杭州"]},
        ]
    },
    "steps": [{"id": "greet", "send": {"channel": "sms", "template": "holiday/greeting"}}],
}
BASELINE_COUNT = (
    "SELECT count(*) FROM members WHERE erased_at IS NULL AND paid_orders >= 2 AND city = '杭州'"
)
SHOP = Shop(zone=ZoneInfo("Asia/Shanghai"), country="CN")


@dataclass(frozen=True)
class Built:
    url: str
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    journey: LiveJourney
    members: int


async def build(kind: str, members: int, options: BenchOptions) -> Built:
    url = fresh_database(kind, f"tick_{members}", options)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    await add_members(sessions, members, now=NOW)
    journey = await add_journey(sessions, TWO_SENDS, now=NOW)
    await enrol_members(sessions, journey, members=members, due_every=members // DUE, now=NOW)
    await tidy(engine)
    return Built(url, engine, sessions, journey, members)


def discard(url: str, options: BenchOptions) -> None:
    """A million members take half a gigabyte: drop the database once measured."""
    if url.startswith("sqlite"):
        shutil.rmtree(Path(url.removeprefix("sqlite+aiosqlite:///")).parent)
        return
    with psycopg.connect(f"{options.pg_server}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


async def tidy(engine: AsyncEngine) -> None:
    """Fresh planner statistics and no dead rows, as autovacuum would leave a real database."""
    async with engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(
            text("VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE")
        )


async def reset(built: Built) -> None:
    """Put the due enrolments back where they were, for the next timed run."""
    due = Enrolment.member_id % (built.members // DUE) == 0
    async with built.sessions() as session, session.begin():
        await session.execute(delete(Message))
        await session.execute(delete(EnrolmentStep))
        await session.execute(
            update(Enrolment)
            .where(due)
            .values(state=EnrolmentState.ACTIVE, step_index=0, next_run_at=NOW, ended_at=None)
        )
    await tidy(built.engine)


async def drain_seconds(built: Built) -> float:
    settings = Settings(database_url=built.url, journey_batch_size=BATCH)
    async with built.sessions() as session, session.begin():
        secrets = await load_secrets(session, now=NOW)
    ctx = JobContext(built.sessions, FakeClock(NOW), settings, secrets, worker="bench")
    started = time.perf_counter()
    advanced = await journey_advance(ctx)
    elapsed = time.perf_counter() - started
    assert advanced == DUE, advanced
    return elapsed


async def drain_and_reset(built: Built) -> float:
    seconds = await drain_seconds(built)
    await reset(built)
    return seconds


async def alternating(runs: int, *measures: Callable[[], Awaitable[float]]) -> list[float]:
    """The median of each measure, taken in turns so a busy moment hits all of them alike."""
    samples: list[list[float]] = [[] for _ in measures]
    for _ in range(runs):
        for taken, measure in zip(samples, measures, strict=True):
            taken.append(await measure())
    return [statistics.median(taken) for taken in samples]


async def dry_run_vs_count(built: Built, runs: int) -> tuple[list[float], int]:
    rule = JourneyRule.model_validate(HOLIDAY_CARE)
    async with built.sessions() as session:
        expected = int(await session.scalar(text(BASELINE_COUNT)) or 0)

    async def ours() -> float:
        async with built.sessions() as session:
            started = time.perf_counter()
            found = await dry_run(
                session,
                rule,
                journey_id=0,
                now=NOW,
                window=timedelta(days=30),
                sample=10,
                shop=SHOP,
            )
            elapsed = time.perf_counter() - started
        assert found.members == expected, (found.members, expected)
        return elapsed

    async def entered() -> float:  # the same audience, for a journey everyone has entered
        async with built.sessions() as session:
            started = time.perf_counter()
            found = await dry_run(
                session, rule, journey_id=built.journey.id, now=NOW, window=timedelta(days=30),
                sample=10, shop=SHOP,
            )  # fmt: skip
            elapsed = time.perf_counter() - started
        assert found.already_entered == expected, (found.already_entered, expected)
        return elapsed

    async def baseline() -> float:
        async with built.sessions() as session:
            started = time.perf_counter()
            await session.scalar(text(BASELINE_COUNT))
            return time.perf_counter() - started

    return await alternating(runs, ours, entered, baseline), expected


async def one(kind: str, options: BenchOptions) -> None:
    large = 200_000 if options.quick else 1_000_000
    small_shop = await build(kind, DUE, options)
    large_shop = await build(kind, large, options)
    small, big = await alternating(
        1 if options.quick else 3,
        lambda: drain_and_reset(small_shop),
        lambda: drain_and_reset(large_shop),
    )
    (ours, entered, base), matched = await dry_run_vs_count(large_shop, 3 if options.quick else 7)
    await small_shop.engine.dispose()
    await large_shop.engine.dispose()
    for url in (small_shop.url, large_shop.url):
        discard(url, options)
    result_line(
        f"tick_scale_{kind}",
        ratio=big / small,
        target="<=1.5",
        due=DUE,
        small_members=DUE,
        large_members=large,
        small_s=small,
        large_s=big,
        per_second=DUE / big,
    )
    result_line(
        f"dry_run_{kind}",
        ratio=ours / base,
        target="<=3",
        members=large,
        matched=matched,
        dry_run_ms=ours * 1000,
        count_ms=base * 1000,
        entered_journey_ms=entered * 1000,
    )


def run(options: BenchOptions) -> None:
    for kind in options.databases:
        asyncio.run(one(kind, options))
