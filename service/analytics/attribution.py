"""Last-touch attribution of paid orders and opt-outs to journey messages, in SQL.

A *touch* is a journey message that reached the member: status `delivered` (at `delivered_at`)
or `sent` with no receipt (at `sent_at`: many SMS gateways never send one). Test sends, failed,
suppressed (the holdout's included), expired and unsent messages never touch.

- A counted paid order (paid, not cancelled, not refunded in full) goes to the member's last
  touch strictly before `paid_at` whose attribution window still covers `paid_at`: the window of
  the message's channel in the rule of its journey version (`attribution_windows`), else the
  rule's `attribution_window` (default P5D); last touch across every
  journey and channel, so an order is attributed once at most, to one message, and counts for
  that message's journey, step, variant and channel. Its revenue is its net amount (total less
  refunds), as in the other reports.
- An opt-out (a recorded withdrawal of marketing consent, other than the profile's initial
  value, a suppression-list block or an erasure) goes to the member's last touch on the same
  channel strictly before it, within that message's window.

Instants are compared in exact microseconds on both databases.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, Integer, String, and_, column, func, select, values
from sqlalchemy.ext.asyncio import AsyncSession

from service.analytics.rfm import cents
from service.journeys.durations import parse_duration
from service.journeys.models import JourneyVersion
from service.journeys.sql_functions import epoch_us
from service.members.models import Channel, ConsentChange
from service.members.stats import counted_order
from service.messaging.outbox import Message, MessageStatus
from service.orders.models import Order

DEFAULT_WINDOW = timedelta(days=5)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
TOUCHING = (MessageStatus.DELIVERED, MessageStatus.SENT)
# Withdrawals the member did not make in answer to a message.
NOT_OPT_OUTS = ("initial", "suppression_list", "erasure")


def window_of(rule: dict[str, Any], channel: Channel | None = None) -> timedelta:
    """The rule's attribution window; with a channel, that channel's own where the rule sets one."""
    own = rule.get("attribution_windows")
    stored = own.get(channel.value) if channel and isinstance(own, dict) else None
    if not isinstance(stored, str):
        stored = rule.get("attribution_window")
    return parse_duration(stored) if isinstance(stored, str) else DEFAULT_WINDOW


def micros(delta: timedelta) -> int:
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def epoch_micros(at: datetime) -> int:
    """What `epoch_us` computes in SQL, in Python."""
    return micros(at - EPOCH)


@dataclass(frozen=True)
class Windows:
    """Every journey version's attribution windows, as VALUES tables to join on: the rule's own
    (the holdout measures both arms by it) and each channel's (what a message's touch lasts)."""

    by_version: dict[tuple[int, int], timedelta]
    by_channel: dict[tuple[int, int, Channel], timedelta]

    @property
    def longest(self) -> timedelta:
        return max([*self.by_version.values(), *self.by_channel.values()], default=DEFAULT_WINDOW)

    def table(self) -> Any:
        rows = [(j, v, micros(w)) for (j, v), w in sorted(self.by_version.items())]
        return (
            values(
                column("journey_id", BigInteger),
                column("version", Integer),
                column("window_us", BigInteger),
                name="windows",
            )
            .data(rows or [(0, 0, 0)])  # VALUES cannot be empty; journey 0 does not exist
            .cte("windows")
        )

    def channel_table(self) -> Any:
        rows = [(j, v, c.value, micros(w)) for (j, v, c), w in sorted(self.by_channel.items())]
        return (
            values(
                column("journey_id", BigInteger),
                column("version", Integer),
                column("channel", String(32)),
                column("window_us", BigInteger),
                name="channel_windows",
            )
            .data(rows or [(0, 0, "", 0)])
            .cte("channel_windows")
        )


async def load_windows(session: AsyncSession) -> Windows:
    rows = (
        await session.execute(
            select(JourneyVersion.journey_id, JourneyVersion.version, JourneyVersion.rule)
        )
    ).all()
    return Windows(
        by_version={(j, v): window_of(rule) for j, v, rule in rows},
        by_channel={(j, v, c): window_of(rule, c) for j, v, rule in rows for c in Channel},
    )


def touches(windows: Windows, *, start_at: datetime, end_at: datetime) -> Any:
    """Messages that reached their member from `start_at` − the longest window to `end_at`,
    each with its touch instant (µs) and the window of its channel in its version."""
    table = windows.channel_table()
    touched_at = func.coalesce(Message.delivered_at, Message.sent_at)
    return (
        select(
            Message.id.label("message_id"),
            Message.member_id,
            Message.journey_id,
            Message.step_id,
            Message.variant,
            Message.channel,
            epoch_us(touched_at).label("touch_us"),
            table.c.window_us,
        )
        .join(
            table,
            and_(
                table.c.journey_id == Message.journey_id,
                table.c.version == Message.journey_version,
                table.c.channel == Message.channel,
            ),
        )
        .where(
            Message.status.in_(TOUCHING),
            Message.is_test.is_(False),
            touched_at.is_not(None),
            touched_at >= start_at - windows.longest,
            touched_at < end_at,
        )
        .cte("touches")
    )


def _touch_fields(touch: Any) -> tuple[Any, ...]:
    """What a candidate row carries of the message that touched it."""
    c = touch.c
    return (c.message_id, c.journey_id, c.step_id, c.variant, c.channel, c.touch_us)


def _within_window(touch: Any, at_us: Any) -> tuple[Any, ...]:
    """The touch came before the moment `at_us`, by at most its channel's window."""
    return (touch.c.touch_us < at_us, at_us - touch.c.touch_us <= touch.c.window_us)


