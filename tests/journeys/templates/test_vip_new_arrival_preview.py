"""高客新品预览: days before a launch, only members whose average order value reaches the top
tier's threshold get an early look, at 11:00 local; a launch can be a lunar date."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from service.clock import FakeClock
from tests.factories import order_payload
from tests.journeys.helpers import post_order
from tests.journeys.templates.support import at, from_template, sent, tick_at

NY = "America/New_York"
HISTORY = {  # order totals: the average order value decides
    "vip": ["600.00", "450.00", "300.00"],  # 450
    "big-once": ["800.00"],  # 800, one order
    "mixed": ["1000.00", "20.00"],  # 510
    "at-threshold": ["300.00"],
    "average": ["99.00", "120.00"],  # 109.50: not top tier
    "ny": ["500.00"],
}


async def test_an_early_look_for_the_top_tier_by_average_order_value(
    app: FastAPI, anon: httpx.AsyncClient, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    await client.put("/v1/members/ny", json={"timezone": NY})
    for member, totals in HISTORY.items():
        for n, total in enumerate(totals):
            placed = at(2026, 3, 1 + n, 20)
            payload = order_payload(f"{member}-{n}", member=member, total=total, created_at=placed)
            await post_order(anon, clock, payload, f"{member}-{n}")
    await tick_at(app, clock, clock.now())
    clock.advance(minutes=1)
    autumn = {"kind": "custom", "name": "autumn_launch", "month": 9, "day": 1}
    await from_template(client, "vip_new_arrival_preview", launch=autumn, coupon_code="VIPFIRST")
    new_year = {
        "kind": "custom",
        "name": "new_year_launch",
        "calendar": "lunar",
        "month": 1,
        "day": 8,
    }
    await from_template(
        client,
        "vip_new_arrival_preview",
        key="vip-new-year",
        launch=new_year,
        days_before=0,
        send_at="10:00",
        min_paid_orders=2,
    )
    preview = at(2026, 8, 29, 11)  # three days before 09-01
    await tick_at(app, clock, at(2026, 8, 29, 10, 59))
    assert await sent(app) == []
    await tick_at(app, clock, preview, at(2026, 8, 29, 11, zone=NY), at(2026, 9, 1, 11))
    # lunar 1/8 of the year of the Goat, 开工 after the Spring Festival: 2027-02-13
    await tick_at(app, clock, at(2027, 2, 13, 9, 59), at(2027, 2, 13, 10), at(2027, 2, 14, 10))
    messages = await sent(app)
    assert [(m.message.context["journey_key"], m.member, m.local) for m in messages] == [
        ("vip-new-arrival-preview", "at-threshold", "2026-08-29 11:00"),
        ("vip-new-arrival-preview", "big-once", "2026-08-29 11:00"),
        ("vip-new-arrival-preview", "mixed", "2026-08-29 11:00"),
        ("vip-new-arrival-preview", "vip", "2026-08-29 11:00"),
        ("vip-new-arrival-preview", "ny", "2026-08-29 11:00"),
        ("vip-new-year", "mixed", "2027-02-13 10:00"),  # repeat buyers only
        ("vip-new-year", "vip", "2027-02-13 10:00"),
    ]
    assert {m.template for m in messages} == {"vip/new_arrival_preview"}
    assert [m.coupon_code for m in messages] == ["VIPFIRST"] * 5 + [None] * 2
    first = messages[0].message
    assert first.context["occasion_id"] == "autumn_launch:2026"
    assert first.expires_at == at(2026, 8, 30, 11)  # a day of life, well within the launch day
    assert messages[-1].message.context["occasion_id"] == "new_year_launch:2027"
