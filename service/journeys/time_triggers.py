"""Time-driven triggers, each one INSERT … SELECT per journey and window of time.

Every run covers the window (watermark, now] of one journey and moves the watermark to now,
in the same transaction as the enrolments: a missed run is made up by the next, and a re-run
finds nothing new. The watermark row is locked with SKIP LOCKED, so replicas running this job
at once split the journeys between them instead of scanning one twice. The first window of a
journey starts at its activation: members enter for what becomes due from then on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    String,
    cast,
    exists,
    literal,
    select,
    true,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from service.analytics.replenishment import effective_replenish_days
from service.calendar.occasions import BirthdayOccasion, OccasionKind
from service.calendar.queries import birthday_on, members_due
from service.calendar.triggers import Due, due_in_zones
from service.db import dialect_insert, epoch_seconds, session_dialect
from service.journeys.conditions_sql import compile_condition
from service.journeys.enrolments import Candidates, LiveJourney, enrol
from service.journeys.fields import SqlScope
from service.journeys.models import TriggerWatermark
from service.journeys.queries import live_journeys
from service.journeys.rule import (
    CalendarTrigger,
    InactivityTrigger,
    JourneyRule,
    ReplenishmentTrigger,
    UnpaidOrderTrigger,
)
from service.members.models import Member
from service.members.stats import counted_order
from service.orders.models import Order, OrderItem, OrderStatus
from service.products.models import Product
from service.settings import Settings

TIME_TRIGGERS = ("unpaid_order", "replenishment", "calendar", "inactivity")
LONGEST_RUN_OUT = timedelta(days=730)
MICROSECOND = timedelta(microseconds=1)  # a product bought in bulk still runs out within two years


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Shop:
    """What the triggers need to know about the shop."""

    zone: ZoneInfo
    country: str

    @classmethod
    def from_settings(cls, settings: Settings) -> Shop:
        return cls(zone=settings.zone, country=settings.country)


async def run_time_triggers(session: AsyncSession, *, now: datetime, shop: Shop) -> dict[str, int]:
    """Enrol every journey's members whose time came in (watermark, now]."""
    entered: dict[str, int] = {}
    for journey in await live_journeys(session, trigger_types=TIME_TRIGGERS):
        start = await _claim_watermark(session, journey)
        if start is None or start >= now:
            continue
        count = 0
        for candidates in time_candidates(journey.rule, Window(start, now), shop):
            if not _is_over(candidates, now):
                count += await enrol(session, journey, candidates, now=now)
        entered[journey.key] = count
        await session.execute(
            update(TriggerWatermark)
            .where(TriggerWatermark.journey_id == journey.id)
            .values(scanned_until=now)
        )
    return entered


def _is_over(candidates: Candidates, now: datetime) -> bool:
    """An occasion whose day has ended: a run made up that late enrols no one for it, since
    its greeting could only expire."""
    ends = (candidates.context or {}).get("occasion_ends_at")
    return ends is not None and datetime.fromisoformat(ends) <= now


def time_candidates(rule: JourneyRule, window: Window, shop: Shop) -> list[Candidates]:
    """Who a time-driven trigger enrols for the window, as selects (also for dry runs)."""
    trigger = rule.trigger
    if isinstance(trigger, UnpaidOrderTrigger):
        return [unpaid_orders(rule, trigger, window)]
    if isinstance(trigger, ReplenishmentTrigger):
        return [replenishment(rule, trigger, window)]
    if isinstance(trigger, CalendarTrigger):
        return calendar(rule, trigger, window, shop)
    if isinstance(trigger, InactivityTrigger):
        return [lapsed(rule, window, days=trigger.days, prefix="lapse:")]
    raise ValueError(f"{trigger.type} is not a time-driven trigger")


async def _claim_watermark(session: AsyncSession, journey: LiveJourney) -> datetime | None:
    """The journey's watermark, row-locked; None if another replica holds it."""
    await session.execute(
        dialect_insert(session_dialect(session), TriggerWatermark)
        .values(journey_id=journey.id, scanned_until=journey.activated_at)
        .on_conflict_do_nothing(index_elements=["journey_id"])
    )
    return await session.scalar(
        select(TriggerWatermark.scanned_until)
        .where(TriggerWatermark.journey_id == journey.id)
        .with_for_update(skip_locked=True)
    )


def conditions(rule: JourneyRule, scope: SqlScope, now: datetime) -> list[ColumnElement[bool]]:
    """The trigger's `if` and the audience as SQL, plus: never an erased member."""
    found: list[ColumnElement[bool]] = [Member.erased_at.is_(None)]
    found += [
        compile_condition(condition, scope=scope, now=now)
        for condition in (rule.trigger.if_, rule.audience)
        if condition is not None
    ]
    return found


def _key(prefix: str, column: Any) -> ColumnElement[str]:
    return literal(prefix, String) + cast(column, String)


