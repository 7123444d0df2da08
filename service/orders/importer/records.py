"""One imported order as the importer carries it: exact cents, aware times, file positions."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import NamedTuple

from service.orders.merge import OrderMessage
from service.orders.models import OrderStatus
from service.orders.schemas import OrderIn

# The CSV columns, one row per order line; the order's columns repeat on each of its rows.
COLUMNS = (
    "order_id",
    "member_external_id",
    "member_phone",
    "member_email",
    "member_name",
    "status",
    "currency",
    "total",
    "discount_total",
    "refund_total",
    "source",
    "created_at",
    "paid_at",
    "shipped_at",
    "delivered_at",
    "cancelled_at",
    "refunded_at",
    "sku",
    "quantity",
    "price",
)
ORDER_COLUMNS = len(COLUMNS) - 3
REQUIRED_COLUMNS = ("order_id", "member_external_id", "status", "total", "created_at")
STAMPS = ("paid_at", "shipped_at", "delivered_at", "cancelled_at", "refunded_at")


class ImportItem(NamedTuple):
    sku: str
    quantity: int
    price: int  # cents


class ImportOrder(NamedTuple):
    """A valid order message; amounts in cents, exactly as the webhook would have stored them."""

    line: int
    id: str
    member: str
    phone: str | None
    email: str | None
    name: str | None
    status: OrderStatus
    currency: str
    total: int
    discount_total: int
    refund_total: int | None
    source: str
    created_at: str  # times: ISO 8601 with an offset, as the file wrote them when plain
    paid_at: str | None
    shipped_at: str | None
    delivered_at: str | None
    cancelled_at: str | None
    refunded_at: str | None
    items: tuple[ImportItem, ...]


class Problem(NamedTuple):
    """Why an order was rejected: `file:line: field: reason`."""

    line: int
    field: str
    reason: str

    def render(self, name: str) -> str:
        return f"{name}:{self.line}: {self.field}: {self.reason}"


def cents(amount: Decimal) -> int:
    return int(amount * 100)


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


def _iso(value: datetime | None) -> str | None:
    return None if value is None else iso(value)


def from_model(order: OrderIn, line: int) -> ImportOrder:
    """The authoritative conversion: what OrderIn accepted, in the importer's form."""
    member = order.member
    return ImportOrder(
        line=line,
        id=order.id,
        member=member.external_id,
        phone=member.phone or None,
        email=member.email or None,
        name=member.name or None,
        status=order.status,
        currency=order.currency,
        total=cents(order.total),
        discount_total=cents(order.discount_total),
        refund_total=None if order.refund_total is None else cents(order.refund_total),
        source=order.source,
        created_at=iso(order.created_at),
        paid_at=_iso(order.paid_at),
        shipped_at=_iso(order.shipped_at),
        delivered_at=_iso(order.delivered_at),
        cancelled_at=_iso(order.cancelled_at),
        refunded_at=_iso(order.refunded_at),
        items=tuple(ImportItem(i.sku, i.quantity, cents(i.price)) for i in order.items),
    )


def message_of(order: ImportOrder) -> OrderMessage:
    """The order message the merge rule reads (for orders that already exist)."""
    return OrderMessage(
        status=order.status,
        currency=order.currency,
        total=Decimal(order.total) / 100,
        discount_total=Decimal(order.discount_total) / 100,
        source=order.source,
        refund_total=None if order.refund_total is None else Decimal(order.refund_total) / 100,
        stamps={
            f: datetime.fromisoformat(getattr(order, f))
            for f in STAMPS
            if getattr(order, f) is not None
        },
    )
