"""物流通知: transactional notices when an order ships and when that same order is delivered;
a parcel never delivered times out quietly, a refund stops the notices, and an order posted
straight as delivered gets the delivery notice only."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
from fastapi import FastAPI

from service.clock import FakeClock
from tests.factories import order_payload
from tests.journeys.templates.support import at, from_template, post_at, sent, tick_at

PAID = at(2026, 6, 18, 9, 30)


def status(order: str, member: str, value: str, when: datetime) -> dict[str, Any]:
    """The order's message when it reaches `value` at `when` (posted as it happens)."""
    stamp = {"shipped": "shipped_at", "delivered": "delivered_at", "refunded": "refunded_at"}
    return order_payload(
        order, member=member, status=value, created_at=PAID, **{stamp[value]: when.isoformat()}
    )


async def test_shipped_then_delivered_for_the_same_order(
    app: FastAPI, anon: httpx.AsyncClient, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    journey = await from_template(client, "shipment_notices")
    # opted out of marketing SMS: notices about her own orders still go
    await client.put("/v1/members/he", json={"consent": {"sms": False}})
    for order, member in (
        ("S1", "he"),
        ("S2", "he"),
        ("S3", "lost"),
        ("S4", "direct"),
        ("S5", "back"),
    ):
        await post_at(app, anon, clock, PAID, order_payload(order, member=member, created_at=PAID))
    timeline = [
        (at(2026, 6, 19, 14), status("S1", "he", "shipped", at(2026, 6, 19, 14))),
        (at(2026, 6, 19, 16), status("S3", "lost", "shipped", at(2026, 6, 19, 16))),
        (at(2026, 6, 19, 17), status("S5", "back", "shipped", at(2026, 6, 19, 17))),
        (at(2026, 6, 20, 9), status("S2", "he", "shipped", at(2026, 6, 20, 9))),
        (at(2026, 6, 20, 10), status("S5", "back", "refunded", at(2026, 6, 20, 10))),
        # a shop that only reports the delivery: the order never was `shipped` here
        (at(2026, 6, 20, 18), status("S4", "direct", "delivered", at(2026, 6, 20, 18))),
        (at(2026, 6, 21, 11), status("S1", "he", "delivered", at(2026, 6, 21, 11))),
        (at(2026, 6, 22, 19), status("S2", "he", "delivered", at(2026, 6, 22, 19))),
    ]
    for when, payload in timeline:
        await post_at(app, anon, clock, when, payload)
    await tick_at(app, clock, at(2026, 7, 9, 15, 59), at(2026, 7, 9, 16), at(2026, 8, 1))
    messages = await sent(app)
    assert [(m.member, m.order, m.template, m.local) for m in messages] == [
        ("he", "S1", "shipping/shipped", "2026-06-19 14:00"),
        ("lost", "S3", "shipping/shipped", "2026-06-19 16:00"),
        ("back", "S5", "shipping/shipped", "2026-06-19 17:00"),
        ("he", "S2", "shipping/shipped", "2026-06-20 09:00"),
        ("direct", "S4", "shipping/delivered", "2026-06-20 18:00"),
        ("he", "S1", "shipping/delivered", "2026-06-21 11:00"),
        ("he", "S2", "shipping/delivered", "2026-06-22 19:00"),
    ]
    assert {(m.channel, m.message.purpose.value, m.status) for m in messages} == {
        ("sms", "transactional", "queued")
    }
    assert {m.message.priority for m in messages} == {90}
    page = (await client.get(f"/v1/journeys/{journey['key']}/enrolments")).json()
    ends = sorted((i["member_external_id"], i["state"], i["exit_reason"]) for i in page["items"])
    assert ends == [
        ("back", "exited", "exit_when:order.refunded"),
        ("direct", "exited", "delivered"),
        ("he", "exited", "delivered"),
        ("he", "exited", "delivered"),
        ("lost", "exited", "not_delivered"),  # 20 days after shipping: 07-09 16:00
    ]
    lost = next(i for i in page["items"] if i["member_external_id"] == "lost")
    assert datetime.fromisoformat(lost["ended_at"]) == at(2026, 7, 9, 16)
