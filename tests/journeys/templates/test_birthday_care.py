"""生日关怀: one message with a greeting and a coupon on the member's birthday, at 10:00 in her
zone — Gregorian (Feb 29 kept on Feb 28 in other years) or lunar (day 30 on day 29 of a short
month) — once a year, expiring when the day ends."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from service.clock import FakeClock
from tests.factories import order_payload
from tests.journeys.helpers import enrolments
from tests.journeys.templates.support import at, from_template, post_at, sent, tick_at, timeline

NY = "America/New_York"


async def test_a_birthday_coupon_at_ten_on_the_day(
    app: FastAPI, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    await client.put("/v1/members/liu", json={"birthday": "1992-06-20", "name": "刘芳"})
    await client.put("/v1/members/ny", json={"birthday": "1988-06-20", "timezone": NY})
    await client.put("/v1/members/next-day", json={"birthday": "1990-06-21"})
    await client.put("/v1/members/no-birthday", json={"name": "无生日"})
    await from_template(client, "birthday_care")
    await tick_at(app, clock, at(2026, 6, 20, 9, 59))
    assert await timeline(app) == []
    await tick_at(app, clock, at(2026, 6, 20, 10), at(2026, 6, 20, 10, zone=NY))
    await tick_at(app, clock, at(2026, 6, 21, 10), at(2026, 6, 22, 10))
    assert await timeline(app) == [
        ("liu", "birthday/coupon", "2026-06-20 10:00"),
        ("ny", "birthday/coupon", "2026-06-20 10:00"),
        ("next-day", "birthday/coupon", "2026-06-21 10:00"),
    ]
    messages = await sent(app)
    assert {(m.channel, m.coupon_code, m.status) for m in messages} == {
        ("sms", "HAPPYBDAY", "queued")
    }
    # the greeting is one message, and it never outlives the birthday
    assert [m.message.expires_at for m in messages] == [
        at(2026, 6, 21),
        at(2026, 6, 21, zone=NY),
        at(2026, 6, 22),
    ]
    assert {e.entry_key for e in await enrolments(app)} == {"occasion:birthday:2026"}


async def test_feb_29_birthdays_on_feb_28_in_common_years_and_only_buyers_if_asked(
    app: FastAPI, anon: httpx.AsyncClient, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    for member, born in (("leap", "2000-02-29"), ("leap-no-order", "2000-02-29")):
        await client.put(f"/v1/members/{member}", json={"birthday": born})
    await client.put("/v1/members/feb28", json={"birthday": "1995-02-28"})
    for member in ("leap", "feb28"):
        payload = order_payload(f"{member}-1", member=member, created_at=clock.now())
        await post_at(app, anon, clock, clock.now(), payload)
    clock.set(at(2027, 2, 27, 9))
    journey = await from_template(client, "birthday_care", min_paid_orders=1, coupon_code="BDAY50")
    await tick_at(app, clock, at(2027, 2, 28, 10), at(2027, 3, 1, 10))
    assert sorted(await timeline(app)) == [
        ("feb28", "birthday/coupon", "2027-02-28 10:00"),
        ("leap", "birthday/coupon", "2027-02-28 10:00"),  # not leap-no-order: she never bought
    ]
    # in a leap year each is greeted on her own day
    await client.post(f"/v1/journeys/{journey['key']}/pause")
    clock.set(at(2028, 2, 27, 9))
    await client.post(f"/v1/journeys/{journey['key']}/activate")
    await tick_at(app, clock, at(2028, 2, 28, 10), at(2028, 2, 29, 10), at(2028, 3, 1, 10))
    assert (await timeline(app))[2:] == [
        ("feb28", "birthday/coupon", "2028-02-28 10:00"),
        ("leap", "birthday/coupon", "2028-02-29 10:00"),
    ]
    assert {m.coupon_code for m in await sent(app)} == {"BDAY50"}


async def test_lunar_birthdays_by_email_the_day_before(
    app: FastAPI, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    # lunar 8/15 is 2026-09-25 (Mid-Autumn); lunar month 8 of 2026 has 29 days, so a birthday
    # on 8/30 is kept on 8/29, 2026-10-09
    await client.put(
        "/v1/members/chen",
        json={"lunar_birthday": {"month": 8, "day": 15}, "birthday": "1985-03-02"},
    )
    await client.put("/v1/members/zhao", json={"lunar_birthday": {"month": 8, "day": 30}})
    await client.put("/v1/members/gregorian", json={"birthday": "1990-09-25"})
    clock.set(at(2026, 9, 22, 9))
    await from_template(
        client,
        "birthday_care",
        key="lunar-birthday",
        calendar="lunar",
        days_before=1,
        template="birthday/coupon_email",
        coupon_code="SHOUXING",
    )
    await tick_at(app, clock, at(2026, 9, 24, 9, 59), at(2026, 9, 24, 10), at(2026, 9, 25, 10))
    await tick_at(app, clock, at(2026, 10, 8, 10), at(2026, 10, 9, 10))
    assert await timeline(app) == [
        ("chen", "birthday/coupon_email", "2026-09-24 10:00"),
        ("zhao", "birthday/coupon_email", "2026-10-08 10:00"),
    ]
    first, second = await sent(app)
    assert (first.channel, first.coupon_code) == ("email", "SHOUXING")
    # sent the day before, it keeps a day of life, within the birthday
    assert first.message.expires_at == at(2026, 9, 25, 10)
    assert first.message.context["occasion_date"] == "2026-09-25"
    assert second.message.context["occasion_date"] == "2026-10-09"
    assert {e.occasion_id for e in await enrolments(app)} == {"birthday:2026"}
