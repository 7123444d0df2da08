"""Each way a send can end, against the real loopback gateway server: sent, retried, failed."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

from service.clock import FakeClock
from service.members.contacts import contact_hash
from service.members.models import Channel
from service.messaging import claims, outcomes
from service.messaging.outbox import MessageStatus
from tests.dispatch.kit import Harness, add_member, messages, queue, statuses
from tests.gateway_server import FakeSmsGateway
from tests.loopback_http import LoopbackHttpServer


async def one_message(harness: Harness, clock: FakeClock, key: str = "k1") -> None:
    async with harness.sessions() as session, session.begin():
        member = await add_member(session, now=clock.now())
        await queue(session, member, now=clock.now(), key=key)


async def test_a_sent_message_records_what_went_out(
    harness: Harness, clock: FakeClock, fake: FakeSmsGateway
) -> None:
    await one_message(harness, clock)
    assert await harness.tick() == {"claimed": 1, "reaped": 0, "sent": 1}
    message = (await messages(harness.sessions))["k1"]
    assert message.status is MessageStatus.SENT
    assert (message.gateway, message.provider_message_id) == ("http", "gw-1")
    assert message.body == "【回头】王小明，好久不见，回头想您了回T退订"
    assert (message.segments, message.cost) == (1, Decimal("0.0450"))
    salt = harness.secrets.contact_salt
    assert message.recipient_hash == contact_hash(salt, Channel.SMS, "+8613812345678")
    assert message.copy_fingerprint is not None
    assert (message.sent_at, message.first_attempt_at, message.attempts) == (
        clock.now(),
        clock.now(),
        1,
    )
    assert (message.leased_by, message.leased_until) == (None, None)
    [request] = fake.requests
    assert request.headers["idempotency-key"] == "k1"
    assert json.loads(request.body)["text"] == message.body


async def test_retries_back_off_until_the_deadline_then_fail(
    harness: Harness, clock: FakeClock, fake: FakeSmsGateway
) -> None:
    await one_message(harness, clock)
    fake.faults.extend(["500"] * 100)
    start, waits = clock.now(), []
    settings = {"retry_deadline_seconds": 120, "retry_base_seconds": 4}
    while True:
        report = await harness.tick(**settings)
        message = (await messages(harness.sessions))["k1"]
        if message.status is not MessageStatus.QUEUED:
            break
        assert (message.status_reason, message.last_error) == ("retry", message.last_error)
        waits.append(message.send_after_at - clock.now())
        clock.set(message.send_after_at)
    assert report == {"claimed": 1, "failed": 1, "reaped": 0}
    assert (message.status_reason, message.attempts) == ("retries_exhausted", len(waits) + 1)
    assert message.first_attempt_at == start
    assert "HTTP 500" in (message.last_error or "")
    ceilings = [min(600.0, 4 * 2**n) for n in range(len(waits))]
    assert all(1 <= w.total_seconds() <= max(1, c) for w, c in zip(waits, ceilings, strict=True))
    assert clock.now() - start <= timedelta(seconds=120)
    assert fake.delivered["k1"] == 0


async def test_a_429_waits_at_least_its_retry_after_then_delivers_once(
    harness: Harness, clock: FakeClock, fake: FakeSmsGateway
) -> None:
    await one_message(harness, clock)
    fake.faults.extend(["429", "slow", "drop"])  # throttled, a timeout, a dropped connection
    await harness.tick()
    message = (await messages(harness.sessions))["k1"]
    assert message.send_after_at >= clock.now() + timedelta(seconds=7)
    for _ in range(3):
        clock.set((await messages(harness.sessions))["k1"].send_after_at)
        await harness.tick()
    assert await harness.status_of("k1") is MessageStatus.SENT
    assert (fake.attempts["k1"], fake.delivered["k1"]) == (4, 1)


async def test_a_4xx_is_permanent(harness: Harness, clock: FakeClock, fake: FakeSmsGateway) -> None:
    await one_message(harness, clock)
    fake.faults.append("400")
    assert await harness.tick() == {"claimed": 1, "failed": 1, "reaped": 0}
    message = (await messages(harness.sessions))["k1"]
    assert (message.status_reason, message.attempts, message.failed_at) == (
        "rejected",
        1,
        clock.now(),
    )
    clock.advance(hours=1)
    assert await harness.tick() == {}
    assert fake.attempts["k1"] == 1


async def test_a_gateway_refusing_connections_is_retried(
    harness: Harness, clock: FakeClock, fake: FakeSmsGateway, server: LoopbackHttpServer
) -> None:
    await one_message(harness, clock)
    port = server.port
    await server.stop()
    await harness.tick()
    message = (await messages(harness.sessions))["k1"]
    assert message.status is MessageStatus.QUEUED
    assert "ConnectError" in (message.last_error or "")
    await server.start(port)
    clock.set(message.send_after_at)
    await harness.tick()
    assert await harness.status_of("k1") is MessageStatus.SENT


async def test_a_message_stuck_sending_past_its_lease_is_sent_again_once(
    harness: Harness, clock: FakeClock, fake: FakeSmsGateway
) -> None:
    await one_message(harness, clock)
    async with harness.sessions() as session, session.begin():  # a dispatcher that then died
        [stuck] = await claims.claim_due(
            session, now=clock.now(), worker="dead", limit=10, lease=timedelta(minutes=2)
        )
    assert await harness.tick() == {}  # leased: nobody else touches it
    clock.advance(minutes=2, seconds=1)
    assert await harness.tick() == {"claimed": 1, "reaped": 1, "sent": 1}
    assert fake.delivered["k1"] == 1
    assert stuck.idempotency_key == "k1"


async def test_an_outcome_after_the_lease_was_reaped_changes_nothing(
    harness: Harness, clock: FakeClock, fake: FakeSmsGateway
) -> None:
    await one_message(harness, clock)
    slow = harness.dispatcher("slow")
    async with harness.sessions() as session, session.begin():
        [claimed] = await claims.claim_due(
            session, now=clock.now(), worker="slow", limit=1, lease=timedelta(minutes=2)
        )
    clock.advance(minutes=3)
    await harness.tick("fast")  # reaps and sends
    async with harness.sessions() as session, session.begin():
        written = await outcomes.record(
            session,
            [outcomes.failed(claimed, now=clock.now(), reason="rejected", error="late")],
            worker=slow.worker,
        )
    assert written == 0
    assert await statuses(harness.sessions) == {"k1": ("sent", None)}


async def test_template_problems_fail_the_message_without_sending(
    harness: Harness, clock: FakeClock, fake: FakeSmsGateway
) -> None:
    async with harness.sessions() as session, session.begin():
        member = await add_member(session, now=clock.now(), email="xm@example.com")
        await queue(session, member, now=clock.now(), key="missing", template="no/such")
        await queue(session, member, now=clock.now(), key="bad-ref", context={"order_id": 999})
        await queue(session, member, now=clock.now(), key="wrong-channel", channel=Channel.EMAIL)
    await harness.tick()
    assert await statuses(harness.sessions) == {
        "missing": ("failed", "template_not_found"),
        "bad-ref": ("failed", "bad_context"),
        "wrong-channel": ("failed", "template_channel_mismatch"),
    }
    assert not fake.attempts
