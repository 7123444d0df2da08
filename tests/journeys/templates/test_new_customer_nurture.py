"""新客培养: thank-you SMS the next morning, care email a week later, a second-purchase offer
(A/B) if no repurchase; a repurchase ends it as the goal, a refund of the first order ends it."""

from __future__ import annotations

from datetime import timedelta

import httpx
from fastapi import FastAPI

from service.clock import FakeClock
from tests.factories import order_payload
from tests.journeys.helpers import post_order
from tests.journeys.templates.support import at, exits, from_template, sent, tick_at, timeline


async def test_first_buyers_are_thanked_cared_for_and_offered_a_second_purchase(
    app: FastAPI, anon: httpx.AsyncClient, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    # a customer from before the journey: her next order is not a first purchase
    old = order_payload("o-0", member="old", total="99.00", created_at=at(2026, 3, 1, 12))
    await post_order(anon, clock, old, "w0")
    clock.advance(minutes=1)
    journey = await from_template(
        client, "new_customer_nurture", min_order_total=70, coupon_code="HUITOU2", holdout_percent=0
    )
    assert journey["rule"]["entry"]["policy"] == "once_per_member"
    await client.put("/v1/members/nyc", json={"timezone": "America/New_York"})
    day = at(2026, 6, 18, 9, 30)
    first_orders = [
        ("o-1", "ling", "99.00", day),  # a morning order
        ("o-3", "trial", "39.00", day),  # a trial-size first order: below the minimum
        ("o-4", "old", "99.00", day),  # her second order
        ("o-5", "nyc", "99.00", day),  # 21:30 the evening before, in New York
        ("o-2", "wei", "129.00", day + timedelta(hours=11)),  # 20:30
    ]
    for n, (order, member, total, created) in enumerate(first_orders):
        clock.set(created)
        payload = order_payload(order, member=member, total=total, created_at=created)
        await post_order(anon, clock, payload, f"w{n + 1}")
        await tick_at(app, clock, created)
    new_york = "America/New_York"
    await tick_at(app, clock, at(2026, 6, 18, 10, zone=new_york), at(2026, 6, 19, 9, 59))
    assert await timeline(app) == [("nyc", "new_customer/thanks", "2026-06-18 10:00")]
    await tick_at(app, clock, at(2026, 6, 19, 10))
    await tick_at(app, clock, at(2026, 6, 25, 10, zone=new_york), at(2026, 6, 26, 10))
    # wei buys again before her offer: that ends her journey, and it is the goal
    clock.set(at(2026, 7, 1, 12))
    repeat = order_payload("o-6", member="wei", total="59.00", created_at=clock.now())
    await post_order(anon, clock, repeat, "w6")
    await tick_at(app, clock, clock.now(), at(2026, 7, 8, 10, zone=new_york))
    await tick_at(app, clock, at(2026, 7, 9, 9, 59), at(2026, 7, 9, 10), at(2026, 7, 30, 10))
    messages = await sent(app)
    offers = [m.template for m in messages[6:]]
    assert await timeline(app) == [
        ("nyc", "new_customer/thanks", "2026-06-18 10:00"),  # 10:00 of her next day
        ("ling", "new_customer/thanks", "2026-06-19 10:00"),
        ("wei", "new_customer/thanks", "2026-06-19 10:00"),  # the next calendar day, too
        ("nyc", "new_customer/care", "2026-06-25 10:00"),
        ("ling", "new_customer/care", "2026-06-26 10:00"),
        ("wei", "new_customer/care", "2026-06-26 10:00"),
        ("nyc", offers[0], "2026-07-08 10:00"),
        ("ling", offers[1], "2026-07-09 10:00"),
    ]
    assert [(m.channel, m.status) for m in messages] == [
        *[("sms", "queued")] * 3,
        *[("email", "queued")] * 3,
        *[("sms", "queued")] * 2,
    ]
    for offer in messages[6:]:
        assert offer.coupon_code == "HUITOU2"
        assert offer.template == f"new_customer/coupon_{offer.variant}"  # the arm names its copy
    assert await exits(app) == {
        "ling": ("completed", None),
        "wei": ("exited", "exit_when:order.paid"),
        "nyc": ("completed", None),
    }
    page = (await client.get(f"/v1/journeys/{journey['key']}/enrolments?member=wei")).json()
    assert page["items"][0]["goal_reached_at"] is not None


async def test_a_refunded_first_order_ends_the_nurturing(
    app: FastAPI, anon: httpx.AsyncClient, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    await from_template(client, "new_customer_nurture", holdout_percent=0)
    created = clock.now()
    await post_order(anon, clock, order_payload("o-1", member="fang", created_at=created), "w1")
    await tick_at(app, clock, created, at(2026, 6, 19, 10))
    refunded = order_payload(
        "o-1",
        member="fang",
        status="refunded",
        created_at=created,
        refunded_at=at(2026, 6, 20, 15).isoformat(),
    )
    clock.set(at(2026, 6, 20, 15))
    await post_order(anon, clock, refunded, "w2")
    await tick_at(app, clock, at(2026, 6, 26, 10), at(2026, 7, 9, 10))
    assert await timeline(app) == [("fang", "new_customer/thanks", "2026-06-19 10:00")]
    assert await exits(app) == {"fang": ("exited", "exit_when:order.refunded")}


async def test_a_tenth_of_new_customers_are_held_out_by_default(
    app: FastAPI, anon: httpx.AsyncClient, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    journey = await from_template(client, "new_customer_nurture")
    assert journey["rule"]["holdout_percent"] == 10
    for n in range(60):
        payload = order_payload(f"o-{n}", member=f"m-{n}", created_at=clock.now())
        await post_order(anon, clock, payload, f"w{n}")
    await tick_at(app, clock, clock.now(), at(2026, 6, 19, 10))
    statuses = [m.status for m in await sent(app)]
    assert len(statuses) == 60
    assert 1 <= statuses.count("suppressed") <= 15  # holdout members: recorded, never sent
    held = [m.message for m in await sent(app) if m.status == "suppressed"]
    assert {m.status_reason for m in held} == {"holdout"}
