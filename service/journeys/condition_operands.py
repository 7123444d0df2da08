"""Operands of journey conditions: fields, defaults, elapsed time and literals, with errors."""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from service.journeys.condition_tree import (
    COMPARE,
    DOMAIN_OF,
    ConditionError,
    Domain,
    Elapsed,
    ElapsedUnit,
    Lit,
    Ref,
    as_number,
)
from service.journeys.fields import Field, FieldCatalogue, FieldType

Loc = tuple[str | int, ...]
CONDITION_OPS = frozenset({*COMPARE, "in", "and", "or", "!"})
ELAPSED_OPS = frozenset(u.value for u in ElapsedUnit)


@dataclass(frozen=True)
class RawLit:
    """A literal before its comparison decides what it is (a number, an instant, a date…)."""

    value: Any
    loc: Loc


RawOperand = Ref | Elapsed | RawLit


def json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return {str: "text", type(None): "null", list: "list", dict: "object"}.get(type(value), "?")


def describe(value: Any) -> str:
    if isinstance(value, dict) and len(value) == 1 and next(iter(value)) in CONDITION_OPS:
        return f'a condition ("{next(iter(value))}")'
    return json.dumps(value, ensure_ascii=False, default=str)


def type_name(operand: Ref | Elapsed) -> str:
    return "int" if isinstance(operand, Elapsed) else operand.field.type.value


def coerce_literal(value: Any, domain: Domain) -> Any:
    """The literal in a domain: TypeError for a literal of the wrong kind, ValueError if bad."""
    kind = json_kind(value)
    if domain == Domain.NUMBER and kind == "number":
        if (number := as_number(value)) is None:
            raise ValueError(f"{value} is not a finite number")
        return number
    if (domain, kind) in {(Domain.TEXT, "text"), (Domain.BOOL, "bool")}:
        return value
    if domain == Domain.DATETIME and kind == "text":
        return _instant(value)
    if domain == Domain.DATE and kind == "text":
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise ValueError(f'"{value}" is not an ISO 8601 date, e.g. "2026-06-18"') from None
    raise TypeError(kind)


def _instant(text: str) -> datetime:
    bad = (
        f'"{text}" is not an ISO 8601 datetime with a UTC offset, e.g. "2026-06-18T10:00:00+08:00"'
    )
    try:
        parsed = datetime.fromisoformat(text)
        if parsed.tzinfo is None:
            raise ValueError(bad)
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise ValueError(bad) from None


class OperandParser:
    """Parses values; `fail` collects errors so that one pass reports all of them."""

    def __init__(self, catalogue: FieldCatalogue, scopes: Collection[str] | None) -> None:
        self.catalogue, self.scopes = catalogue, scopes
        self.errors: list[ConditionError] = []

    def fail(self, loc: Loc, msg: str) -> None:
        self.errors.append(ConditionError(loc, msg))

    def single(self, node: dict[str, Any], loc: Loc) -> tuple[str, Any] | None:
        if len(node) != 1:
            self.fail(loc, f"an operation is an object with one operator, got {len(node)} keys")
            return None
        return next(iter(node.items()))

    def literal(self, raw: RawLit, domain: Domain, against: str) -> Lit | None:
        try:
            return Lit(coerce_literal(raw.value, domain))
        except TypeError:
            self.fail(raw.loc, f"cannot compare {against} with {json_kind(raw.value)}")
        except ValueError as exc:
            self.fail(raw.loc, str(exc))
        return None

    def operand(self, node: Any, loc: Loc) -> RawOperand | None:
        if isinstance(node, list):
            self.fail(loc, 'a list of values is only allowed as the second argument of "in"')
            return None
        if not isinstance(node, dict):
            return RawLit(node, loc)
        if (pair := self.single(node, loc)) is None:
            return None
        op, args = pair
        if op == "var":
            return self.var(args, (*loc, "var"))
        if op in ELAPSED_OPS:
            return self.elapsed(ElapsedUnit(op), args, (*loc, op))
        if op in CONDITION_OPS:
            self.fail(loc, f'expected a value, got a condition ("{op}")')
        else:
            self.fail((*loc, op), f'unknown operator "{op}"')
        return None

    def var(self, args: Any, loc: Loc) -> Ref | None:
        if isinstance(args, str):
            name, default, name_loc = args, None, loc
        elif isinstance(args, list) and len(args) in (1, 2) and isinstance(args[0], str):
            name, default, name_loc = args[0], (args[1] if len(args) == 2 else None), (*loc, 0)
        else:
            self.fail(loc, '"var" takes a field name or [name, default]')
            return None
        if (field := self.field(name, name_loc)) is None:
            return None
        return Ref(field) if default is None else self.with_default(field, default, (*loc, 1))

    def with_default(self, field: Field, default: Any, loc: Loc) -> Ref | None:
        if field.type == FieldType.TAGS:
            self.fail(loc, f"{field.name} takes no default")
            return None
        if field.type == FieldType.JSON:
            kind = json_kind(default)
            if kind not in ("number", "text", "bool") or (
                kind == "number" and as_number(default) is None
            ):
                self.fail(loc, f"a default for {field.name} is a number, text or bool")
                return None
            return Ref(field, default)
        try:
            value = coerce_literal(default, DOMAIN_OF[field.type])
        except TypeError:
            self.fail(loc, f"default {describe(default)} does not fit {field.name} ({field.type})")
            return None
        except ValueError as exc:
            self.fail(loc, str(exc))
            return None
        if field.type == FieldType.NUMBER:
            # It stands in for a stored double, so it is one, read as the field reads them.
            if not math.isfinite(nearest := float(value)):
                self.fail(loc, f"default {describe(default)} is out of range for {field.name}")
                return None
            value = Decimal(repr(nearest))
        return Ref(field, value)

    def field(self, name: str, loc: Loc) -> Field | None:
        field = self.catalogue.lookup(name)
        if field is None:
            if (family := self.catalogue.family_of(name)) is not None:
                self.fail(loc, f"invalid field {name}: {family.key_hint}")
            else:
                self.fail(loc, f"unknown field {name}{self.suggestion(name)}")
            return None
        if self.scopes is not None and field.scope not in self.scopes:
            self.fail(loc, f"{name} is not available for this trigger")
            return None
        return field

    def suggestion(self, name: str) -> str:
        tail = name.rsplit(".", 1)[-1]
        candidates = self.catalogue.names() + [f.prefix + tail for f in self.catalogue.families]
        close = difflib.get_close_matches(name, candidates, n=1)
        return f" (did you mean {close[0]}?)" if close else ""

    def elapsed(self, unit: ElapsedUnit, args: Any, loc: Loc) -> Elapsed | None:
        if isinstance(args, list) and len(args) != 1:
            self.fail(loc, f'"{unit}" takes 1 argument')
            return None
        target, at = (args[0], (*loc, 0)) if isinstance(args, list) else (args, loc)
        if not (isinstance(target, dict) and list(target) == ["var"]):
            self.fail(at, f"{unit} needs a datetime field, got {describe(target)}")
            return None
        if (ref := self.var(target["var"], (*at, "var"))) is None:
            return None
        if ref.field.type != FieldType.DATETIME:
            self.fail(at, f"{unit} needs a datetime field, got {ref.field.name} ({ref.field.type})")
            return None
        return Elapsed(unit, ref)
