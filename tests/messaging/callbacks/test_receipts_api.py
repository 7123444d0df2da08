"""POST /v1/gateways/{name}/receipts: signatures, batches, idempotency, bounces, Aliyun reports."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from service.clock import FakeClock
from service.members.contacts import contact_hash
from service.members.models import Channel, Suppression
from service.messaging.gateways.aliyun import out_id
from service.messaging.outbox import MessageStatus
from tests.factories import signed
from tests.messaging.callbacks.helpers import (
    HARD_CODE,
    HTTP_SECRET,
    OLD_SECRET,
    PHONE,
    Sessions,
    add_message,
    event_types,
    events_of,
    get_member,
    load_message,
    member_id,
    post_aliyun,
    post_signed,
    put_member,
)

URL = "/v1/gateways/http/receipts"
ALIYUN = "/v1/gateways/aliyun/receipts"


@pytest.fixture
async def member(client: httpx.AsyncClient, sessions: Sessions) -> int:
    await put_member(client, "m-1", phone="13812345678", email="a@example.com")
    return await member_id(sessions, "m-1")


async def test_a_batch_updates_each_message_and_counts_the_unmatched(
    anon: httpx.AsyncClient, clock: FakeClock, sessions: Sessions, member: int
) -> None:
    now = clock.now()
    delivered = await add_message(sessions, member=member, key="k-1", now=now, provider_id="p-1")
    failed = await add_message(sessions, member=member, key="k-2", now=now, provider_id="p-2")
    by_key = await add_message(sessions, member=member, key="k-3", now=now, gateway=None)
    at = (now - timedelta(seconds=30)).isoformat()
    batch = {
        "receipts": [
            {"provider_message_id": "p-1", "status": "delivered", "occurred_at": at},
            {"provider_message_id": "p-2", "status": "failed", "reason": "IS_CLOSE"},
            {"idempotency_key": "k-3", "status": "delivered"},
            {"provider_message_id": "no-such-message", "status": "delivered"},
        ]
    }
    response = await post_signed(anon, URL, batch, now=now)
    assert response.status_code == 200, response.text
    assert response.json() == {"received": 4, "applied": 3, "unchanged": 0, "unmatched": 1}
    first, second, third = [await load_message(sessions, i) for i in (delivered, failed, by_key)]
    assert (first.status, first.delivered_at) == (
        MessageStatus.DELIVERED,
        now - timedelta(seconds=30),
    )
    assert (second.status, second.status_reason) == (MessageStatus.FAILED, "failed: IS_CLOSE")
    assert second.failed_at == now
    assert (third.status, third.gateway) == (MessageStatus.DELIVERED, "http")
    assert await event_types(sessions) == [
        "member.created",
        "message.delivered",
        "message.failed",
        "message.delivered",
    ]


async def test_the_same_batch_twice_changes_nothing_the_second_time(
    anon: httpx.AsyncClient, clock: FakeClock, sessions: Sessions, member: int
) -> None:
    message = await add_message(
        sessions, member=member, key="k-1", now=clock.now(), provider_id="p"
    )
    batch = {"receipts": [{"provider_message_id": "p", "status": "delivered"}]}
    first = await post_signed(anon, URL, batch, now=clock.now(), msg_id="a")
    clock.advance(minutes=5)
    again = await post_signed(anon, URL, batch, now=clock.now(), msg_id="b")
    assert first.json()["applied"] == 1
    assert again.json() == {"received": 1, "applied": 0, "unchanged": 1, "unmatched": 0}
    row = await load_message(sessions, message)
    assert row.delivered_at == clock.now() - timedelta(minutes=5)
    assert len(await events_of(sessions, "message.delivered")) == 1


async def test_delivered_after_failed_wins_and_failed_after_delivered_is_stale(
    anon: httpx.AsyncClient, clock: FakeClock, sessions: Sessions, member: int
) -> None:
    now = clock.now()
    late = await add_message(sessions, member=member, key="k-1", now=now, provider_id="p-1")
    early = await add_message(sessions, member=member, key="k-2", now=now, provider_id="p-2")
    batch = {
        "receipts": [
            {"provider_message_id": "p-1", "status": "failed"},
            {"provider_message_id": "p-1", "status": "delivered"},
            {"provider_message_id": "p-2", "status": "delivered"},
            {"provider_message_id": "p-2", "status": "failed"},
        ]
    }
    response = await post_signed(anon, URL, batch, now=now)
    assert response.json() == {"received": 4, "applied": 3, "unchanged": 1, "unmatched": 0}
    assert (await load_message(sessions, late)).status is MessageStatus.DELIVERED
    assert (await load_message(sessions, early)).status is MessageStatus.DELIVERED


async def test_a_receipt_resolves_an_unknown_outcome(
    anon: httpx.AsyncClient, clock: FakeClock, sessions: Sessions, member: int
) -> None:
    status = MessageStatus.UNKNOWN
    message = await add_message(sessions, member=member, key="k-1", now=clock.now(), status=status)
    batch = {
        "receipts": [
            {"idempotency_key": "k-1", "provider_message_id": "p-9", "status": "delivered"}
        ]
    }
    response = await post_signed(anon, URL, batch, now=clock.now())
    assert response.json()["applied"] == 1
    row = await load_message(sessions, message)
    assert (row.status, row.provider_message_id) == (MessageStatus.DELIVERED, "p-9")


async def test_messages_not_yet_sent_take_no_receipt(
    anon: httpx.AsyncClient, clock: FakeClock, sessions: Sessions, member: int
) -> None:
    now = clock.now()
    for key, status in (("k-q", MessageStatus.QUEUED), ("k-s", MessageStatus.SENDING)):
        await add_message(sessions, member=member, key=key, now=now, status=status)
    batch = {"receipts": [{"idempotency_key": k, "status": "delivered"} for k in ("k-q", "k-s")]}
    response = await post_signed(anon, URL, batch, now=now)
    assert response.json() == {"received": 2, "applied": 0, "unchanged": 2, "unmatched": 0}


async def test_a_hard_bounce_suppresses_the_number_and_a_later_put_does_not_resubscribe(
    anon: httpx.AsyncClient,
    client: httpx.AsyncClient,
    clock: FakeClock,
    sessions: Sessions,
    member: int,
) -> None:
    message = await add_message(
        sessions, member=member, key="k-1", now=clock.now(), provider_id="p"
    )
    bounce = {"provider_message_id": "p", "status": "bounced", "bounce": "hard", "reason": "空号"}
    response = await post_signed(anon, URL, {"receipts": [bounce]}, now=clock.now())
    assert response.json()["applied"] == 1
    row = await load_message(sessions, message)
    assert (row.status, row.status_reason) == (MessageStatus.FAILED, "hard_bounce: 空号")
    assert (await get_member(client, "m-1"))["suppressed_channels"] == ["sms"]
    [event] = await events_of(sessions, "message.failed")
    assert event.payload["bounce"] == "hard"

    clock.advance(days=1)
    await put_member(client, "m-1", phone="138 1234 5678", consent={"sms": True})
    assert (await get_member(client, "m-1"))["suppressed_channels"] == ["sms"]
    again = await client.put("/v1/members/m-1/consent/sms", json={"granted": True})
    assert again.json()["suppressed_channels"] == ["sms"]  # an explicit grant never lifts it
    newcomer = await put_member(client, "m-2", phone=PHONE, consent={"sms": True})
    assert newcomer["consent"]["sms"]["granted"] is False
    assert newcomer["consent"]["sms"]["source"] == "suppression_list"
    assert newcomer["suppressed_channels"] == ["sms"]
    delivered = {"provider_message_id": "p", "status": "delivered"}
    late = await post_signed(anon, URL, {"receipts": [delivered]}, now=clock.now())
    assert late.json()["unchanged"] == 1  # the bounce stands


async def test_an_email_bounce_suppresses_the_address_the_message_went_to(
    anon: httpx.AsyncClient, app: FastAPI, clock: FakeClock, sessions: Sessions, member: int
) -> None:
    salt = app.state.secrets.contact_salt
    sent_to = contact_hash(salt, Channel.EMAIL, "old@example.com")
    await add_message(
        sessions,
        member=member,
        key="k-1",
        now=clock.now(),
        channel=Channel.EMAIL,
        gateway="smtp",
        provider_id="<abc@shop.example>",
        recipient_hash=sent_to,
    )
    bounce = {"idempotency_key": "k-1", "status": "bounced", "bounce": "hard"}
    soft = {"idempotency_key": "k-1", "status": "bounced", "bounce": "soft"}
    response = await post_signed(anon, URL, {"receipts": [soft, bounce, bounce]}, now=clock.now())
    assert response.json() == {"received": 3, "applied": 2, "unchanged": 1, "unmatched": 0}
    async with sessions() as session:
        rows = list(await session.execute(select(Suppression.contact_hash, Suppression.reason)))
    assert rows == [(sent_to, "hard_bounce")]


@pytest.mark.parametrize(
    ("mutate", "status"),
    [
        (lambda h: {k: v for k, v in h.items() if k != "webhook-signature"}, 401),
        (lambda h: {k: v for k, v in h.items() if not k.startswith("webhook")}, 401),
        (lambda h: {**h, "webhook-signature": "v1,AAAA"}, 401),
        (lambda h: {**h, "webhook-timestamp": str(int(h["webhook-timestamp"]) - 301)}, 401),
        (lambda h: h, 200),
    ],
)
async def test_signatures(
    anon: httpx.AsyncClient,
    clock: FakeClock,
    sessions: Sessions,
    member: int,
    mutate: object,
    status: int,
) -> None:
    message = await add_message(
        sessions, member=member, key="k-1", now=clock.now(), provider_id="p"
    )
    body, headers = signed(
        json.dumps({"receipts": [{"provider_message_id": "p", "status": "delivered"}]}).encode(),
        now=clock.now(),
        msg_id="m",
        secret=OLD_SECRET,  # a secret being rotated out still verifies
    )
    assert callable(mutate)
    response = await anon.post(URL, content=body, headers=mutate(headers))
    assert response.status_code == status, response.text
    delivered = (await load_message(sessions, message)).status is MessageStatus.DELIVERED
    assert delivered is (status == 200)


async def test_a_tampered_body_fails_before_it_is_parsed(
    anon: httpx.AsyncClient, clock: FakeClock
) -> None:
    body, headers = signed(b'{"receipts": []}', now=clock.now(), msg_id="m", secret=HTTP_SECRET)
    forged = await anon.post(URL, content=b"not json at all", headers=headers)
    assert forged.status_code == 401
    assert forged.json()["error"] == "bad_signature"
    empty = await anon.post(URL, content=body, headers=headers)
    assert empty.status_code == 422  # signed, then parsed: a batch needs a receipt
    _, orders_headers = signed(body, now=clock.now(), msg_id="m")
    other = await anon.post(URL, content=body, headers=orders_headers)
    assert other.status_code == 401  # the order webhook secret does not sign callbacks


async def test_gateways_without_a_secret_have_no_callbacks(
    anon: httpx.AsyncClient, clock: FakeClock
) -> None:
    payload = {"receipts": [{"provider_message_id": "p", "status": "delivered"}]}
    for name in ("smtp", "twilio", "HTTP"):
        response = await post_signed(
            anon, f"/v1/gateways/{name}/receipts", payload, now=clock.now()
        )
        assert response.status_code == 404
        assert response.json()["error"] == "gateway_not_found"


@pytest.mark.parametrize(
    "receipt",
    [
        {"status": "delivered"},
        {"provider_message_id": "p", "status": "bounced"},
        {"provider_message_id": "p", "status": "failed", "bounce": "hard"},
        {"provider_message_id": "p", "status": "read"},
        {"provider_message_id": "p", "status": "delivered", "occurred_at": "2026-06-18T10:00:00"},
    ],
)
async def test_invalid_receipts_are_refused(
    anon: httpx.AsyncClient, clock: FakeClock, receipt: dict[str, str]
) -> None:
    response = await post_signed(anon, URL, {"receipts": [receipt]}, now=clock.now())
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"][:3] == ["body", "receipts", 0]


def aliyun_report(**fields: object) -> dict[str, object]:
    report: dict[str, object] = {
        "phone_number": "13812345678",
        "send_time": "2026-06-18 08:59:50",
        "report_time": "2026-06-18 08:59:57",
        "success": True,
        "err_code": "DELIVERED",
        "err_msg": "用户接收成功",
        "sms_size": "1",
        "biz_id": "",
        "out_id": "",
    }
    return {**report, **fields}


async def test_aliyun_reports_by_biz_id_and_by_out_id_for_unknown_outcomes(
    anon: httpx.AsyncClient, clock: FakeClock, sessions: Sessions, member: int
) -> None:
    now = clock.now()
    by_biz = await add_message(
        sessions, member=member, key="k-1", now=now, gateway="aliyun", provider_id="900^1"
    )
    unknown = MessageStatus.UNKNOWN
    by_out = await add_message(sessions, member=member, key="k-2", now=now, status=unknown)
    bounced = await add_message(
        sessions, member=member, key="k-3", now=now, gateway="aliyun", provider_id="900^3"
    )
    reports = [
        aliyun_report(biz_id="900^1", out_id=out_id("k-1")),
        aliyun_report(biz_id="900^2", out_id=out_id("k-2")),
        aliyun_report(biz_id="900^3", success=False, err_code=HARD_CODE, err_msg="号码状态异常"),
        aliyun_report(biz_id="900^4", out_id="not-ours"),
    ]
    response = await post_aliyun(anon, ALIYUN, reports)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "received": 4,
        "applied": 3,
        "unchanged": 0,
        "unmatched": 1,
        "code": 0,
        "msg": "接收成功",
    }
    first, second, third = [await load_message(sessions, i) for i in (by_biz, by_out, bounced)]
    beijing_report_time = datetime(2026, 6, 18, 0, 59, 57, tzinfo=UTC)
    assert (first.status, first.delivered_at) == (MessageStatus.DELIVERED, beijing_report_time)
    assert (second.status, second.provider_message_id) == (MessageStatus.DELIVERED, "900^2")
    assert (third.status, third.status_reason) == (
        MessageStatus.FAILED,
        f"hard_bounce: {HARD_CODE} 号码状态异常",
    )
    async with sessions() as session:
        assert list(await session.scalars(select(Suppression.reason))) == ["hard_bounce"]


async def test_an_aliyun_failure_not_listed_as_hard_is_a_plain_failure(
    anon: httpx.AsyncClient, clock: FakeClock, sessions: Sessions, member: int
) -> None:
    message = await add_message(
        sessions, member=member, key="k-1", now=clock.now(), gateway="aliyun", provider_id="b"
    )
    report = aliyun_report(biz_id="b", success=False, err_code="IS_CLOSE", err_msg="关机")
    assert (await post_aliyun(anon, ALIYUN, [report])).json()["applied"] == 1
    row = await load_message(sessions, message)
    assert (row.status, row.status_reason) == (MessageStatus.FAILED, "failed: IS_CLOSE 关机")
    async with sessions() as session:
        assert list(await session.scalars(select(Suppression.reason))) == []


@pytest.mark.parametrize("token", [None, "", "wrong-token-0123456789abcdef"])
async def test_aliyun_needs_its_token(
    anon: httpx.AsyncClient, clock: FakeClock, token: str | None
) -> None:
    response = await post_aliyun(anon, ALIYUN, [aliyun_report(biz_id="b")], token=token)
    assert response.status_code == 401
    signed_instead = await post_signed(anon, ALIYUN, [aliyun_report()], now=clock.now())
    assert signed_instead.status_code == 401  # its secret is a URL token, not a signing key
