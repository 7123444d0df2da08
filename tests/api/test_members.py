"""PUT and GET /v1/members/{external_id}: create or update, normalised contacts, consent, events."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.app import create_app
from service.clock import FakeClock
from service.events.models import Event
from service.members.models import Member
from service.settings import Settings
from tests.factories import ADMIN_KEY, order_payload

FULL = {
    "name": "王小明",
    "phone": "138 1234 5678",
    "email": "XiaoMing@Example.COM",
    "gender": "male",
    "birthday": "1990-08-15",
    "lunar_birthday": {"month": 6, "day": 25},
    "city": "杭州",
    "region": "浙江",
    "locale": "en",
    "timezone": "Asia/Tokyo",
    "tags": ["vip", "mask-buyer"],
    "attributes": {"skin_type": "dry", "points": 120},
    "consent": {"sms": True, "email": False},
}


async def events(sessions: async_sessionmaker[AsyncSession]) -> list[tuple[str, dict[str, Any]]]:
    async with sessions() as session:
        rows = await session.execute(select(Event.type, Event.payload).order_by(Event.id))
        return [(type_, payload) for type_, payload in rows]


async def test_put_creates_with_every_field_then_updates(
    client: httpx.AsyncClient, clock: FakeClock, sessions: async_sessionmaker[AsyncSession]
) -> None:
    created = await client.put("/v1/members/m-1", json=FULL)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["phone"] == "+8613812345678"  # E.164 with the shop's region, CN
    assert body["email"] == "XiaoMing@example.com"  # the domain is case-insensitive
    assert {k: body[k] for k in ("name", "gender", "birthday", "city", "region")} == {
        "name": "王小明", "gender": "male", "birthday": "1990-08-15", "city": "杭州",
        "region": "浙江",
    }  # fmt: skip
    assert body["lunar_birthday"] == {"month": 6, "day": 25}
    assert (body["locale"], body["timezone"]) == ("en", "Asia/Tokyo")
    assert body["tags"] == ["mask-buyer", "vip"]
    assert body["attributes"] == {"skin_type": "dry", "points": 120}
    assert {c: (v["granted"], v["source"]) for c, v in body["consent"].items()} == {
        "sms": (True, "initial"),
        "email": (False, "initial"),
    }
    assert body["suppressed_channels"] == []
    assert body["created_at"] == body["updated_at"] == "2026-06-18T01:00:00Z"

    clock.advance(hours=1)
    updated = await client.put("/v1/members/m-1", json={"city": "上海", "tags": ["vip"]})
    assert updated.status_code == 200
    assert (updated.json()["city"], updated.json()["tags"]) == ("上海", ["vip"])
    assert updated.json()["name"] == "王小明"  # omitted: kept
    assert updated.json()["updated_at"] == "2026-06-18T02:00:00Z"
    assert updated.json()["created_at"] == "2026-06-18T01:00:00Z"
    assert await events(sessions) == [
        ("member.created", {}),
        ("member.consent_changed", {"channel": "sms", "granted": True, "source": "initial"}),
        ("member.consent_changed", {"channel": "email", "granted": False, "source": "initial"}),
        ("member.updated", {"fields": ["city", "tags"]}),
    ]


async def test_an_unchanged_put_is_200_and_writes_no_event(
    client: httpx.AsyncClient, clock: FakeClock, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await client.put("/v1/members/m-1", json={"name": "A", "tags": ["x"]})
    clock.advance(minutes=5)
    again = await client.put("/v1/members/m-1", json={"name": "A", "tags": ["x"]})
    assert again.status_code == 200
    assert again.json()["updated_at"] == "2026-06-18T01:00:00Z"
    assert [t for t, _ in await events(sessions)] == ["member.created"]


async def test_null_clears_and_omitted_keeps(client: httpx.AsyncClient) -> None:
    await client.put("/v1/members/m-1", json=FULL)
    cleared = {
        "phone": None, "birthday": None, "lunar_birthday": None, "city": None, "tags": None,
        "attributes": None, "gender": None, "locale": None, "timezone": None,
    }  # fmt: skip
    body = (await client.put("/v1/members/m-1", json=cleared)).json()
    assert body["phone"] is None
    assert (body["birthday"], body["lunar_birthday"], body["city"]) == (None, None, None)
    assert (body["tags"], body["attributes"], body["timezone"]) == ([], {}, None)
    assert (body["gender"], body["locale"]) == ("unknown", "zh-CN")  # their "not known"
    assert (body["name"], body["email"], body["region"]) == (
        "王小明",
        "XiaoMing@example.com",
        "浙江",
    )


async def test_initial_consent_is_ignored_once_recorded(
    client: httpx.AsyncClient, clock: FakeClock, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await client.put("/v1/members/m-1", json={"phone": "13812345678", "consent": {"sms": True}})
    again = await client.put("/v1/members/m-1", json={"consent": {"sms": False, "email": True}})
    consent = again.json()["consent"]
    assert (consent["sms"]["granted"], consent["email"]["granted"]) == (True, True)

    clock.advance(days=1)
    withdrawn = await client.put("/v1/members/m-1/consent/sms", json={"granted": False})
    assert withdrawn.status_code == 200
    assert withdrawn.json()["consent"]["sms"] == {
        "granted": False, "source": "api", "changed_at": "2026-06-19T01:00:00Z",
    }  # fmt: skip
    later = await client.put("/v1/members/m-1", json={"consent": {"sms": True}})
    assert later.json()["consent"]["sms"]["granted"] is False
    assert [p for t, p in await events(sessions) if t == "member.consent_changed"] == [
        {"channel": "sms", "granted": True, "source": "initial"},
        {"channel": "email", "granted": True, "source": "initial"},
        {"channel": "sms", "granted": False, "source": "api"},
    ]


@pytest.mark.parametrize(
    ("phone", "e164"),
    [
        ("13812345678", "+8613812345678"),
        ("+86 138-1234-5678", "+8613812345678"),
        ("0086 138 1234 5678", "+8613812345678"),
        ("+1 (650) 253-0000", "+16502530000"),
        ("+44 20 7946 0958", "+442079460958"),
    ],
)
async def test_phones_are_stored_in_e164(client: httpx.AsyncClient, phone: str, e164: str) -> None:
    response = await client.put("/v1/members/m-1", json={"phone": phone})
    assert response.json()["phone"] == e164


@pytest.mark.parametrize(
    ("body", "locs"),
    [
        ({"phone": "12345"}, [["body", "phone"]]),
        ({"phone": "+1 555 0100"}, [["body", "phone"]]),
        ({"email": "no-at-sign.example.com"}, [["body", "email"]]),
        ({"email": "a@b"}, [["body", "email"]]),
        ({"phone": "1", "email": "x"}, [["body", "phone"], ["body", "email"]]),
        ({"timezone": "Mars/Olympus"}, [["body", "timezone"]]),
        ({"locale": "Chinese"}, [["body", "locale"]]),
        ({"lunar_birthday": {"month": 13, "day": 1}}, [["body", "lunar_birthday", "month"]]),
        ({"tags": [""]}, [["body", "tags", 0]]),
    ],
)
async def test_invalid_fields_are_422_and_nothing_is_written(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    body: dict[str, Any],
    locs: list[list[object]],
) -> None:
    response = await client.put("/v1/members/m-1", json=body)
    assert response.status_code == 422
    assert [d["loc"] for d in response.json()["detail"]] == locs
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Member)) == 0
    assert await events(sessions) == []


async def test_get_returns_computed_stats(client: httpx.AsyncClient, clock: FakeClock) -> None:
    t0 = clock.now()
    orders = [
        order_payload("a", total="100.00", created_at=t0),
        order_payload("b", total="50.25", created_at=t0, paid_at="2026-06-20T01:00:00Z"),
        order_payload("c", status="created", total="999.00", created_at=t0),
    ]
    assert (await client.post("/v1/orders/batch", json={"orders": orders})).status_code == 200
    clock.advance(days=12)
    stats = (await client.get("/v1/members/m-1")).json()["stats"]
    assert stats == {
        "paid_orders": 2,
        "total_spent": "150.25",
        "average_order_value": "75.13",  # 75.125, rounded half up
        "first_paid_at": "2026-06-18T01:02:00Z",
        "last_paid_at": "2026-06-20T01:00:00Z",
        "days_since_last_paid": 10,
        # scored by the analytics recompute, which has not run yet
        "rfm": None,
        "segment": None,
        "stage": None,
        "value_tier": None,
        "promo_share": None,
    }


async def test_get_unknown_member_is_404_naming_it(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/members/nobody")
    assert response.status_code == 404
    assert response.json() == {
        "error": "member_not_found",
        "detail": [{"loc": ["path", "external_id"], "msg": "no member with external id 'nobody'"}],
    }


async def test_a_failed_batch_writes_no_member_and_no_event(
    client: httpx.AsyncClient, clock: FakeClock, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """Events are appended in the writer's transaction: the first order's roll back with it."""
    good = order_payload("a", member="m-1", created_at=clock.now())
    bad = order_payload("b", member="m-2", created_at=clock.now())
    bad["member"]["phone"] = "12"
    response = await client.post("/v1/orders/batch", json={"orders": [good, bad]})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "orders", 1, "member", "phone"]
    assert (await client.get("/v1/members/m-1")).status_code == 404
    assert await events(sessions) == []


async def test_phones_without_a_country_code_use_the_shops_region(
    settings: Settings, clock: FakeClock, engine: object
) -> None:
    app = create_app(settings.model_copy(update={"country": "US"}), clock, migrate=False)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://t", headers=headers
        ) as c:
            us = await c.put("/v1/members/m-us", json={"phone": "(650) 253-0000"})
            cn = await c.put("/v1/members/m-cn", json={"phone": "13812345678"})
    assert us.json()["phone"] == "+16502530000"
    assert cn.status_code == 422  # a Chinese mobile number is not a US one
    assert cn.json()["detail"][0]["msg"] == "not a valid phone number (default region US)"
