"""Dry runs: counts, control group, who entered before and a sample, computed in SQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bench.tick_population import add_journey, add_members
from service.journeys.dryrun import candidates_for, dry_run, is_one_row_per_member
from service.journeys.engine import is_control
from service.journeys.enrolments import Candidates, enrol, single
from service.journeys.rule import JourneyRule
from service.journeys.schemas import DryRunOut
from service.journeys.time_triggers import Shop
from service.members.models import Member

NOW = datetime(2026, 9, 15, 2, tzinfo=UTC)  # a fortnight before National Day
SHOP = Shop(ZoneInfo("Asia/Shanghai"), "CN")
HANGZHOU_REGULARS = {
    "and": [{">=": [{"var": "member.paid_orders"}, 2]}, {"==": [{"var": "member.city"}, "杭州"]}]
}
GREET = [{"id": "greet", "send": {"channel": "sms", "template": "holiday/greeting"}}]


def journey(trigger: dict[str, Any], **extra: Any) -> JourneyRule:
    return JourneyRule.model_validate(
        {"key": "j", "name": "j", "trigger": trigger, "steps": GREET, **extra}
    )


NATIONAL_DAY = {"type": "calendar", "occasion": {"kind": "holiday", "name": "national_day"}}


@pytest.mark.parametrize(
    ("trigger", "one_row_each"),
    [
        (NATIONAL_DAY | {"zone": "shop"}, True),
        (NATIONAL_DAY, False),  # one select per group of member time zones, unioned
        ({"type": "inactivity", "days": 60}, True),
        ({"event": "member.created"}, True),
        ({"event": "order.paid"}, False),  # a member with two orders comes twice
        ({"type": "unpaid_order", "after": "PT30M"}, False),
    ],
)
def test_distinct_only_where_a_member_can_come_twice(
    trigger: dict[str, Any], one_row_each: bool
) -> None:
    found, _ = candidates_for(journey(trigger), now=NOW, window=timedelta(days=30), shop=SHOP)
    assert is_one_row_per_member(found) is one_row_each


async def test_a_calendar_dry_run_counts_the_audience_its_control_group_and_who_entered(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    # m<n>: 杭州 when n % 7 == 0, n % 5 paid orders: m7 m14 m28 m42 m49 m63 are regulars
    await add_members(sessions, 70, now=NOW)
    regulars = ["m7", "m14", "m28", "m42", "m49", "m63"]
    rule = journey(NATIONAL_DAY | {"zone": "shop"}, audience=HANGZHOU_REGULARS, holdout_percent=50)
    live = await add_journey(sessions, rule.dump(), now=NOW)

    async def run() -> DryRunOut:
        async with sessions() as session:
            return await dry_run(
                session, rule, journey_id=live.id, now=NOW, window=timedelta(days=30), sample=4,
                shop=SHOP,
            )  # fmt: skip

    before = await run()
    async with sessions() as session, session.begin():
        ids = dict((await session.execute(select(Member.external_id, Member.id))).all())
        for name in ("m14", "m70"):  # one in the audience, one not
            rows = single(ids[name], key="occasion:x", occurrence="occasion:x")
            await enrol(session, live, Candidates(rows, after_event_id=0), now=NOW)
    after = await run()
    assert (before.members, before.already_entered) == (len(regulars), 0)
    assert (after.members, after.already_entered) == (len(regulars), 1)
    assert before.control == sum(is_control(ids[name], live.id, 50) for name in regulars)
    assert before.sample == after.sample == regulars[:4]
