"""Validate imported orders by the webhook's rules, without a pydantic model per row.

The fast path accepts only the plain forms (money like `199.00`, ISO 8601 times with an offset,
ids and amounts within bounds) and answers None for anything else. Such orders, and every bad
one, are validated by `OrderIn` itself, so a rejection reads exactly like the webhook's 422 and
an unusual but valid spelling is still accepted. Tests check that both paths agree.
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import lru_cache
from typing import Any

from pydantic import ValidationError

from service.orders.importer.records import (
    COLUMNS,
    ORDER_COLUMNS,
    STAMPS,
    ImportItem,
    ImportOrder,
    Problem,
    from_model,
)
from service.orders.models import OrderStatus
from service.orders.schemas import OrderIn

STATUSES = {s.value: s for s in OrderStatus}
TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?(?:Z|[+-]\d\d:\d\d)")
CURRENCY = re.compile(r"[A-Z]{3}")
ORDER_KEYS = {
    "id",
    "member",
    "status",
    "currency",
    "total",
    "discount_total",
    "refund_total",
    "source",
    "created_at",
    *STAMPS,
    "items",
}
MEMBER_KEYS = {"external_id", "phone", "email", "name"}
ITEM_KEYS = {"sku", "quantity", "price"}
MAX_ITEMS = 500


class Unsure(Exception):
    """The fast path cannot vouch for this value: let OrderIn decide."""


@lru_cache(maxsize=1 << 13)  # prices repeat: a shop has a catalog
def money(text: str) -> int:
    """Cents of a plain amount such as `199`, `199.9` or `199.90`."""
    whole, dot, part = text.partition(".")
    if not (whole.isdigit() and whole.isascii()) or len(whole) > 12:
        raise Unsure
    if whole[0] == "0" and len(whole) > 1:
        raise Unsure
    if not dot:
        return int(whole) * 100
    if part.isdigit() and part.isascii():
        if len(part) == 2:
            return int(whole + part)
        if len(part) == 1:
            return int(whole + part) * 10
    raise Unsure


def instant(text: str) -> str:
    """`2026-11-11T00:05:00+08:00` or `…Z`, optionally with a fraction of a second."""
    n = len(text)
    if (n == 25 and text[22] == ":" and text[19] in "+-") or (n == 20 and text[19] == "Z"):
        plain = text[4] == text[7] == "-" and text[10] == "T" and text[13] == text[16] == ":"
        if not (plain and text.isascii()):
            raise Unsure
    elif TIME.fullmatch(text) is None:
        raise Unsure
    try:
        datetime.fromisoformat(text)
    except ValueError:
        raise Unsure from None
    return text


def _csv_item(row: list[str]) -> ImportItem:
    sku, quantity, price = row[17], row[18], row[19]
    if not 0 < len(sku) <= 64 or not (quantity.isdigit() and quantity.isascii()):
        raise Unsure
    count = int(quantity)
    if quantity[0] == "0" or count > 100_000:
        raise Unsure
    return ImportItem(sku, count, money(price))


def fast_csv(rows: list[list[str]], line: int) -> ImportOrder:
    """One order from its rows (canonical column order); Unsure unless plainly valid."""
    r = rows[0]
    order_id, member, status = r[0], r[1], STATUSES.get(r[5])
    if status is None or len(rows) > MAX_ITEMS or not 0 < len(order_id) <= 64:
        raise Unsure
    if order_id != order_id.strip() or not 0 < len(member) <= 128:
        raise Unsure
    if len(r[2]) > 32 or len(r[3]) > 320 or len(r[4]) > 200:
        raise Unsure
    if len(rows) == 1 and not (r[17] or r[18] or r[19]):
        items: tuple[ImportItem, ...] = ()
    else:
        items = tuple([_csv_item(row) for row in rows])
    currency, source = r[6] or "CNY", r[10] or "organic"
    if CURRENCY.fullmatch(currency) is None or len(source) > 32:
        raise Unsure
    return ImportOrder(
        line,
        order_id,
        member,
        r[2] or None,
        r[3] or None,
        r[4] or None,
        status,
        currency,
        money(r[7]),
        money(r[8]) if r[8] else 0,
        money(r[9]) if r[9] else None,
        source,
        instant(r[11]),
        instant(r[12]) if r[12] else None,
        instant(r[13]) if r[13] else None,
        instant(r[14]) if r[14] else None,
        instant(r[15]) if r[15] else None,
        instant(r[16]) if r[16] else None,
        items,
    )


def bounded(text: str, longest: int) -> str:
    if not 0 < len(text) <= longest:
        raise Unsure
    return text


def csv_shape(rows: list[list[str]]) -> dict[str, Any]:
    """The order's rows as the OrderIn payload they stand for; empty cells are left out."""
    r = rows[0]
    order: dict[str, Any] = {
        name: value
        for name, value in zip(COLUMNS[:ORDER_COLUMNS], r, strict=False)
        if value and not name.startswith("member_") and name != "order_id"
    }
    if r[0]:
        order["id"] = r[0]
    names = ("external_id", "phone", "email", "name")
    order["member"] = {k: v for k, v in zip(names, r[1:5], strict=True) if v}
    order["items"] = [
        {k: v for k, v in zip(("sku", "quantity", "price"), row[ORDER_COLUMNS:], strict=True) if v}
        for row in rows
        if any(row[ORDER_COLUMNS:])
    ]
    return order


