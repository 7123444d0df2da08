"""评价邀请: three days after delivery, at 19:00 local, ask for a review — not if the order was
refunded first, and at most once a fortnight per member however many parcels arrive."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
from fastapi import FastAPI

from service.clock import FakeClock
from tests.factories import order_payload
from tests.journeys.templates.support import at, from_template, post_at, sent, tick_at

NY = "America/New_York"


def delivered(order: str, member: str, when: datetime) -> dict[str, Any]:
    return order_payload(
        order,
        member=member,
        status="delivered",
        created_at=at(2026, 6, 16, 12),
        delivered_at=when.isoformat(),
    )


async def test_a_review_request_three_evenings_after_delivery(
    app: FastAPI, anon: httpx.AsyncClient, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    journey = await from_template(client, "review_request")
    assert journey["rule"]["entry"] == {"policy": "cooldown", "cooldown": "P14D"}
    await client.put("/v1/members/ny", json={"timezone": NY})
    deliveries = [
        (at(2026, 6, 20, 14), delivered("R1", "ma", at(2026, 6, 20, 14))),
        (at(2026, 6, 20, 14, 30), delivered("R4", "refunds", at(2026, 6, 20, 14, 30))),
        (at(2026, 6, 20, 23, 30), delivered("R5", "night", at(2026, 6, 20, 23, 30))),
        (at(2026, 6, 20, 12, zone=NY), delivered("R6", "ny", at(2026, 6, 20, 12, zone=NY))),
        # refunds sends her parcel back before she is asked
        (
            at(2026, 6, 22, 10),
            order_payload(
                "R4",
                member="refunds",
                status="refunded",
                created_at=at(2026, 6, 16, 12),
                refunded_at=at(2026, 6, 22, 10).isoformat(),
            ),
        ),
    ]
    for when, payload in deliveries:
        await post_at(app, anon, clock, when, payload)
    await tick_at(app, clock, at(2026, 6, 23, 18, 59), at(2026, 6, 23, 19))
    await tick_at(app, clock, at(2026, 6, 23, 19, zone=NY))
    # ma's next parcels: one within the fortnight, one after it
    await post_at(app, anon, clock, at(2026, 6, 25, 10), delivered("R2", "ma", at(2026, 6, 25, 10)))
    await tick_at(app, clock, at(2026, 6, 28, 19))
    await post_at(app, anon, clock, at(2026, 7, 10, 10), delivered("R3", "ma", at(2026, 7, 10, 10)))
    await tick_at(app, clock, at(2026, 7, 13, 19), at(2026, 8, 1, 19))
    messages = await sent(app)
    assert [(m.member, m.order, m.template, m.local) for m in messages] == [
        ("ma", "R1", "review/request", "2026-06-23 19:00"),
        ("night", "R5", "review/request", "2026-06-23 19:00"),  # calendar days, not 72 hours
        ("ny", "R6", "review/request", "2026-06-23 19:00"),
        ("ma", "R3", "review/request", "2026-07-13 19:00"),
    ]
    assert {(m.channel, m.message.purpose.value) for m in messages} == {("sms", "marketing")}
    page = (await client.get(f"/v1/journeys/{journey['key']}/enrolments?member=refunds")).json()
    assert [i["exit_reason"] for i in page["items"]] == ["exit_when:order.refunded"]
