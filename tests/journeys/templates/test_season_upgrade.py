"""清仓客升级: a member whose first order came from a clearance sale is offered end-of-season
goods first, and shown new arrivals only after responding with a further purchase; no response
means a quiet exit; a first order from elsewhere never enters."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI

from service.clock import FakeClock
from tests.factories import order_payload
from tests.journeys.templates.support import at, exits, from_template, post_at, sent, tick_at


def bought(order: str, member: str, when: datetime, source: str) -> dict[str, Any]:
    return order_payload(order, member=member, created_at=when, source=source)


async def test_clearance_buyers_are_led_from_end_of_season_goods_to_new_arrivals(
    app: FastAPI, anon: httpx.AsyncClient, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    old = bought("o-0", "second", at(2026, 5, 1, 12), "organic")  # an earlier full-price buyer
    await post_at(app, anon, clock, clock.now(), old)
    clock.advance(minutes=1)
    await from_template(
        client, "season_upgrade", sources=["clearance", "outlet"], coupon_code="SEASON10"
    )
    first = at(2026, 6, 18, 9, 30)
    for n, (member, source) in enumerate(
        [
            ("qing", "clearance"),  # responds to the offer
            ("quiet", "clearance"),  # never responds
            ("eager", "outlet"),  # buys again before the offer
            ("full-price", "organic"),
            ("second", "clearance"),  # her second order, not her first
        ]
    ):
        await post_at(app, anon, clock, first, bought(f"o-{n + 1}", member, first, source))
    await post_at(
        app,
        anon,
        clock,
        at(2026, 6, 20, 21),
        bought("o-6", "eager", at(2026, 6, 20, 21), "organic"),
    )
    await tick_at(app, clock, at(2026, 6, 25, 9, 59), at(2026, 6, 25, 10), at(2026, 6, 28, 10))
    await post_at(
        app, anon, clock, at(2026, 6, 30, 20), bought("o-7", "qing", at(2026, 6, 30, 20), "organic")
    )
    await tick_at(app, clock, at(2026, 7, 3, 10))
    respond_by = at(2026, 6, 25, 10) + timedelta(days=21)
    await tick_at(app, clock, respond_by - timedelta(minutes=1), respond_by, at(2026, 8, 1, 10))
    messages = await sent(app)
    assert [(m.member, m.template, m.local) for m in messages] == [
        ("qing", "season/clearance_offer", "2026-06-25 10:00"),
        ("quiet", "season/clearance_offer", "2026-06-25 10:00"),
        ("eager", "season/new_arrivals", "2026-06-28 10:00"),  # she already came back
        ("qing", "season/new_arrivals", "2026-07-03 10:00"),  # three days after responding
    ]
    assert [m.coupon_code for m in messages] == ["SEASON10", "SEASON10", None, None]
    assert await exits(app) == {
        "qing": ("exited", "upgraded"),
        "quiet": ("exited", "no_response"),
        "eager": ("exited", "upgraded"),
    }
