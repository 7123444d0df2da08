"""节日关怀: one journey per occasion — public holidays (lunar ones on their lunar dates),
e-commerce festivals with a preview days before — at 10:00 in each member's zone, to members who
have bought; once per member per occasion, and a greeting never outlives the occasion's day."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from fastapi import FastAPI

from service.clock import FakeClock
from tests.factories import order_payload
from tests.journeys.templates.support import at, from_template, post_at, sent, tick_at, timeline

NY = "America/New_York"
OCCASIONS: list[tuple[str, dict[str, Any]]] = [
    ("dragon-boat", {"occasion": {"kind": "holiday", "name": "dragon_boat"}}),  # lunar 5/5
    ("qixi", {"occasion": {"kind": "festival", "name": "qixi"}, "coupon_code": "QIXI77"}),
    ("mid-autumn", {"occasion": {"kind": "holiday", "name": "mid_autumn"}}),  # lunar 8/15
    ("national-day", {"occasion": {"kind": "holiday", "name": "national_day"}, "send_at": "09:00"}),
    (
        "double-11",
        {
            "occasion": {"kind": "festival", "name": "double_11"},
            "days_before": 1,
            "template": "holiday/sale_preview",
            "coupon_code": "D11",
        },
    ),
    (
        "spring-festival",
        {"template": "holiday/spring_festival", "coupon_code": "HONGBAO"},  # the default occasion
    ),
    (
        "618",
        {
            "occasion": {"kind": "festival", "name": "mid_year_sale"},
            "days_before": 3,
            "template": "holiday/sale_preview",
        },
    ),
]
# (local date and time of the greeting, the journey) in the order they come
DUE = [
    ((2026, 6, 19, 10), "dragon-boat"),
    ((2026, 8, 19, 10), "qixi"),
    ((2026, 9, 25, 10), "mid-autumn"),
    ((2026, 10, 1, 9), "national-day"),
    ((2026, 11, 10, 10), "double-11"),
    ((2027, 2, 6, 10), "spring-festival"),
    ((2027, 6, 9, 10), "dragon-boat"),  # the next year's: a new occurrence, a new greeting
    ((2027, 6, 15, 10), "618"),
]


async def test_a_year_of_holidays_and_festivals(
    app: FastAPI, anon: httpx.AsyncClient, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    clock.advance(minutes=30)
    placed = clock.now() - timedelta(days=40)
    for member in ("mei", "nyc"):
        payload = order_payload(f"{member}-1", member=member, created_at=placed)
        await post_at(app, anon, clock, clock.now(), payload)
    await client.put("/v1/members/nyc", json={"timezone": NY})
    await client.put("/v1/members/browser", json={"name": "路人"})  # never bought: no greetings
    for key, params in OCCASIONS:
        await from_template(client, "holiday_care", key=key, **params)
    expected, customers = [], ["mei", "nyc"]
    for (year, month, day, hour), key in DUE:
        if key == "mid-autumn":  # the browser's first order, in August, makes her a customer
            bought = order_payload("browser-1", member="browser", created_at=at(2026, 8, 30, 20))
            await post_at(app, anon, clock, at(2026, 8, 30, 20), bought)
            customers.append("browser")
        here, there = at(year, month, day, hour), at(year, month, day, hour, zone=NY)
        await tick_at(app, clock, here - timedelta(minutes=1))
        before = len(await timeline(app))
        await tick_at(app, clock, here, there, there + timedelta(hours=1))
        stamp = f"{year}-{month:02}-{day:02} {hour:02}:00"
        expected += [(key, stamp, member) for member in customers]
        assert len(await timeline(app)) == before + len(customers), key  # once per occasion
    messages = await sent(app)
    journey = {id(m): m.message.context["journey_key"] for m in messages}
    assert sorted((journey[id(m)], m.local, m.member) for m in messages) == sorted(expected)
    assert {(journey[id(m)], m.template, m.channel) for m in messages} == {
        ("dragon-boat", "holiday/greeting", "sms"),
        ("qixi", "holiday/greeting", "sms"),
        ("mid-autumn", "holiday/greeting", "sms"),
        ("national-day", "holiday/greeting", "sms"),
        ("double-11", "holiday/sale_preview", "sms"),
        ("spring-festival", "holiday/spring_festival", "email"),
        ("618", "holiday/sale_preview", "sms"),
    }
    assert {m.status for m in messages} == {"queued"}
    assert {m.coupon_code for m in messages if journey[id(m)] == "qixi"} == {"QIXI77"}
    mid_autumn = [m for m in messages if journey[id(m)] == "mid-autumn"]
    assert [m.message.context["occasion"]["name_zh"] for m in mid_autumn] == ["中秋节"] * 3
    assert [m.message.context["occasion_id"] for m in mid_autumn] == ["mid_autumn:2026"] * 3
    # a greeting expires at the end of the occasion's day, in the member's zone
    ends = {m.member: m.message.expires_at for m in mid_autumn}
    assert ends == {
        "mei": at(2026, 9, 26),
        "browser": at(2026, 9, 26),
        "nyc": at(2026, 9, 26, zone=NY),
    }
    # a preview the day before keeps the usual day of life, within the occasion's day
    [preview, *_] = [m for m in messages if journey[id(m)] == "double-11"]
    assert (preview.message.expires_at, preview.coupon_code) == (at(2026, 11, 11, 10), "D11")
    [lunar_new_year, *_] = [m for m in messages if m.template == "holiday/spring_festival"]
    assert lunar_new_year.message.context["occasion_id"] == "spring_festival:2027"
    assert lunar_new_year.coupon_code == "HONGBAO"
    assert lunar_new_year.message.expires_at == at(2027, 2, 7)
