"""WooCommerce's order webhooks (REST API v3 order JSON) mapped onto the native order (pure)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from service.orders.identity import display_name, order_member
from service.orders.models import OrderStatus
from service.orders.payload import Loc, PayloadReader, build_order, cents, item_sku, slug
from service.orders.schemas import OrderIn

PLATFORM = "woocommerce"
SIGNATURE_HEADER = "X-WC-Webhook-Signature"
ORDER_TOPICS = frozenset({"order.created", "order.updated", "order.restored"})
# `completed` means the shop has fulfilled the order; WooCommerce knows nothing of its delivery.
STATUSES = {
    "pending": OrderStatus.CREATED,
    "on-hold": OrderStatus.CREATED,
    "failed": OrderStatus.CREATED,
    "processing": OrderStatus.PAID,
    "completed": OrderStatus.SHIPPED,
    "cancelled": OrderStatus.CANCELLED,
    "refunded": OrderStatus.REFUNDED,
}
NOT_PLACED = frozenset({"checkout-draft", "draft", "auto-draft", "trash"})
CREATED_VIA = {"checkout": "organic", "store-api": "organic", "admin": "admin", "rest-api": "api"}
WHERE: dict[Loc, Loc] = {
    ("id",): ("id",),
    ("member",): ("billing",),
    ("member", "external_id"): ("customer_id",),
    ("status",): ("status",),
    ("currency",): ("currency",),
    ("total",): ("total",),
    ("discount_total",): ("discount_total",),
    ("refund_total",): ("refunds",),
    ("source",): ("created_via",),
    ("created_at",): ("date_created_gmt",),
    ("paid_at",): ("date_paid_gmt",),
    ("shipped_at",): ("date_completed_gmt",),
    ("cancelled_at",): ("date_modified_gmt",),
    ("refunded_at",): ("date_modified_gmt",),
}
_PING = re.compile(rb"\s*webhook_id=\d+\s*")


def is_ping(body: bytes) -> bool:
    """The unsigned form post WooCommerce sends when a webhook is saved; it wants a 200."""
    return _PING.fullmatch(body) is not None


def delivery_key(headers: Mapping[str, str]) -> tuple[str, str] | None:
    if delivery_id := headers.get("x-wc-webhook-delivery-id", "").strip():
        return PLATFORM, delivery_id
    return None


def ignored(payload: Mapping[str, Any], *, topic: str | None) -> str | None:
    """Why this delivery records nothing, or None for an order to ingest."""
    if topic and topic not in ORDER_TOPICS:
        return f"topic {topic} does not carry an order"
    status = payload.get("status")
    if isinstance(status, str) and status in NOT_PLACED:
        return f"status {status} is not a placed order"
    return None


def order_status(status: str, *, has_paid_date: bool) -> OrderStatus:
    """The native status; a plugin's own status counts as paid once the order has a paid date."""
    if status in STATUSES:
        return STATUSES[status]
    return OrderStatus.PAID if has_paid_date else OrderStatus.CREATED


def order_source(*, coupon_lines: list[Any], created_via: str | None) -> str:
    if any(isinstance(c, Mapping) and c.get("code") for c in coupon_lines):
        return "coupon"
    if not created_via:
        return "organic"
    return CREATED_VIA.get(created_via) or slug(created_via)


def to_order(payload: Mapping[str, Any], *, region: str) -> OrderIn:
    """The native order for one WooCommerce order payload, or a 422 naming WooCommerce's fields."""
    r = PayloadReader(payload)
    order_id = r.ident("id")
    total = r.money("total", required=True)
    status, stamps = _status_and_times(r)
    items, item_where = _items(r)
    values: dict[str, Any] = {
        "id": order_id,
        "member": _member(r, region=region, order_id=order_id or ""),
        "status": status,
        "currency": r.text("currency", required=True),
        "total": total,
        "discount_total": r.money("discount_total"),
        "refund_total": _refund_total(r, total),
        "source": order_source(
            coupon_lines=r.get("coupon_lines") or [], created_via=r.text("created_via")
        ),
        "items": items,
    }
    r.raise_errors()
    values = {k: v for k, v in values.items() if v is not None}
    return build_order(values | stamps, WHERE | item_where)


def _status_and_times(r: PayloadReader) -> tuple[OrderStatus | None, dict[str, datetime]]:
    """The status and step times; WooCommerce's `_gmt` times are UTC written without an offset."""
    created = r.instant("date_created_gmt", required=True, naive_is_utc=True)
    modified = r.instant("date_modified_gmt", naive_is_utc=True)
    paid = r.instant("date_paid_gmt", naive_is_utc=True)
    completed = r.instant("date_completed_gmt", naive_is_utc=True)
    raw = r.text("status")
    if raw is None:
        r.fail(("status",), "field required", "missing")
        return None, {}
    status = order_status(raw, has_paid_date=paid is not None)
    stamps = {"created_at": created, "paid_at": paid}
    if raw == "completed":
        # An order marked completed without a payment date (bank transfer) was paid by then.
        stamps |= {"paid_at": paid or completed, "shipped_at": completed}
    if status == OrderStatus.CANCELLED:
        stamps["cancelled_at"] = modified
    if status == OrderStatus.REFUNDED:
        stamps["refunded_at"] = modified
    return status, {k: v for k, v in stamps.items() if v is not None}


def _refund_total(r: PayloadReader, total: Decimal | None) -> Decimal | None:
    """The refunds' totals (WooCommerce writes them negative), capped at the order total."""
    refunds = r.objects("refunds")
    if not refunds:
        return None
    returned = Decimal(0)
    for i, _refund in refunds:
        returned += abs(r.money("refunds", i, "total", required=True, signed=True) or Decimal(0))
    return min(returned, total) if total is not None else returned


def _items(r: PayloadReader) -> tuple[list[dict[str, Any]], dict[Loc, Loc]]:
    """Lines with their unit price before discounts (subtotal ÷ quantity, to the cent)."""
    items: list[dict[str, Any]] = []
    where: dict[Loc, Loc] = {}
    for i, _line in r.objects("line_items"):
        quantity = r.count("line_items", i, "quantity")
        subtotal = r.money("line_items", i, "subtotal", required=True)
        if not quantity or subtotal is None:
            continue
        where[("items", len(items))] = ("line_items", i)
        where[("items", len(items), "price")] = ("line_items", i, "subtotal")
        sku = item_sku(
            r.text("line_items", i, "sku"),
            ("variation", r.ident("line_items", i, "variation_id", required=False)),
            ("product", r.ident("line_items", i, "product_id", required=False)),
            ("line", r.ident("line_items", i, "id", required=False)),
        )
        items.append({"sku": sku, "quantity": quantity, "price": cents(subtotal / quantity)})
    return items, where


def _member(r: PayloadReader, *, region: str, order_id: str) -> dict[str, Any]:
    """The customer account, or for a guest (customer_id 0) the billing email or phone."""
    customer_id = r.ident("customer_id", required=False)
    country = r.text("billing", "country") or r.text("shipping", "country") or region
    return order_member(
        customer_id=None if customer_id == "0" else customer_id,
        emails=(r.text("billing", "email"),),
        phones=(r.text("billing", "phone"), r.text("shipping", "phone")),
        name=display_name(r.text("billing", "first_name"), r.text("billing", "last_name")),
        region=country.upper(),
        platform=PLATFORM,
        order_id=order_id,
    )
