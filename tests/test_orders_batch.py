"""POST /v1/orders/batch: many orders in one transaction, idempotent like the webhook."""

from __future__ import annotations

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.clock import FakeClock
from service.events.models import Event
from service.orders.models import Order, OrderItem
from tests.factories import order_payload

URL = "/v1/orders/batch"


async def counts(sessions: async_sessionmaker[AsyncSession]) -> tuple[int, int, int]:
    async with sessions() as session:
        return (
            await session.scalar(select(func.count()).select_from(Order)) or 0,
            await session.scalar(select(func.count()).select_from(OrderItem)) or 0,
            await session.scalar(select(func.count()).select_from(Event)) or 0,
        )


async def test_a_retried_batch_changes_nothing(
    client: httpx.AsyncClient, clock: FakeClock, sessions: async_sessionmaker[AsyncSession]
) -> None:
    orders = [
        order_payload("b-1", member="m-1", total="10.00", created_at=clock.now()),
        order_payload("b-2", member="m-2", status="created", created_at=clock.now()),
        order_payload(
            "b-1", member="m-1", status="delivered", total="10.00", created_at=clock.now()
        ),
    ]
    first = await client.post(URL, json={"orders": orders})
    assert first.status_code == 200, first.text
    assert [(r["id"], r["applied"], r["events"]) for r in first.json()["results"]] == [
        ("b-1", True, ["order.created", "order.paid"]),
        ("b-2", True, ["order.created"]),
        ("b-1", True, ["order.shipped", "order.delivered"]),
    ]
    after_first = await counts(sessions)
    assert after_first[:2] == (2, 2)

    again = await client.post(URL, json={"orders": orders})
    assert again.status_code == 200
    assert [r["applied"] for r in again.json()["results"]] == [False, False, False]
    assert await counts(sessions) == after_first
    member = (await client.get("/v1/members/m-1")).json()
    assert member["stats"]["paid_orders"] == 1


async def test_a_bad_order_names_its_place_and_nothing_is_applied(
    client: httpx.AsyncClient, clock: FakeClock, sessions: async_sessionmaker[AsyncSession]
) -> None:
    good = order_payload("b-1", created_at=clock.now())
    bad = order_payload("b-2", total="1.001", created_at=clock.now())
    response = await client.post(URL, json={"orders": [good, bad]})
    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["detail"]] == [
        ["body", "orders", 1, "total"],
        ["body", "orders", 1, "items", 0, "price"],
    ]

    bad_phone = order_payload("b-3", created_at=clock.now())
    bad_phone["member"] = {"external_id": "m-9", "phone": "12"}
    response = await client.post(URL, json={"orders": [good, bad_phone]})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "orders", 1, "member", "phone"]
    assert await counts(sessions) == (0, 0, 0)  # the batch is one transaction


async def test_a_batch_needs_one_to_a_thousand_orders(
    client: httpx.AsyncClient, clock: FakeClock
) -> None:
    assert (await client.post(URL, json={"orders": []})).status_code == 422
    many = [order_payload(f"b-{n}", created_at=clock.now()) for n in range(1001)]
    response = await client.post(URL, json={"orders": many})
    assert response.status_code in (413, 422)
