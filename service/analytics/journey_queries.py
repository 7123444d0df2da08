"""The journey report's counts and sums, each one statement grouped in the database."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, and_, case, cast, distinct, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.analytics.attribution import Windows, attributed_opt_outs, attributed_orders
from service.analytics.rfm import cents
from service.journeys.models import Enrolment, EnrolmentStep
from service.journeys.sql_functions import epoch_us
from service.members.stats import counted_order
from service.messaging.outbox import Message, MessageStatus
from service.orders.models import Order

RowKey = tuple[str, str | None, str]  # step id, variant, channel
EXPOSED = ("sent", "control")  # what a send step records for treatment and control members
SPLIT = 1_000_000  # squares are summed in two halves so SQLite's 64-bit sum cannot overflow


@dataclass(frozen=True)
class Span:
    """The journey and the UTC instants [start_at, end_at) of the report's range."""

    journey_id: int
    start_at: datetime
    end_at: datetime


@dataclass
class StepCounts:
    queued: int = 0
    sent: int = 0
    delivered: int = 0
    failed: int = 0
    suppressed: int = 0
    expired: int = 0
    held_out: int = 0
    cost_units: int = 0  # 1/10000 of the currency, as Message.cost stores it
    conversions: int = 0
    opt_outs: int = 0
    orders: int = 0
    revenue_cents: int = 0


def _count(condition: Any) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


async def message_counts(session: AsyncSession, span: Span) -> dict[RowKey, StepCounts]:
    """Per step, variant and channel: the fate of the messages decided in the range."""
    holdout = and_(Message.status == MessageStatus.SUPPRESSED, Message.status_reason == "holdout")
    treated = ~holdout
    converted = and_(treated, Enrolment.goal_reached_at >= Message.created_at)
    rows = await session.execute(
        select(
            Message.step_id,
            Message.variant,
            Message.channel,
            _count(treated),
            _count(Message.sent_at.is_not(None)),
            _count(Message.status == MessageStatus.DELIVERED),
            _count(Message.status == MessageStatus.FAILED),
            _count(and_(Message.status == MessageStatus.SUPPRESSED, treated)),
            _count(Message.status == MessageStatus.EXPIRED),
            _count(holdout),
            cast(func.coalesce(func.sum(cents(Message.cost)), 0), BigInteger),
            func.count(distinct(case((converted, Message.enrolment_id)))),
        )
        .outerjoin(Enrolment, Enrolment.id == Message.enrolment_id)
        .where(
            Message.journey_id == span.journey_id,
            Message.is_test.is_(False),
            Message.created_at >= span.start_at,
            Message.created_at < span.end_at,
        )
        .group_by(Message.step_id, Message.variant, Message.channel)
    )
    found: dict[RowKey, StepCounts] = {}
    for step_id, variant, channel, *numbers in rows:
        found[(step_id or "", variant, str(channel))] = StepCounts(*(int(n) for n in numbers))
    return found


async def add_attributed(
    session: AsyncSession, found: dict[RowKey, StepCounts], span: Span, windows: Windows
) -> None:
    """Add the orders and opt-outs of the range that last-touch attribution gives this journey."""
    journey_id = span.journey_id
    orders = attributed_orders(windows, start_at=span.start_at, end_at=span.end_at)
    keys = (orders.c.step_id, orders.c.variant, orders.c.channel)
    for step_id, variant, channel, n, revenue in await session.execute(
        select(*keys, func.count(), cast(func.sum(orders.c.net_cents), BigInteger))
        .where(orders.c.journey_id == journey_id)
        .group_by(*keys)
    ):
        counts = found.setdefault((step_id or "", variant, str(channel)), StepCounts())
        counts.orders, counts.revenue_cents = int(n), int(revenue)
    opt_outs = attributed_opt_outs(windows, start_at=span.start_at, end_at=span.end_at)
    keys = (opt_outs.c.step_id, opt_outs.c.variant, opt_outs.c.channel)
    for step_id, variant, channel, n in await session.execute(
        select(*keys, func.count()).where(opt_outs.c.journey_id == journey_id).group_by(*keys)
    ):
        found.setdefault((step_id or "", variant, str(channel)), StepCounts()).opt_outs = int(n)


