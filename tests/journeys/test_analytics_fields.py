"""Conditions on member analytics (scores, segment, stage, tier, promotion share, recency days):
the journey engine's facts and the compiled SQL give the same members, and a member the
recompute has not scored yet reads as null on both."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.analytics.models import MemberAnalytics
from service.journeys.conditions import evaluate, validate_condition
from service.journeys.conditions_sql import compile_condition
from service.journeys.facts import load_facts
from service.journeys.fields import SqlScope, shortest_decimal
from service.members.models import Member

NOW = datetime(2026, 6, 18, 2, tzinfo=UTC)
SCORED = {"recency_score": 5, "frequency_score": 2, "monetary_score": 4, "promo_orders": 1}


async def _member(
    session: AsyncSession, name: str, *, paid_days_ago: float | None, **analytics: Any
) -> None:
    last_paid = None if paid_days_ago is None else NOW - timedelta(days=paid_days_ago)
    member_id = await session.scalar(
        insert(Member)
        .values(
            external_id=name,
            paid_orders=0 if last_paid is None else 3,
            last_paid_at=last_paid,
            created_at=NOW - timedelta(days=400),
            updated_at=NOW,
        )
        .returning(Member.id)
    )
    if analytics:
        await session.execute(insert(MemberAnalytics).values(member_id=member_id, **analytics))


@pytest.fixture
async def shop(session: AsyncSession) -> AsyncSession:
    await _member(
        session,
        "champ",
        paid_days_ago=3,
        **SCORED,
        segment="champions",
        stage="active",
        value_tier="high",
        promo_share=1 / 3,
        stage_changed_at=NOW - timedelta(days=40),
    )
    await _member(
        session,
        "sleepy",
        paid_days_ago=100,
        **(SCORED | {"recency_score": 1}),
        segment="hibernating",
        stage="sleeping",
        previous_stage="active",
        value_tier="low",
        promo_share=0.1,
        stage_changed_at=NOW - timedelta(days=10),
    )
    await _member(session, "unscored", paid_days_ago=1)  # bought after the last recompute
    await _member(session, "never", paid_days_ago=None)
    return session


async def _both(session: AsyncSession, condition: Any) -> set[str]:
    """The members the condition selects, asserting SQL and Python agree on them."""
    assert validate_condition(condition, scopes={"member"}, loc=()) == []
    where = compile_condition(condition, scope=SqlScope(member=Member), now=NOW)
    in_sql = set(await session.scalars(select(Member.external_id).where(where)))
    members = {m.id: m.external_id for m in await session.scalars(select(Member))}
    book = await load_facts(session, member_ids=list(members))
    in_python = {
        name
        for member_id, name in members.items()
        if evaluate(condition, book.facts(member_id), now=NOW)
    }
    assert in_sql == in_python, condition
    return in_sql


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"==": [{"var": "member.stage"}, "sleeping"]}, {"sleepy"}),
        ({"in": [{"var": "member.stage"}, ["new", "active"]]}, {"champ"}),
        ({"==": [{"var": "member.stage"}, None]}, {"unscored", "never"}),
        ({"!": {"==": [{"var": "member.stage"}, "sleeping"]}}, {"champ", "unscored", "never"}),
        ({"!=": [{"var": "member.stage"}, "sleeping"]}, {"champ"}),  # null is never != "x"
        ({"==": [{"var": "member.previous_stage"}, "active"]}, {"sleepy"}),
        ({">=": [{"var": "member.recency_score"}, 4]}, {"champ"}),
        ({"<=": [{"var": "member.recency_score"}, 2]}, {"sleepy"}),
        ({"==": [{"var": "member.frequency_score"}, 2]}, {"champ", "sleepy"}),
        ({">": [{"var": "member.monetary_score"}, 3.5]}, {"champ", "sleepy"}),
        ({"==": [{"var": "member.segment"}, "champions"]}, {"champ"}),
        ({"in": [{"var": "member.value_tier"}, ["high", "medium"]]}, {"champ"}),
        ({"==": [{"var": "member.promo_orders"}, 1]}, {"champ", "sleepy"}),
        ({">=": [{"var": "member.promo_share"}, 0.3]}, {"champ"}),
        ({"==": [{"var": "member.promo_share"}, 0.3333333333333333]}, {"champ"}),
        ({"==": [{"var": "member.promo_share"}, 0.1]}, {"sleepy"}),  # 0.1 reads as 0.1
        ({"<": [{"var": "member.promo_share"}, 0.1]}, set()),
        ({"<": [{"var": ["member.promo_share", 0]}, 0.2]}, {"sleepy", "unscored", "never"}),
        ({">=": [{"var": "member.recency_days"}, 100]}, {"sleepy"}),
        ({"<": [{"var": "member.recency_days"}, 3]}, {"unscored"}),
        ({"==": [{"var": "member.recency_days"}, 3]}, {"champ"}),
        ({"==": [{"var": "member.recency_days"}, None]}, {"never"}),
        ({">=": [{"days_since": {"var": "member.stage_changed_at"}}, 30]}, {"champ"}),
        (
            {
                "and": [
                    {"==": [{"var": "member.stage"}, "sleeping"]},
                    {"<": [{"var": "member.promo_share"}, 0.5]},
                    {">=": [{"var": "member.total_spent"}, 0]},
                ]
            },
            {"sleepy"},
        ),
    ],
)
async def test_analytics_fields_select_the_same_members_in_sql_and_python(
    shop: AsyncSession, condition: Any, expected: set[str]
) -> None:
    assert await _both(shop, condition) == expected


async def test_a_member_without_analytics_reads_null_in_python(shop: AsyncSession) -> None:
    unscored = await shop.scalar(select(Member.id).where(Member.external_id == "unscored"))
    assert unscored is not None
    facts = (await load_facts(shop, member_ids=[unscored])).facts(unscored)["member"]
    assert facts is not None
    names = ("recency_score", "segment", "stage", "value_tier", "promo_share", "promo_orders")
    assert {name: facts[name] for name in names} == dict.fromkeys(names)


@pytest.mark.parametrize(
    ("value", "reads"),
    [(0.1, "0.1"), (1 / 3, "0.3333333333333333"), (0.1 + 0.2, "0.30000000000000004"), (1, "1.0")],
)
def test_a_stored_share_reads_as_the_decimal_it_prints_as(value: float, reads: str) -> None:
    assert shortest_decimal(value) == Decimal(reads)


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ({"==": [{"var": "member.r_score"}, 5]}, "unknown field member.r_score"),
        ({"==": [{"var": "member.stage"}, 1]}, "cannot compare text with number"),
        ({">": [{"var": "member.promo_share"}, "half"]}, "cannot compare number with text"),
        (
            {"==": [{"var": "member.promo_share"}, {"var": "member.paid_orders"}]},
            "cannot compare number with int",
        ),
        ({"<": [{"var": ["member.promo_share", 1e308 * 10]}, 1]}, "not a finite number"),
    ],
)
def test_analytics_fields_are_typed_at_validation(condition: Any, message: str) -> None:
    [error] = validate_condition(condition, scopes={"member"}, loc=("audience",))
    assert message in error.msg