def unpaid_orders(rule: JourneyRule, trigger: UnpaidOrderTrigger, window: Window) -> Candidates:
    """Orders still `created` `after` their creation, that moment falling in the window."""
    key = _key("order:", Order.id)
    rows = (
        select(
            Order.member_id.label("member_id"),
            key.label("key"),
            key.label("occurrence"),
            Order.id.label("order_id"),
            literal(None, BigInteger).label("item_id"),
        )
        .join(Member, Member.id == Order.member_id)
        .where(
            Order.status == OrderStatus.CREATED,
            Order.created_at > window.start - trigger.after,
            Order.created_at <= window.end - trigger.after,
            *conditions(rule, SqlScope(member=Member, order=Order), window.end),
        )
    )
    return Candidates(rows)


def replenishment(rule: JourneyRule, trigger: ReplenishmentTrigger, window: Window) -> Candidates:
    """Items whose supply runs out `before` from now: once per item, unless bought again. A
    unit lasts the product's `replenish_days`, else its learned cycle, else its category's."""
    basis = Order.delivered_at if trigger.basis == "delivered" else Order.paid_at
    days = effective_replenish_days(Product, sku=OrderItem.sku)
    runs_out = OrderItem.quantity * days * 86_400
    fire = epoch_seconds(basis) + runs_out - trigger.before.total_seconds()
    later_item, later_order = aliased(OrderItem), aliased(Order)
    bought_again = exists().where(
        later_item.member_id == OrderItem.member_id,
        later_item.sku == OrderItem.sku,
        later_order.id == later_item.order_id,
        later_order.paid_at > Order.paid_at,
        counted_order(later_order),
    )
    key = _key("item:", OrderItem.id)
    scope = SqlScope(member=Member, order=Order, item=OrderItem, product=Product)
    rows = (
        select(
            OrderItem.member_id.label("member_id"),
            key.label("key"),
            key.label("occurrence"),
            Order.id.label("order_id"),
            OrderItem.id.label("item_id"),
        )
        .join(Order, Order.id == OrderItem.order_id)
        .join(Product, Product.sku == OrderItem.sku)
        .join(Member, Member.id == OrderItem.member_id)
        .where(
            counted_order(Order),
            basis > window.start - LONGEST_RUN_OUT,  # no cycle at all: `fire` is NULL, never due
            fire > window.start.timestamp(),
            fire <= window.end.timestamp(),
            ~bought_again,
            *conditions(rule, scope, window.end),
        )
    )
    return Candidates(rows)


def calendar(
    rule: JourneyRule, trigger: CalendarTrigger, window: Window, shop: Shop
) -> list[Candidates]:
    """Occasions whose greeting time came, per member time zone (or the shop's)."""
    zones = None if trigger.zone == "member" else [shop.zone.key]
    found = due_in_zones(  # [start, end) there, (start, end] here like every other trigger
        trigger.occasion,
        country=shop.country,
        days_before=trigger.days_before,
        at=trigger.at,
        start=window.start + MICROSECOND,
        end=window.end + MICROSECOND,
        zones=zones,
    )
    return [_occasion(rule, trigger, due, window, shop) for due in found]


def _occasion(
    rule: JourneyRule, trigger: CalendarTrigger, due: Due, window: Window, shop: Shop
) -> Candidates:
    occurrence = due.occurrence
    if trigger.zone == "member":
        who = members_due(due, default_zone=shop.zone.key)
    elif isinstance(trigger.occasion, BirthdayOccasion) and occurrence.calendar is not None:
        who = birthday_on(occurrence.local_date, occurrence.calendar)
    else:
        who = true()
    key = literal(f"occasion:{occurrence.occasion_id}", String)
    rows = select(
        Member.id.label("member_id"),
        key.label("key"),
        key.label("occurrence"),
        literal(None, BigInteger).label("order_id"),
        literal(None, BigInteger).label("item_id"),
    ).where(who, *conditions(rule, SqlScope(member=Member), window.end))
    zone = ZoneInfo(min(due.zones)) if due.zones else shop.zone
    ends_at = datetime.combine(
        occurrence.local_date + timedelta(days=1), time(0), tzinfo=zone
    ).astimezone(UTC)
    context = {
        "occasion": {"name_zh": occurrence.name_zh, "name_en": occurrence.name_en},
        "occasion_date": occurrence.local_date.isoformat(),
        "occasion_ends_at": ends_at.isoformat(),
        "occasion_kind": OccasionKind(occurrence.kind).value,
    }
    return Candidates(rows, occasion_id=occurrence.occasion_id, context=context)


def lapsed(rule: JourneyRule, window: Window, *, days: int, prefix: str) -> Candidates:
    """Members whose last paid order became `days` old within the window: once per lapse."""
    age = timedelta(days=days)
    key = _key(prefix, cast(epoch_seconds(Member.last_paid_at), BigInteger))
    rows = select(
        Member.id.label("member_id"),
        key.label("key"),
        key.label("occurrence"),
        literal(None, BigInteger).label("order_id"),
        literal(None, BigInteger).label("item_id"),
    ).where(
        Member.last_paid_at > window.start - age,
        Member.last_paid_at <= window.end - age,
        *conditions(rule, SqlScope(member=Member), window.end),
    )
    return Candidates(rows)
