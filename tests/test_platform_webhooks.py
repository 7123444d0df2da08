"""Shopify and WooCommerce order webhooks through the API, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from service.app import create_app
from service.clock import FakeClock
from service.events.models import Event
from service.orders.models import WebhookDelivery
from service.settings import Settings
from tests.platforms import (
    body_of,
    editable,
    fixture_bytes,
    shopify_headers,
    woocommerce_headers,
)

SHOPIFY = "/v1/webhooks/shopify/orders"
WOO = "/v1/webhooks/woocommerce/orders"


async def shopify_post(
    anon: httpx.AsyncClient,
    payload: str | bytes | dict[str, Any],
    *,
    topic: str,
    webhook_id: str,
    **header_changes: str | None,
) -> httpx.Response:
    body = fixture_bytes("shopify", payload) if isinstance(payload, str) else body_of(payload)
    headers = shopify_headers(body, topic=topic, webhook_id=webhook_id)
    return await anon.post(SHOPIFY, content=body, headers=_apply(headers, header_changes))


async def woo_post(
    anon: httpx.AsyncClient,
    payload: str | bytes | dict[str, Any],
    *,
    topic: str,
    delivery_id: str,
    **header_changes: str | None,
) -> httpx.Response:
    body = fixture_bytes("woocommerce", payload) if isinstance(payload, str) else body_of(payload)
    headers = woocommerce_headers(body, topic=topic, delivery_id=delivery_id)
    return await anon.post(WOO, content=body, headers=_apply(headers, header_changes))


def _apply(headers: dict[str, str], changes: dict[str, str | None]) -> dict[str, str]:
    for name, value in changes.items():
        header = name.replace("_", "-")
        headers = {k: v for k, v in headers.items() if k.lower() != header.lower()}
        if value is not None:
            headers[header] = value
    return headers


async def event_types(sessions: async_sessionmaker[AsyncSession]) -> list[str]:
    async with sessions() as session:
        return list(await session.scalars(select(Event.type).order_by(Event.id)))


async def stats(client: httpx.AsyncClient, member: str) -> dict[str, Any]:
    response = await client.get(f"/v1/members/{member}")
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()["stats"]
    return result


# Shopify


async def test_shopify_paid_order_records_member_items_and_events(
    anon: httpx.AsyncClient, client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    response = await shopify_post(
        anon, "orders_create_paid", topic="orders/create", webhook_id="b54557e4-0001"
    )
    assert response.status_code == 200, response.text
    assert response.json() == {
        "id": "6118347571369",
        "status": "paid",
        "applied": True,
        "events": ["order.created", "order.paid"],
    }
    order = (await client.get("/v1/orders/6118347571369?platform=shopify")).json()
    assert (order["platform"], order["member_external_id"]) == ("shopify", "7390213134538")
    assert (order["total"], order["discount_total"], order["source"]) == (
        "107.00",
        "11.00",
        "coupon",
    )
    assert order["paid_at"] == "2026-06-18T00:45:12Z"
    assert [i["sku"] for i in order["items"]] == ["MASK-30", "variant-44610569240808"]
    member = (await client.get("/v1/members/7390213134538")).json()
    assert (member["name"], member["phone"]) == ("Ada Lovelace", "+16135550135")
    assert member["stats"]["total_spent"] == "107.00"
    assert await event_types(sessions) == ["member.created", "order.created", "order.paid"]


async def test_shopify_replay_by_webhook_id_or_event_id_changes_nothing(
    anon: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    first = await shopify_post(anon, "orders_create_paid", topic="orders/create", webhook_id="w1")
    again = await shopify_post(anon, "orders_create_paid", topic="orders/create", webhook_id="w1")
    assert (first.json()["applied"], again.status_code, again.json()["applied"]) == (
        True,
        200,
        False,
    )
    # only the event id: a retry of the same event is recognized by it
    body = editable("shopify", "orders_updated_partially_refunded")
    for _ in range(2):
        last = await shopify_post(
            anon, body, topic="orders/updated", webhook_id="ignored", X_Shopify_Webhook_Id=None
        )
    assert last.json()["applied"] is False
    assert await event_types(sessions) == [
        "member.created",
        "order.created",
        "order.paid",
        "order.updated",
    ]
    async with sessions() as session:
        sources = set(await session.scalars(select(WebhookDelivery.source)))
    assert sources == {"shopify", "shopify-event"}


async def test_shopify_paid_before_create_converges(
    anon: httpx.AsyncClient, client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    paid = await shopify_post(anon, "orders_paid", topic="orders/paid", webhook_id="p")
    created = await shopify_post(
        anon, "orders_create_pending", topic="orders/create", webhook_id="c"
    )
    assert paid.json()["events"] == ["order.created", "order.paid"]
    assert created.json() == {
        "id": "6118350258345",
        "status": "paid",
        "applied": False,
        "events": [],
    }
    order = (await client.get("/v1/orders/6118350258345?platform=shopify")).json()
    assert (order["status"], order["paid_at"]) == ("paid", "2026-06-19T14:12:30Z")
    member = (await client.get("/v1/members/7390215461066")).json()
    assert (member["name"], member["phone"]) == ("王小明", "+8613812345678")
    assert await event_types(sessions) == ["member.created", "order.created", "order.paid"]


async def test_shopify_bank_deposit_paid_later_then_shipped(
    anon: httpx.AsyncClient, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    await shopify_post(anon, "orders_create_pending", topic="orders/create", webhook_id="1")
    assert (await stats(client, "7390215461066"))["paid_orders"] == 0
    clock.advance(days=1)
    await shopify_post(anon, "orders_paid", topic="orders/paid", webhook_id="2")
    clock.advance(days=1)
    shipped = await shopify_post(anon, "orders_fulfilled", topic="orders/fulfilled", webhook_id="3")
    assert shipped.json()["events"] == ["order.shipped"]
    order = (await client.get("/v1/orders/6118350258345?platform=shopify")).json()
    assert (order["paid_at"], order["shipped_at"]) == (
        "2026-06-19T14:12:30Z",
        "2026-06-20T19:40:20Z",
    )
    assert (await stats(client, "7390215461066"))["total_spent"] == "68.00"


async def test_shopify_refunds_and_cancellation_are_deducted(
    anon: httpx.AsyncClient, client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await shopify_post(anon, "orders_create_paid", topic="orders/create", webhook_id="1")
    await shopify_post(
        anon, "orders_updated_partially_refunded", topic="orders/updated", webhook_id="2"
    )
    assert (await stats(client, "7390213134538"))["total_spent"] == "62.90"
    cancelled = await shopify_post(
        anon, "orders_cancelled", topic="orders/cancelled", webhook_id="3"
    )
    assert cancelled.json()["events"] == ["order.cancelled"]
    order = (await client.get("/v1/orders/6118347571369?platform=shopify")).json()
    assert (order["status"], order["refund_total"]) == ("cancelled", "107.00")
    assert (await stats(client, "7390213134538"))["paid_orders"] == 0
    assert (await event_types(sessions))[-2:] == ["order.updated", "order.cancelled"]


async def test_shopify_nineteen_digit_ids_survive_the_api(
    anon: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    raw = fixture_bytes("shopify", "orders_create_paid")
    raw = raw.replace(b"6118347571369", b"9223372036854775807")
    raw = raw.replace(b"7390213134538", b"1234567890123456789")
    response = await shopify_post(anon, raw, topic="orders/create", webhook_id="big")
    assert response.json()["id"] == "9223372036854775807"
    order = (await client.get("/v1/orders/9223372036854775807?platform=shopify")).json()
    assert order["member_external_id"] == "1234567890123456789"


@pytest.mark.parametrize(
    ("headers", "fragment"),
    [
        ({"X_Shopify_Hmac_Sha256": None}, "signature does not match"),
        ({"X_Shopify_Hmac_Sha256": "bm90IHRoZSBzaWduYXR1cmU="}, "signature does not match"),
    ],
)
async def test_shopify_bad_or_missing_signature_is_refused(
    anon: httpx.AsyncClient, headers: dict[str, str | None], fragment: str
) -> None:
    response = await shopify_post(
        anon, "orders_create_paid", topic="orders/create", webhook_id="x", **headers
    )
    assert response.status_code == 401
    assert response.json()["detail"] == [
        {"loc": ["header", "X-Shopify-Hmac-Sha256"], "msg": "signature does not match the body"}
    ]
    assert fragment in response.text


async def test_shopify_signature_covers_the_raw_bytes_before_parsing(
    anon: httpx.AsyncClient,
) -> None:
    body = fixture_bytes("shopify", "orders_create_paid")
    headers = shopify_headers(body, topic="orders/create", webhook_id="t")
    reformatted = json.dumps(json.loads(body), separators=(",", ":")).encode()
    assert (await anon.post(SHOPIFY, content=reformatted, headers=headers)).status_code == 401
    garbage = b"{not json"
    headers = shopify_headers(garbage, topic="orders/create", webhook_id="g", secret="other")
    assert (await anon.post(SHOPIFY, content=garbage, headers=headers)).status_code == 401
    headers = shopify_headers(garbage, topic="orders/create", webhook_id="g")
    response = await anon.post(SHOPIFY, content=garbage, headers=headers)
    assert (response.status_code, response.json()["detail"][0]["loc"]) == (422, ["body"])


async def test_shopify_payload_that_does_not_map_names_the_field(
    anon: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    payload = editable("shopify", "orders_create_paid")
    payload["line_items"][0]["price"] = "forty-nine"
    response = await shopify_post(anon, payload, topic="orders/create", webhook_id="bad")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "line_items", 0, "price"]
    # the delivery was not used up: the corrected payload under the same id applies
    fixed = await shopify_post(anon, "orders_create_paid", topic="orders/create", webhook_id="bad")
    assert fixed.json()["applied"] is True
    assert (await client.get("/v1/orders/6118347571369?platform=shopify")).status_code == 200


@pytest.mark.parametrize(
    ("name", "topic", "reason"),
    [
        ("test_notification", "orders/create", "test order"),
        ("orders_create_paid", "orders/delete", "topic orders/delete"),
    ],
)
async def test_shopify_test_notifications_and_other_topics_are_acknowledged_only(
    anon: httpx.AsyncClient, client: httpx.AsyncClient, name: str, topic: str, reason: str
) -> None:
    response = await shopify_post(anon, name, topic=topic, webhook_id="n")
    assert response.status_code == 200
    assert response.json()["applied"] is False
    assert reason in response.json()["ignored"]
    assert (await client.get("/v1/members", params={"limit": 10})).json()["items"] == []


@pytest.fixture
async def unsigned(
    settings: Settings, clock: FakeClock, engine: AsyncEngine
) -> AsyncIterator[httpx.AsyncClient]:
    """The service with neither platform secret configured."""
    bare = settings.model_copy(update={"shopify_secret": None, "woocommerce_secret": None})
    app = create_app(bare, clock, migrate=False)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


async def test_without_a_secret_every_delivery_is_refused_but_the_ping(
    unsigned: httpx.AsyncClient,
) -> None:
    shop = await shopify_post(unsigned, "orders_create_paid", topic="orders/create", webhook_id="1")
    woo = await woo_post(
        unsigned, "order_created_processing", topic="order.created", delivery_id="1"
    )
    for response, header in ((shop, "X-Shopify-Hmac-Sha256"), (woo, "X-WC-Webhook-Signature")):
        assert response.status_code == 401
        assert response.json()["detail"] == [
            {"loc": ["header", header], "msg": f"no secret is configured to verify {header}"}
        ]
    ping = await unsigned.post(WOO, content=b"webhook_id=42")
    assert ping.status_code == 200


# WooCommerce


async def test_woocommerce_ping_on_webhook_creation_gets_200(anon: httpx.AsyncClient) -> None:
    response = await anon.post(
        WOO,
        content=b"webhook_id=42",
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "User-Agent": "WooCommerce/9.8.5 Hookshot (WordPress/6.8.1)",
        },
    )
    assert response.status_code == 200
    assert response.json() == {"applied": False, "ignored": "ping"}


async def test_woocommerce_paid_order_records_member_items_and_events(
    anon: httpx.AsyncClient, client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    response = await woo_post(
        anon, "order_created_processing", topic="order.created", delivery_id="d1"
    )
    assert response.status_code == 200, response.text
    assert response.json() == {
        "id": "2207",
        "status": "paid",
        "applied": True,
        "events": ["order.created", "order.paid"],
    }
    order = (await client.get("/v1/orders/2207?platform=woocommerce")).json()
    assert (order["currency"], order["total"], order["source"]) == ("CNY", "323.11", "coupon")
    assert order["items"] == [
        {"sku": "SUN-50", "quantity": 2, "price": "129.00"},
        {"sku": "variation-23", "quantity": 1, "price": "89.90"},
    ]
    member = (await client.get("/v1/members/26")).json()
    assert (member["name"], member["phone"], member["email"]) == (
        "李丽",
        "+8613912345678",
        "li.li@example.com",
    )
    assert await event_types(sessions) == ["member.created", "order.created", "order.paid"]


async def test_woocommerce_replay_by_delivery_id_changes_nothing(
    anon: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    first = await woo_post(anon, "order_updated_completed", topic="order.updated", delivery_id="d")
    again = await woo_post(anon, "order_updated_completed", topic="order.updated", delivery_id="d")
    assert (first.json()["applied"], again.status_code, again.json()) == (
        True,
        200,
        {"id": "2207", "status": "shipped", "applied": False, "events": []},
    )
    assert await event_types(sessions) == [
        "member.created",
        "order.created",
        "order.paid",
        "order.shipped",
    ]


async def test_woocommerce_completed_before_created_converges(
    anon: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    await woo_post(anon, "order_updated_completed", topic="order.updated", delivery_id="late")
    early = await woo_post(
        anon, "order_created_processing", topic="order.created", delivery_id="early"
    )
    assert early.json()["applied"] is False
    order = (await client.get("/v1/orders/2207?platform=woocommerce")).json()
    assert (order["status"], order["paid_at"], order["shipped_at"]) == (
        "shipped",
        "2026-06-18T00:41:12Z",
        "2026-06-20T08:05:44Z",
    )


async def test_woocommerce_refunds_are_deducted(
    anon: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    await woo_post(anon, "order_created_processing", topic="order.created", delivery_id="1")
    await woo_post(anon, "order_updated_completed", topic="order.updated", delivery_id="2")
    partial = await woo_post(
        anon, "order_updated_partial_refund", topic="order.updated", delivery_id="3"
    )
    assert partial.json()["events"] == ["order.updated"]
    assert (await stats(client, "26"))["total_spent"] == "207.01"
    await woo_post(anon, "order_created_store_api_guest", topic="order.created", delivery_id="4")
    assert (await stats(client, "phone:+14155550132"))["paid_orders"] == 1
    refunded = await woo_post(
        anon, "order_updated_refunded", topic="order.updated", delivery_id="5"
    )
    assert refunded.json()["events"] == ["order.refunded"]
    assert (await stats(client, "phone:+14155550132"))["paid_orders"] == 0


async def test_woocommerce_guest_on_hold_then_cancelled(
    anon: httpx.AsyncClient, client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    placed = await woo_post(
        anon, "order_created_on_hold_guest", topic="order.created", delivery_id="1"
    )
    assert placed.json()["events"] == ["order.created"]
    await woo_post(anon, "order_updated_cancelled", topic="order.updated", delivery_id="2")
    member = (await client.get("/v1/members/email:john.doe@example.com")).json()
    assert (member["email"], member["phone"]) == ("John.Doe@example.com", None)
    assert member["stats"]["paid_orders"] == 0
    assert await event_types(sessions) == ["member.created", "order.created", "order.cancelled"]


@pytest.mark.parametrize(
    ("headers", "msg"),
    [
        ({"X_WC_Webhook_Signature": None}, "signature does not match the body"),
        ({"X_WC_Webhook_Signature": "d3Jvbmc="}, "signature does not match the body"),
    ],
)
async def test_woocommerce_bad_or_missing_signature_is_refused(
    anon: httpx.AsyncClient, headers: dict[str, str | None], msg: str
) -> None:
    response = await woo_post(
        anon, "order_created_processing", topic="order.created", delivery_id="x", **headers
    )
    assert response.status_code == 401
    assert response.json()["detail"] == [{"loc": ["header", "X-WC-Webhook-Signature"], "msg": msg}]


async def test_woocommerce_payload_that_does_not_map_names_the_field(
    anon: httpx.AsyncClient,
) -> None:
    payload = editable("woocommerce", "order_updated_partial_refund")
    payload["refunds"][0]["total"] = "about ten"
    del payload["date_created_gmt"]
    response = await woo_post(anon, payload, topic="order.updated", delivery_id="bad")
    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["detail"]] == [
        ["body", "date_created_gmt"],
        ["body", "refunds", 0, "total"],
    ]


async def test_woocommerce_drafts_and_deletions_are_acknowledged_only(
    anon: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    draft = editable("woocommerce", "order_created_processing") | {"status": "checkout-draft"}
    first = await woo_post(anon, draft, topic="order.updated", delivery_id="1")
    deleted = await woo_post(anon, {"id": 2207}, topic="order.deleted", delivery_id="2")
    for response in (first, deleted):
        assert response.status_code == 200
        assert response.json()["applied"] is False
    assert (await client.get("/v1/orders/2207?platform=woocommerce")).status_code == 404
