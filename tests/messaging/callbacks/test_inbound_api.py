"""POST /v1/gateways/{name}/inbound: replies opt members out and in, once per provider id."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from service.clock import FakeClock
from service.messaging.outbox import MessageStatus
from tests.messaging.callbacks.helpers import (
    PHONE,
    Sessions,
    add_message,
    consent_changes,
    consent_events,
    event_types,
    events_of,
    load_message,
    member_id,
    post_aliyun,
    post_signed,
    put_member,
    sms_consent,
)

URL = "/v1/gateways/http/inbound"


@pytest.fixture
async def member(client: httpx.AsyncClient, sessions: Sessions) -> int:
    await put_member(client, "m-1", phone="13812345678", consent={"sms": True})
    return await member_id(sessions, "m-1")


def reply(
    provider_id: str, text: str, *, at: datetime | None = None, sender: str = PHONE
) -> dict[str, str]:
    body = {"id": provider_id, "from": sender, "text": text}
    return {**body, "received_at": at.isoformat()} if at else body


async def test_stop_opts_the_member_out_with_source_time_and_events(
    anon: httpx.AsyncClient, clock: FakeClock, sessions: Sessions, member: int
) -> None:
    sent_at = clock.now() - timedelta(minutes=3)
    response = await post_signed(
        anon, URL, {"messages": [reply("mo-1", "STOP", at=sent_at)]}, now=clock.now()
    )
    assert response.status_code == 200, response.text
    assert response.json() == {
        "received": 1,
        "recorded": 1,
        "duplicates": 0,
        "unmatched": 0,
        "opted_out": 1,
        "opted_in": 0,
    }
    consent = await sms_consent(sessions, member)
    assert consent is not None
    assert (consent.granted, consent.source, consent.changed_at) == (
        False,
        "sms_reply:STOP",
        sent_at,
    )
    *_, change = await consent_changes(sessions, member)
    assert (change.granted, change.source, change.occurred_at) == (False, "sms_reply:STOP", sent_at)
    [replied] = await events_of(sessions, "member.replied")
    assert replied.occurred_at == sent_at
    assert replied.payload == {
        "channel": "sms",
        "gateway": "http",
        "provider_id": "mo-1",
        "text": "STOP",
        "source": "sms_reply:STOP",
        "action": "opt_out",
    }
    [changed] = await consent_events(sessions)
    assert changed.payload == {"channel": "sms", "granted": False, "source": "sms_reply:STOP"}


async def test_a_retried_reply_changes_nothing(
    anon: httpx.AsyncClient, clock: FakeClock, sessions: Sessions, member: int
) -> None:
    batch = {"messages": [reply("mo-1", "退订"), reply("mo-1", "退订")]}
    first = await post_signed(anon, URL, batch, now=clock.now(), msg_id="a")
    assert first.json()["recorded"] == 1
    assert first.json()["duplicates"] == 1
    clock.advance(minutes=10)
    again = await post_signed(anon, URL, batch, now=clock.now(), msg_id="b")
    assert again.json()["duplicates"] == 2
    assert again.json()["opted_out"] == 0
    assert [c.source for c in await consent_changes(sessions, member)] == [
        "initial",
        "sms_reply:退订",
    ]
    assert (await event_types(sessions)).count("member.replied") == 1


async def test_a_second_opt_out_is_recorded_as_a_reply_but_changes_no_consent(
    anon: httpx.AsyncClient, clock: FakeClock, sessions: Sessions, member: int
) -> None:
    batch = {"messages": [reply("mo-1", "T"), reply("mo-2", "我要退订谢谢")]}
    response = await post_signed(anon, URL, batch, now=clock.now())
    assert response.json()["opted_out"] == 1
    assert len(await events_of(sessions, "member.replied")) == 2
    assert len(await consent_events(sessions)) == 1


async def test_questions_are_recorded_without_touching_consent(
    anon: httpx.AsyncClient, clock: FakeClock, sessions: Sessions, member: int
) -> None:
    batch = {
        "messages": [
            reply("mo-1", "T恤还有L码吗"),
            reply("mo-2", "取消订单"),
            reply("mo-3", "STOPPED?"),
        ]
    }
    response = await post_signed(anon, URL, batch, now=clock.now())
    assert response.json()["recorded"] == 3
    assert response.json()["opted_out"] == 0
    consent = await sms_consent(sessions, member)
    assert consent is not None
    assert consent.granted is True
    replies = await events_of(sessions, "member.replied")
    assert [(e.payload["source"], e.payload["action"]) for e in replies] == [
        ("sms_reply", None)
    ] * 3


async def test_start_resubscribes_and_full_width_letters_count(
    anon: httpx.AsyncClient, clock: FakeClock, sessions: Sessions, member: int
) -> None:
    await post_signed(anon, URL, {"messages": [reply("mo-1", "ＳＴＯＰ")]}, now=clock.now())
    clock.advance(hours=1)
    response = await post_signed(anon, URL, {"messages": [reply("mo-2", "订阅")]}, now=clock.now())
    assert response.json()["opted_in"] == 1
    consent = await sms_consent(sessions, member)
    assert consent is not None
    assert (consent.granted, consent.source) == (True, "sms_reply:订阅")


async def test_a_late_stop_still_applies_but_a_late_start_overrides_nothing(
    anon: httpx.AsyncClient, clock: FakeClock, sessions: Sessions, member: int
) -> None:
    stop_at, start_at = clock.now() - timedelta(minutes=10), clock.now() - timedelta(minutes=5)
    await post_signed(
        anon, URL, {"messages": [reply("mo-2", "START", at=start_at)]}, now=clock.now()
    )
    late = await post_signed(
        anon, URL, {"messages": [reply("mo-1", "STOP", at=stop_at)]}, now=clock.now()
    )
    assert late.json()["opted_out"] == 1  # stopping wrongly is undone by the next START
    at = clock.now() - timedelta(hours=1)  # sent before the recorded opt-out
    stale = await post_signed(
        anon, URL, {"messages": [reply("mo-3", "START", at=at)]}, now=clock.now()
    )
    assert stale.json()["opted_in"] == 0
    consent = await sms_consent(sessions, member)
    assert consent is not None
    assert consent.granted is False


async def test_every_member_with_the_number_opts_out_and_unknown_numbers_are_counted(
    anon: httpx.AsyncClient,
    client: httpx.AsyncClient,
    clock: FakeClock,
    sessions: Sessions,
    member: int,
) -> None:
    await put_member(client, "m-2", phone="+86 138 1234 5678")
    other = await member_id(sessions, "m-2")
    batch = {"messages": [reply("mo-1", "TD"), reply("mo-2", "TD", sender="+8613900000000")]}
    response = await post_signed(anon, URL, batch, now=clock.now())
    assert response.json() | {} == {
        "received": 2,
        "recorded": 2,
        "duplicates": 0,
        "unmatched": 1,
        "opted_out": 2,
        "opted_in": 0,
    }
    for each in (member, other):
        consent = await sms_consent(sessions, each)
        assert consent is not None
        assert consent.granted is False


async def test_start_never_lifts_a_hard_bounce_or_an_erasure(
    anon: httpx.AsyncClient,
    client: httpx.AsyncClient,
    clock: FakeClock,
    sessions: Sessions,
    member: int,
) -> None:
    await add_message(sessions, member=member, key="k-1", now=clock.now(), provider_id="p")
    bounce = {"provider_message_id": "p", "status": "bounced", "bounce": "hard"}
    await post_signed(anon, "/v1/gateways/http/receipts", {"receipts": [bounce]}, now=clock.now())
    await post_signed(anon, URL, {"messages": [reply("mo-1", "STOP")]}, now=clock.now())
    clock.advance(hours=1)
    response = await post_signed(anon, URL, {"messages": [reply("mo-2", "START")]}, now=clock.now())
    assert response.json()["opted_in"] == 0
    consent = await sms_consent(sessions, member)
    assert consent is not None
    assert consent.granted is False
    *_, refused = await events_of(sessions, "member.replied")
    assert refused.payload["refused"] == "hard_bounce"

    await put_member(client, "e-1", phone="13900000000")
    assert (await client.delete("/v1/members/e-1")).status_code == 204
    await put_member(client, "e-2", phone="13900000000")
    newcomer = await member_id(sessions, "e-2")
    again = await post_signed(
        anon, URL, {"messages": [reply("mo-3", "START", sender="+8613900000000")]}, now=clock.now()
    )
    assert again.json()["opted_in"] == 0
    assert await sms_consent(sessions, newcomer) is None
    *_, refused = await events_of(sessions, "member.replied")
    assert refused.payload["refused"] == "erased"


async def test_queued_messages_are_left_for_the_dispatcher_to_stop(
    anon: httpx.AsyncClient, clock: FakeClock, sessions: Sessions, member: int
) -> None:
    queued = await add_message(
        sessions, member=member, key="k-1", now=clock.now(), status=MessageStatus.QUEUED
    )
    await post_signed(anon, URL, {"messages": [reply("mo-1", "退订")]}, now=clock.now())
    row = await load_message(sessions, queued)
    assert (row.status, row.status_reason, row.updated_at) == (
        MessageStatus.QUEUED,
        None,
        clock.now() - timedelta(minutes=5),
    )
    consent = await sms_consent(sessions, member)
    assert consent is not None
    assert consent.granted is False  # what the dispatcher re-checks at send time


async def test_aliyun_sms_up_format(
    anon: httpx.AsyncClient, clock: FakeClock, sessions: Sessions, member: int
) -> None:
    ups = [
        {
            "phone_number": "13812345678",
            "send_time": "2026-06-18 08:58:00",
            "content": "TD",
            "sign_name": "回头小店",
            "dest_code": "1234",
            "sequence_id": 1234567890,
        },
        {
            "phone_number": "13812345678",
            "send_time": "2026-06-18 08:59:00",
            "content": "谢谢",
            "dest_code": "1234",
            "sequence_id": "1234567891",
        },
    ]
    response = await post_aliyun(anon, "/v1/gateways/aliyun/inbound", ups)
    assert response.status_code == 200, response.text
    assert response.json()["code"] == 0
    assert response.json()["opted_out"] == 1
    consent = await sms_consent(sessions, member)
    assert consent is not None
    assert (consent.source, consent.changed_at) == (
        "sms_reply:TD",
        datetime(2026, 6, 18, 0, 58, tzinfo=UTC),
    )
    again = await post_aliyun(anon, "/v1/gateways/aliyun/inbound", ups)
    assert again.json()["duplicates"] == 2


async def test_a_bad_signature_records_nothing(
    anon: httpx.AsyncClient, clock: FakeClock, sessions: Sessions, member: int
) -> None:
    forged = "whsec_" + base64.b64encode(b"someone else's key, 32 bytes...").decode()
    response = await post_signed(
        anon, URL, {"messages": [reply("mo-1", "STOP")]}, now=clock.now(), secret=forged
    )
    assert response.status_code == 401
    assert "member.replied" not in await event_types(sessions)
    aliyun = await post_aliyun(anon, "/v1/gateways/aliyun/inbound", [], token=None)
    assert aliyun.status_code == 401
