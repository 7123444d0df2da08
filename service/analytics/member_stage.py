"""Keep one member's stage current when an order changes their stats.

New and active change on a paid order (a first, a second), and a refund can move a member back,
so order ingest calls `stage_change` after the stats update, in its transaction. The time-
driven moves (sleeping, at risk, churned) are the recompute's job. The stage rules are those of
the latest started recompute run, read in the statement: ingest needs no settings, and a
member's stage is always computed under the same rules as everyone else's. Before any run has
started there are no rules yet, and this does nothing.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, bindparam, case, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from service.analytics.chunks import STAGE_CHANGED
from service.analytics.lifecycle import ADAPTIVE, StageParams, stage_sql
from service.analytics.models import AnalyticsRun, MemberAnalytics
from service.analytics.sql import days_since, epoch_of, epoch_param, table
from service.db import dialect_insert, session_dialect
from service.events.service import NewEvent, append_events
from service.members.models import Member


def _refresh_statement(dialect: str) -> Any:
    rules = (
        select(AnalyticsRun)
        .where(AnalyticsRun.started_at.is_not(None))
        .order_by(AnalyticsRun.id.desc())
        .limit(1)
        .subquery("rules")
    )
    r = rules.c
    params = StageParams(
        adaptive=r.stage_mode == ADAPTIVE,
        sleeping_days=r.stage_sleeping_days,
        at_risk_days=r.stage_at_risk_days,
        churned_days=r.stage_churned_days,
        reference_gap_days=r.stage_reference_gap_days,
        adaptive_min_orders=r.stage_adaptive_min_orders,
    )
    old = aliased(MemberAnalytics)
    days = days_since(Member.last_paid_at, epoch_param("now_s"))
    stage = stage_sql(
        params,
        paid_orders=Member.paid_orders,
        days_since=case((Member.last_paid_at.is_not(None), days)),
        member_gap_x2=old.gap_days_x2,
        shop_gap_x2=r.shop_gap_days_x2,
    )
    fresh = (
        select(
            Member.id.label("member_id"),
            stage.label("stage"),
            old.member_id.is_not(None).label("has_row"),
        )
        .select_from(Member)
        .join(rules, true())
        .outerjoin(old, old.member_id == Member.id)
        .where(Member.id == bindparam("member_id", type_=BigInteger))
        .subquery("fresh")
    )
    now = bindparam("now", type_=MemberAnalytics.stage_changed_at.type)
    rows = select(fresh.c.member_id, fresh.c.stage, case((fresh.c.stage.is_not(None), now))).where(
        fresh.c.stage.is_not(None) | fresh.c.has_row  # no empty rows for members who never paid
    )
    stmt = dialect_insert(dialect, table(MemberAnalytics)).from_select(
        ["member_id", "stage", "stage_changed_at"], rows
    )
    cur = table(MemberAnalytics).c
    return stmt.on_conflict_do_update(
        index_elements=["member_id"],
        set_={
            "previous_stage": cur.stage,
            "stage": stmt.excluded.stage,
            "stage_changed_at": stmt.excluded.stage_changed_at,
        },
        where=cur.stage.is_distinct_from(stmt.excluded.stage),
    ).returning(cur.previous_stage, cur.stage)


# Built once: composing the statement costs more than running it, and ingest runs it per order.
REFRESH = {dialect: _refresh_statement(dialect) for dialect in ("sqlite", "postgresql")}


# The order events after which paid orders or their net amounts may differ; a created, shipped
# or delivered order leaves the stats (and so the stage) as they were.
STATS_EVENTS = frozenset({"order.paid", "order.refunded", "order.cancelled", "order.updated"})


async def stage_change(
    session: AsyncSession,
    *,
    member_id: int,
    now: datetime,
    events: Collection[str] = STATS_EVENTS,
) -> NewEvent | None:
    """Recompute one member's stage from their stats after these order events, if any of them
    can move it; a change is the member.stage_changed event to append after those events."""
    if STATS_EVENTS.isdisjoint(events):
        return None
    row = (
        await session.execute(
            REFRESH[session_dialect(session)],
            {"member_id": member_id, "now": now, "now_s": epoch_of(now)},
        )
    ).first()
    if row is None or row.previous_stage == row.stage:
        return None
    payload = {"from": _value(row.previous_stage), "to": _value(row.stage)}
    return NewEvent(STAGE_CHANGED, member_id, now, payload=payload)


async def refresh_member_stage(
    session: AsyncSession,
    *,
    member_id: int,
    now: datetime,
    events: Collection[str] = STATS_EVENTS,
) -> None:
    """`stage_change`, its event appended now."""
    if event := await stage_change(session, member_id=member_id, now=now, events=events):
        await append_events(session, [event], now=now)


def _value(stage: Any) -> str | None:
    return None if stage is None else str(stage)
