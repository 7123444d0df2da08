"""Shopify's order webhooks (REST Admin order JSON) mapped onto the native order (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from service.orders.identity import display_name, order_member
from service.orders.models import OrderStatus
from service.orders.payload import Loc, PayloadReader, build_order, item_sku, slug
from service.orders.schemas import OrderIn
from service.orders.status import TERMINAL

PLATFORM = "shopify"
HMAC_HEADER = "X-Shopify-Hmac-Sha256"
ORDER_TOPICS = frozenset(
    {
        "orders/create",
        "orders/paid",
        "orders/updated",
        "orders/cancelled",
        "orders/fulfilled",
        "orders/partially_fulfilled",
    }
)
# Payment was taken at some point (and may since have been returned).
PAID_FINANCIAL = frozenset({"paid", "partially_paid", "partially_refunded", "refunded"})
SOURCES = {
    "web": "organic",
    "iphone": "mobile_app",
    "android": "mobile_app",
    "pos": "pos",
    "shopify_draft_order": "draft_order",
}
WHERE: dict[Loc, Loc] = {
    ("id",): ("id",),
    ("member",): ("customer",),
    ("member", "external_id"): ("customer", "id"),
    ("currency",): ("currency",),
    ("total",): ("total_price",),
    ("discount_total",): ("total_discounts",),
    ("refund_total",): ("refunds",),
    ("source",): ("source_name",),
    ("created_at",): ("created_at",),
    ("paid_at",): ("processed_at",),
    ("cancelled_at",): ("cancelled_at",),
    ("refunded_at",): ("refunds",),
    ("shipped_at",): ("fulfillments",),
    ("delivered_at",): ("fulfillments",),
}


def delivery_key(headers: Mapping[str, str]) -> tuple[str, str] | None:
    """What a retry repeats: the webhook id, else the event id (source, id)."""
    if webhook_id := headers.get("x-shopify-webhook-id", "").strip():
        return PLATFORM, webhook_id
    if event_id := headers.get("x-shopify-event-id", "").strip():
        return f"{PLATFORM}-event", event_id
    return None


def ignored(payload: Mapping[str, Any], *, topic: str | None) -> str | None:
    """Why this delivery records nothing, or None for an order to ingest."""
    if topic and topic not in ORDER_TOPICS:
        return f"topic {topic} does not carry an order"
    if payload.get("test") is True:
        return "test order (Shopify's test notification or a test gateway)"
    return None


def order_status(
    financial: str | None, fulfillment: str | None, *, cancelled: bool, delivered: bool
) -> OrderStatus:
    """The native status of a Shopify order; an unpaid order never counts as paid or shipped."""
    if cancelled or financial == "voided":
        return OrderStatus.CANCELLED
    if financial == "refunded":
        return OrderStatus.REFUNDED
    if financial not in PAID_FINANCIAL:  # pending, authorized, expired, or one added later
        return OrderStatus.CREATED
    if fulfillment == "fulfilled":
        return OrderStatus.DELIVERED if delivered else OrderStatus.SHIPPED
    return OrderStatus.PAID


def payment_time(
    *,
    topic: str | None,
    status: OrderStatus,
    refunded: bool,
    times: tuple[datetime | None, datetime | None, datetime | None],
) -> datetime | None:
    """When a paid order was paid (updated, processed, created at); Shopify sends no payment time.

    An order paid as placed (orders/create says paid) was paid when processed. One paid later
    (bank transfer, cash on delivery) was paid by the update that orders/paid reports and that
    orders/updated repeats while the order is paid and not yet shipped or refunded. A later
    message (fulfilled, cancelled) only tells that it was paid by then: None, so the time
    already recorded stands (an earlier time always wins over a later one in ingest, and a
    guess must never beat the payment time orders/paid gave).
    """
    updated, processed, created = times
    by_update = topic == "orders/paid" or (
        topic == "orders/updated" and status == OrderStatus.PAID and not refunded
    )
    if by_update:
        return updated or processed or created
    return (processed or created) if topic in (None, "orders/create") else None


def order_source(*, discount_codes: list[Any], source_name: str | None) -> str:
    if any(isinstance(d, Mapping) and d.get("code") for d in discount_codes):
        return "coupon"
    if not source_name:
        return "organic"
    return SOURCES.get(source_name) or slug(source_name)


def to_order(payload: Mapping[str, Any], *, topic: str | None, region: str) -> OrderIn:
    """The native order for one Shopify order payload, or a 422 naming Shopify's fields."""
    r = PayloadReader(payload)
    order_id = r.ident("id")
    total = r.money("total_price", required=True)
    refund_total, refunded_at = _refunds(r, total)
    status, stamps = _status_and_times(r, topic=topic, refunded_at=refunded_at)
    items, item_where = _items(r)
    values: dict[str, Any] = {
        "id": order_id,
        "member": _member(r, region=region, order_id=order_id or ""),
        "status": status,
        "currency": r.text("currency", required=True),
        "total": total,
        "discount_total": r.money("total_discounts"),
        "refund_total": refund_total,
        "source": order_source(
            discount_codes=r.get("discount_codes") or [], source_name=r.text("source_name")
        ),
        "items": items,
    }
    r.raise_errors()
    values = {k: v for k, v in values.items() if v is not None}
    return build_order(values | stamps, WHERE | item_where)


