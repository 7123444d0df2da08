"""DELETE /v1/members/{id} erases personal data; the contacts stay suppressed by salted hash."""

from __future__ import annotations

import hashlib

import httpx
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.clock import FakeClock
from service.events.models import Event
from service.members import service as member_service
from service.members.contacts import contact_hash
from service.members.models import Channel, ConsentChange, Suppression
from tests.factories import order_payload, signed

PROFILE = {
    "name": "王小明",
    "phone": "13812345678",
    "email": "xiaoming@example.com",
    "birthday": "1990-08-15",
    "lunar_birthday": {"month": 6, "day": 25},
    "city": "杭州",
    "region": "浙江",
    "tags": ["vip"],
    "attributes": {"skin_type": "dry"},
    "consent": {"sms": True, "email": True},
}


async def erase(client: httpx.AsyncClient, external_id: str = "m-1") -> None:
    response = await client.delete(f"/v1/members/{external_id}")
    assert response.status_code == 204, response.text
    assert response.content == b""


async def test_erasure_wipes_personal_data_and_withdraws_consent(
    client: httpx.AsyncClient, clock: FakeClock, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await client.put("/v1/members/m-1", json=PROFILE)
    clock.advance(days=1)
    await erase(client)
    member = (await client.get("/v1/members/m-1")).json()
    for wiped in ("name", "phone", "email", "birthday", "lunar_birthday", "city", "region"):
        assert member[wiped] is None, wiped
    assert (member["tags"], member["attributes"]) == ([], {})
    assert member["erased_at"] == "2026-06-19T01:00:00Z"
    assert {c: (v["granted"], v["source"]) for c, v in member["consent"].items()} == {
        "sms": (False, "erasure"),
        "email": (False, "erasure"),
    }
    async with sessions() as session:
        types = list(await session.scalars(select(Event.type).order_by(Event.id)))
        trail = list(await session.scalars(select(ConsentChange.source).order_by(ConsentChange.id)))
    assert types[-1] == "member.erased"
    assert trail == ["initial", "initial", "erasure", "erasure"]


async def test_the_suppression_list_keeps_salted_hashes_only(
    client: httpx.AsyncClient, app: FastAPI, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await client.put("/v1/members/m-1", json=PROFILE)
    await erase(client)
    salt = app.state.secrets.contact_salt
    async with sessions() as session:
        rows = {
            (r.channel, r.contact_hash, r.reason)
            for r in await session.scalars(select(Suppression))
        }
    assert rows == {
        (Channel.SMS, contact_hash(salt, "sms", "+8613812345678"), "erased"),
        (Channel.EMAIL, contact_hash(salt, "email", "xiaoming@example.com"), "erased"),
    }
    unsalted = hashlib.sha256(b"sms:+8613812345678").hexdigest()
    assert unsalted not in {digest for _, digest, _ in rows}
    assert "13812345678" not in repr(rows)


async def test_a_later_put_does_not_resubscribe(client: httpx.AsyncClient) -> None:
    await client.put("/v1/members/m-1", json=PROFILE)
    await erase(client)
    again = await client.put(
        "/v1/members/m-1",
        json={
            "phone": "+86 138 1234 5678",
            "email": "XiaoMing@Example.com",
            "consent": {"sms": True},
        },
    )
    body = again.json()
    assert (body["consent"]["sms"]["granted"], body["consent"]["sms"]["source"]) == (
        False,
        "erasure",
    )
    assert body["suppressed_channels"] == ["sms", "email"]

    other = await client.put(
        "/v1/members/m-2", json={"phone": "13812345678", "consent": {"sms": True, "email": True}}
    )
    consent = other.json()["consent"]
    assert (consent["sms"]["granted"], consent["sms"]["source"]) == (False, "suppression_list")
    assert consent["email"]["granted"] is True  # m-2 has no email, nothing of it is suppressed
    assert other.json()["suppressed_channels"] == ["sms"]


async def test_an_order_webhook_does_not_resubscribe(
    client: httpx.AsyncClient, anon: httpx.AsyncClient, clock: FakeClock
) -> None:
    await client.put("/v1/members/m-1", json=PROFILE)
    await erase(client)
    payload = order_payload("o-9", member="m-9", created_at=clock.now())
    payload["member"] |= {"phone": "138-1234-5678", "email": "xiaoming@example.com"}
    body, headers = signed(payload, now=clock.now(), msg_id="after-erasure")
    assert (
        await anon.post("/v1/webhooks/orders", content=body, headers=headers)
    ).status_code == 200
    member = (await client.get("/v1/members/m-9")).json()
    assert member["phone"] == "+8613812345678"
    assert member["suppressed_channels"] == ["sms", "email"]
    assert member["consent"] == {}


async def test_an_explicit_grant_lifts_the_suppression(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await client.put("/v1/members/m-1", json=PROFILE)
    await erase(client)
    await client.put("/v1/members/m-1", json={"phone": "13812345678", "email": PROFILE["email"]})
    granted = await client.put(
        "/v1/members/m-1/consent/sms", json={"granted": True, "source": "crm"}
    )
    assert granted.status_code == 200
    assert granted.json()["consent"]["sms"]["granted"] is True
    assert granted.json()["suppressed_channels"] == ["email"]  # only the channel granted
    async with sessions() as session:
        types = list(await session.scalars(select(Event.type).order_by(Event.id)))
    assert types[-1] == "member.consent_changed"


async def test_a_hard_bounce_is_not_lifted_by_a_grant(
    client: httpx.AsyncClient,
    clock: FakeClock,
    app: FastAPI,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await client.put("/v1/members/m-1", json={"email": "gone@example.com"})
    async with sessions() as session, session.begin():
        await member_service.suppress_contact(
            session, channel=Channel.EMAIL, contact="gone@example.com", reason="hard_bounce",
            salt=app.state.secrets.contact_salt, now=clock.now(),
        )  # fmt: skip
    granted = await client.put("/v1/members/m-1/consent/email", json={"granted": True})
    assert granted.json()["suppressed_channels"] == ["email"]


async def test_erasing_an_unknown_member_is_404(client: httpx.AsyncClient) -> None:
    response = await client.delete("/v1/members/nobody")
    assert response.status_code == 404
    assert response.json()["detail"][0]["loc"] == ["path", "external_id"]
