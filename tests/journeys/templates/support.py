"""Driving rule templates: instantiate through the API, then read the outbox as the member sees
it — which template, on which channel, at what local time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from service.clock import FakeClock
from service.members.models import Member
from service.messaging.outbox import Message
from service.orders.models import Order
from tests.journeys.helpers import enrolments, outbox, post_order, tick

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, *, zone: str = ""
) -> datetime:
    """A local instant, in Shanghai unless another zone is named."""
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(zone) if zone else SHANGHAI)


async def from_template(
    client: httpx.AsyncClient, name: str, /, *, key: str | None = None, **params: Any
) -> dict[str, Any]:
    """Create a journey from the rule template `name` with parameters, and activate it."""
    body: dict[str, Any] = {"template": name, "params": params}
    if key is not None:
        body["key"] = key
    created = await client.post("/v1/journeys/from-template", json=body)
    assert created.status_code == 201, created.text
    journey: dict[str, Any] = created.json()
    activated = await client.post(f"/v1/journeys/{journey['key']}/activate")
    assert activated.status_code == 200, activated.text
    return journey


async def order_ids(app: FastAPI) -> dict[int, str]:
    """Orders' ids as the shop knows them, by Huitou's own id."""
    async with app.state.sessions() as session:
        return dict((await session.execute(select(Order.id, Order.external_id))).all())


@dataclass(frozen=True)
class Sent:
    """One queued message as a test reads it."""

    member: str
    template: str
    channel: str
    local: str  # when it was queued, in the member's zone: "2026-06-19 10:00"
    status: str
    variant: str | None
    coupon_code: str | None
    order: str | None  # the shop's id of the message's order
    message: Message


async def member_ids(app: FastAPI) -> dict[int, tuple[str, str]]:
    async with app.state.sessions() as session:
        rows = await session.execute(select(Member.id, Member.external_id, Member.timezone))
        return {id_: (external, zone or "Asia/Shanghai") for id_, external, zone in rows}


async def sent(app: FastAPI) -> list[Sent]:
    """The outbox in the order messages were queued (members queued at once by name), each
    with the time in its member's zone."""
    members, orders = await member_ids(app), await order_ids(app)
    found = []
    for message in await outbox(app):
        external, zone = members[message.member_id]
        local = message.created_at.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")
        found.append(
            Sent(
                external,
                message.template,
                message.channel.value,
                local,
                message.status.value,
                message.variant,
                message.context.get("coupon_code"),
                orders.get(message.context.get("order_id") or 0),
                message,
            )
        )
    return sorted(found, key=lambda s: (s.message.created_at, s.member, s.message.id))


async def timeline(app: FastAPI) -> list[tuple[str, str, str]]:
    """(member, template, local time) of every queued message."""
    return [(s.member, s.template, s.local) for s in await sent(app)]


async def exits(app: FastAPI) -> dict[str, tuple[str, str | None]]:
    """Each member's enrolment state and exit reason (one enrolment per member)."""
    members = await member_ids(app)
    return {members[e.member_id][0]: (e.state.value, e.exit_reason) for e in await enrolments(app)}


async def tick_at(app: FastAPI, clock: FakeClock, *instants: datetime) -> None:
    """Run the engine at each instant in turn (the clock only moves forward)."""
    for instant in instants:
        assert instant >= clock.now(), instant
        clock.set(instant)
        await tick(app)


async def post_at(
    app: FastAPI,
    anon: httpx.AsyncClient,
    clock: FakeClock,
    when: datetime,
    payload: dict[str, Any],
) -> None:
    """The shop posts an order message at `when`, and the engine runs then, as it would."""
    await tick_at(app, clock, when)  # what was due before the message
    msg_id = f"{payload['id']}:{payload['status']}:{when.isoformat()}"
    await post_order(anon, clock, payload, msg_id)
    await tick(app)
