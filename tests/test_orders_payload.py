"""Reading platform payloads exactly, and telling buyers apart (pure)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from service.errors import InvalidInput
from service.orders.identity import display_name, guest_external_id
from service.orders.payload import load_json, platform_loc


def test_json_keeps_integers_exact_and_decimals_decimal() -> None:
    payload = load_json(b'{"id": 9223372036854775807, "price": 21.99, "big": 1e400}')
    assert payload["id"] == 9223372036854775807
    assert payload["price"] == Decimal("21.99")
    assert payload["big"] == Decimal("1e400")


@pytest.mark.parametrize(
    ("body", "msg"),
    [
        (b'{"total": NaN}', "not valid JSON"),
        (b'{"total": Infinity}', "not valid JSON"),
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b"", "not valid JSON"),
        (b"[" * 100_000, "not valid JSON"),  # nesting deeper than the parser goes
        (b'{"id": ' + b"7" * 5000 + b"}", "not valid JSON"),
    ],
)
def test_json_that_is_not_an_object_is_refused(body: bytes, msg: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        load_json(body)
    assert caught.value.errors[0]["loc"] == ["body"]
    assert msg in caught.value.errors[0]["msg"]


@pytest.mark.parametrize(
    ("first", "last", "name"),
    [
        ("小明", "王", "王小明"),
        ("Ada", "Lovelace", "Ada Lovelace"),
        ("José", "García", "José García"),
        (None, "王", "王"),
        ("Ming", "王", "Ming 王"),
        (" ", "", None),
        (None, None, None),
    ],
)
def test_display_name(first: str | None, last: str | None, name: str | None) -> None:
    assert display_name(first, last) == name


@pytest.mark.parametrize(
    ("email", "phone", "external_id"),
    [
        ("Li.Li@Example.com", "+8613912345678", "email:li.li@example.com"),
        (None, "+8613912345678", "phone:+8613912345678"),
        (None, None, "order:woocommerce:2208"),
        ("a" * 64 + "@" + "b" * 63 + ".com", None, "email-sha256:"),
    ],
)
def test_guest_external_id(email: str | None, phone: str | None, external_id: str) -> None:
    got = guest_external_id(email=email, phone=phone, platform="woocommerce", order_id="2208")
    assert got.startswith(external_id)
    assert len(got) <= 128


@pytest.mark.parametrize(
    ("loc", "platform"),
    [
        (("total",), ("total_price",)),
        (("items", 0, "price"), ("line_items", 2, "price")),
        (("items", 0, "sku"), ("line_items", 2, "sku")),
        (("member", "external_id"), ("customer", "id")),
        (("member", "name"), ("customer", "name")),
        (("source",), ("source",)),
    ],
)
def test_platform_loc_uses_the_longest_known_prefix(
    loc: tuple[str | int, ...], platform: tuple[str | int, ...]
) -> None:
    where = {
        ("total",): ("total_price",),
        ("items", 0): ("line_items", 2),
        ("member",): ("customer",),
        ("member", "external_id"): ("customer", "id"),
    }
    assert platform_loc(loc, where) == platform
