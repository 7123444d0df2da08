"""Faults survived: a gateway down for ten minutes, a dispatcher killed mid-batch, three at once.

The gateway server counts what reached the phone by idempotency key; those counts, not the
dispatcher's own bookkeeping, prove that nothing was lost and nothing was delivered twice.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service import PROJECT_ROOT
from service.clock import FakeClock
from service.members.models import Channel, Member
from service.messaging.outbox import Message, MessageStatus
from service.messaging.policies import Purpose
from tests.dispatch.kit import SMS_TEMPLATE, Harness, messages
from tests.gateway_server import FakeSmsGateway
from tests.loopback_http import LoopbackHttpServer

AT = datetime(2026, 6, 18, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
ON_POSTGRESQL = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


async def queue_many(
    sessions: async_sessionmaker[AsyncSession], count: int, *, now: datetime, prefix: str = "k"
) -> list[str]:
    """`count` members with one due marketing SMS each, inserted in bulk."""
    async with sessions() as session, session.begin():
        members = [
            {
                "external_id": f"m{n}",
                "name": f"会员{n}",
                "phone": f"+86138{n:08d}",
                "locale": "zh-CN",
                "created_at": now,
                "updated_at": now,
            }
            for n in range(count)
        ]
        await session.execute(insert(Member), members)
        rows_ = await session.execute(select(Member.external_id, Member.id))
        ids: dict[str, int] = {external_id: id_ for external_id, id_ in rows_}  # noqa: C416
        keys = [f"{prefix}{n}" for n in range(count)]
        rows = [
            {
                "idempotency_key": key,
                "member_id": ids[f"m{n}"],
                "channel": Channel.SMS,
                "template": SMS_TEMPLATE,
                "purpose": Purpose.MARKETING,
                "send_after_at": now,
                "created_at": now,
                "updated_at": now,
            }
            for n, key in enumerate(keys)
        ]
        for start in range(0, count, 2000):
            await session.execute(insert(Message), rows[start : start + 2000])
    return keys


async def test_a_gateway_down_for_ten_minutes_delivers_everything_once_after(
    harness: Harness, clock: FakeClock, fake: FakeSmsGateway, server: LoopbackHttpServer
) -> None:
    keys = await queue_many(harness.sessions, 60, now=clock.now())
    start, port = clock.now(), server.port
    await server.stop()  # first refusing connections, then answering 503
    while clock.now() < start + timedelta(minutes=10):
        if clock.now() >= start + timedelta(minutes=4) and not fake.faults:
            await server.start(port)
            fake.faults.extend(["503"] * 100_000)
        await harness.tick()
        clock.advance(seconds=30)
    assert fake.delivered == {}
    fake.faults.clear()
    fake.faults.extend(["drop_after_delivery"] * 5)  # recovered, but five answers get lost
    for _ in range(100):
        report = await harness.tick()
        assert report.get("failed", 0) == 0
        due = await _next_due(harness.sessions)
        if due is None:
            break
        clock.set(max(due, clock.now()))
    assert await _count(harness.sessions, MessageStatus.SENT) == len(keys)
    assert fake.delivered == dict.fromkeys(keys, 1)
    assert max(fake.accepted.values()) == 1  # nothing answered "accepted" was sent again
    stored = await messages(harness.sessions)
    assert min(stored[k].attempts for k in keys) > 1  # every message was retried while down
    assert clock.now() - start <= timedelta(minutes=25)


async def _next_due(sessions: async_sessionmaker[AsyncSession]) -> datetime | None:
    async with sessions() as session:
        return await session.scalar(
            select(func.min(Message.send_after_at)).where(Message.status == MessageStatus.QUEUED)
        )


async def _count(sessions: async_sessionmaker[AsyncSession], status: MessageStatus) -> int:
    async with sessions() as session:
        found = await session.scalar(
            select(func.count()).select_from(Message).where(Message.status == status)
        )
        return int(found or 0)


async def server_time(sessions: async_sessionmaker[AsyncSession]) -> datetime:
    """The database server's clock, to name the sessions opened after this moment."""
    async with sessions() as session:
        moment: datetime = await session.scalar(text("SELECT clock_timestamp()"))
        return moment