@dataclass
class Arm:
    """One side of the holdout: members, conversions, and revenue per member summarised."""

    members: int = 0
    conversions: int = 0
    revenue_cents: int = 0
    squares: int = 0  # the sum over members of (revenue in cents)²


@dataclass
class Holdout:
    arms: dict[bool, Arm] = field(default_factory=dict)  # is_control → its arm
    last_window_end_us: int | None = None


def _exposures(span: Span, windows: Windows) -> Any:
    """Each send (treatment) or control step of the journey that ran in the range, with its
    member, arm, instant (µs), window and whether the enrolment reached the goal after it."""
    table = windows.table()
    return (
        select(
            Enrolment.member_id,
            Enrolment.is_control,
            epoch_us(EnrolmentStep.ran_at).label("ran_us"),
            table.c.window_us,
            case((Enrolment.goal_reached_at >= EnrolmentStep.ran_at, 1), else_=0).label("goal"),
        )
        .join(Enrolment, Enrolment.id == EnrolmentStep.enrolment_id)
        .join(
            table,
            and_(
                table.c.journey_id == Enrolment.journey_id,
                table.c.version == Enrolment.journey_version,
            ),
        )
        .where(
            EnrolmentStep.journey_id == span.journey_id,
            EnrolmentStep.outcome.in_(EXPOSED),
            EnrolmentStep.ran_at >= span.start_at,
            EnrolmentStep.ran_at < span.end_at,
        )
        .subquery("exposures")
    )


def _member_revenue(exposed: Any) -> Any:
    """Per member and arm: the net of the distinct counted orders paid within a window after
    one of their exposures."""
    paid_us = epoch_us(Order.paid_at)
    orders = (
        select(exposed.c.member_id, exposed.c.is_control, Order.id, cents(Order.total).label("t"))
        .add_columns(cents(Order.refund_total).label("r"))
        .join(Order, Order.member_id == exposed.c.member_id)
        .where(
            counted_order(Order),
            paid_us > exposed.c.ran_us,
            paid_us - exposed.c.ran_us <= exposed.c.window_us,
        )
        .distinct()
        .subquery("member_orders")
    )
    return (
        select(
            orders.c.member_id,
            orders.c.is_control,
            cast(func.sum(orders.c.t - orders.c.r), BigInteger).label("cents"),
        )
        .group_by(orders.c.member_id, orders.c.is_control)
        .subquery("member_revenue")
    )


async def holdout_arms(session: AsyncSession, span: Span, windows: Windows) -> Holdout:
    """Per arm: members, conversions, the sum and the sum of squares of revenue per member."""
    exposed = _exposures(span, windows)
    members = (
        select(exposed.c.member_id, exposed.c.is_control, func.max(exposed.c.goal).label("goal"))
        .group_by(exposed.c.member_id, exposed.c.is_control)
        .subquery("cohort")
    )
    revenue = _member_revenue(exposed)
    x = cast(func.coalesce(revenue.c.cents, 0), BigInteger)
    high, low = x // SPLIT, x % SPLIT
    rows = await session.execute(
        select(
            members.c.is_control,
            func.count(),
            func.sum(members.c.goal),
            func.sum(x),
            func.sum(high * high),
            func.sum(high * low),
            func.sum(low * low),
        )
        .outerjoin(
            revenue,
            and_(
                revenue.c.member_id == members.c.member_id,
                revenue.c.is_control == members.c.is_control,
            ),
        )
        .group_by(members.c.is_control)
    )
    found = Holdout()
    for is_control, n, goals, total, hh, hl, ll in rows:
        squares = int(hh) * SPLIT * SPLIT + 2 * int(hl) * SPLIT + int(ll)
        found.arms[bool(is_control)] = Arm(int(n), int(goals), int(total), squares)
    last = await session.scalar(select(func.max(exposed.c.ran_us + exposed.c.window_us)))
    found.last_window_end_us = None if last is None else int(last)
    return found
