"""补货提醒: a few days before what a member bought runs out (quantity × replenish_days after
delivery), a reminder at 10:00 local; once per item, not if re-bought, not after a new order."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI

from service.clock import FakeClock
from tests.factories import order_payload
from tests.journeys.helpers import enrolments
from tests.journeys.templates.support import (
    at,
    exits,
    from_template,
    post_at,
    sent,
    tick_at,
    timeline,
)

MASK = {"sku": "MASK-30", "quantity": 2, "price": "50.00"}  # 2 boxes × 30 days
TOWEL = {"sku": "TOWEL", "quantity": 1, "price": "29.00"}  # never runs out


def delivered(order: str, member: str, placed: datetime, items: list[dict[str, Any]]) -> Any:
    """An order paid two minutes after it was placed and delivered two days later at 15:00."""
    arrived = (placed + timedelta(days=2)).replace(hour=15, minute=0)
    return order_payload(
        order,
        member=member,
        status="delivered",
        created_at=placed,
        items=items,
        shipped_at=(placed + timedelta(days=1)).isoformat(),
        delivered_at=arrived.isoformat(),
    )


async def test_a_reminder_three_days_before_the_supply_runs_out(
    app: FastAPI, anon: httpx.AsyncClient, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    await client.put("/v1/products/MASK-30", json={"title": "补水面膜 30片", "replenish_days": 30})
    await client.put("/v1/products/TOWEL", json={"title": "洗脸巾"})
    await from_template(client, "replenishment_reminder", coupon_code="RESTOCK5")
    placed = at(2026, 6, 18, 10)
    for member in ("lan", "rebuys", "orders-else", "never-delivered"):
        payload = delivered(f"{member}-1", member, placed, [MASK, TOWEL])
        if member == "never-delivered":
            payload = order_payload(f"{member}-1", member=member, created_at=placed, items=[MASK])
        await post_at(app, anon, clock, placed, payload)
    # rebuys buys masks again a month later: her first boxes need no reminder
    again = order_payload("rebuys-2", member="rebuys", created_at=at(2026, 7, 20, 21), items=[MASK])
    await post_at(app, anon, clock, at(2026, 7, 20, 21), again)
    # the masks, delivered on 06-20 at 15:00, run out 60 days later: 08-19 15:00
    await tick_at(app, clock, at(2026, 8, 16, 14, 59))
    assert await enrolments(app) == []
    await tick_at(app, clock, at(2026, 8, 16, 15))
    assert sorted(await exits(app)) == ["lan", "orders-else"]  # once per item, masks only
    # orders-else places an unrelated order before her reminder goes: it is not sent
    towel = order_payload(
        "else-2", member="orders-else", created_at=at(2026, 8, 17, 8), items=[TOWEL]
    )
    await post_at(app, anon, clock, at(2026, 8, 17, 8), towel)
    await tick_at(app, clock, at(2026, 8, 17, 9, 59))
    assert await timeline(app) == []
    await tick_at(app, clock, at(2026, 8, 17, 10), at(2026, 9, 30, 10))
    assert await timeline(app) == [("lan", "replenish/reminder", "2026-08-17 10:00")]
    [reminder] = await sent(app)
    assert (reminder.channel, reminder.coupon_code) == ("sms", "RESTOCK5")
    [lans] = [e for e in await enrolments(app) if e.id == reminder.message.enrolment_id]
    assert reminder.message.context["item_id"] == lans.item_id
    assert await exits(app) == {
        "lan": ("completed", None),
        "orders-else": ("exited", "exit_when:order.paid"),
    }


async def test_counting_from_payment_and_a_longer_lead(
    app: FastAPI, anon: httpx.AsyncClient, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    await client.put("/v1/products/MASK-30", json={"title": "补水面膜 30片", "replenish_days": 30})
    await from_template(
        client, "replenishment_reminder", basis="paid", remind_before="P5D", send_at="20:00"
    )
    placed = at(2026, 6, 18, 10)  # paid at 10:02
    single = {**MASK, "quantity": 1}
    await post_at(
        app,
        anon,
        clock,
        placed,
        order_payload("o-1", member="yu", created_at=placed, items=[single]),
    )
    # 30 days after payment, less 5: 07-13 10:02, then the next 20:00
    await tick_at(app, clock, at(2026, 7, 13, 10, 1), at(2026, 7, 13, 10, 2), at(2026, 7, 13, 20))
    assert await timeline(app) == [("yu", "replenish/reminder", "2026-07-13 20:00")]
    [reminder] = await sent(app)
    assert reminder.coupon_code is None