async def end_sessions_opened_since(
    sessions: async_sessionmaker[AsyncSession], since: datetime
) -> None:
    """Ends the server sessions a killed process left, and waits until they are gone: until then
    a COMMIT it sent just before it died may still land, so what it left is not yet final."""
    async with sessions() as session:
        await session.execute(
            text(
                "SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                " AND backend_start >= :since"
            ),
            {"since": since},
        )


def dispatcher_env(database_url: str, gateway_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUITOU_")}
    return env | {
        "HUITOU_DATABASE_URL": database_url,
        "HUITOU_SMS_GATEWAY": "http",
        "HUITOU_SMS_HTTP_URL": f"{gateway_url}/sms",
        "HUITOU_BRAND": "回头",
        "HUITOU_LOG_LEVEL": "WARNING",
        "HUITOU_GATEWAY_TIMEOUT_SECONDS": "5",
        **extra,
    }


async def start_tick(env: dict[str, str], at: datetime) -> asyncio.subprocess.Process:
    """`huitou tick --at …` in its own process, as cron or a replica would run it."""
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "service", "tick", "--at", at.isoformat(),
        cwd=PROJECT_ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def finish(process: asyncio.subprocess.Process) -> dict[str, int]:
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()[-3000:]
    report: dict[str, int] = json.loads(out.decode().strip().splitlines()[-1])["dispatch_messages"]
    return report


async def assert_each_delivered_once(
    sessions: async_sessionmaker[AsyncSession], fake: FakeSmsGateway, keys: Sequence[str]
) -> None:
    assert fake.delivered == dict.fromkeys(keys, 1)
    stored = await messages(sessions)
    assert {m.status for m in stored.values()} == {MessageStatus.SENT}
    assert all(stored[k].provider_message_id == fake.provider_id(k) for k in keys)


@ON_POSTGRESQL
async def test_a_dispatcher_killed_mid_batch_loses_nothing_and_sends_nothing_twice(
    harness: Harness, database_url: str, fake: FakeSmsGateway, server: LoopbackHttpServer
) -> None:
    keys = await queue_many(harness.sessions, 200, now=AT)
    fake.delay = 0.02  # slow answers, so the kill lands while sends are in flight
    env = dispatcher_env(
        database_url, server.url, HUITOU_DISPATCH_BATCH="40", HUITOU_DISPATCH_CONCURRENCY="4"
    )
    started = await server_time(harness.sessions)
    process = await start_tick(env, AT)
    async with asyncio.timeout(120):
        await fake.wait_delivered(60)
    process.send_signal(signal.SIGKILL)
    await process.wait()
    assert process.returncode == -signal.SIGKILL
    await end_sessions_opened_since(harness.sessions, started)
    in_flight = await _count(harness.sessions, MessageStatus.SENDING)
    assert in_flight > 0  # the kill caught a batch mid-way
    assert 60 <= len(fake.delivered) < len(keys)

    fake.delay = 0
    restarted = await finish(await start_tick(env, AT + timedelta(minutes=3)))  # past the lease
    assert restarted["reaped"] == in_flight
    await assert_each_delivered_once(harness.sessions, fake, keys)


@pytest.mark.slow  # one to three minutes on a busy two-core machine
@pytest.mark.timeout(900)
@ON_POSTGRESQL
async def test_three_dispatchers_on_one_database_send_ten_thousand_each_exactly_once(
    harness: Harness, database_url: str, fake: FakeSmsGateway, server: LoopbackHttpServer
) -> None:
    keys = await queue_many(harness.sessions, 10_000, now=AT)
    fake.keep_requests = False
    env = dispatcher_env(
        database_url, server.url, HUITOU_DISPATCH_BATCH="100", HUITOU_DISPATCH_CONCURRENCY="4"
    )
    processes = [await start_tick(env, AT) for _ in range(3)]
    reports = await asyncio.gather(*(finish(p) for p in processes))
    assert sum(r.get("sent", 0) for r in reports) == len(keys)
    assert all(r.get("sent", 0) > 0 for r in reports), reports  # all three took part
    assert fake.attempts == dict.fromkeys(keys, 1)  # no message was even handed over twice
    await assert_each_delivered_once(harness.sessions, fake, keys)
