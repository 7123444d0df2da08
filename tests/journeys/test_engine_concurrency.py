"""Exactly once under concurrency and crashes: real engine processes on one database.

Each engine is `huitou tick --at … --job journey_advance` in its own process, as cron or a
replica runs it. 10,000 due enrolments walk a journey of two sends; afterwards every enrolment
has completed, and each (enrolment, step) has exactly one `enrolment_steps` row and exactly one
outbox message, whatever ran at once or died half-way.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from bench.tick_population import TWO_SENDS, add_journey, add_members, enrol_members
from service import PROJECT_ROOT
from service.journeys.models import Enrolment, EnrolmentState, EnrolmentStep
from service.members.models import Channel
from service.messaging.outbox import Message
from service.messaging.policies import Purpose

AT = datetime(2026, 6, 18, 2, 0, tzinfo=UTC)
DUE = 10_000
STEPS = [step["id"] for step in TWO_SENDS["steps"]]
ON_POSTGRESQL = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
ON_SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


async def due_enrolments(sessions: async_sessionmaker[AsyncSession], count: int) -> None:
    """`count` members, each with an enrolment due at AT (set-based, as a big shop has)."""
    await add_members(sessions, count, now=AT)
    journey = await add_journey(sessions, TWO_SENDS, now=AT)
    await enrol_members(sessions, journey, members=count, due_every=1, now=AT)


async def start_engine(database_url: str, *, batch: int) -> asyncio.subprocess.Process:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUITOU_")}
    env |= {
        "HUITOU_DATABASE_URL": database_url,
        "HUITOU_JOURNEY_BATCH_SIZE": str(batch),
        "HUITOU_LOG_LEVEL": "WARNING",
    }
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "service", "tick", "--at", AT.isoformat(), "--job", "journey_advance",
        cwd=PROJECT_ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def finish(process: asyncio.subprocess.Process) -> int:
    """Wait for an engine process; how many enrolments it advanced."""
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()[-3000:]
    advanced: int = json.loads(out.decode().strip().splitlines()[-1])["journey_advance"]
    return advanced


async def scalar(sessions: async_sessionmaker[AsyncSession], query: object) -> int:
    async with sessions() as session:
        return int(await session.scalar(query) or 0)


async def copies_per_step(sessions: async_sessionmaker[AsyncSession], model: type) -> list[int]:
    """How often each (enrolment, step) occurs in `model`'s table: [pairs, fewest, most]."""
    grouped = (
        select(func.count().label("n"))
        .select_from(model)
        .group_by(model.enrolment_id, model.step_id)
        .subquery()
    )
    async with sessions() as session:
        row = (
            await session.execute(
                select(func.count(), func.min(grouped.c.n), func.max(grouped.c.n))
            )
        ).one()
    return [int(value or 0) for value in row]


async def assert_every_step_ran_once(
    sessions: async_sessionmaker[AsyncSession], count: int
) -> dict[str, int]:
    """The exactly-once checks; returns how many enrolments each worker advanced."""
    completed = select(func.count()).where(
        Enrolment.state == EnrolmentState.COMPLETED, Enrolment.step_index == len(STEPS)
    )
    assert await scalar(sessions, completed) == count
    pairs = count * len(STEPS)
    assert await copies_per_step(sessions, EnrolmentStep) == [pairs, 1, 1]
    assert await copies_per_step(sessions, Message) == [pairs, 1, 1]
    matched = (
        select(func.count())
        .select_from(EnrolmentStep)
        .join(
            Message,
            (Message.idempotency_key == EnrolmentStep.message_key)
            & (Message.enrolment_id == EnrolmentStep.enrolment_id)
            & (Message.step_id == EnrolmentStep.step_id),
        )
    )
    assert await scalar(sessions, matched) == pairs  # each step row queued its own message
    split = (
        select(EnrolmentStep.enrolment_id)
        .group_by(EnrolmentStep.enrolment_id)
        .having(func.count(func.distinct(EnrolmentStep.worker)) > 1)
    )
    assert await scalar(sessions, select(func.count()).select_from(split.subquery())) == 0
    async with sessions() as session:
        rows = await session.execute(
            select(
                EnrolmentStep.worker, func.count(func.distinct(EnrolmentStep.enrolment_id))
            ).group_by(EnrolmentStep.worker)
        )
        return {str(worker): int(n) for worker, n in rows}


