"""POST /v1/messages/test: a template sent for real to the marketer's own phone or email.

The SMS gateway is the loopback HTTP server that counts requests by idempotency key; email goes
to aiosmtpd on loopback. Nothing here is mocked.
"""

from __future__ import annotations

import email
from collections.abc import AsyncIterator, Iterator
from email import policy
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from fastapi import FastAPI

from service.clock import FakeClock
from service.keys.models import Scope
from service.members.models import Member
from service.settings import Settings
from tests.dispatch.kit import messages, queue
from tests.factories import ADMIN_KEY, WEBHOOK_SECRET
from tests.gateway_server import FakeSmsGateway
from tests.journeys.helpers import app_dispatcher
from tests.loopback_http import LoopbackHttpServer
from tests.messaging.test_smtp import Mailbox, free_port

TEST = "/v1/messages/test"
HELLO = {"template": "test/hello", "to": "138 1234 5678"}


@pytest.fixture
def fake() -> FakeSmsGateway:
    return FakeSmsGateway()


@pytest.fixture
async def sms_server(fake: FakeSmsGateway) -> AsyncIterator[LoopbackHttpServer]:
    server = await LoopbackHttpServer(fake).start()
    yield server
    await server.stop()


@pytest.fixture
def mailbox() -> Mailbox:
    return Mailbox()


@pytest.fixture
def smtp_server(mailbox: Mailbox) -> Iterator[Controller]:
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller
    controller.stop()


@pytest.fixture
def settings(
    database_url: str, tmp_path: Path, sms_server: LoopbackHttpServer, smtp_server: Controller
) -> Settings:
    """The app sends SMS through the loopback HTTP gateway and email through aiosmtpd."""
    return Settings(
        database_url=database_url,
        admin_api_key=ADMIN_KEY,
        webhook_secrets=WEBHOOK_SECRET,
        scheduler_enabled=False,
        brand="回头",
        public_url="https://shop.example",
        outbox_dir=str(tmp_path / "outbox"),
        sms_gateway="http",
        sms_http_url=f"{sms_server.url}/sms",
        email_gateway="smtp",
        smtp_host="127.0.0.1",
        smtp_port=smtp_server.port,
        smtp_starttls=False,
        email_from="回头小店 <news@shop.example>",
        gateway_timeout_seconds=2,
    )


async def test_a_test_sms_reaches_the_gateway_once_however_often_it_is_retried(
    client: httpx.AsyncClient, fake: FakeSmsGateway
) -> None:
    headers = {"Idempotency-Key": "try-1"}
    first = await client.post(TEST, json=HELLO, headers=headers)
    assert first.status_code == 201, first.text
    body = first.json()
    assert (body["outcome"], body["reason"], body["replayed"]) == ("sent", None, False)
    assert body["to"] == "+8613812345678"
    message = body["message"]
    assert message["is_test"] is True
    assert message["member"] is None  # the built-in sample member
    assert (message["status"], message["gateway"]) == ("sent", "http")
    assert message["body"].startswith("【回头】[测试] 王小明好，这是来自回头的测试短信")
    assert message["body"].endswith("回T退订")
    key = message["idempotency_key"]
    assert fake.delivered[key] == 1
    [request] = fake.requests
    assert request.headers["idempotency-key"] == key

    for _ in range(2):
        again = await client.post(TEST, json=HELLO, headers=headers)
        assert again.status_code == 200, again.text
        assert again.json()["replayed"] is True
        assert again.json()["message"]["id"] == message["id"]
    assert fake.attempts[key] == 1  # the retries never reached the gateway
    assert len(fake.requests) == 1

    other = await client.post(TEST, json=HELLO)  # no key: a new test every time
    assert other.status_code == 201
    assert other.json()["message"]["id"] != message["id"]
    assert len(fake.delivered) == 2

    listed = await client.get("/v1/messages?is_test=true")
    assert [m["id"] for m in listed.json()["items"]] == [
        other.json()["message"]["id"],
        message["id"],
    ]
    assert (await client.get("/v1/messages?is_test=false")).json()["items"] == []


