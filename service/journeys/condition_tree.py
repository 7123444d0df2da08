"""The typed tree a condition parses to, shared by the Python evaluator and the SQL compiler.

Parsing resolves every field, gives each comparison one value domain and converts its literals
into that domain (Decimal, str, aware UTC datetime, date, bool), so both back ends start from
the same decisions. The small pure helpers here define the values both must agree on.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from service.journeys.fields import Field, FieldType


@dataclass(frozen=True)
class ConditionError:
    loc: tuple[str | int, ...]
    msg: str


class InvalidCondition(ValueError):
    def __init__(self, errors: Sequence[ConditionError]) -> None:
        super().__init__("; ".join(f"{'.'.join(map(str, e.loc))}: {e.msg}" for e in errors))
        self.errors = tuple(errors)


class Domain(StrEnum):
    """What the two sides of a comparison are compared as."""

    NUMBER = "number"
    TEXT = "text"
    DATETIME = "datetime"
    DATE = "date"
    BOOL = "bool"


DOMAIN_OF = {
    FieldType.INT: Domain.NUMBER,
    FieldType.MONEY: Domain.NUMBER,
    FieldType.NUMBER: Domain.NUMBER,
    FieldType.TEXT: Domain.TEXT,
    FieldType.DATETIME: Domain.DATETIME,
    FieldType.DATE: Domain.DATE,
    FieldType.BOOL: Domain.BOOL,
}


class ElapsedUnit(StrEnum):
    DAYS_SINCE = "days_since"
    DAYS_UNTIL = "days_until"
    HOURS_SINCE = "hours_since"

    @property
    def step(self) -> timedelta:
        return timedelta(hours=1) if self == ElapsedUnit.HOURS_SINCE else timedelta(days=1)

    @property
    def is_since(self) -> bool:
        return self != ElapsedUnit.DAYS_UNTIL


@dataclass(frozen=True)
class Ref:
    """`{"var": name}`; default: typed in the field's domain, or a raw JSON scalar for json."""

    field: Field
    default: Any = None


@dataclass(frozen=True)
class Elapsed:
    """Whole units between a datetime field and now: floor((now - t) / unit), or (t - now)."""

    unit: ElapsedUnit
    ref: Ref


@dataclass(frozen=True)
class Lit:
    value: Any


Operand = Ref | Elapsed | Lit


@dataclass(frozen=True)
class Compare:
    op: str
    left: Operand
    right: Operand
    domain: Domain


@dataclass(frozen=True)
class IsNull:
    operand: Ref | Elapsed


@dataclass(frozen=True)
class InValues:
    operand: Ref | Elapsed
    values: tuple[Any, ...]
    domain: Domain


@dataclass(frozen=True)
class HasAnyTag:
    field: Field
    tags: tuple[str, ...]


@dataclass(frozen=True)
class Contains:
    operand: Ref
    needle: str


@dataclass(frozen=True)
class AllOf:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class AnyOf:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    item: Node


@dataclass(frozen=True)
class Const:
    value: bool


Node = Compare | IsNull | InValues | HasAnyTag | Contains | AllOf | AnyOf | Not | Const

COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
FLIPPED = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}


def compare_values(op: str, left: Any, right: Any) -> bool:
    """Two-valued: a comparison with a null side is false."""
    return left is not None and right is not None and COMPARE[op](left, right)


def as_number(value: Any) -> Decimal | None:
    """A JSON number as its exact decimal value (a float by its shortest repr); else None."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return None
    if isinstance(value, float):
        return Decimal(repr(value)) if math.isfinite(value) else None
    return Decimal(value)


def project_json(value: Any, domain: Domain) -> Any:
    """A free-form attribute seen in a domain: it matches only values of the literal's type."""
    if domain == Domain.NUMBER:
        return as_number(value)
    if domain == Domain.TEXT:
        return value if isinstance(value, str) else None
    if domain == Domain.BOOL:
        return value if isinstance(value, bool) else None
    return None


def elapsed(unit: ElapsedUnit, at: datetime | None, now: datetime) -> int | None:
    if at is None:
        return None
    return ((now - at) if unit.is_since else (at - now)) // unit.step
