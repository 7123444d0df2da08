"""Replenishment reminders for products without `replenish_days`: a unit lasts the cycle member
analytics learned for the sku, else for its category; a product's own setting still wins, and
a product with neither is never due."""

from __future__ import annotations

from datetime import timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import insert

from service.analytics.models import ReplenishmentCycle
from service.clock import FakeClock
from tests.factories import order_payload
from tests.journeys.helpers import create_active, post_order
from tests.journeys.templates.support import tick_at, timeline

PRODUCTS = {
    "SERUM": {"title": "精华", "category": "serum"},  # learned per sku: 12.5 days a bottle
    "CREAM": {"title": "面霜", "category": "cream"},  # only its category learned: 10 days
    "MASK-30": {"title": "面膜", "category": "mask", "replenish_days": 30},  # learned 5: 30 wins
    "TOWEL": {"title": "洗脸巾", "category": "towel"},  # nothing known: never
}
LEARNED = [("sku", "SERUM", 12.5), ("category", "cream", 10.0), ("sku", "MASK-30", 5.0)]
BOUGHT = {"mei": ("SERUM", 2), "lin": ("CREAM", 1), "kai": ("MASK-30", 1), "yu": ("TOWEL", 3)}
REMIND = {
    "key": "restock",
    "name": "补货提醒",
    "trigger": {"type": "replenishment", "basis": "paid", "before": "P3D"},
    "steps": [{"id": "remind", "send": {"template": "replenish/reminder"}}],
}


async def test_learned_cycles_time_the_reminder_when_the_product_sets_none(
    app: FastAPI, anon: httpx.AsyncClient, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    for sku, product in PRODUCTS.items():
        assert (await client.put(f"/v1/products/{sku}", json=product)).status_code == 201
    async with app.state.sessions() as session, session.begin():
        rows = [
            {"scope": s, "key": k, "cycle_days": d, "pairs": 30, "members": 12}
            | {"computed_at": clock.now()}
            for s, k, d in LEARNED
        ]
        await session.execute(insert(ReplenishmentCycle), rows)
    await create_active(client, REMIND)
    for member, (sku, quantity) in BOUGHT.items():
        items = [{"sku": sku, "quantity": quantity, "price": "80.00"}]
        payload = order_payload(f"{member}-1", member=member, created_at=clock.now(), items=items)
        await post_order(anon, clock, payload, f"w-{member}")
    paid = clock.now() + timedelta(minutes=2)
    second = timedelta(seconds=1)  # SQLite's epoch arithmetic is a double: not to the microsecond

    # lin's cream: its category's 10 days × 1, less 3: day 7
    await tick_at(app, clock, paid + timedelta(days=7) - second)
    assert await timeline(app) == []
    await tick_at(app, clock, paid + timedelta(days=7) + second)
    assert [m for m, _, _ in await timeline(app)] == ["lin"]
    # kai's mask sets 30 days: not the learned 5 (which would have been day 2)
    # mei's serum: 12.5 days × 2 bottles, less 3: day 22
    await tick_at(app, clock, paid + timedelta(days=22) - second)
    assert [m for m, _, _ in await timeline(app)] == ["lin"]
    await tick_at(app, clock, paid + timedelta(days=22) + second)
    assert [m for m, _, _ in await timeline(app)] == ["lin", "mei"]
    await tick_at(app, clock, paid + timedelta(days=27) - second)
    assert [m for m, _, _ in await timeline(app)] == ["lin", "mei"]
    await tick_at(app, clock, paid + timedelta(days=27) + second)
    assert [m for m, _, _ in await timeline(app)] == ["lin", "mei", "kai"]
    # yu's towels: no setting and nothing learned, so never, however long she waits
    await tick_at(app, clock, paid + timedelta(days=400), paid + timedelta(days=800))
    assert [m for m, _, _ in await timeline(app)] == ["lin", "mei", "kai"]
