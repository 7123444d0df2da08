"""沉睡唤醒: 90 days after the last paid order, a light hello, then an offer, then a bigger
last-chance offer, a week apart at 10:00; any paid order ends it (the goal); a holdout walks
the same path, recorded and never messaged."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from service.clock import FakeClock
from tests.factories import order_payload
from tests.journeys.helpers import enrolments, post_order
from tests.journeys.templates.support import (
    at,
    exits,
    from_template,
    post_at,
    sent,
    tick_at,
    timeline,
)


async def test_sleeping_members_get_a_hello_then_escalating_offers(
    app: FastAPI, anon: httpx.AsyncClient, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    history = [
        ("sleepy", at(2026, 3, 20, 15)),  # 90 days on: 06-18 15:02
        ("comes-back", at(2026, 3, 21, 11)),  # 06-19 11:02
        ("busy", at(2026, 6, 1, 20)),
    ]
    for n, (member, placed) in enumerate(history):
        await post_at(
            app, anon, clock, clock.now(), order_payload(f"o-{n}", member=member, created_at=placed)
        )
    await client.put("/v1/members/never-bought", json={"name": "只注册"})
    await from_template(client, "winback", holdout_percent=0)
    await tick_at(app, clock, at(2026, 6, 18, 15, 1))
    assert await enrolments(app) == []
    await tick_at(app, clock, at(2026, 6, 18, 15, 2), at(2026, 6, 19, 10))
    await tick_at(app, clock, at(2026, 6, 19, 11, 2), at(2026, 6, 20, 10))
    await tick_at(app, clock, at(2026, 6, 26, 10), at(2026, 6, 27, 10))
    # comes-back returns between her offer and the last chance: that ends it, and is the goal
    returned = order_payload("o-9", member="comes-back", created_at=at(2026, 6, 30, 21))
    await post_at(app, anon, clock, at(2026, 6, 30, 21), returned)
    await tick_at(app, clock, at(2026, 7, 3, 10), at(2026, 7, 4, 10), at(2026, 8, 1, 10))
    assert await timeline(app) == [
        ("sleepy", "winback/gentle", "2026-06-19 10:00"),
        ("comes-back", "winback/gentle", "2026-06-20 10:00"),
        ("sleepy", "winback/offer", "2026-06-26 10:00"),
        ("comes-back", "winback/offer", "2026-06-27 10:00"),
        ("sleepy", "winback/last_chance", "2026-07-03 10:00"),
    ]
    codes = [(m.member, m.coupon_code) for m in await sent(app)]
    assert codes == [
        ("sleepy", None),
        ("comes-back", None),
        ("sleepy", "COMEBACK20"),
        ("comes-back", "COMEBACK20"),
        ("sleepy", "COMEBACK30"),  # the last offer is the bigger one
    ]
    assert await exits(app) == {
        "sleepy": ("completed", None),
        "comes-back": ("exited", "exit_when:order.paid"),
    }
    [back] = [e for e in await enrolments(app) if e.exit_reason]
    assert back.goal_reached_at == at(2026, 6, 30, 21, 2)


async def test_the_holdout_walks_the_series_unmessaged_and_a_new_lapse_enters_again(
    app: FastAPI, anon: httpx.AsyncClient, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    placed = at(2026, 3, 20, 10)  # paid 10:02: 90 days on is 06-18 10:02
    for n in range(40):
        payload = order_payload(f"o-{n}", member=f"m-{n:02}", created_at=placed)
        await post_order(anon, clock, payload, f"w{n}")
    await from_template(client, "winback", holdout_percent=30, offer_code="HI15")
    await tick_at(app, clock, at(2026, 6, 18, 10, 2))  # their lapse: 06-18 10:02
    rows = await enrolments(app)
    control = {e.id for e in rows if e.is_control}
    assert len(rows) == 40
    assert 4 <= len(control) <= 20
    await tick_at(app, clock, at(2026, 6, 19, 10), at(2026, 6, 26, 10), at(2026, 7, 3, 10))
    messages = await sent(app)
    assert len(messages) == 120  # three each, control members' recorded too
    for message in messages:
        held = message.message.enrolment_id in control
        assert message.status == ("suppressed" if held else "queued")
        assert (message.message.status_reason == "holdout") is held
    # a member who comes back and lapses again is woken again, for the new lapse
    again = at(2026, 7, 10, 12)
    await post_at(app, anon, clock, again, order_payload("o-back", member="m-00", created_at=again))
    await tick_at(app, clock, at(2026, 10, 8, 12, 2), at(2026, 10, 9, 10))
    newest = (await sent(app))[-1]
    assert (newest.member, newest.template, newest.local) == (
        "m-00",
        "winback/gentle",
        "2026-10-09 10:00",
    )
    lapses = {e.entry_key for e in await enrolments(app) if e.member_id == newest.message.member_id}
    assert len(lapses) == 2
