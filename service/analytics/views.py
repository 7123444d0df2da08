"""Member analytics as the members API shows them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ScalarSelect, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.analytics.models import MemberAnalytics


async def analytics_of(
    session: AsyncSession, member_ids: Sequence[int]
) -> dict[int, MemberAnalytics]:
    rows = await session.scalars(
        select(MemberAnalytics).where(MemberAnalytics.member_id.in_(member_ids))
    )
    return {row.member_id: row for row in rows}


def analytics_stats(row: MemberAnalytics | None) -> dict[str, Any]:
    """The MemberStats fields of analytics: scores, segment, stage, tier, promotion share."""
    if row is None:
        return {}
    scores = (row.recency_score, row.frequency_score, row.monetary_score)
    rfm = None
    if None not in scores:
        rfm = {"recency": scores[0], "frequency": scores[1], "monetary": scores[2]}
    return {
        "rfm": rfm,
        "segment": row.segment,
        "stage": row.stage,
        "value_tier": row.value_tier,
        "promo_share": row.promo_share,
    }


FIELDS = (
    "recency_score",
    "frequency_score",
    "monetary_score",
    "segment",
    "stage",
    "previous_stage",
    "stage_changed_at",
    "value_tier",
    "promo_orders",
    "promo_share",
)


def analytics_column(member: Any, name: str) -> ScalarSelect[Any]:
    """One analytics field of `member` (Member or an alias) as a correlated scalar subquery: a
    primary-key lookup, NULL without a row. For the journey condition field registry."""
    if name not in FIELDS:
        raise KeyError(name)
    return (
        select(getattr(MemberAnalytics, name))
        .where(MemberAnalytics.member_id == member.id)
        .scalar_subquery()
    )
