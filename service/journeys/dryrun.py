"""Dry runs: who a journey would enrol, counted in SQL with the same selects the engine uses.

Event, order and item triggers look back over a window (who would have entered over the last
30 days); calendar triggers look ahead (who will enter over the next 30 days); inactivity
triggers count the members who crossed the line within the last window, stage triggers those
whose analytics entered the stage then and are still in it. Nothing is written.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import (
    BigInteger,
    Label,
    Select,
    Subquery,
    case,
    exists,
    func,
    literal,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from service.analytics.models import MemberAnalytics
from service.journeys.durations import format_duration
from service.journeys.enrolments import Candidates, holdout_bucket_sql
from service.journeys.fields import SqlScope
from service.journeys.models import Enrolment
from service.journeys.rule import (
    CalendarTrigger,
    EntryPolicy,
    EventTrigger,
    EventType,
    JourneyRule,
    StageTrigger,
)
from service.journeys.schemas import DryRunOut, EntryOut
from service.journeys.stage_entry import stage_candidates
from service.journeys.time_triggers import Shop, Window, conditions, time_candidates
from service.members.models import Member
from service.orders.models import Order

ORDER_EVENT_AT = {
    EventType.ORDER_CREATED: Order.created_at,
    EventType.ORDER_PAID: Order.paid_at,
    EventType.ORDER_SHIPPED: Order.shipped_at,
    EventType.ORDER_DELIVERED: Order.delivered_at,
    EventType.ORDER_REFUNDED: Order.refunded_at,
    EventType.ORDER_CANCELLED: Order.cancelled_at,
}
POLICY_TEXT = {
    EntryPolicy.ONCE_PER_MEMBER: "each member enters once, ever",
    EntryPolicy.ONCE_PER_KEY: "once per order, item, occasion or lapse",
    EntryPolicy.COOLDOWN: "again once the cooldown has passed since the last entry",
    EntryPolicy.EVERY_TIME: "on every trigger, never twice at once for the same key",
}


def event_candidates(rule: JourneyRule, trigger: EventTrigger, window: Window) -> Candidates:
    """Members the trigger would have enrolled for events in the window."""
    nothing = literal(None, BigInteger)
    if trigger.event.is_order_event:
        at = ORDER_EVENT_AT[trigger.event]
        rows = (
            select(Order.member_id.label("member_id"), Order.id.label("order_id"))
            .join(Member, Member.id == Order.member_id)
            .where(
                at > window.start,
                at <= window.end,
                *conditions(rule, SqlScope(member=Member, order=Order), window.end),
            )
        )
        return Candidates(rows)
    where = conditions(rule, SqlScope(member=Member), window.end)
    if trigger.event is EventType.MEMBER_CREATED:
        where += [Member.created_at > window.start, Member.created_at <= window.end]
    if trigger.event is EventType.MEMBER_STAGE_CHANGED:
        moved = select(MemberAnalytics.member_id).where(
            MemberAnalytics.stage_changed_at > window.start,
            MemberAnalytics.stage_changed_at <= window.end,
        )
        where.append(Member.id.in_(moved))
    return Candidates(select(Member.id.label("member_id"), nothing.label("order_id")).where(*where))


def is_one_row_per_member(found: list[Candidates]) -> bool:
    """One select over the members table alone names each member once (calendar, lapse and
    member-event triggers): no DISTINCT needed, and the sample can walk the primary key."""
    if len(found) != 1:
        return False
    rows = found[0].rows
    froms = rows.get_final_froms()
    member_id = rows.selected_columns.member_id
    return (
        len(froms) == 1
        and froms[0] is Member.__table__
        and isinstance(member_id, Label)
        and member_id.element.compare(Member.__table__.c.id)
    )


def candidate_members(found: list[Candidates]) -> Subquery:
    """Each candidate member once, as a subquery with `member_id`."""
    if is_one_row_per_member(found):
        rows = found[0].rows
        return rows.with_only_columns(rows.selected_columns.member_id).subquery()
    ids = union_all(*(c.rows.with_only_columns(c.rows.selected_columns.member_id) for c in found))
    return select(ids.subquery().c.member_id).distinct().subquery()


def sample_of(found: list[Candidates], members: Subquery, *, size: int) -> Select[str]:
    """The first `size` candidates' external ids, by member id."""
    if is_one_row_per_member(found):  # stops at the first matches instead of finding them all
        rows = found[0].rows
        return rows.with_only_columns(Member.external_id).order_by(Member.id).limit(size)
    return (
        select(Member.external_id)
        .where(Member.id.in_(select(members.c.member_id)))
        .order_by(Member.id)
        .limit(size)
    )