async def test_a_gateway_that_was_down_is_tried_again_under_the_same_key(
    client: httpx.AsyncClient, fake: FakeSmsGateway
) -> None:
    fake.faults.append("503")
    headers = {"Idempotency-Key": "down-then-up"}
    failed = await client.post(TEST, json=HELLO, headers=headers)
    assert failed.status_code == 201, failed.text
    body = failed.json()
    assert (body["outcome"], body["reason"]) == ("failed", "gateway_unavailable")
    assert "503" in body["detail"]
    retried = await client.post(TEST, json=HELLO, headers=headers)
    assert retried.status_code == 200, retried.text
    assert retried.json()["outcome"] == "sent"
    assert retried.json()["message"]["id"] == body["message"]["id"]
    assert retried.json()["message"]["attempts"] == 2
    key = body["message"]["idempotency_key"]
    assert (fake.attempts[key], fake.delivered[key]) == (2, 1)

    fake.faults.append("400")
    rejected = await client.post(TEST, json=HELLO, headers={"Idempotency-Key": "bad-number"})
    assert (rejected.json()["outcome"], rejected.json()["reason"]) == ("failed", "rejected")
    again = await client.post(TEST, json=HELLO, headers={"Idempotency-Key": "bad-number"})
    assert again.json()["replayed"] is True  # a refusal is final: not sent again
    assert fake.attempts[rejected.json()["message"]["idempotency_key"]] == 1


async def test_an_opted_out_or_suppressed_destination_is_refused_and_nothing_is_sent(
    app: FastAPI, client: httpx.AsyncClient, fake: FakeSmsGateway, mailbox: Mailbox
) -> None:
    await client.put("/v1/members/m-1", json={"phone": "13812345678", "email": "a@example.com"})
    opt_out = await client.put("/v1/members/m-1/consent/sms", json={"granted": False})
    assert opt_out.status_code == 200
    await client.put("/v1/members/m-2", json={"email": "gone@example.com"})
    assert (await client.delete("/v1/members/m-2")).status_code in (200, 204)

    refused = [
        (HELLO, "opted out"),
        ({"template": "new_customer/care", "to": "gone@example.com"}, "suppression list"),
    ]
    for body, why in refused:
        response = await client.post(
            TEST, json=body, headers={"Idempotency-Key": why.replace(" ", "-")}
        )
        assert response.status_code == 409, response.text
        assert response.json()["error"] == "destination_refused"
        [detail] = response.json()["detail"]
        assert detail["loc"] == ["body", "to"]
        assert why in detail["msg"]
        assert "nothing was sent" in detail["msg"]
    assert fake.attempts == {}
    assert mailbox.messages == []
    assert await messages(app.state.sessions) == {}

    # the member's email consent stands: a test to that address goes
    ok = await client.post(TEST, json={"template": "new_customer/care", "to": "a@example.com"})
    assert ok.status_code == 201, ok.text
    assert len(mailbox.messages) == 1


async def test_a_test_email_goes_through_smtp_marked_and_filled_by_a_member(
    anon: httpx.AsyncClient, client: httpx.AsyncClient, mailbox: Mailbox, clock: FakeClock
) -> None:
    profile = {"name": "Alex", "email": "alex@example.com", "locale": "en"}
    await client.put("/v1/members/m-en", json=profile)
    body = {"template": "new_customer/care", "to": "Me@Example.com", "member": "m-en"}
    response = await client.post(TEST, json=body)
    assert response.status_code == 201, response.text
    result = response.json()
    assert (result["outcome"], result["to"]) == ("sent", "Me@example.com")
    assert result["message"]["member"] == "m-en"
    assert result["message"]["subject"] == "[TEST] Alex, how are you getting on?"
    [(_sender, recipients, raw)] = mailbox.messages
    assert recipients == ["Me@example.com"]
    parsed = email.message_from_bytes(raw, policy=policy.default)
    assert parsed["Subject"] == "[TEST] Alex, how are you getting on?"
    unsubscribe = str(parsed["List-Unsubscribe"]).strip()
    assert unsubscribe.startswith("<https://shop.example/u/")
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # the link in a test names no member: following it unsubscribes no one
    link = unsubscribe.strip("<>").removeprefix("https://shop.example")
    page = await anon.post(link)
    assert page.status_code == 404

    zh = await client.post(TEST, json={**body, "member": None, "locale": "zh-CN"})
    assert zh.json()["message"]["subject"] == "[测试] 王小明，宝贝用得还顺手吗？"