@ON_POSTGRESQL
async def test_three_engines_at_once_run_every_step_exactly_once(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await due_enrolments(sessions, DUE)
    # Small batches, so the three interleave instead of one taking everything.
    engines = [await start_engine(database_url, batch=100) for _ in range(3)]
    advanced = await asyncio.gather(*(finish(p) for p in engines))
    assert sum(advanced) == DUE
    workers = await assert_every_step_ran_once(sessions, DUE)
    assert len(workers) > 1, workers  # the work was shared
    assert sorted(workers.values()) == sorted(n for n in advanced if n)


@ON_SQLITE
async def test_two_engines_on_sqlite_take_turns_and_run_every_step_exactly_once(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await due_enrolments(sessions, DUE)
    engines = [await start_engine(database_url, batch=200) for _ in range(2)]
    advanced = await asyncio.gather(*(finish(p) for p in engines))
    assert sum(advanced) == DUE
    workers = await assert_every_step_ran_once(sessions, DUE)
    assert sorted(workers.values()) == sorted(n for n in advanced if n)


async def spread_due_times(engine: AsyncEngine) -> None:
    """Due a millisecond apart in id order, so the batches an engine claims are known."""
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE enrolments SET next_run_at = next_run_at"
                " - ((SELECT max(id) FROM enrolments) - id) * interval '1 ms'"
            )
        )


async def hold_message_key(conn: AsyncConnection, enrolment_id: int) -> None:
    """Insert, without committing, the message an engine will write for this enrolment: its
    own insert then waits on the unique key, inside its batch, for as long as we hold it."""
    member_id = await conn.scalar(select(Enrolment.member_id).where(Enrolment.id == enrolment_id))
    await conn.execute(
        insert(Message).values(
            idempotency_key=f"enrolment:{enrolment_id}:{STEPS[0]}",
            member_id=member_id,
            channel=Channel.SMS,
            template="scale/hello",
            purpose=Purpose.MARKETING,
            context={},
            send_after_at=AT,
            created_at=AT,
            updated_at=AT,
        )
    )


async def backend_waiting_on_lock(conn: AsyncConnection) -> int | None:
    """The server process of an engine stuck inserting into the outbox, if there is one."""
    pid = await conn.scalar(
        text(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND wait_event_type = 'Lock' AND query LIKE 'INSERT INTO messages%'"
        )
    )
    return int(pid) if pid is not None else None


async def until(condition: Callable[[], Awaitable[object]]) -> object:
    """Poll another process's state (not the clock) until `condition` gives a value."""
    async with asyncio.timeout(120):
        while True:
            if found := await condition():
                return found
            await asyncio.sleep(0.05)


@ON_POSTGRESQL
async def test_an_engine_killed_mid_batch_loses_nothing_and_repeats_nothing(
    database_url: str, engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    count, batch = 5_000, 500
    await due_enrolments(sessions, count)
    await spread_due_times(engine)
    first_id = await scalar(sessions, select(func.min(Enrolment.id)))
    committed = 4 * batch  # the kill lands in the fifth batch
    steps = select(func.count()).select_from(EnrolmentStep)
    async with engine.connect() as blocker, engine.connect() as observer:
        await observer.execution_options(isolation_level="AUTOCOMMIT")
        await blocker.begin()
        await hold_message_key(blocker, first_id + committed + batch // 2)
        process = await start_engine(database_url, batch=batch)
        backend = await until(lambda: backend_waiting_on_lock(observer))
        # Four batches committed; the fifth is claimed, walked and half-written.
        assert await scalar(sessions, steps) == committed * len(STEPS)
        process.send_signal(signal.SIGKILL)
        await process.wait()
        assert process.returncode == -signal.SIGKILL
        await blocker.rollback()
        # The orphaned server process finds its client gone and rolls the batch back.
        gone = text("SELECT count(*) = 0 FROM pg_stat_activity WHERE pid = :pid")
        await until(lambda: observer.scalar(gone, {"pid": backend}))
    assert await scalar(sessions, steps) == committed * len(STEPS)
    assert await finish(await start_engine(database_url, batch=batch)) == count - committed
    workers = await assert_every_step_ran_once(sessions, count)
    assert sorted(workers.values()) == [committed, count - committed]
