"""A calendar run made up after downtime: on the occasion's day it still greets (the greeting
expires at midnight), after that day it enrols no one, in each member's zone."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
from fastapi import FastAPI

from service.clock import FakeClock
from tests.factories import order_payload
from tests.journeys.helpers import create_active, enrolments, outbox, post_order, tick

DRAGON_BOAT = {  # 2026-06-19
    "key": "dragon-boat",
    "name": "端午关怀 Dragon Boat",
    "trigger": {
        "type": "calendar",
        "occasion": {"kind": "holiday", "name": "dragon_boat"},
        "at": "10:00",
    },
    "steps": [{"id": "greet", "send": {"template": "holiday/greeting"}}],
}


async def test_a_missed_greeting_is_made_up_on_the_day_and_never_after_it(
    app: FastAPI, anon: httpx.AsyncClient, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    for n, member in enumerate(("sh", "ny")):
        await post_order(
            anon, clock, order_payload(f"o-{n}", member=member, created_at=clock.now()), f"w{n}"
        )
    await client.put("/v1/members/ny", json={"timezone": "America/New_York"})
    await create_active(client, DRAGON_BOAT)
    # the engine is down from 06-18 09:00 until 15:00 on Dragon Boat day in Shanghai
    clock.set(datetime(2026, 6, 19, 7, 0, tzinfo=UTC))
    await tick(app)
    [late] = await outbox(app)
    assert late.created_at == clock.now()
    assert late.expires_at == datetime(2026, 6, 19, 16, 0, tzinfo=UTC)  # midnight in Shanghai
    # and down again until 00:30 on 06-20 in New York: her Dragon Boat day is over
    clock.set(datetime(2026, 6, 20, 4, 30, tzinfo=UTC))
    await tick(app)
    assert len(await outbox(app)) == 1
    assert len(await enrolments(app)) == 1
