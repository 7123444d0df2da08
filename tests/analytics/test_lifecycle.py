"""Stage and segment rules as tables, and their SQL forms agreeing with them on both databases."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import Integer, String, literal, null, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.analytics.lifecycle import (
    SEGMENT_RULES,
    StageParams,
    StageRules,
    segment_for,
    segment_sql,
    stage_for,
    stage_sql,
)
from service.analytics.models import Segment, Stage

FIXED = StageRules()
ADAPTIVE = StageRules(mode="adaptive", adaptive_min_orders=3, reference_gap_days=30)


@pytest.mark.parametrize(
    ("paid", "days", "rules", "member_gap_x2", "shop_gap_x2", "expected"),
    [
        (0, None, FIXED, None, None, None),
        (1, 0, FIXED, None, None, Stage.NEW),
        (1, 89, FIXED, None, None, Stage.NEW),
        (1, 90, FIXED, None, None, Stage.SLEEPING),
        (4, 89, FIXED, None, None, Stage.ACTIVE),
        (4, 179, FIXED, None, None, Stage.SLEEPING),
        (4, 180, FIXED, None, None, Stage.AT_RISK),
        (2, 364, FIXED, None, None, Stage.AT_RISK),
        (2, 365, FIXED, None, None, Stage.CHURNED),
        (9, 3000, FIXED, 10, 10, Stage.CHURNED),  # fixed mode ignores gaps
        # adaptive, own rhythm: a median gap of 15 days halves the thresholds (45/90/182.5)
        (5, 44, ADAPTIVE, 30, 60, Stage.ACTIVE),
        (5, 45, ADAPTIVE, 30, 60, Stage.SLEEPING),
        (5, 182, ADAPTIVE, 30, 60, Stage.AT_RISK),
        (5, 183, ADAPTIVE, 30, 60, Stage.CHURNED),
        # a median of 7.5 days (x2 = 15) is 1/4 of the reference: the lowest factor
        (3, 22, ADAPTIVE, 15, None, Stage.ACTIVE),
        (3, 23, ADAPTIVE, 15, None, Stage.SLEEPING),
        (3, 22, ADAPTIVE, 2, None, Stage.ACTIVE),  # faster still: clamped at 1/4
        # a median of 300 days would be 10x: clamped at 4x (360 days to sleep)
        (6, 359, ADAPTIVE, 600, None, Stage.ACTIVE),
        (6, 360, ADAPTIVE, 600, None, Stage.SLEEPING),
        # too few orders: the shop's rhythm (median 60 days: thresholds doubled)
        (2, 179, ADAPTIVE, 2, 120, Stage.ACTIVE),
        (2, 180, ADAPTIVE, 2, 120, Stage.SLEEPING),
        (1, 179, ADAPTIVE, None, 120, Stage.NEW),
        # nobody has bought twice yet: the fixed thresholds
        (1, 90, ADAPTIVE, None, None, Stage.SLEEPING),
    ],
)
def test_stage_rule(
    paid: int,
    days: int | None,
    rules: StageRules,
    member_gap_x2: int | None,
    shop_gap_x2: int | None,
    expected: Stage | None,
) -> None:
    found = stage_for(
        paid_orders=paid,
        days_since=days,
        rules=rules,
        member_gap_x2=member_gap_x2,
        shop_gap_x2=shop_gap_x2,
    )
    assert found == expected


def _int(value: int | None) -> object:
    return null() if value is None else literal(value, Integer)


async def test_stage_sql_agrees_with_the_rule(session: AsyncSession) -> None:
    combos = list(
        itertools.product(
            [0, 1, 2, 3, 7], [0, 22, 23, 45, 89, 90, 180, 364, 365, 900], [None, 2, 15, 61, 600]
        )
    )
    for rules in (FIXED, ADAPTIVE):
        for as_columns in (False, True):
            params = StageParams.of(rules)
            if as_columns:  # as a stored run supplies them: expressions, mode compared in SQL
                params = StageParams(
                    adaptive=literal(rules.mode, String) == "adaptive",
                    sleeping_days=literal(rules.sleeping_days, Integer),
                    at_risk_days=literal(rules.at_risk_days, Integer),
                    churned_days=literal(rules.churned_days, Integer),
                    reference_gap_days=literal(rules.reference_gap_days, Integer),
                    adaptive_min_orders=literal(rules.adaptive_min_orders, Integer),
                )
            expressions = [
                stage_sql(
                    params,
                    paid_orders=literal(paid, Integer),
                    days_since=literal(days, Integer),
                    member_gap_x2=_int(gap),
                    shop_gap_x2=literal(120, Integer),
                )
                for paid, days, gap in combos
            ]
            row = (await session.execute(select(*expressions))).one()
            expected = [
                stage_for(
                    paid_orders=paid,
                    days_since=days,
                    rules=rules,
                    member_gap_x2=gap,
                    shop_gap_x2=120,
                )
                for paid, days, gap in combos
            ]
            assert list(row) == [e.value if e else None for e in expected]


def test_segment_map_covers_every_score_pair_once() -> None:
    cells = [
        (r, f)
        for (r_lo, r_hi), (f_lo, f_hi), _ in SEGMENT_RULES
        for r in range(r_lo, r_hi + 1)
        for f in range(f_lo, f_hi + 1)
    ]
    hibernating_or_lost = {(1, 1)}  # LOST is listed before HIBERNATING, whose range holds it
    assert len(cells) == 25 + len(hibernating_or_lost)
    assert set(cells) == set(itertools.product(range(1, 6), range(1, 6)))
    assert {segment_for(r, f) for r, f in cells} == set(Segment)
    assert segment_for(1, 1) == Segment.LOST
    assert segment_for(None, 3) is None


async def test_segment_sql_agrees(session: AsyncSession) -> None:
    pairs = list(itertools.product(range(1, 6), range(1, 6)))
    row = (
        await session.execute(
            select(*(segment_sql(literal(r, Integer), literal(f, Integer)) for r, f in pairs))
        )
    ).one()
    assert list(row) == [segment_for(r, f) for r, f in pairs]