async def test_test_sends_count_toward_no_members_caps(
    app: FastAPI, client: httpx.AsyncClient, fake: FakeSmsGateway, clock: FakeClock
) -> None:
    await client.put("/v1/members/m-1", json={"name": "王小明", "phone": "13812345678"})
    body = {**HELLO, "member": "m-1"}  # the member's own data, to the member's own phone
    assert (await client.post(TEST, json=body)).json()["outcome"] == "sent"
    async with app.state.sessions() as session, session.begin():
        member = await session.get_one(Member, 1)
        await queue(session, member, now=clock.now(), key="real-1", template="test/hello")
    dispatcher = app_dispatcher(app)
    # the daily cap is one marketing message: the test must not have used it up
    assert (await dispatcher.run()).get("sent") == 1
    assert fake.delivered["real-1"] == 1
    assert (await dispatcher.run()).get("claimed") is None  # and no test is ever claimed


def bad(loc: list[str], status: int = 422, **body: Any) -> tuple[dict[str, Any], list[str], int]:
    return {**HELLO, **body}, loc, status


@pytest.mark.parametrize(
    ("body", "loc", "status"),
    [
        bad(["body", "to"], to="12345"),
        bad(["body", "to"], template="new_customer/care", to="not-an-address"),
        bad(["body", "channel"], channel="email"),
        bad(["body", "template"], 404, template="no/such"),
        bad(["body", "template"], 404, version=99),
        bad(["body", "member"], 404, member="ghost"),
        bad(["body", "order_id"], order_id="o-1"),
        bad(["body", "locale"], locale="Chinese"),
        bad(["body", "surprise"], surprise=1),
    ],
)
async def test_bad_input_is_named(
    client: httpx.AsyncClient,
    fake: FakeSmsGateway,
    body: dict[str, Any],
    loc: list[str],
    status: int,
) -> None:
    response = await client.post(TEST, json=body)
    assert response.status_code == status, response.text
    assert loc in [d["loc"] for d in response.json()["detail"]]
    assert fake.attempts == {}


async def test_a_key_reused_for_another_request_or_malformed_is_refused(
    client: httpx.AsyncClient, fake: FakeSmsGateway
) -> None:
    assert (await client.post(TEST, json=HELLO, headers={"Idempotency-Key": "k"})).is_success
    other = await client.post(
        TEST, json={**HELLO, "locale": "en"}, headers={"Idempotency-Key": "k"}
    )
    assert other.status_code == 409, other.text
    assert other.json()["error"] == "idempotency_key_reused"
    spaced = await client.post(TEST, json=HELLO, headers={"Idempotency-Key": "a b"})
    assert spaced.status_code == 422
    assert spaced.json()["detail"][0]["loc"] == ["header", "Idempotency-Key"]
    assert len(fake.delivered) == 1


async def test_only_marketers_send_tests(
    anon: httpx.AsyncClient, client: httpx.AsyncClient, fake: FakeSmsGateway
) -> None:
    keys = {}
    for scope in (Scope.MARKETER, Scope.INGEST):
        created = await client.post("/v1/keys", json={"name": scope, "scopes": [scope]})
        keys[scope] = created.json()["key"]
    assert (await anon.post(TEST, json=HELLO)).status_code == 401
    ingest = {"Authorization": f"Bearer {keys[Scope.INGEST]}"}
    assert (await anon.post(TEST, json=HELLO, headers=ingest)).status_code == 403
    assert fake.attempts == {}
    marketer = {"Authorization": f"Bearer {keys[Scope.MARKETER]}"}
    assert (await anon.post(TEST, json=HELLO, headers=marketer)).status_code == 201
