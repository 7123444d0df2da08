"""The fast validation path agrees with OrderIn: what it accepts, OrderIn accepts the same."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from service.orders.importer.checks import (
    Unsure,
    check_csv,
    check_json,
    csv_shape,
    fast_csv,
    fast_json,
)
from service.orders.importer.records import COLUMNS, STAMPS, ImportOrder, Problem, from_model
from service.orders.schemas import OrderIn

TIMES = ("created_at", *STAMPS)
GOOD: dict[str, Any] = {
    "id": "1234567890123456789",
    "member": {"external_id": "m-1", "phone": "13812345678", "email": "a@example.com"},
    "status": "paid",
    "currency": "CNY",
    "total": "199.00",
    "discount_total": "20.5",
    "source": "organic",
    "created_at": "2026-11-11T00:05:00+08:00",
    "paid_at": "2026-11-11T00:06:10.250+08:00",
    "items": [{"sku": "MASK-30", "quantity": 2, "price": "109.50"}],
}


def instants(order: ImportOrder | None) -> Any:
    """The order with its times as instants: the fast path keeps the file's spelling."""
    if order is None:
        return None
    times = {f: datetime.fromisoformat(getattr(order, f)) for f in TIMES if getattr(order, f)}
    return order._replace(**times)


def model_verdict(shape: Any, line: int = 1) -> ImportOrder | None:
    try:
        return instants(from_model(OrderIn.model_validate(shape), line))
    except ValidationError:
        return None


def fast_verdict(check: Any, *args: Any) -> ImportOrder | None:
    try:
        result: ImportOrder = check(*args)
    except (Unsure, KeyError, TypeError):
        return None
    return instants(result)


def variant(**changes: Any) -> dict[str, Any]:
    order = {**GOOD, "member": dict(GOOD["member"])}
    for key, value in changes.items():
        target, _, name = key.rpartition("__")
        holder = order["member"] if target == "member" else order
        if value is ...:
            holder.pop(name or key, None)
        else:
            holder[name or key] = value
    return order


JSON_CASES = [
    # (order, the fast path answers by itself)
    (GOOD, True),
    (variant(id=1234567890123456789), True),  # an integer id stays exact
    (variant(member__external_id=42), True),
    (variant(total=199, discount_total=0), True),
    (variant(refund_total="0.10", status="refunded"), True),
    (variant(currency=..., source=..., discount_total=..., items=...), True),
    (variant(created_at="2026-11-11T00:05:00Z"), True),
    (variant(member__phone=None, member__email=None, member__name="王小明"), True),
    (variant(id=" 77 "), False),  # stripped by OrderIn
    (variant(total="1.000"), False),
    (variant(total="007.50"), False),
    (variant(total=" 5"), False),
    (variant(total=19.9), False),
    (variant(total="1e2"), False),
    (variant(created_at="2026-11-11 00:05:00+08:00"), False),
    (variant(created_at="2026-11-11T00:05+08:00"), False),
    (variant(created_at=1700000000), False),
    (variant(total="0.001"), False),
    (variant(total="-1.00"), False),
    (variant(total="NaN"), False),
    (variant(total="1234567890123"), False),
    (variant(total=True), False),
    (variant(id=12.0), False),
    (variant(id=True), False),
    (variant(id=""), False),
    (variant(id="x" * 65), False),
    (variant(member__external_id="m" * 129), False),
    (variant(member__phone="1" * 33), False),
    (variant(member__phone=13812345678), False),
    (variant(member__extra="x"), False),
    (variant(status="returned"), False),
    (variant(status=...), False),
    (variant(currency="cny"), False),
    (variant(created_at="2026-11-11T00:05:00"), False),  # naive
    (variant(created_at="2026-13-11T00:05:00+08:00"), False),
    (variant(paid_at="2026-11-11T24:00:00+08:00"), False),
    (variant(source=""), False),
    (variant(items=[{"sku": "A", "quantity": 0, "price": "1.00"}]), False),
    (variant(items=[{"sku": "A", "quantity": "2", "price": "1.00"}]), False),
    (variant(items=[{"sku": "A", "quantity": True, "price": "1.00"}]), False),
    (variant(items=[{"sku": "A", "quantity": 100_001, "price": "1.00"}]), False),
    (variant(items=[{"sku": "", "quantity": 1, "price": "1.00"}]), False),
    (variant(items=[{"sku": "A", "quantity": 1}]), False),
    (variant(items=[{"sku": "A", "quantity": 1, "price": "1", "x": 1}]), False),
    (variant(items=[{"sku": "A", "quantity": 1, "price": "1"}] * 501), False),
    (variant(unknown=1), False),
    ([1, 2], False),
    ("order", False),
]


@pytest.mark.parametrize(("order", "plain"), JSON_CASES)
def test_json_fast_path_agrees_with_order_in(order: Any, plain: bool) -> None:
    expected = model_verdict(order)
    fast = fast_verdict(fast_json, order, 1)
    assert (fast is not None) == plain
    if fast is not None:
        assert fast == expected
    result = check_json(order, 1)
    if expected is None:
        assert isinstance(result, list)
        assert result
    else:
        assert instants(result) == expected  # type: ignore[arg-type]


def test_json_rejection_names_the_field_like_the_webhook() -> None:
    result = check_json(variant(items=[{"sku": "A", "quantity": 1, "price": "1.001"}]), 7)
    reason = "Decimal input should have no more than 2 decimal places"
    assert result == [Problem(7, "items[0].price", reason)]


