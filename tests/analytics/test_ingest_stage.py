"""Order ingest keeps the member's stage current: new on the first paid order, active on the
second, back on a refund; each move is a member.stage_changed event."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.analytics import service as analytics
from service.analytics.config import AnalyticsConfig
from service.clock import FakeClock
from service.events.models import Event
from service.members.models import Member
from tests.factories import order_payload, signed


async def post(anon: httpx.AsyncClient, clock: FakeClock, payload: dict[str, object]) -> None:
    msg_id = f"msg-{payload['id']}-{payload['status']}-{clock.now().timestamp()}"
    body, headers = signed(payload, now=clock.now(), msg_id=msg_id)
    response = await anon.post("/v1/webhooks/orders", content=body, headers=headers)
    assert response.status_code == 200, response.text


async def stage_events(sessions: async_sessionmaker[AsyncSession]) -> list[tuple[str, str]]:
    async with sessions() as session:
        payloads = await session.scalars(
            select(Event.payload).where(Event.type == "member.stage_changed").order_by(Event.id)
        )
        return [(p["from"], p["to"]) for p in payloads]


async def stage_of(client: httpx.AsyncClient, member: str) -> str | None:
    stage: str | None = (await client.get(f"/v1/members/{member}")).json()["stats"]["stage"]
    return stage


async def test_orders_move_the_stage_with_events(
    anon: httpx.AsyncClient,
    client: httpx.AsyncClient,
    clock: FakeClock,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await post(anon, clock, order_payload("before", member="early", created_at=clock.now()))
    assert await stage_of(client, "early") is None  # no recompute has run: no rules yet

    await analytics.run_pending(sessions, clock=clock, config=AnalyticsConfig())
    assert await stage_of(client, "early") == "new"  # the run assigns it, silently
    assert await stage_events(sessions) == []

    await post(anon, clock, order_payload("o-1", status="created", created_at=clock.now()))
    assert await stage_of(client, "m-1") is None
    clock.advance(minutes=5)
    await post(anon, clock, order_payload("o-1", created_at=clock.now()))
    assert await stage_of(client, "m-1") == "new"

    clock.advance(days=20)
    await post(anon, clock, order_payload("o-2", total="50.00", created_at=clock.now()))
    assert await stage_of(client, "m-1") == "active"

    clock.advance(days=1)
    refund = order_payload("o-2", status="refunded", total="50.00", created_at=clock.now())
    await post(anon, clock, refund)
    assert await stage_of(client, "m-1") == "new"
    assert await stage_events(sessions) == [(None, "new"), ("new", "active"), ("active", "new")]
    async with sessions() as session:  # each move comes right after the order event that made it
        member_id = await session.scalar(select(Member.id).where(Member.external_id == "m-1"))
        types = await session.scalars(
            select(Event.type).where(Event.member_id == member_id).order_by(Event.id)
        )
        assert list(types) == [
            "member.created",
            "order.created",
            "order.paid",
            "member.stage_changed",
            "order.created",
            "order.paid",
            "member.stage_changed",
            "order.refunded",
            "member.stage_changed",
        ]


async def test_an_old_order_arriving_late_does_not_make_a_member_new(
    anon: httpx.AsyncClient,
    client: httpx.AsyncClient,
    clock: FakeClock,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await analytics.run_pending(sessions, clock=clock, config=AnalyticsConfig())
    old = clock.now() - timedelta(days=200)
    await post(anon, clock, order_payload("old", member="late", created_at=old))
    assert await stage_of(client, "late") == "at_risk"
    assert await stage_events(sessions) == [(None, "at_risk")]
