"""Life-cycle stages and RFM segments: pure rules, and the same rules as SQL expressions.

Stage, by whole days since the last paid order: churned from `churned_days`, at risk from
`at_risk_days`, sleeping from `sleeping_days`; before that new (one paid order) or active (two or
more). In adaptive mode each threshold is multiplied by the member's median gap between paid
orders over the reference gap, clamped to [1/4, 4]; members with fewer than
`adaptive_min_orders` paid orders use the shop's median gap, and with no gap known the thresholds
stay fixed. All of it is integer arithmetic (gaps are kept doubled, so a median is whole), so
Python and both databases agree to the day.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, case, null, or_

from service.analytics.models import Segment, Stage
from service.settings import Settings

ADAPTIVE = "adaptive"


@dataclass(frozen=True)
class StageRules:
    mode: str = "fixed"
    sleeping_days: int = 90
    at_risk_days: int = 180
    churned_days: int = 365
    reference_gap_days: int = 30
    adaptive_min_orders: int = 3

    @classmethod
    def from_settings(cls, settings: Settings) -> StageRules:
        return cls(
            mode=settings.stage_mode,
            sleeping_days=settings.stage_sleeping_days,
            at_risk_days=settings.stage_at_risk_days,
            churned_days=settings.stage_churned_days,
            reference_gap_days=settings.stage_reference_gap_days,
            adaptive_min_orders=settings.stage_adaptive_min_orders,
        )


def gap_scale(
    rules: StageRules, *, paid_orders: int, member_gap_x2: int | None, shop_gap_x2: int | None
) -> int:
    """8 x the gap that scales the thresholds, clamped to [1/4, 4] x the reference gap."""
    ref = rules.reference_gap_days
    if rules.mode != ADAPTIVE:
        return 8 * ref
    own = paid_orders >= rules.adaptive_min_orders and member_gap_x2 is not None
    gap_x2 = member_gap_x2 if own else shop_gap_x2
    if gap_x2 is None:
        return 8 * ref
    return min(max(4 * gap_x2, 2 * ref), 32 * ref)


def stage_for(
    *,
    paid_orders: int,
    days_since: int | None,
    rules: StageRules,
    member_gap_x2: int | None = None,
    shop_gap_x2: int | None = None,
) -> Stage | None:
    """The member's stage; None for a member without a paid order."""
    if paid_orders <= 0 or days_since is None:
        return None
    scale = gap_scale(
        rules, paid_orders=paid_orders, member_gap_x2=member_gap_x2, shop_gap_x2=shop_gap_x2
    )
    elapsed = 8 * rules.reference_gap_days * days_since  # days x 8 x reference, like the scale
    for threshold, stage in (
        (rules.churned_days, Stage.CHURNED),
        (rules.at_risk_days, Stage.AT_RISK),
        (rules.sleeping_days, Stage.SLEEPING),
    ):
        if elapsed >= threshold * scale:
            return stage
    return Stage.NEW if paid_orders == 1 else Stage.ACTIVE


@dataclass(frozen=True)
class StageParams:
    """StageRules as SQL operands: Python values, or columns of a stored run."""

    adaptive: bool | ColumnElement[bool]
    sleeping_days: Any
    at_risk_days: Any
    churned_days: Any
    reference_gap_days: Any
    adaptive_min_orders: Any

    @classmethod
    def of(cls, rules: StageRules) -> StageParams:
        return cls(
            adaptive=rules.mode == ADAPTIVE,
            sleeping_days=rules.sleeping_days,
            at_risk_days=rules.at_risk_days,
            churned_days=rules.churned_days,
            reference_gap_days=rules.reference_gap_days,
            adaptive_min_orders=rules.adaptive_min_orders,
        )


def _scale_sql(p: StageParams, paid_orders: Any, member_gap_x2: Any, shop_gap_x2: Any) -> Any:
    ref = p.reference_gap_days
    if p.adaptive is False:
        return 8 * ref
    own = and_(paid_orders >= p.adaptive_min_orders, member_gap_x2.is_not(None))
    chosen = case((own, member_gap_x2), else_=shop_gap_x2)
    clamped = case(
        (chosen.is_(None), 8 * ref),
        (4 * chosen < 2 * ref, 2 * ref),
        (4 * chosen > 32 * ref, 32 * ref),
        else_=4 * chosen,
    )
    return clamped if p.adaptive is True else case((p.adaptive, clamped), else_=8 * ref)


def stage_sql(
    p: StageParams, *, paid_orders: Any, days_since: Any, member_gap_x2: Any, shop_gap_x2: Any
) -> ColumnElement[str | None]:
    """stage_for as one CASE expression."""
    scale = _scale_sql(p, paid_orders, member_gap_x2, shop_gap_x2)
    elapsed = 8 * p.reference_gap_days * days_since
    return case(
        (or_(paid_orders <= 0, days_since.is_(None)), null()),
        (elapsed >= p.churned_days * scale, Stage.CHURNED.value),
        (elapsed >= p.at_risk_days * scale, Stage.AT_RISK.value),
        (elapsed >= p.sleeping_days * scale, Stage.SLEEPING.value),
        (paid_orders == 1, Stage.NEW.value),
        else_=Stage.ACTIVE.value,
    )


# The RF segment map (recency and frequency scores, 1-5), checked in this order; together the
# cells cover all 25 combinations exactly once.
SEGMENT_RULES: tuple[tuple[tuple[int, int], tuple[int, int], Segment], ...] = (
    ((5, 5), (4, 5), Segment.CHAMPIONS),
    ((3, 4), (4, 5), Segment.LOYAL),
    ((4, 5), (2, 3), Segment.POTENTIAL_LOYALIST),
    ((5, 5), (1, 1), Segment.NEW_CUSTOMERS),
    ((4, 4), (1, 1), Segment.PROMISING),
    ((3, 3), (3, 3), Segment.NEED_ATTENTION),
    ((3, 3), (1, 2), Segment.ABOUT_TO_SLEEP),
    ((1, 2), (3, 4), Segment.AT_RISK),
    ((1, 2), (5, 5), Segment.CANNOT_LOSE),
    ((1, 1), (1, 1), Segment.LOST),
    ((1, 2), (1, 2), Segment.HIBERNATING),
)


def segment_for(recency: int | None, frequency: int | None) -> Segment | None:
    if recency is None or frequency is None:
        return None
    for (r_lo, r_hi), (f_lo, f_hi), segment in SEGMENT_RULES:
        if r_lo <= recency <= r_hi and f_lo <= frequency <= f_hi:
            return segment
    raise ValueError(f"scores out of range: R={recency} F={frequency}")


def segment_sql(recency: Any, frequency: Any) -> ColumnElement[str | None]:
    """segment_for as a simple CASE on 10 R + F: each score is evaluated once per row (the
    scores are CASE expressions themselves, which the planner inlines wherever they appear)."""
    cells = {
        10 * r + f: segment.value
        for r in range(1, 6)
        for f in range(1, 6)
        if (segment := segment_for(r, f)) is not None
    }
    return case(cells, value=10 * recency + frequency, else_=null())
