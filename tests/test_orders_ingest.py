"""ingest_order below the webhook: contact fill, one transaction, concurrent deliveries, stats."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.clock import FakeClock
from service.events.models import Event
from service.events.service import NewEvent, append_events
from service.members.models import Member
from service.members.stats import recompute_stats
from service.orders import service as order_service
from service.orders.models import Order
from service.orders.schemas import OrderIn
from tests.factories import order_payload, signed

URL = "/v1/webhooks/orders"


def order_in(clock: FakeClock, order_id: str, **member: str) -> OrderIn:
    payload = order_payload(order_id, created_at=clock.now())
    payload["member"] = {"external_id": "m-1", **member}
    return OrderIn.model_validate(payload)


async def ingest(session: AsyncSession, clock: FakeClock, order: OrderIn) -> None:
    await order_service.ingest_order(
        session, order, platform="native", now=clock.now(), region="CN"
    )


async def member_row(session: AsyncSession) -> Member:
    member = await session.scalar(
        select(Member).where(Member.external_id == "m-1").execution_options(populate_existing=True)
    )
    assert member is not None
    return member


async def test_an_order_fills_only_the_contacts_a_member_lacks(
    session: AsyncSession, clock: FakeClock
) -> None:
    await ingest(session, clock, order_in(clock, "a", name="王小明"))
    created = await member_row(session)
    assert (created.phone, created.email, created.name) == (None, None, "王小明")

    clock.advance(hours=1)
    await ingest(session, clock, order_in(clock, "b", phone="13812345678", name="Someone else"))
    filled = await member_row(session)
    assert (filled.phone, filled.name) == ("+8613812345678", "王小明")
    assert filled.updated_at == clock.now()

    clock.advance(hours=1)
    await ingest(session, clock, order_in(clock, "c", phone="13900000000", email=""))
    unchanged = await member_row(session)
    assert (unchanged.phone, unchanged.email) == ("+8613812345678", None)
    assert unchanged.updated_at == clock.now() - timedelta(hours=1)  # nothing was filled


async def test_member_order_stats_and_events_roll_back_together(
    sessions: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    async def failing_request() -> None:
        async with sessions() as session, session.begin():
            await ingest(session, clock, order_in(clock, "a", phone="13812345678"))
            raise RuntimeError("the request failed after ingesting")

    with pytest.raises(RuntimeError):
        await failing_request()
    async with sessions() as session:
        for model in (Member, Order, Event):
            assert await session.scalar(select(func.count()).select_from(model)) == 0


async def test_events_are_written_in_order_with_their_payload(
    session: AsyncSession, clock: FakeClock
) -> None:
    await ingest(session, clock, order_in(clock, "a"))
    events = list(await session.scalars(select(Event).order_by(Event.id)))
    assert [e.type for e in events] == ["member.created", "order.created", "order.paid"]
    assert events[0].payload == {}
    assert events[1].payload == {
        "order_id": "a",
        "platform": "native",
        "total": "100.00",
        "source": "organic",
    }
    assert events[1].occurred_at == clock.now()
    assert events[2].occurred_at == clock.now() + timedelta(minutes=2)  # paid_at
    assert {e.recorded_at for e in events} == {clock.now()}
    assert session.info["events_written"] == {
        "member.created": 1,
        "order.created": 1,
        "order.paid": 1,
    }


async def test_append_events_keeps_the_given_order(session: AsyncSession, clock: FakeClock) -> None:
    batch = [NewEvent(f"t.{n}", None, clock.now(), payload={"n": n}) for n in range(5)]
    await append_events(session, batch, now=clock.now())
    await append_events(session, [], now=clock.now())
    rows = (await session.execute(select(Event.type, Event.payload).order_by(Event.id))).all()
    assert rows == [(f"t.{n}", {"n": n}) for n in range(5)]


async def test_recompute_stats_by_ids_and_by_query_agree(
    session: AsyncSession, clock: FakeClock
) -> None:
    for n, (member, total) in enumerate([("m-1", "10.00"), ("m-1", "20.01"), ("m-2", "5.00")]):
        payload = order_payload(f"o{n}", member=member, total=total, created_at=clock.now())
        await ingest(session, clock, OrderIn.model_validate(payload))
    stats = select(Member.external_id, Member.paid_orders, Member.total_spent).order_by(Member.id)
    expected = [("m-1", 2, Decimal("30.01")), ("m-2", 1, Decimal("5.00"))]
    assert (await session.execute(stats)).all() == expected

    await session.execute(Member.__table__.update().values(paid_orders=0, total_spent=0))
    await recompute_stats(session, member_ids=select(Member.id))
    assert (await session.execute(stats)).all() == expected
    await session.execute(Member.__table__.update().values(paid_orders=0, total_spent=0))
    ids = list(await session.scalars(select(Member.id)))
    await recompute_stats(session, member_ids=ids)
    assert (await session.execute(stats)).all() == expected
    await recompute_stats(session, member_ids=[])


async def test_concurrent_webhooks_for_one_new_member(
    anon: httpx.AsyncClient, clock: FakeClock, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """Deliveries racing for the same unknown member create it once and count every order."""

    async def post(n: int) -> httpx.Response:
        payload = order_payload(f"race-{n}", member="m-race", created_at=clock.now())
        payload["member"]["phone"] = "13812345678"
        body, headers = signed(payload, now=clock.now(), msg_id=f"race-{n}")
        return await anon.post(URL, content=body, headers=headers)

    responses = await asyncio.gather(*(post(n) for n in range(12)))
    assert [r.status_code for r in responses] == [200] * 12
    async with sessions() as session:
        member = await session.scalar(select(Member).where(Member.external_id == "m-race"))
        assert member is not None
        assert (member.paid_orders, member.total_spent) == (12, Decimal("1200.00"))
        created = select(func.count()).where(Event.type == "member.created")
        assert await session.scalar(created) == 1


async def test_pending_orm_changes_are_flushed_before_stats_and_events(
    session: AsyncSession, clock: FakeClock
) -> None:
    """Core statements through the session autoflush like ORM ones: rows added to it count."""
    now = clock.now()
    member = Member(external_id="m-orm", created_at=now, updated_at=now)
    session.add(member)
    await append_events(session, [NewEvent("member.created", None, now)], now=now)
    assert member.id is not None  # flushed before the event was written
    session.add(
        Order(
            external_id="orm-1",
            member_id=member.id,
            status="paid",
            currency="CNY",
            total=Decimal("42.00"),
            created_at=now,
            paid_at=now,
            recorded_at=now,
            updated_at=now,
        )
    )
    await recompute_stats(session, member_ids=[member.id])
    paid = select(Member.paid_orders, Member.total_spent).where(Member.id == member.id)
    assert (await session.execute(paid)).one() == (1, Decimal("42.00"))
