"""Unknown outcomes: resolved by the provider's query API, never by sending blindly again."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta

import httpx
import pytest

from service.clock import FakeClock
from service.messaging import claims
from service.messaging.gateways.aliyun import AliyunSmsGateway
from service.messaging.gateways.http_sms import HttpSmsGateway
from service.messaging.outbox import MessageStatus
from tests.aliyun_server import FakeAliyun
from tests.dispatch.kit import Harness, add_member, messages, queue, statuses
from tests.gateway_server import FakeSmsGateway
from tests.loopback_http import LoopbackHttpServer

KEY_ID, SECRET = "LTAI5tTestKey", "test-secret-0123456789"


@pytest.fixture
async def aliyun(clock: FakeClock) -> AsyncIterator[tuple[FakeAliyun, LoopbackHttpServer]]:
    fake = FakeAliyun(key_id=KEY_ID, secret=SECRET, clock=clock)
    server = await LoopbackHttpServer(fake).start()
    yield fake, server
    await server.stop()


@pytest.fixture
def on_aliyun(
    harness: Harness,
    aliyun: tuple[FakeAliyun, LoopbackHttpServer],
    http: httpx.AsyncClient,
    clock: FakeClock,
) -> Harness:
    gateway = AliyunSmsGateway(
        http,
        clock=clock,
        access_key_id=KEY_ID,
        access_key_secret=SECRET,
        sign_name="回头",
        endpoint=f"{aliyun[1].url}/",
        default_template_code="SMS_480000001",
    )
    return replace(harness, gateways=replace(harness.gateways, sms=gateway))


async def one_message(harness: Harness, clock: FakeClock) -> None:
    async with harness.sessions() as session, session.begin():
        member = await add_member(session, now=clock.now())
        await queue(session, member, now=clock.now(), key="k1")


async def test_a_lost_answer_is_unknown_then_resolved_delivered_by_query(
    on_aliyun: Harness, clock: FakeClock, aliyun: tuple[FakeAliyun, LoopbackHttpServer]
) -> None:
    fake, _ = aliyun
    await one_message(on_aliyun, clock)
    fake.faults.append("drop_after_delivery")
    sent_at = clock.now()
    assert await on_aliyun.tick() == {"claimed": 1, "reaped": 0, "unknown": 1}
    message = (await messages(on_aliyun.sessions))["k1"]
    assert (message.status, message.gateway, message.attempts) == (
        MessageStatus.UNKNOWN,
        "aliyun",
        1,
    )
    assert message.send_after_at == sent_at + timedelta(minutes=1)
    assert message.body is not None
    clock.advance(seconds=59)
    assert await on_aliyun.tick() == {}
    clock.advance(seconds=1)
    assert await on_aliyun.tick() == {"checked": 1, "delivered": 1}
    message = (await messages(on_aliyun.sessions))["k1"]
    assert (message.status, message.sent_at, message.delivered_at) == (
        MessageStatus.DELIVERED,
        sent_at,
        clock.now(),
    )
    assert len(fake.sent) == 1  # queried, never sent again


async def test_a_reaped_send_to_a_gateway_without_dedupe_is_queried_before_any_resend(
    on_aliyun: Harness, clock: FakeClock, aliyun: tuple[FakeAliyun, LoopbackHttpServer]
) -> None:
    fake, _ = aliyun
    await one_message(on_aliyun, clock)
    async with on_aliyun.sessions() as session, session.begin():  # claimed, then the process died
        await claims.claim_due(
            session, now=clock.now(), worker="dead", limit=1, lease=timedelta(minutes=2)
        )
    clock.advance(minutes=2, seconds=1)
    assert await on_aliyun.tick() == {"claimed": 1, "reaped": 1, "unknown": 1}
    assert fake.sent == []
    clock.advance(minutes=1)
    # Aliyun has no record of it: it never went out, so now it goes, once.
    assert await on_aliyun.tick() == {
        "checked": 1,
        "claimed": 1,
        "queued": 1,
        "reaped": 0,
        "sent": 1,
    }
    assert len(fake.sent) == 1
    assert await on_aliyun.status_of("k1") is MessageStatus.SENT


async def test_without_a_query_api_an_unknown_fails_at_the_deadline_and_is_never_resent(
    harness: Harness,
    clock: FakeClock,
    fake: FakeSmsGateway,
    server: LoopbackHttpServer,
    http: httpx.AsyncClient,
) -> None:
    no_dedupe = HttpSmsGateway(http, url=f"{server.url}/sms", honours_idempotency=False)
    harness = replace(harness, gateways=replace(harness.gateways, sms=no_dedupe))
    await one_message(harness, clock)
    fake.faults.append("drop_after_delivery")
    start = clock.now()
    await harness.tick()
    assert await statuses(harness.sessions) == {"k1": ("unknown", "unknown_outcome")}
    clock.advance(minutes=1)
    assert await harness.tick() == {"checked": 1, "unknown": 1}  # waits for a receipt
    message = (await messages(harness.sessions))["k1"]
    assert message.send_after_at == start + timedelta(hours=24)
    clock.set(message.send_after_at)
    assert await harness.tick() == {"checked": 1, "failed": 1}
    assert await statuses(harness.sessions) == {"k1": ("failed", "unknown_outcome")}
    clock.advance(days=1)
    await harness.tick()
    assert fake.attempts["k1"] == 1
