"""Member stats under refunds, cancellations, replays and statuses that arrive out of order."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.clock import FakeClock
from service.events.models import Event
from tests.factories import order_payload, signed

URL = "/v1/webhooks/orders"


class Shop:
    """Posts signed order messages, each with a fresh webhook-id unless told otherwise."""

    def __init__(self, anon: httpx.AsyncClient, clock: FakeClock) -> None:
        self.anon, self.clock, self.sent = anon, clock, 0

    async def post(self, payload: dict[str, Any], msg_id: str | None = None) -> dict[str, Any]:
        self.sent += 1
        body, headers = signed(payload, now=self.clock.now(), msg_id=msg_id or f"w{self.sent}")
        response = await self.anon.post(URL, content=body, headers=headers)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result


async def stats(client: httpx.AsyncClient) -> tuple[int, str, str]:
    s = (await client.get("/v1/members/m-1")).json()["stats"]
    return s["paid_orders"], s["total_spent"], s["average_order_value"]


async def order_events(sessions: async_sessionmaker[AsyncSession]) -> list[str]:
    async with sessions() as session:
        query = select(Event.type).where(Event.type.like("order.%")).order_by(Event.id)
        return list(await session.scalars(query))


async def test_partial_refund_then_full_refund(
    anon: httpx.AsyncClient, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    shop, t0 = Shop(anon, clock), clock.now()
    await shop.post(order_payload("a", total="100.00", created_at=t0))
    await shop.post(order_payload("b", total="60.00", created_at=t0))
    assert await stats(client) == (2, "160.00", "80.00")

    partial = await shop.post(
        order_payload("a", total="100.00", created_at=t0, refund_total="30.00")
    )
    assert partial["events"] == ["order.updated"]  # no new status, but the stats moved
    assert await stats(client) == (2, "130.00", "65.00")

    stale = await shop.post(order_payload("a", total="100.00", created_at=t0, refund_total="10.00"))
    assert stale["applied"] is False  # a refund total never goes down
    assert await stats(client) == (2, "130.00", "65.00")

    full = await shop.post(order_payload("a", status="refunded", total="100.00", created_at=t0))
    assert full["events"] == ["order.refunded"]
    assert await stats(client) == (1, "60.00", "60.00")
    order = (await client.get("/v1/orders/a")).json()
    assert (order["status"], order["refund_total"]) == ("refunded", "100.00")


async def test_refunded_in_part_still_counts_its_net(
    anon: httpx.AsyncClient, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    shop, t0 = Shop(anon, clock), clock.now()
    await shop.post(order_payload("a", total="100.00", created_at=t0))
    await shop.post(
        order_payload("a", status="refunded", total="100.00", created_at=t0, refund_total="25.00")
    )
    assert await stats(client) == (1, "75.00", "75.00")
    await shop.post(
        order_payload("a", status="refunded", total="100.00", created_at=t0, refund_total="100.00")
    )
    assert await stats(client) == (0, "0.00", "0.00")


async def test_a_cancel_that_arrives_before_the_paid(
    anon: httpx.AsyncClient,
    client: httpx.AsyncClient,
    clock: FakeClock,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    shop, t0 = Shop(anon, clock), clock.now()
    await shop.post(order_payload("a", status="cancelled", created_at=t0))
    late_paid = await shop.post(order_payload("a", status="paid", created_at=t0))
    assert (late_paid["status"], late_paid["events"]) == ("cancelled", ["order.updated"])
    order = (await client.get("/v1/orders/a")).json()
    assert order["paid_at"] == "2026-06-18T01:02:00Z"  # the fact is kept, the status is not
    assert await stats(client) == (0, "0.00", "0.00")
    assert await order_events(sessions) == ["order.created", "order.cancelled", "order.updated"]
    member = (await client.get("/v1/members/m-1")).json()
    assert member["stats"]["last_paid_at"] is None


async def test_the_same_status_again_with_a_new_webhook_id(
    anon: httpx.AsyncClient,
    client: httpx.AsyncClient,
    clock: FakeClock,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    shop, t0 = Shop(anon, clock), clock.now()
    first = await shop.post(order_payload("a", created_at=t0))
    clock.advance(minutes=10)
    again = await shop.post(order_payload("a", created_at=t0))
    assert first["applied"] is True
    assert again == {"id": "a", "status": "paid", "applied": False, "events": []}
    assert await stats(client) == (1, "100.00", "100.00")
    assert await order_events(sessions) == ["order.created", "order.paid"]


async def test_a_delivered_first_message_counts_as_paid(
    anon: httpx.AsyncClient,
    client: httpx.AsyncClient,
    clock: FakeClock,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    shop, t0 = Shop(anon, clock), clock.now() - timedelta(days=5)
    delivered = order_payload("a", status="delivered", created_at=t0, paid_after=None)
    result = await shop.post(delivered)
    assert result["events"] == ["order.created", "order.paid", "order.shipped", "order.delivered"]
    member = (await client.get("/v1/members/m-1")).json()
    assert await stats(client) == (1, "100.00", "100.00")
    assert member["stats"]["last_paid_at"] == "2026-06-18T01:00:00Z"  # learned now, no paid_at

    # the "paid" message, with the real time of payment, arrives after the delivery
    clock.advance(hours=1)
    paid = order_payload("a", status="paid", created_at=t0, paid_after=timedelta(minutes=3))
    assert (await shop.post(paid))["events"] == ["order.updated"]
    order = (await client.get("/v1/orders/a")).json()
    assert (order["status"], order["paid_at"]) == ("delivered", "2026-06-13T01:03:00Z")
    member = (await client.get("/v1/members/m-1")).json()
    assert member["stats"]["last_paid_at"] == "2026-06-13T01:03:00Z"
    assert member["stats"]["days_since_last_paid"] == 5
    assert await order_events(sessions) == [
        "order.created", "order.paid", "order.shipped", "order.delivered", "order.updated",
    ]  # fmt: skip


async def test_a_refund_first_never_counts(
    anon: httpx.AsyncClient, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    shop, t0 = Shop(anon, clock), clock.now()
    await shop.post(order_payload("a", status="refunded", created_at=t0))
    for status in ("paid", "shipped", "delivered"):
        assert (await shop.post(order_payload("a", status=status, created_at=t0)))[
            "applied"
        ] is False
    assert await stats(client) == (0, "0.00", "0.00")
    assert (await client.get("/v1/orders/a")).json()["status"] == "refunded"


async def test_stats_are_per_member(
    anon: httpx.AsyncClient, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    shop, t0 = Shop(anon, clock), clock.now()
    await shop.post(order_payload("a", member="m-1", total="10.00", created_at=t0))
    await shop.post(order_payload("b", member="m-2", total="20.00", created_at=t0))
    await shop.post(order_payload("b", member="m-2", status="cancelled", created_at=t0))
    assert await stats(client) == (1, "10.00", "10.00")
    other = (await client.get("/v1/members/m-2")).json()["stats"]
    assert (other["paid_orders"], other["total_spent"]) == (0, "0.00")
