"""Native order webhooks: signatures, replays, out-of-order statuses, stats and events."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.clock import FakeClock
from service.events.models import Event
from tests.factories import order_payload, signed

URL = "/v1/webhooks/orders"


async def post_order(
    client: httpx.AsyncClient, clock: FakeClock, payload: dict[str, object], msg_id: str
) -> httpx.Response:
    body, headers = signed(payload, now=clock.now(), msg_id=msg_id)
    return await client.post(URL, content=body, headers=headers)


async def event_types(sessions: async_sessionmaker[AsyncSession]) -> list[str]:
    async with sessions() as session:
        return list(await session.scalars(select(Event.type).order_by(Event.id)))


async def test_paid_order_creates_member_stats_and_events(
    anon: httpx.AsyncClient,
    client: httpx.AsyncClient,
    clock: FakeClock,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    payload = order_payload("1234567890123456789", total="199.90", created_at=clock.now())
    payload["id"] = 1234567890123456789  # a bare JSON integer id must survive exactly
    payload["member"] = {"external_id": "m-1", "phone": "138 1234 5678", "name": "王小明"}
    response = await post_order(anon, clock, payload, "msg_1")
    assert response.status_code == 200, response.text
    assert response.json() == {
        "id": "1234567890123456789",
        "status": "paid",
        "applied": True,
        "events": ["order.created", "order.paid"],
    }
    member = (await client.get("/v1/members/m-1")).json()
    assert member["phone"] == "+8613812345678"
    assert member["stats"]["paid_orders"] == 1
    assert member["stats"]["total_spent"] == "199.90"
    order = (await client.get("/v1/orders/1234567890123456789")).json()
    assert order["total"] == "199.90"
    assert order["items"] == [{"sku": "MASK-30", "quantity": 1, "price": "199.90"}]
    assert await event_types(sessions) == ["member.created", "order.created", "order.paid"]


async def test_replayed_webhook_id_is_acknowledged_and_not_applied(
    anon: httpx.AsyncClient, clock: FakeClock, sessions: async_sessionmaker[AsyncSession]
) -> None:
    payload = order_payload(created_at=clock.now())
    first = await post_order(anon, clock, payload, "msg_same")
    again = await post_order(anon, clock, payload, "msg_same")
    assert first.json()["applied"] is True
    assert again.status_code == 200
    assert again.json()["applied"] is False
    assert await event_types(sessions) == ["member.created", "order.created", "order.paid"]


async def test_created_after_paid_does_not_move_the_order_back(
    anon: httpx.AsyncClient,
    client: httpx.AsyncClient,
    clock: FakeClock,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    created_at = clock.now()
    await post_order(anon, clock, order_payload(status="paid", created_at=created_at), "msg_paid")
    late = await post_order(
        anon, clock, order_payload(status="created", created_at=created_at), "msg_created"
    )
    assert late.json() == {"id": "o-1", "status": "paid", "applied": False, "events": []}
    assert (await client.get("/v1/orders/o-1")).json()["status"] == "paid"
    assert (await client.get("/v1/members/m-1")).json()["stats"]["paid_orders"] == 1


async def test_refund_and_cancel_are_deducted_from_stats(
    anon: httpx.AsyncClient, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    t0 = clock.now()
    await post_order(anon, clock, order_payload("a", total="100.00", created_at=t0), "w1")
    await post_order(anon, clock, order_payload("b", total="50.00", created_at=t0), "w2")
    await post_order(anon, clock, order_payload("c", total="30.00", created_at=t0), "w3")
    stats = (await client.get("/v1/members/m-1")).json()["stats"]
    assert (stats["paid_orders"], stats["total_spent"], stats["average_order_value"]) == (
        3,
        "180.00",
        "60.00",
    )

    clock.advance(days=2)
    refunded = order_payload("b", status="refunded", total="50.00", created_at=t0)
    cancelled = order_payload("c", status="cancelled", total="30.00", created_at=t0)
    partial = order_payload(
        "a", status="delivered", total="100.00", created_at=t0, refund_total="20.00"
    )
    for i, payload in enumerate((refunded, cancelled, partial)):
        assert (await post_order(anon, clock, payload, f"w{10 + i}")).status_code == 200
    stats = (await client.get("/v1/members/m-1")).json()["stats"]
    assert (stats["paid_orders"], stats["total_spent"], stats["average_order_value"]) == (
        1,
        "80.00",
        "80.00",
    )

    # a stale "paid" for the refunded order arrives last: nothing changes
    await post_order(anon, clock, order_payload("b", total="50.00", created_at=t0), "w20")
    assert (await client.get("/v1/orders/b")).json()["status"] == "refunded"
    assert (await client.get("/v1/members/m-1")).json()["stats"]["total_spent"] == "80.00"


async def test_out_of_order_statuses_converge(
    anon: httpx.AsyncClient,
    client: httpx.AsyncClient,
    clock: FakeClock,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    t0 = clock.now()
    for status, msg in (("delivered", "d"), ("shipped", "s"), ("paid", "p"), ("created", "c")):
        await post_order(anon, clock, order_payload(status=status, created_at=t0), msg)
    order = (await client.get("/v1/orders/o-1")).json()
    assert order["status"] == "delivered"
    assert order["paid_at"] is not None
    types = await event_types(sessions)
    assert types == [
        "member.created",
        "order.created",
        "order.paid",
        "order.shipped",
        "order.delivered",
    ]


@pytest.mark.parametrize(
    ("mutate", "status", "fragment"),
    [
        (lambda h: h.pop("webhook-signature"), 401, "headers are required"),
        (lambda h: h.update({"webhook-signature": "v1,AAAA"}), 401, "no signature matches"),
        (lambda h: h.update({"webhook-timestamp": "1000"}), 401, "more than 300 s"),
        (lambda h: h.update({"webhook-timestamp": "soon"}), 401, "unix timestamp"),
    ],
)
async def test_bad_signatures_are_refused(
    anon: httpx.AsyncClient, clock: FakeClock, mutate: object, status: int, fragment: str
) -> None:
    body, headers = signed(order_payload(created_at=clock.now()), now=clock.now(), msg_id="m")
    mutate(headers)  # type: ignore[operator]
    response = await anon.post(URL, content=body, headers=headers)
    assert response.status_code == status
    assert fragment in json.dumps(response.json())


async def test_rotated_secrets_both_verify(
    anon: httpx.AsyncClient, clock: FakeClock, settings: object
) -> None:
    body, headers = signed(order_payload(created_at=clock.now()), now=clock.now(), msg_id="r1")
    headers["webhook-signature"] = "v1,bm90LXRoaXMtb25l " + headers["webhook-signature"]
    assert (await anon.post(URL, content=body, headers=headers)).status_code == 200


async def test_signature_is_checked_before_the_body_is_parsed(
    anon: httpx.AsyncClient, clock: FakeClock
) -> None:
    body, headers = signed(
        b"{not json", now=clock.now(), msg_id="x", secret="whsec_d3Jvbmcgc2VjcmV0IGtleSBieXRlcw=="
    )
    assert (await anon.post(URL, content=body, headers=headers)).status_code == 401


async def test_order_with_invalid_member_phone_names_the_field(
    anon: httpx.AsyncClient, clock: FakeClock
) -> None:
    payload = order_payload(created_at=clock.now())
    payload["member"] = {"external_id": "m-9", "phone": "12"}
    response = await post_order(anon, clock, payload, "bad-phone")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "member", "phone"]


async def test_time_since_first_post(
    anon: httpx.AsyncClient, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    await post_order(anon, clock, order_payload(created_at=clock.now() - timedelta(days=10)), "t1")
    clock.advance(days=1)
    stats = (await client.get("/v1/members/m-1")).json()["stats"]
    assert stats["days_since_last_paid"] == 10
