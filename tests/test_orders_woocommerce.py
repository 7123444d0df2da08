"""WooCommerce order payloads to native orders, as tables (no HTTP, no database)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from service.errors import InvalidInput
from service.orders import woocommerce
from service.orders.models import OrderStatus as S
from service.orders.payload import load_json
from tests.platforms import fixture


def mapped(name: str, **changes: Any) -> dict[str, Any]:
    payload = fixture("woocommerce", name) | changes
    return woocommerce.to_order(payload, region="CN").model_dump(exclude_none=True)


@pytest.mark.parametrize(
    ("status", "has_paid_date", "expected"),
    [
        ("pending", False, S.CREATED),
        ("on-hold", False, S.CREATED),
        ("failed", False, S.CREATED),
        ("processing", True, S.PAID),
        ("processing", False, S.PAID),  # cash on delivery: WooCommerce treats it as to ship
        ("completed", True, S.SHIPPED),
        ("cancelled", False, S.CANCELLED),
        ("refunded", True, S.REFUNDED),
        ("awaiting-shipment", True, S.PAID),  # a plugin's status, once the order is paid
        ("awaiting-shipment", False, S.CREATED),
    ],
)
def test_order_status(status: str, has_paid_date: bool, expected: S) -> None:
    assert woocommerce.order_status(status, has_paid_date=has_paid_date) == expected


@pytest.mark.parametrize(
    ("coupons", "created_via", "expected"),
    [
        ([{"id": 4214, "code": "summer10", "discount": "34.79"}], "checkout", "coupon"),
        ([], "checkout", "organic"),
        ([], "store-api", "organic"),
        ([], "admin", "admin"),
        ([], "rest-api", "api"),
        ([], None, "organic"),
        ([], "Point of Sale", "point_of_sale"),
    ],
)
def test_order_source(coupons: list[Any], created_via: str | None, expected: str) -> None:
    assert woocommerce.order_source(coupon_lines=coupons, created_via=created_via) == expected


@pytest.mark.parametrize(
    ("body", "is_ping"),
    [
        (b"webhook_id=42", True),
        (b"webhook_id=42\n", True),
        (b"webhook_id=", False),
        (b"webhook_id=42&x=1", False),
        (b'{"id": 42}', False),
        (b"", False),
    ],
)
def test_ping(body: bytes, is_ping: bool) -> None:
    assert woocommerce.is_ping(body) is is_ping


@pytest.mark.parametrize(
    ("topic", "status", "reason"),
    [
        ("order.created", "processing", None),
        ("order.updated", "completed", None),
        ("order.restored", "on-hold", None),
        (None, "pending", None),
        ("order.updated", "checkout-draft", "status checkout-draft is not a placed order"),
        ("order.updated", "trash", "status trash is not a placed order"),
        ("order.deleted", None, "topic order.deleted does not carry an order"),
        ("product.updated", None, "topic product.updated does not carry an order"),
        (
            "action.woocommerce_add_to_cart",
            None,
            "topic action.woocommerce_add_to_cart does not carry an order",
        ),
    ],
)
def test_ignored(topic: str | None, status: str | None, reason: str | None) -> None:
    assert woocommerce.ignored({"id": 1, "status": status}, topic=topic) == reason


def test_a_customer_pays_at_checkout_with_a_coupon() -> None:
    assert mapped("order_created_processing") == {
        "id": "2207",
        "member": {
            "external_id": "26",
            "phone": "+8613912345678",
            "email": "li.li@example.com",
            "name": "李丽",
        },
        "status": S.PAID,
        "currency": "CNY",
        "total": Decimal("323.11"),
        "discount_total": Decimal("34.79"),
        "source": "coupon",
        "created_at": datetime(2026, 6, 18, 0, 40, 5, tzinfo=UTC),
        "paid_at": datetime(2026, 6, 18, 0, 41, 12, tzinfo=UTC),
        "items": [  # unit prices before the coupon, as the native model keeps them
            {"sku": "SUN-50", "quantity": 2, "price": Decimal("129.00")},
            {"sku": "variation-23", "quantity": 1, "price": Decimal("89.90")},
        ],
    }


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "order_updated_completed",
            {"status": S.SHIPPED, "shipped_at": datetime(2026, 6, 20, 8, 5, 44, tzinfo=UTC)},
        ),
        (
            "order_updated_partial_refund",
            {"status": S.SHIPPED, "refund_total": Decimal("116.10")},
        ),
        (
            "order_created_on_hold_guest",
            {"status": S.CREATED, "paid_at": None, "source": "organic"},
        ),
        (
            "order_updated_cancelled",
            {"status": S.CANCELLED, "cancelled_at": datetime(2026, 6, 25, 0, 0, 2, tzinfo=UTC)},
        ),
        (
            "order_updated_refunded",
            {
                "status": S.REFUNDED,
                "refund_total": Decimal("297.00"),
                "refunded_at": datetime(2026, 6, 21, 1, 0, tzinfo=UTC),
            },
        ),
    ],
)
def test_lifecycle_payloads(name: str, expected: dict[str, Any]) -> None:
    order = mapped(name)
    assert {k: order.get(k) for k in expected} == expected


def test_completed_without_a_payment_date_was_paid_by_completion() -> None:
    order = mapped("order_updated_completed", date_paid_gmt=None)
    assert order["paid_at"] == datetime(2026, 6, 20, 8, 5, 44, tzinfo=UTC)


@pytest.mark.parametrize(
    ("billing", "external_id"),
    [
        ({}, "email:john.doe@example.com"),  # the guest's email, lower-cased
        ({"email": ""}, "order:woocommerce:2208"),  # "(555) 555-5555" is no phone number
        ({"email": "", "phone": "+86 139 1234 5678"}, "phone:+8613912345678"),
        (
            {"email": "not an email", "phone": "13912345678", "country": "CN"},
            "phone:+8613912345678",
        ),
    ],
)
def test_guests_are_members_by_email_then_phone(billing: dict[str, str], external_id: str) -> None:
    payload = fixture("woocommerce", "order_created_on_hold_guest")
    payload["billing"] |= billing
    order = woocommerce.to_order(payload, region="CN")
    assert order.member.external_id == external_id


def test_a_guest_id_never_collides_with_a_customer_id() -> None:
    payload = fixture("woocommerce", "order_created_on_hold_guest") | {"customer_id": 0}
    payload["billing"] |= {"email": "", "phone": ""}
    guest = woocommerce.to_order(payload, region="CN").member.external_id
    customer = woocommerce.to_order(payload | {"customer_id": 2208}, region="CN").member.external_id
    assert (guest, customer) == ("order:woocommerce:2208", "2208")


def test_unit_price_is_rounded_to_the_cent() -> None:
    payload = fixture("woocommerce", "order_created_on_hold_guest")
    payload["line_items"][0] |= {"quantity": 3, "subtotal": "10.00"}
    assert woocommerce.to_order(payload, region="CN").items[0].price == Decimal("3.33")


def test_big_ids_and_numeric_prices_stay_exact() -> None:
    raw = (
        b'{"id": 9223372036854775807, "status": "processing", "currency": "CNY",'
        b' "total": "0.30", "customer_id": 9007199254740993,'
        b' "date_created_gmt": "2026-06-18T00:40:05", "date_paid_gmt": "2026-06-18T00:41:12",'
        b' "line_items": [{"id": 1, "product_id": 93, "variation_id": 0, "quantity": 3,'
        b' "subtotal": 0.30, "sku": "", "price": 0.1}]}'
    )
    order = woocommerce.to_order(load_json(raw), region="CN")
    assert (order.id, order.member.external_id) == ("9223372036854775807", "9007199254740993")
    assert order.items[0].price == Decimal("0.10")
    assert order.items[0].sku == "product-93"


def _set(path: tuple[str | int, ...], value: object) -> Callable[[dict[str, Any]], None]:
    def change(payload: dict[str, Any]) -> None:
        node: Any = payload
        for key in path[:-1]:
            node = node[key]
        if value is KeyError:
            del node[path[-1]]
        else:
            node[path[-1]] = value

    return change


@pytest.mark.parametrize(
    ("change", "loc"),
    [
        (_set(("id",), KeyError), ["body", "id"]),
        (_set(("status",), KeyError), ["body", "status"]),
        (_set(("total",), "12,00"), ["body", "total"]),
        (_set(("total",), True), ["body", "total"]),
        (_set(("discount_total",), "-3"), ["body", "discount_total"]),
        (_set(("date_created_gmt",), KeyError), ["body", "date_created_gmt"]),
        (_set(("date_paid_gmt",), "18/06/2026"), ["body", "date_paid_gmt"]),
        (_set(("line_items", 1, "subtotal"), "n/a"), ["body", "line_items", 1, "subtotal"]),
        (_set(("line_items", 1, "subtotal"), "1e999999"), ["body", "line_items", 1, "subtotal"]),
        (_set(("line_items", 0, "quantity"), -1), ["body", "line_items", 0, "quantity"]),
        (_set(("line_items", 0, "sku"), "S" * 65), ["body", "line_items", 0, "sku"]),
        (_set(("refunds",), [{"id": 1, "total": "abc"}]), ["body", "refunds", 0, "total"]),
        (_set(("currency",), "¥"), ["body", "currency"]),
    ],
)
def test_a_payload_that_does_not_map_names_the_woocommerce_field(
    change: Callable[[dict[str, Any]], None], loc: list[str | int]
) -> None:
    payload = fixture("woocommerce", "order_created_processing")
    change(payload)
    with pytest.raises(InvalidInput) as caught:
        woocommerce.to_order(payload, region="CN")
    assert [e["loc"] for e in caught.value.errors] == [loc]


@pytest.mark.parametrize(
    ("headers", "key"),
    [
        ({"x-wc-webhook-delivery-id": "7c2f1e0a9b"}, ("woocommerce", "7c2f1e0a9b")),
        ({"x-wc-webhook-id": "42"}, None),
    ],
)
def test_delivery_key(headers: dict[str, str], key: tuple[str, str] | None) -> None:
    assert woocommerce.delivery_key(headers) == key
