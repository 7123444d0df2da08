"""What one order message changes on the recorded order (pure): shared by webhooks and imports."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from decimal import Decimal
from typing import Any

from service.orders.models import OrderStatus
from service.orders.status import TIMESTAMP_FIELD, transitions

STAMP_FIELDS = tuple(TIMESTAMP_FIELD.values())
# Set from the newest message whenever it moves the status on.
AMOUNT_FIELDS = ("currency", "total", "discount_total", "source")


@dataclass(frozen=True, slots=True)
class OrderMessage:
    """One report of an order, as a webhook, a batch or an import line gives it."""

    status: OrderStatus
    currency: str
    total: Decimal
    discount_total: Decimal
    source: str
    refund_total: Decimal | None = None
    stamps: Mapping[str, datetime] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class OrderState:
    """The recorded order, as far as a message can change it."""

    status: OrderStatus
    currency: str
    total: Decimal
    discount_total: Decimal
    source: str
    refund_total: Decimal
    paid_at: datetime | None = None
    shipped_at: datetime | None = None
    delivered_at: datetime | None = None
    cancelled_at: datetime | None = None
    refunded_at: datetime | None = None


STATE_FIELDS = tuple(f.name for f in fields(OrderState))


def stamps(message: OrderMessage, entered: list[OrderStatus], now: datetime) -> dict[str, datetime]:
    """Status times the message carries, and `now` for a status entered without one."""
    given = dict(message.stamps)
    for status in entered:
        given.setdefault(TIMESTAMP_FIELD[status], now)
    return given


def refund_of(message: OrderMessage) -> Decimal:
    """Refunded so far: as given, else all of it for a refunded order, else nothing."""
    if message.refund_total is not None:
        return message.refund_total
    return message.total if message.status == OrderStatus.REFUNDED else Decimal(0)


def initial_state(message: OrderMessage, *, now: datetime) -> OrderState:
    """The order as first recorded from this message."""
    entered = transitions(None, message.status)
    return OrderState(
        status=message.status,
        currency=message.currency,
        total=message.total,
        discount_total=message.discount_total,
        source=message.source,
        refund_total=refund_of(message),
        **stamps(message, entered, now),
    )


def merge(
    current: OrderState, message: OrderMessage, *, now: datetime
) -> tuple[dict[str, Any], list[OrderStatus]]:
    """The columns to change and the statuses entered: forward-only status, missing or later
    times replaced, refunds only growing; amounts follow the message that moves the status on."""
    entered = transitions(current.status, message.status)
    # The earliest time known wins: a status entered without one was stamped with when we
    # learned of it, and the shop's own time, arriving later, is earlier than that.
    changes: dict[str, Any] = {
        name: stamp
        for name, stamp in stamps(message, entered, now).items()
        if getattr(current, name) is None or stamp < getattr(current, name)
    }
    refund = refund_of(message)
    if refund > current.refund_total:
        changes["refund_total"] = refund
    if entered:
        changes |= {name: getattr(message, name) for name in AMOUNT_FIELDS}
        changes["status"] = message.status
    return changes, entered