def _status_and_times(
    r: PayloadReader, *, topic: str | None, refunded_at: datetime | None
) -> tuple[OrderStatus, dict[str, datetime]]:
    """The status, and the time of each step the order has taken."""
    shipped_at, delivered_at, delivered = _fulfillments(r)
    created, updated = r.instant("created_at", required=True), r.instant("updated_at")
    processed, cancelled_at = r.instant("processed_at"), r.instant("cancelled_at")
    financial = r.text("financial_status")
    status = order_status(
        financial,
        r.text("fulfillment_status"),
        cancelled=cancelled_at is not None,
        delivered=delivered,
    )
    stamps = {"created_at": created}
    if financial in PAID_FINANCIAL:
        stamps["paid_at"] = payment_time(
            topic=topic,
            status=status,
            refunded=refunded_at is not None,
            times=(updated, processed, created),
        )
    if status in (OrderStatus.SHIPPED, OrderStatus.DELIVERED) or status in TERMINAL:
        stamps |= {"shipped_at": shipped_at, "delivered_at": delivered_at}
    if status == OrderStatus.CANCELLED:
        stamps["cancelled_at"] = cancelled_at or updated
    if status == OrderStatus.REFUNDED:
        stamps["refunded_at"] = refunded_at or updated
    return status, {k: v for k, v in stamps.items() if v is not None}


def _fulfillments(r: PayloadReader) -> tuple[datetime | None, datetime | None, bool]:
    """First shipment, last delivery, and whether every live shipment has been delivered."""
    shipped: list[datetime] = []
    delivered: list[datetime] = []
    live = 0
    for i, fulfillment in r.objects("fulfillments"):
        if fulfillment.get("status") in ("cancelled", "error", "failure"):
            continue
        live += 1
        created = r.instant("fulfillments", i, "created_at")
        shipped += [created] if created else []
        if fulfillment.get("shipment_status") == "delivered":
            at = r.instant("fulfillments", i, "updated_at") or created
            delivered += [at] if at else []
    is_delivered = live > 0 and len(delivered) == live
    return (
        min(shipped, default=None),
        max(delivered, default=None) if is_delivered else None,
        is_delivered,
    )


def _refunds(r: PayloadReader, total: Decimal | None) -> tuple[Decimal | None, datetime | None]:
    """Money returned by successful refund transactions (capped at the total), and when."""
    refunds = r.objects("refunds")
    if not refunds:
        return None, None
    returned = Decimal(0)
    times: list[datetime] = []
    for i, _refund in refunds:
        for j, tx in r.objects("refunds", i, "transactions"):
            if tx.get("kind") == "refund" and tx.get("status") == "success":
                returned += r.money("refunds", i, "transactions", j, "amount", required=True) or 0
        at = r.instant("refunds", i, "processed_at") or r.instant("refunds", i, "created_at")
        times += [at] if at else []
    if total is not None:
        returned = min(returned, total)
    return (returned if returned > 0 else None), max(times, default=None)


def _items(r: PayloadReader) -> tuple[list[dict[str, Any]], dict[Loc, Loc]]:
    items: list[dict[str, Any]] = []
    where: dict[Loc, Loc] = {}
    for i, _line in r.objects("line_items"):
        quantity = r.count("line_items", i, "quantity")
        if not quantity:  # removed by an order edit (0), or already reported as an error
            continue
        where[("items", len(items))] = ("line_items", i)
        sku = item_sku(
            r.text("line_items", i, "sku"),
            ("variant", r.ident("line_items", i, "variant_id", required=False)),
            ("product", r.ident("line_items", i, "product_id", required=False)),
            ("line", r.ident("line_items", i, "id", required=False)),
        )
        price = r.money("line_items", i, "price", required=True)
        items.append({"sku": sku, "quantity": quantity, "price": price})
    return items, where


def _member(r: PayloadReader, *, region: str, order_id: str) -> dict[str, Any]:
    country = r.text("billing_address", "country_code") or r.text(
        "shipping_address", "country_code"
    )
    name = display_name(
        r.text("customer", "first_name"), r.text("customer", "last_name")
    ) or display_name(
        r.text("billing_address", "first_name"), r.text("billing_address", "last_name")
    )
    return order_member(
        customer_id=r.ident("customer", "id", required=False),
        emails=(r.text("customer", "email"), r.text("email"), r.text("contact_email")),
        phones=(
            r.text("customer", "phone"),
            r.text("phone"),
            r.text("billing_address", "phone"),
            r.text("shipping_address", "phone"),
        ),
        name=name,
        region=(country or region).upper(),
        platform=PLATFORM,
        order_id=order_id,
    )
