"""One chunk of a recompute: the analytics of members with ids in [lo, hi), in two statements.

The upsert reads the members' stats and their paid orders (an index-only scan of
ix_orders_member_facts for the promotion share and purchase gaps), applies the run's boundaries
and stage rules, and writes only rows that changed. A changed stage keeps the old one in
`previous_stage` and stamps `stage_changed_at` with the run's instant, which the second
statement turns into `member.stage_changed` events, set-based, in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Float,
    Integer,
    String,
    and_,
    bindparam,
    case,
    cast,
    false,
    func,
    insert,
    literal,
    null,
    or_,
    select,
)

from service.analytics.config import AnalyticsConfig, PromoRule
from service.analytics.lifecycle import StageParams, segment_sql, stage_sql
from service.analytics.models import MemberAnalytics
from service.analytics.rfm import TIER_CLASS, Bounds, cents, score_sql
from service.analytics.sql import (
    days_since,
    epoch_s,
    grouped_median,
    json_pairs,
    table,
    whole_days_between,
)
from service.db import current_tx_id, dialect_insert
from service.events.models import Event
from service.members.models import Member
from service.members.stats import counted_order
from service.orders.models import Order

STAGE_CHANGED = "member.stage_changed"
SCORED = (
    "recency_score",
    "frequency_score",
    "monetary_score",
    "segment",
    "stage",
    "value_tier",
    "promo_orders",
    "promo_share",
    "gap_days_x2",
)


def is_promotional(rule: PromoRule) -> Any:
    """The promotion test on an Order row, integer cents throughout."""
    tests: list[ColumnElement[bool]] = []
    if rule.sources:
        tests.append(Order.source.in_(rule.sources))
    if rule.min_discount_percent > 0:
        discount, total = cents(Order.discount_total), cents(Order.total)
        tests.append(
            and_(discount > 0, discount * 100 >= rule.min_discount_percent * (total + discount))
        )
    return or_(*tests) if tests else false()


def member_range(column: Any) -> Any:
    return and_(
        column >= bindparam("lo", type_=BigInteger), column < bindparam("hi", type_=BigInteger)
    )


def _order_facts(dialect: str, rule: PromoRule) -> tuple[Any, Any]:
    """Per member in range: paid orders and promotional ones; twice the median gap in days."""
    previous = func.lag(epoch_s(Order.paid_at)).over(
        partition_by=Order.member_id, order_by=Order.paid_at
    )
    lagged = (
        select(
            Order.member_id.label("member_id"),
            case((is_promotional(rule), 1), else_=0).label("promo"),
            whole_days_between(epoch_s(Order.paid_at), previous).label("gap"),
        )
        .where(member_range(Order.member_id), counted_order())
        .cte("lagged")
        .prefix_with("MATERIALIZED")
    )
    facts = (
        select(
            lagged.c.member_id,
            func.count().label("paid"),
            func.sum(lagged.c.promo).label("promo"),
        )
        .group_by(lagged.c.member_id)
        .subquery("facts")
    )
    gaps = select(lagged.c.member_id, lagged.c.gap).where(lagged.c.gap.is_not(None)).subquery()
    median = grouped_median(dialect, gaps, ["member_id"], "gap").subquery("median")
    return facts, median


def fresh_select(
    dialect: str,
    config: AnalyticsConfig,
    bounds: Bounds,
    *,
    as_of: datetime,
    shop_gap_x2: int | None,
) -> Any:
    """The new analytics row of every member in range, as one SELECT."""
    facts, median = _order_facts(dialect, config.promo)
    bought = and_(Member.paid_orders > 0, Member.last_paid_at.is_not(None))
    days = days_since(Member.last_paid_at, as_of)
    tier_value = score_sql(cents(Member.average_order_value), bounds.tier)
    base = (
        select(
            Member.id.label("member_id"),
            Member.paid_orders.label("paid_orders"),
            case((bought, days), else_=null()).label("days"),
            case((bought, score_sql(days, bounds.recency, at_most=True))).label("r"),
            case((bought, score_sql(Member.paid_orders, bounds.frequency))).label("f"),
            case((bought, score_sql(cents(Member.total_spent), bounds.monetary))).label("m"),
            case(*((and_(bought, tier_value == k), v.value) for k, v in TIER_CLASS.items())).label(
                "tier"
            ),
            func.coalesce(facts.c.promo, 0).label("promo"),
            case(
                (facts.c.paid > 0, cast(facts.c.promo, Float) / cast(facts.c.paid, Float)),
                else_=null(),
            ).label("promo_share"),
            cast(2 * median.c.median, Integer).label("gap_x2"),
        )
        .select_from(Member)
        .outerjoin(facts, facts.c.member_id == Member.id)
        .outerjoin(median, median.c.member_id == Member.id)
        .where(member_range(Member.id))
        .subquery("base")
    )
    c = base.c
    stage = stage_sql(
        StageParams.of(config.stage),
        paid_orders=c.paid_orders,
        days_since=c.days,
        member_gap_x2=c.gap_x2,
        shop_gap_x2=literal(shop_gap_x2, Integer) if shop_gap_x2 is not None else null(),
    )
    scored = (
        select(
            c.member_id,
            c.r,
            c.f,
            c.m,
            segment_sql(c.r, c.f).label("segment"),
            stage.label("stage"),
            c.tier,
            c.promo,
            c.promo_share,
            c.gap_x2,
        )
        .where(c.member_id.is_not(None))
        .subquery("scored")
    )
    at = literal(as_of, MemberAnalytics.stage_changed_at.type)
    return select(scored, case((scored.c.stage.is_not(None), at))).where(
        scored.c.member_id.is_not(None)
    )


@dataclass(frozen=True)
class ChunkStatements:
    upsert: Any
    events: Any


def chunk_statements(
    dialect: str,
    config: AnalyticsConfig,
    bounds: Bounds,
    *,
    as_of: datetime,
    now: datetime,
    shop_gap_x2: int | None,
) -> ChunkStatements:
    """Both statements of a chunk, built once per run; execute with {"lo": …, "hi": …}."""
    fresh = fresh_select(dialect, config, bounds, as_of=as_of, shop_gap_x2=shop_gap_x2)
    columns = ["member_id", *SCORED, "stage_changed_at"]
    stmt = dialect_insert(dialect, table(MemberAnalytics)).from_select(columns, fresh)
    new, cur = stmt.excluded, table(MemberAnalytics).c
    moved = cur.stage.is_distinct_from(new.stage)
    at = literal(as_of, MemberAnalytics.stage_changed_at.type)
    upsert = stmt.on_conflict_do_update(
        index_elements=["member_id"],
        set_={name: new[name] for name in SCORED}
        | {
            "previous_stage": case((moved, cur.stage), else_=cur.previous_stage),
            "stage_changed_at": case((moved, at), else_=cur.stage_changed_at),
        },
        where=or_(*(cur[name].is_distinct_from(new[name]) for name in SCORED)),
    )
    # A first stage (from none) is no transition: a backfill of history must not flood journeys.
    changed = select(
        literal(STAGE_CHANGED),
        MemberAnalytics.member_id,
        json_pairs(
            literal("from", String),
            MemberAnalytics.previous_stage,
            literal("to", String),
            MemberAnalytics.stage,
        ),
        at,
        literal(now, Event.recorded_at.type),
        current_tx_id(),
    ).where(
        member_range(MemberAnalytics.member_id),
        MemberAnalytics.stage_changed_at == at,
        MemberAnalytics.previous_stage.is_not(None),
    )
    events = insert(table(Event)).from_select(
        ["type", "member_id", "payload", "occurred_at", "recorded_at", "tx_id"], changed
    )
    counted = {"preserve_rowcount": True}  # SQLAlchemy reports an INSERT's rowcount only if asked
    return ChunkStatements(upsert.execution_options(**counted), events.execution_options(**counted))
