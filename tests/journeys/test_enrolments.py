"""`enrol`: one INSERT … SELECT, idempotent by its keys, and it says how many entered."""

from __future__ import annotations

from sqlalchemy import BigInteger, String, literal, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bench.tick_population import TWO_SENDS, add_journey, add_members
from service.journeys.enrolments import Candidates, enrol
from service.members.models import Member
from tests.conftest import START


def everyone() -> Candidates:
    rows = select(
        Member.id.label("member_id"),
        literal("member", String).label("key"),
        literal("member", String).label("occurrence"),
        literal(None, BigInteger).label("order_id"),
        literal(None, BigInteger).label("item_id"),
    )
    return Candidates(rows, after_event_id=0)


async def test_enrol_counts_who_entered_and_a_rerun_enters_nobody(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await add_members(sessions, 3, now=START)
    journey = await add_journey(sessions, TWO_SENDS, now=START)
    async with sessions() as session, session.begin():
        assert await enrol(session, journey, everyone(), now=START) == 3
        assert await enrol(session, journey, everyone(), now=START) == 0