def candidates_for(
    rule: JourneyRule, *, now: datetime, window: timedelta, shop: Shop
) -> tuple[list[Candidates], str]:
    trigger = rule.trigger
    days = round(window.total_seconds() / 86_400, 2)
    if isinstance(trigger, EventTrigger):
        span = Window(now - window, now)
        return [event_candidates(rule, trigger, span)], f"{trigger.event} in the last {days} days"
    if isinstance(trigger, StageTrigger):
        span = Window(now - window, now)
        entered = f"entered {trigger.stage} in the last {days} days"
        return [stage_candidates(rule, trigger, span)], entered
    if isinstance(trigger, CalendarTrigger):
        span = Window(now, now + window)
        return time_candidates(rule, span, shop), f"occasions in the next {days} days"
    span = Window(now - window, now)
    return time_candidates(rule, span, shop), f"{trigger.type} due in the last {days} days"


async def count_candidates(
    session: AsyncSession, members: Subquery, *, journey_id: int, holdout_percent: float
) -> tuple[int, int, int]:
    """(candidates, of them in the control group, of them already entered) in one scan."""
    threshold = round(holdout_percent * 100)
    control = case((holdout_bucket_sql(members.c.member_id, journey_id) < threshold, 1))
    # A journey nobody entered yet (a draft, the usual dry run) needs no probe per candidate:
    # the probes cost more than the scan itself and keep PostgreSQL from scanning in parallel.
    has_entrants = await session.scalar(select(exists().where(Enrolment.journey_id == journey_id)))
    entered = exists().where(
        Enrolment.journey_id == journey_id, Enrolment.member_id == members.c.member_id
    )
    row = (
        await session.execute(
            select(
                func.count(),
                func.coalesce(func.sum(control), 0),
                func.coalesce(func.sum(case((entered, 1))), 0) if has_entrants else literal(0),
            ).select_from(members)
        )
    ).one()
    return int(row[0]), int(row[1]), int(row[2])


async def dry_run(
    session: AsyncSession,
    rule: JourneyRule,
    *,
    journey_id: int,
    now: datetime,
    window: timedelta,
    sample: int,
    shop: Shop,
) -> DryRunOut:
    found, scope = candidates_for(rule, now=now, window=window, shop=shop)
    entry = EntryOut(
        policy=rule.entry.policy,
        cooldown=None if rule.entry.cooldown is None else format_duration(rule.entry.cooldown),
        explained=POLICY_TEXT[rule.entry.policy],
    )
    if not found:
        return DryRunOut(
            trigger_type=rule.trigger.type,
            scope=scope,
            members=0,
            control=0,
            already_entered=0,
            sample=[],
            entry=entry,
            holdout_percent=rule.holdout_percent,
        )
    members = candidate_members(found)
    counts = await count_candidates(
        session, members, journey_id=journey_id, holdout_percent=rule.holdout_percent
    )
    picked = await session.scalars(sample_of(found, members, size=sample))
    return DryRunOut(
        trigger_type=rule.trigger.type,
        scope=scope,
        members=counts[0],
        control=counts[1],
        already_entered=counts[2],
        sample=list(picked),
        entry=entry,
        holdout_percent=rule.holdout_percent,
    )