def row(**values: str) -> list[str]:
    base = {
        "order_id": "1234567890123456789",
        "member_external_id": "m-1",
        "member_phone": "13812345678",
        "status": "paid",
        "currency": "CNY",
        "total": "199.00",
        "created_at": "2026-11-11T00:05:00+08:00",
        "paid_at": "2026-11-11T00:06:10+08:00",
        "sku": "MASK-30",
        "quantity": "2",
        "price": "109.50",
    }
    base.update(values)
    return [base.get(c, "") for c in COLUMNS]


CSV_CASES = [
    ([row()], True),
    ([row(), row(sku="SERUM", quantity="1", price="0.5")], True),
    ([row(sku="", quantity="", price="")], True),  # an order without items
    ([row(currency="", source="", discount_total="")], True),
    ([row(refund_total="30", status="refunded", refunded_at="2026-11-12T10:00:00+08:00")], True),
    ([row(quantity="02")], False),
    ([row(quantity="2.0")], False),
    ([row(quantity="0")], False),
    ([row(price="")], False),
    ([row(sku="", quantity="", price=""), row()], False),
    ([row(total="")], False),
    ([row(total="1,00")], False),
    ([row(order_id="")], False),
    ([row(member_external_id="")], False),
    ([row(status="PAID")], False),
    ([row(created_at="")], False),
    ([row(created_at="2026-11-11")], False),
    ([row(created_at="11/11/2026 00:05")], False),
    ([row(member_name="x" * 201)], False),
]


@pytest.mark.parametrize(("rows", "plain"), CSV_CASES)
def test_csv_fast_path_agrees_with_order_in(rows: list[list[str]], plain: bool) -> None:
    lines = list(range(2, 2 + len(rows)))
    expected = model_verdict(csv_shape(rows), 2)
    fast = fast_verdict(fast_csv, rows, 2)
    assert (fast is not None) == plain
    if fast is not None:
        assert fast == expected
    result = check_csv(rows, lines)
    if expected is None:
        assert isinstance(result, list)
        assert result
    else:
        assert instants(result) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("rows", "problem"),
    [
        ([row(total="abc")], Problem(2, "total", "Input should be a valid decimal")),
        (
            [row(member_email="x" * 321)],
            Problem(2, "member_email", "String should have at most 320 characters"),
        ),
        (
            [row(), row(price="-1")],
            Problem(3, "price", "Input should be greater than or equal to 0"),
        ),
        ([row(order_id="")], Problem(2, "order_id", "Field required")),
        (
            [row(), row(total="5.00")],
            Problem(3, "total", "differs from line 2: the rows of one order repeat its columns"),
        ),
    ],
)
def test_csv_rejection_names_line_and_column(rows: list[list[str]], problem: Problem) -> None:
    result = check_csv(rows, list(range(2, 2 + len(rows))))
    assert isinstance(result, list)
    assert result[0] == problem


MONEY = st.sampled_from(
    [
        "0",
        "0.5",
        "1.00",
        "199.99",
        "999999999999.99",
        "1.000",
        "-1",
        "1e3",
        " 1",
        "01",
        "",
        "x",
        "1234567890123",
        "0.001",
        "NaN",
        "１２",
    ]
)
TIME_TEXTS = st.sampled_from(
    [
        "2026-11-11T00:05:00+08:00",
        "2026-11-11T00:05:00Z",
        "2026-11-11T00:05:00.123456-05:00",
        "2026-11-11T00:05:00",
        "2026-02-30T00:00:00+08:00",
        "2026-11-11 00:05:00+08:00",
        "2026-11-11T00:05:00+24:00",
        "1700000000",
        "",
        "2026-11-11T00:05:00.1234567+08:00",
    ]
)
IDS = st.sampled_from(["1", "9223372036854775807123", " 1", "a b", "", "x" * 64, "x" * 65, "订单1"])


@settings(max_examples=300, deadline=None)
@given(
    total=MONEY,
    price=MONEY,
    refund=MONEY,
    created=TIME_TEXTS,
    paid=TIME_TEXTS,
    order_id=IDS,
    quantity=st.sampled_from(["1", "100000", "100001", "0", "-1", "1.5", "", "01"]),
    status=st.sampled_from(["paid", "created", "refunded", "Paid", ""]),
    currency=st.sampled_from(["", "CNY", "usd", "EURO"]),
)
def test_csv_fast_path_never_accepts_what_order_in_refuses(
    total: str,
    price: str,
    refund: str,
    created: str,
    paid: str,
    order_id: str,
    quantity: str,
    status: str,
    currency: str,
) -> None:
    rows = [
        row(
            total=total,
            price=price,
            refund_total=refund,
            created_at=created,
            paid_at=paid,
            order_id=order_id,
            quantity=quantity,
            status=status,
            currency=currency,
        )
    ]
    fast = fast_verdict(fast_csv, rows, 2)
    if fast is not None:
        assert fast == model_verdict(csv_shape(rows), 2)


JSON_VALUES = st.sampled_from(
    [
        None,
        0,
        1,
        -1,
        10**12,
        1.5,
        True,
        "",
        "1.00",
        "0.001",
        " 1",
        "x",
        [],
        {},
        "2026-11-11T00:05:00Z",
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    field=st.sampled_from(
        [
            "id",
            "total",
            "discount_total",
            "refund_total",
            "currency",
            "source",
            "created_at",
            "paid_at",
            "items",
            "member__external_id",
            "member__phone",
            "member__name",
        ]
    ),
    value=JSON_VALUES,
)
def test_json_fast_path_never_accepts_what_order_in_refuses(field: str, value: Any) -> None:
    order = variant(**{field: value})
    fast = fast_verdict(fast_json, order, 1)
    if fast is not None:
        assert fast == model_verdict(order)