def check_csv(rows: list[list[str]], lines: list[int]) -> ImportOrder | list[Problem]:
    """The order made of consecutive CSV rows, or why it is rejected."""
    head = rows[0][:ORDER_COLUMNS]
    for row, line in zip(rows[1:], lines[1:], strict=True):
        if row[:ORDER_COLUMNS] != head:
            column = next(c for c, a, b in zip(COLUMNS, head, row, strict=False) if a != b)
            reason = f"differs from line {lines[0]}: the rows of one order repeat its columns"
            return [Problem(line, column, reason)]
    try:
        return fast_csv(rows, lines[0])
    except Unsure:
        return _by_model(csv_shape(rows), lines[0], lambda loc: _csv_place(loc, lines))


def _csv_place(loc: tuple[int | str, ...], lines: list[int]) -> tuple[int, str]:
    head = str(loc[0]) if loc else "order"
    if head == "items" and len(loc) > 2 and isinstance(loc[1], int) and loc[1] < len(lines):
        return lines[loc[1]], str(loc[2])
    if head == "member" and len(loc) > 1:
        return lines[0], "member_external_id" if loc[1] == "external_id" else f"member_{loc[1]}"
    return lines[0], {"id": "order_id", "items": "sku"}.get(head, head)


def _by_model(shape: object, line: int, place: Any) -> ImportOrder | list[Problem]:
    try:
        return from_model(OrderIn.model_validate(shape), line)
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False, include_context=False, include_input=False):
            at, field = place(tuple(error["loc"]))
            problems.append(Problem(at, field, error["msg"]))
        return problems


def _text(value: object, longest: int) -> str:
    if type(value) is not str:
        raise Unsure
    return bounded(value, longest)


def _id(value: object, longest: int) -> str:
    """An id as a string or an exact integer (never through a float)."""
    if type(value) is int:
        return bounded(str(value), longest)
    return _text(value, longest)


def _amount(value: object) -> int:
    if type(value) is str:
        return money(value)
    if type(value) is int and 0 <= value < 10**12:
        return value * 100
    raise Unsure


def _stamp(value: object) -> str | None:
    if value is None:
        return None
    if type(value) is not str:
        raise Unsure
    return instant(value)


def _maybe_text(value: object, longest: int) -> str | None:
    if value is None:
        return None
    if type(value) is not str or len(value) > longest:
        raise Unsure
    return value or None


def _json_item(item: object) -> ImportItem:
    if type(item) is not dict or item.keys() != ITEM_KEYS:
        raise Unsure
    quantity = item["quantity"]
    if type(quantity) is not int or not 0 < quantity <= 100_000:
        raise Unsure
    return ImportItem(_text(item["sku"], 64), quantity, _amount(item["price"]))


def fast_json(order: Any, line: int) -> ImportOrder:
    """One order from a parsed JSON line; Unsure unless plainly valid."""
    if type(order) is not dict or not order.keys() <= ORDER_KEYS:
        raise Unsure
    member, order_id = order["member"], _id(order["id"], 64)
    if type(member) is not dict or not member.keys() <= MEMBER_KEYS or order_id != order_id.strip():
        raise Unsure
    items = order.get("items", [])
    if type(items) is not list or len(items) > MAX_ITEMS:
        raise Unsure
    currency = order.get("currency", "CNY")
    if type(currency) is not str or CURRENCY.fullmatch(currency) is None:
        raise Unsure
    refund = order.get("refund_total")
    paid, shipped, delivered, cancelled, refunded = [_stamp(order.get(n)) for n in STAMPS]
    return ImportOrder(
        line,
        order_id,
        _id(member["external_id"], 128),
        _maybe_text(member.get("phone"), 32),
        _maybe_text(member.get("email"), 320),
        _maybe_text(member.get("name"), 200),
        STATUSES[order["status"]],
        currency,
        _amount(order["total"]),
        _amount(order.get("discount_total", 0)),
        None if refund is None else _amount(refund),
        _text(order.get("source", "organic"), 32),
        instant(_text(order["created_at"], 64)),
        paid,
        shipped,
        delivered,
        cancelled,
        refunded,
        tuple(_json_item(item) for item in items),
    )


def check_json(order: Any, line: int) -> ImportOrder | list[Problem]:
    """The order on one JSON line, or why it is rejected."""
    try:
        return fast_json(order, line)
    except (Unsure, KeyError, TypeError):
        return _by_model(order, line, lambda loc: (line, _dotted(loc)))


def _dotted(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "order"