def _last_touch(candidates: Any, key: Any, name: str) -> Any:
    """Per `key`, the candidate row of the latest touch (the latest message on a tie)."""
    latest_first = (candidates.c.touch_us.desc(), candidates.c.message_id.desc())
    ranked = select(
        candidates,
        func.row_number().over(partition_by=key, order_by=latest_first).label("rank"),
    ).subquery("ranked")
    return select(ranked).where(ranked.c.rank == 1).subquery(name)


def attributed_orders(windows: Windows, *, start_at: datetime, end_at: datetime) -> Any:
    """Counted orders paid in [start_at, end_at) with the message each is attributed to."""
    touch = touches(windows, start_at=start_at, end_at=end_at)
    paid_us = epoch_us(Order.paid_at)
    candidates = (
        select(
            Order.id.label("order_id"),
            (cents(Order.total) - cents(Order.refund_total)).label("net_cents"),
            *_touch_fields(touch),
        )
        .join(touch, touch.c.member_id == Order.member_id)
        .where(
            counted_order(Order),
            Order.paid_at >= start_at,
            Order.paid_at < end_at,
            *_within_window(touch, paid_us),
        )
        .subquery("candidates")
    )
    return _last_touch(candidates, candidates.c.order_id, "attributed_orders")


def attributed_opt_outs(windows: Windows, *, start_at: datetime, end_at: datetime) -> Any:
    """Opt-outs recorded in [start_at, end_at) with the message each is attributed to."""
    touch = touches(windows, start_at=start_at, end_at=end_at)
    at_us = epoch_us(ConsentChange.occurred_at)
    candidates = (
        select(
            ConsentChange.id.label("change_id"),
            *_touch_fields(touch),
        )
        .join(
            touch,
            and_(
                touch.c.member_id == ConsentChange.member_id,
                touch.c.channel == ConsentChange.channel,
            ),
        )
        .where(
            ConsentChange.granted.is_(False),
            ConsentChange.purpose == "marketing",
            ConsentChange.source.not_in(NOT_OPT_OUTS),
            ConsentChange.occurred_at >= start_at,
            ConsentChange.occurred_at < end_at,
            *_within_window(touch, at_us),
        )
        .subquery("candidates")
    )
    return _last_touch(candidates, candidates.c.change_id, "attributed_opt_outs")


async def order_attribution(
    session: AsyncSession, *, start_at: datetime, end_at: datetime
) -> dict[int, int]:
    """Order id → the id of the message it is attributed to, for orders paid in the range."""
    found = attributed_orders(await load_windows(session), start_at=start_at, end_at=end_at)
    rows = await session.execute(select(found.c.order_id, found.c.message_id))
    return {int(order_id): int(message_id) for order_id, message_id in rows}


async def opt_out_attribution(
    session: AsyncSession, *, start_at: datetime, end_at: datetime
) -> dict[int, int]:
    """Consent change id → the id of the message the opt-out is attributed to."""
    found = attributed_opt_outs(await load_windows(session), start_at=start_at, end_at=end_at)
    rows = await session.execute(select(found.c.change_id, found.c.message_id))
    return {int(change_id): int(message_id) for change_id, message_id in rows}
