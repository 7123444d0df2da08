"""Reading a shop platform's order payload: exact JSON, field parsers, errors in its own terms."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from pydantic import ValidationError

from service.errors import InvalidInput
from service.orders.schemas import OrderIn

Loc = tuple[str | int, ...]
CENT = Decimal("0.01")
MAX_AMOUNT_DIGITS = 13


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def load_json(body: bytes) -> dict[str, Any]:
    """A JSON object with every integer exact and every decimal a Decimal (never a float)."""
    try:
        value = json.loads(body, parse_float=Decimal, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise InvalidInput(
            [{"loc": ["body"], "msg": f"not valid JSON: {exc}", "type": "json_invalid"}]
        ) from None
    if not isinstance(value, dict):
        raise InvalidInput([{"loc": ["body"], "msg": "not a JSON object", "type": "dict_type"}])
    return value


class PayloadReader:
    """Reads one payload; each problem is kept with its location in the platform's field names."""

    def __init__(self, payload: Mapping[str, Any]) -> None:
        self.payload = payload
        self.errors: list[dict[str, Any]] = []

    def fail(self, path: Loc, msg: str, kind: str = "value_error") -> None:
        self.errors.append({"loc": ["body", *path], "msg": msg, "type": kind})

    def raise_errors(self) -> None:
        if self.errors:
            raise InvalidInput(self.errors)

    def get(self, *path: str | int) -> Any:
        """The value at `path`, or None where any step is missing or of another shape."""
        node: Any = self.payload
        for key in path:
            if isinstance(key, int):
                node = node[key] if isinstance(node, list) and 0 <= key < len(node) else None
            else:
                node = node.get(key) if isinstance(node, Mapping) else None
            if node is None:
                return None
        return node

    def objects(self, *path: str | int) -> list[tuple[int, Mapping[str, Any]]]:
        """The objects of the list at `path` with their indexes; anything else is an error."""
        value = self.get(*path)
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(path, "should be a list", "list_type")
            return []
        found = []
        for i, item in enumerate(value):
            if isinstance(item, Mapping):
                found.append((i, item))
            else:
                self.fail((*path, i), "should be an object", "dict_type")
        return found

    def ident(self, *path: str | int, required: bool = True) -> str | None:
        """An id as the platform sent it: a string, or an integer kept to its last digit."""
        value = self.get(*path)
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        if isinstance(value, str) and value.strip():
            return value.strip()
        if value is not None or required:
            self.fail(path, "field required" if value is None else "should be an id", "id")
        return None

    def text(self, *path: str | int, required: bool = False) -> str | None:
        value = self.get(*path)
        text = (value.strip() or None) if isinstance(value, str) else None
        if text is None and required:
            self.fail(path, "field required" if value is None else "should be text", "string_type")
        return text

    def count(self, *path: str | int) -> int | None:
        value = self.get(*path)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
        if value is None:
            self.fail(path, "field required", "missing")
        else:
            self.fail(path, f"should be a whole number, 0 or more: {value!r}", "int_type")
        return None

    def money(
        self, *path: str | int, required: bool = False, signed: bool = False
    ) -> Decimal | None:
        """An amount sent as a string ("199.00") or a number, exactly as written."""
        value = self.get(*path)
        if value is None:
            if required:
                self.fail(path, "field required", "missing")
            return None
        amount = _decimal(value)
        if amount is None or (amount < 0 and not signed):
            self.fail(path, f"not an amount: {value!r}", "decimal_parsing")
            return None
        return amount

    def instant(
        self, *path: str | int, required: bool = False, naive_is_utc: bool = False
    ) -> datetime | None:
        """An ISO 8601 time; without an offset it is UTC only where the platform says so."""
        value = self.get(*path)
        if value is None:
            if required:
                self.fail(path, "field required", "missing")
            return None
        try:
            stamp = datetime.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            stamp = None
        if stamp is not None and stamp.tzinfo is None and naive_is_utc:
            stamp = stamp.replace(tzinfo=UTC)
        if stamp is None or stamp.tzinfo is None:
            self.fail(path, f"not an ISO 8601 time with an offset: {value!r}", "datetime_parsing")
            return None
        return stamp


def _decimal(value: object) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        return None
    try:
        amount = Decimal(value.strip()) if isinstance(value, str) else Decimal(value)
    except InvalidOperation:
        return None
    # Beyond a trillion nothing is an order amount, and rounding such a number would overflow.
    return amount if amount.is_finite() and amount.adjusted() < MAX_AMOUNT_DIGITS else None


def cents(amount: Decimal) -> Decimal:
    """An amount computed by division (a unit price) rounded to the cent, half up."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def build_order(values: dict[str, Any], where: Mapping[Loc, Loc]) -> OrderIn:
    """The native order; a field it refuses is reported at the platform field it came from."""
    try:
        return OrderIn.model_validate(values)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_context=False, include_input=False)
        raise InvalidInput(
            [
                {
                    "loc": ["body", *platform_loc(tuple(e["loc"]), where)],
                    "msg": e["msg"],
                    "type": e["type"],
                }
                for e in errors
            ]
        ) from None


def platform_loc(loc: Loc, where: Mapping[Loc, Loc]) -> Loc:
    """Translate a native field location by its longest known prefix."""
    for n in range(len(loc), 0, -1):
        if loc[:n] in where:
            return (*where[loc[:n]], *loc[n:])
    return loc


def slug(name: str, *, max_length: int = 32) -> str:
    """A platform's channel name as a `source` value: `Facebook Shop` → `facebook_shop`."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")[:max_length] or "other"


def item_sku(sku: str | None, *fallbacks: tuple[str, str | None]) -> str:
    """The line's SKU, else the first platform id it has (`variant-123`): SKUs are optional."""
    if sku:
        return sku
    for kind, ident in fallbacks:
        if ident and ident != "0":
            return f"{kind}-{ident}"
    return "unknown"
