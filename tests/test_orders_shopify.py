"""Shopify order payloads to native orders, as tables (no HTTP, no database)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from service.errors import InvalidInput
from service.orders import shopify
from service.orders.models import OrderStatus as S
from service.orders.payload import load_json
from tests.platforms import fixture

EDT = timezone(timedelta(hours=-4))


def order(name: str, topic: str | None = None, **changes: Any) -> dict[str, Any]:
    payload = fixture("shopify", name) | changes
    return shopify.to_order(payload, topic=topic, region="CN").model_dump(exclude_none=True)


@pytest.mark.parametrize(
    ("financial", "fulfillment", "cancelled", "delivered", "expected"),
    [
        ("pending", None, False, False, S.CREATED),
        ("authorized", None, False, False, S.CREATED),
        ("expired", None, False, False, S.CREATED),
        (None, None, False, False, S.CREATED),
        ("pending", "fulfilled", False, False, S.CREATED),  # cash on delivery, not paid yet
        ("paid", None, False, False, S.PAID),
        ("partially_paid", None, False, False, S.PAID),
        ("partially_refunded", None, False, False, S.PAID),
        ("paid", "partial", False, False, S.PAID),
        ("paid", "fulfilled", False, False, S.SHIPPED),
        ("partially_refunded", "fulfilled", False, False, S.SHIPPED),
        ("paid", "fulfilled", False, True, S.DELIVERED),
        ("refunded", None, False, False, S.REFUNDED),
        ("refunded", "fulfilled", False, True, S.REFUNDED),
        ("voided", None, False, False, S.CANCELLED),
        ("paid", None, True, False, S.CANCELLED),
        ("refunded", None, True, False, S.CANCELLED),  # cancel-and-refund is a cancellation
    ],
)
def test_order_status(
    financial: str | None, fulfillment: str | None, cancelled: bool, delivered: bool, expected: S
) -> None:
    assert (
        shopify.order_status(financial, fulfillment, cancelled=cancelled, delivered=delivered)
        == expected
    )


@pytest.mark.parametrize(
    ("codes", "source_name", "expected"),
    [
        ([{"code": "WELCOME10", "amount": "11.00", "type": "percentage"}], "web", "coupon"),
        ([], "web", "organic"),
        ([], None, "organic"),
        ([], "pos", "pos"),
        ([], "shopify_draft_order", "draft_order"),
        ([], "iphone", "mobile_app"),
        ([], "Facebook & Instagram", "facebook_instagram"),
        ([], "580111", "580111"),  # an app's id: kept, so the channel stays visible
        ([{"code": ""}], "web", "organic"),
    ],
)
def test_order_source(codes: list[Any], source_name: str | None, expected: str) -> None:
    assert shopify.order_source(discount_codes=codes, source_name=source_name) == expected


PLACED = datetime(2026, 6, 17, 21, 5, tzinfo=EDT)
PAID_LATER = datetime(2026, 6, 19, 10, 12, tzinfo=EDT)


@pytest.mark.parametrize(
    ("topic", "status", "refunded", "expected"),
    [
        ("orders/create", S.PAID, False, PLACED),
        (None, S.PAID, False, PLACED),
        ("orders/paid", S.PAID, False, PAID_LATER),
        ("orders/updated", S.PAID, False, PAID_LATER),  # sent with orders/paid, in any order
        # later messages only say it was paid by then: unknown, the recorded time stands
        ("orders/updated", S.PAID, True, None),
        ("orders/updated", S.SHIPPED, False, None),
        ("orders/fulfilled", S.SHIPPED, False, None),
        ("orders/cancelled", S.CANCELLED, False, None),
    ],
)
def test_payment_time(
    topic: str | None, status: S, refunded: bool, expected: datetime | None
) -> None:
    times = (PAID_LATER, PLACED, PLACED)
    assert (
        shopify.payment_time(topic=topic, status=status, refunded=refunded, times=times) == expected
    )


def test_paid_at_checkout_with_a_discount_code() -> None:
    assert order("orders_create_paid", "orders/create") == {
        "id": "6118347571369",
        "member": {
            "external_id": "7390213134538",
            "phone": "+16135550135",
            "email": "ada.lovelace@example.com",
            "name": "Ada Lovelace",
        },
        "status": S.PAID,
        "currency": "USD",
        "total": Decimal("107.00"),
        "discount_total": Decimal("11.00"),
        "source": "coupon",
        "created_at": datetime(2026, 6, 17, 20, 45, 12, tzinfo=EDT),
        "paid_at": datetime(2026, 6, 17, 20, 45, 12, tzinfo=EDT),
        "items": [
            {"sku": "MASK-30", "quantity": 2, "price": Decimal("49.00")},
            {"sku": "variant-44610569240808", "quantity": 1, "price": Decimal("12.00")},
        ],
    }


@pytest.mark.parametrize(
    ("name", "topic", "expected"),
    [
        ("orders_create_pending", "orders/create", {"status": S.CREATED}),
        (
            "orders_paid",
            "orders/paid",
            {"status": S.PAID, "paid_at": datetime(2026, 6, 19, 10, 12, 30, tzinfo=EDT)},
        ),
        (
            "orders_fulfilled",
            "orders/fulfilled",
            {
                "status": S.SHIPPED,
                "paid_at": None,  # when it was paid is not in a fulfilment message
                "shipped_at": datetime(2026, 6, 20, 15, 40, 20, tzinfo=EDT),
            },
        ),
        (
            "orders_updated_partially_refunded",
            "orders/updated",
            {"status": S.PAID, "refund_total": Decimal("44.10")},
        ),
        (
            "orders_cancelled",
            "orders/cancelled",
            {  # the failed refund attempt is not money returned
                "status": S.CANCELLED,
                "refund_total": Decimal("107.00"),
                "cancelled_at": datetime(2026, 6, 23, 9, 30, 2, tzinfo=EDT),
            },
        ),
    ],
)
def test_lifecycle_payloads(name: str, topic: str, expected: dict[str, Any]) -> None:
    mapped = order(name, topic)
    assert {k: mapped.get(k) for k in expected} == expected
    assert "refunded_at" not in mapped or mapped["status"] == S.REFUNDED


def test_delivered_when_every_live_fulfillment_is_delivered() -> None:
    payload = fixture("shopify", "orders_fulfilled")
    delivered = payload["fulfillments"][0] | {
        "shipment_status": "delivered",
        "updated_at": "2026-06-23T09:12:00-04:00",
    }
    cancelled = payload["fulfillments"][0] | {"id": 1, "status": "cancelled"}
    payload["fulfillments"] = [delivered, cancelled]
    mapped = shopify.to_order(payload, topic="orders/updated", region="CN")
    assert mapped.status == S.DELIVERED
    assert mapped.delivered_at == datetime(2026, 6, 23, 9, 12, tzinfo=EDT)


def test_refunded_in_full_uses_the_latest_refund_time() -> None:
    payload = fixture("shopify", "orders_cancelled") | {"cancelled_at": None}
    mapped = shopify.to_order(payload, topic="orders/updated", region="CN")
    assert mapped.status == S.REFUNDED
    assert mapped.refund_total == Decimal("107.00")
    assert mapped.refunded_at == datetime(2026, 6, 23, 9, 30, 1, tzinfo=EDT)


def test_nineteen_digit_ids_stay_exact() -> None:
    raw = (
        b'{"id": 1234567890123456789, "created_at": "2026-06-18T09:00:00+08:00",'
        b' "currency": "CNY", "total_price": "199.00", "financial_status": "paid",'
        b' "customer": {"id": 9223372036854775807},'
        b' "line_items": [{"id": 9223372036854775806, "variant_id": 9007199254740993,'
        b' "sku": null, "quantity": 1, "price": "199.00"}]}'
    )
    mapped = shopify.to_order(load_json(raw), topic="orders/create", region="CN")
    assert mapped.id == "1234567890123456789"
    assert mapped.member.external_id == "9223372036854775807"
    assert mapped.items[0].sku == "variant-9007199254740993"
    assert mapped.created_at == datetime(2026, 6, 18, 1, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("change", "external_id", "contacts"),
    [
        (lambda p: p.update(customer=None), "email:xiaoming.wang@example.cn", 2),
        (
            lambda p: p.update(customer=None, email=None, contact_email=None),
            "phone:+8613812345678",
            1,
        ),
        (
            lambda p: p.update(
                customer=None,
                email=None,
                contact_email=None,
                billing_address=None,
                shipping_address=None,
            ),
            "order:shopify:6118350258345",
            0,
        ),
    ],
)
def test_member_falls_back_to_email_phone_then_the_order(
    change: Callable[[dict[str, Any]], None], external_id: str, contacts: int
) -> None:
    payload = fixture("shopify", "orders_create_pending")
    change(payload)
    member = shopify.to_order(payload, topic=None, region="CN").member
    assert member.external_id == external_id
    assert len([c for c in (member.email, member.phone) if c]) == contacts


def test_a_phone_that_is_not_a_number_is_dropped_not_refused() -> None:
    payload = fixture("shopify", "test_notification") | {"test": False}
    mapped = shopify.to_order(payload, topic="orders/create", region="CN")
    assert mapped.member.external_id == "115310627314723954"
    assert mapped.member.phone is None  # "555-555-SHIP"
    assert mapped.status == S.CANCELLED


def test_removed_lines_are_skipped() -> None:
    payload = fixture("shopify", "orders_create_paid")
    payload["line_items"][1]["quantity"] = 0
    assert [i.sku for i in shopify.to_order(payload, topic=None, region="CN").items] == ["MASK-30"]


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
        (_set(("id",), 12.5), ["body", "id"]),
        (_set(("total_price",), "abc"), ["body", "total_price"]),
        (_set(("total_price",), "-1.00"), ["body", "total_price"]),
        (_set(("total_price",), "NaN"), ["body", "total_price"]),
        (_set(("total_price",), "1234567890123.45"), ["body", "total_price"]),  # too many digits
        (_set(("total_discounts",), "1.005"), ["body", "total_discounts"]),  # finer than a cent
        (_set(("total_price",), KeyError), ["body", "total_price"]),
        (_set(("line_items", 0, "price"), "12,00"), ["body", "line_items", 0, "price"]),
        (_set(("line_items", 1, "quantity"), "1"), ["body", "line_items", 1, "quantity"]),
        (_set(("line_items", 0, "sku"), "S" * 65), ["body", "line_items", 0, "sku"]),
        (_set(("line_items",), {"sku": "x"}), ["body", "line_items"]),
        (_set(("created_at",), "yesterday"), ["body", "created_at"]),
        (_set(("created_at",), "2026-06-17T20:45:12"), ["body", "created_at"]),  # no offset
        (_set(("currency",), KeyError), ["body", "currency"]),
        (_set(("currency",), "usd"), ["body", "currency"]),
        (_set(("customer", "id"), "c" * 129), ["body", "customer", "id"]),
        (
            _set(("refunds", 0, "transactions", 0, "amount"), "lots"),
            ["body", "refunds", 0, "transactions", 0, "amount"],
        ),
    ],
)
def test_a_payload_that_does_not_map_names_the_shopify_field(
    change: Callable[[dict[str, Any]], None], loc: list[str | int]
) -> None:
    payload = fixture("shopify", "orders_updated_partially_refunded")
    change(payload)
    with pytest.raises(InvalidInput) as caught:
        shopify.to_order(payload, topic="orders/updated", region="CN")
    assert [e["loc"] for e in caught.value.errors] == [loc]


def test_every_bad_field_is_reported_at_once() -> None:
    payload = fixture("shopify", "orders_create_paid") | {"id": None, "total_price": "x"}
    with pytest.raises(InvalidInput) as caught:
        shopify.to_order(payload, topic=None, region="CN")
    assert [e["loc"] for e in caught.value.errors] == [["body", "id"], ["body", "total_price"]]


@pytest.mark.parametrize(
    ("topic", "test", "reason"),
    [
        ("orders/create", False, None),
        ("orders/partially_fulfilled", False, None),
        (None, False, None),
        ("orders/delete", False, "topic orders/delete does not carry an order"),
        ("orders/edited", False, "topic orders/edited does not carry an order"),
        ("orders/create", True, "test order (Shopify's test notification or a test gateway)"),
    ],
)
def test_ignored(topic: str | None, test: bool, reason: str | None) -> None:
    assert shopify.ignored({"id": 1, "test": test}, topic=topic) == reason


@pytest.mark.parametrize(
    ("headers", "key"),
    [
        ({"x-shopify-webhook-id": "b54557e4", "x-shopify-event-id": "e1"}, ("shopify", "b54557e4")),
        ({"x-shopify-event-id": "e1"}, ("shopify-event", "e1")),
        ({"x-shopify-webhook-id": " "}, None),
        ({}, None),
    ],
)
def test_delivery_key(headers: dict[str, str], key: tuple[str, str] | None) -> None:
    assert shopify.delivery_key(headers) == key
