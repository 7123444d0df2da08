"""The field catalogue of journey conditions: what `{"var": "member.paid_orders"}` can name.

A field is a dotted name `<scope>.<name>` with a type, read in Python from a facts dict and in
SQL from a column expression of its scope's selectable. The catalogue is an immutable registry:
`CATALOGUE.extended([...])` gives a larger one, and `member.attributes.<key>` is a family of
fields built on demand for any key. Member analytics (RFM scores, segment, stage, value tier,
promotion share) are member fields read from `member_analytics`: a primary-key subquery in SQL,
the member's row in Python, null on both for a member the recompute has not scored yet.

Conventions a field definition keeps, so both back ends agree: a money field's SQL expression
yields integer cents (its Python value a Decimal); a text field's SQL expression is plain text
(enums are type-coerced); a number field's SQL expression is a double, read in Python as the
decimal it prints as (`shortest_decimal`); `nullable` is False only where the SQL value can never
be NULL.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    String,
    exists,
    literal,
    literal_column,
    select,
    type_coerce,
)
from sqlalchemy.orm import aliased

from service.analytics.models import MemberAnalytics
from service.analytics.views import analytics_column
from service.journeys.sql_functions import epoch_us, floor_div, json_array_has_any
from service.members.models import Member, MemberTag
from service.orders.models import Order, OrderItem
from service.products.models import Product


class FieldType(StrEnum):
    INT = "int"
    MONEY = "money"
    NUMBER = "number"  # a fraction such as a share, stored as a double
    TEXT = "text"
    DATETIME = "datetime"
    DATE = "date"
    BOOL = "bool"
    TAGS = "tags"
    JSON = "json"


SCOPES = ("member", "order", "item", "product")

ScopeFacts = Mapping[str, Any]
Facts = Mapping[str, Mapping[str, Any] | None]
Reader = Callable[[ScopeFacts, datetime], Any]
SqlReader = Callable[[Any, datetime], ColumnElement[Any]]
SqlHasAny = Callable[[Any, Sequence[str]], ColumnElement[bool]]


@dataclass(frozen=True)
class Field:
    """One readable value. `read(scope_facts, now)`; `sql(selectable, now)` or, for tags,
    `has_any(selectable, tags)`; json fields read the object at `sql` and the key `json_key`."""

    name: str
    type: FieldType
    read: Reader
    sql: SqlReader | None = None
    has_any: SqlHasAny | None = None
    nullable: bool = True
    json_key: str | None = None

    @property
    def scope(self) -> str:
        return self.name.split(".", 1)[0]


@dataclass(frozen=True)
class FieldFamily:
    """Fields named `<prefix><key>` for any key matching `key_pattern`."""

    prefix: str
    key_pattern: re.Pattern[str]
    build: Callable[[str], Field]
    key_hint: str


@dataclass(frozen=True)
class FieldCatalogue:
    fields: tuple[Field, ...]
    families: tuple[FieldFamily, ...] = ()
    _by_name: Mapping[str, Field] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {f.name: f for f in self.fields})

    def lookup(self, name: str) -> Field | None:
        if (found := self._by_name.get(name)) is not None:
            return found
        for family in self.families:
            key = name.removeprefix(family.prefix)
            if key != name and family.key_pattern.fullmatch(key):
                return family.build(key)
        return None

    def family_of(self, name: str) -> FieldFamily | None:
        return next((f for f in self.families if name.startswith(f.prefix)), None)

    def names(self) -> list[str]:
        return list(self._by_name)

    def extended(
        self, fields: Iterable[Field] = (), families: Iterable[FieldFamily] = ()
    ) -> FieldCatalogue:
        return FieldCatalogue((*self.fields, *fields), (*self.families, *families))


@dataclass(frozen=True)
class SqlScope:
    """The selectables (entity or alias) a compiled condition may reference; member is required."""

    member: Any
    order: Any = None
    item: Any = None
    product: Any = None

    def names(self) -> frozenset[str]:
        return frozenset(s for s in SCOPES if getattr(self, s) is not None)

    def selectable(self, scope: str) -> Any:
        return getattr(self, scope)


def column_field(
    scope: str, model: Any, attr: str, type_: FieldType, *, name: str | None = None
) -> Field:
    """A field that is one column: facts key and field name default to the attribute name."""
    key = name or attr
    column = model.__table__.c[attr]

    def sql(selectable: Any, _now: datetime) -> ColumnElement[Any]:
        expr: ColumnElement[Any] = getattr(selectable, attr)
        if type_ == FieldType.MONEY:
            return type_coerce(expr, BigInteger())  # the stored cents, unconverted
        return type_coerce(expr, String()) if type_ == FieldType.TEXT else expr

    return Field(
        name=f"{scope}.{key}",
        type=type_,
        read=lambda facts, _now: facts[key],
        sql=sql,
        nullable=bool(column.nullable),
    )


def _member_tags_any(member: Any, tags: Sequence[str]) -> ColumnElement[bool]:
    tag = aliased(MemberTag)  # never correlated with a member_tags in the outer query
    return exists(select(literal_column("1")).where(tag.member_id == member.id, tag.tag.in_(tags)))


def _order_skus_any(order: Any, skus: Sequence[str]) -> ColumnElement[bool]:
    item = aliased(OrderItem)
    return exists(select(literal_column("1")).where(item.order_id == order.id, item.sku.in_(skus)))


def _tags_field(name: str, key: str, has_any: SqlHasAny) -> Field:
    return Field(name, FieldType.TAGS, read=lambda facts, _now: facts[key], has_any=has_any)


def _attribute_field(key: str) -> Field:
    return Field(
        name=f"member.attributes.{key}",
        type=FieldType.JSON,
        read=lambda facts, _now: facts["attributes"].get(key),
        sql=lambda member, _now: member.attributes,
        json_key=key,
    )


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DAY, MICROSECOND = timedelta(days=1), timedelta(microseconds=1)


def shortest_decimal(value: float | None) -> Decimal | None:
    """A stored double as a number field reads it: the decimal it prints as (0.1, not
    0.1000000000000000055…), as JSON numbers are read; the order of doubles is kept."""
    return None if value is None else Decimal(repr(float(value)))


def _analytics_field(name: str, type_: FieldType) -> Field:
    def sql(member: Any, _now: datetime) -> ColumnElement[Any]:
        expr = analytics_column(member, name)
        return type_coerce(expr, String()) if type_ == FieldType.TEXT else expr

    def read(facts: ScopeFacts, _now: datetime) -> Any:
        return shortest_decimal(facts[name]) if type_ == FieldType.NUMBER else facts[name]

    return Field(f"member.{name}", type_, read=read, sql=sql)


def _recency_days(facts: ScopeFacts, now: datetime) -> int | None:
    at: datetime | None = facts["last_paid_at"]
    return None if at is None else (now - at) // DAY


def _recency_days_sql(member: Any, now: datetime) -> ColumnElement[Any]:
    now_us = literal((now - EPOCH) // MICROSECOND, BigInteger())
    return floor_div(now_us - epoch_us(member.last_paid_at), DAY // MICROSECOND)


T = FieldType
_MEMBER = [
    ("external_id", T.TEXT),
    ("gender", T.TEXT),
    ("city", T.TEXT),
    ("region", T.TEXT),
    ("locale", T.TEXT),
    ("timezone", T.TEXT),
    ("paid_orders", T.INT),
    ("total_spent", T.MONEY),
    ("average_order_value", T.MONEY),
    ("first_paid_at", T.DATETIME),
    ("last_paid_at", T.DATETIME),
    ("created_at", T.DATETIME),
    ("birthday", T.DATE),
]
# What the analytics recompute found (service/analytics/models.py, `member_analytics`).
_ANALYTICS = [
    ("recency_score", T.INT),
    ("frequency_score", T.INT),
    ("monetary_score", T.INT),
    ("segment", T.TEXT),
    ("stage", T.TEXT),
    ("previous_stage", T.TEXT),
    ("stage_changed_at", T.DATETIME),
    ("value_tier", T.TEXT),
    ("promo_orders", T.INT),
    ("promo_share", T.NUMBER),
]
_ORDER = [
    ("status", T.TEXT),
    ("currency", T.TEXT),
    ("total", T.MONEY),
    ("discount_total", T.MONEY),
    ("refund_total", T.MONEY),
    ("source", T.TEXT),
    ("created_at", T.DATETIME),
    ("paid_at", T.DATETIME),
    ("shipped_at", T.DATETIME),
    ("delivered_at", T.DATETIME),
]
_ITEM = [("sku", T.TEXT), ("quantity", T.INT), ("price", T.MONEY)]
_PRODUCT = [
    ("sku", T.TEXT),
    ("title", T.TEXT),
    ("category", T.TEXT),
    ("price", T.MONEY),
    ("replenish_days", T.INT),
    ("season", T.TEXT),
    ("launch_date", T.DATE),
]

CATALOGUE = FieldCatalogue(
    fields=(
        *(column_field("member", Member, a, t) for a, t in _MEMBER),
        _tags_field("member.tags", "tags", _member_tags_any),
        # whole days since the last paid order, now: what the recency score ranks
        Field("member.recency_days", T.INT, read=_recency_days, sql=_recency_days_sql),
        *(_analytics_field(a, t) for a, t in _ANALYTICS),
        column_field("order", Order, "external_id", T.TEXT, name="id"),
        *(column_field("order", Order, a, t) for a, t in _ORDER),
        _tags_field("order.skus", "skus", _order_skus_any),
        *(column_field("item", OrderItem, a, t) for a, t in _ITEM),
        *(column_field("product", Product, a, t) for a, t in _PRODUCT),
        _tags_field("product.tags", "tags", lambda p, tags: json_array_has_any(p.tags, tags)),
    ),
    families=(
        FieldFamily(
            prefix="member.attributes.",
            key_pattern=re.compile(r"[A-Za-z0-9_]+"),
            build=_attribute_field,
            key_hint="attribute keys are letters, digits and _",
        ),
    ),
)


def _plain(value: Any) -> Any:
    """Enum members as their stored string: conditions compare text, not Python enums."""
    return value.value if isinstance(value, StrEnum) else value


def member_facts(
    member: Member, *, tags: Sequence[str], analytics: MemberAnalytics | None = None
) -> dict[str, Any]:
    """The member scope; `analytics` is the member's `member_analytics` row, None if none yet."""
    facts = {attr: _plain(getattr(member, attr)) for attr, _ in _MEMBER}
    facts |= {a: _plain(getattr(analytics, a, None)) for a, _ in _ANALYTICS}
    facts["attributes"] = dict(member.attributes or {})
    facts["tags"] = list(tags)
    return facts


def order_facts(order: Order, *, skus: Sequence[str]) -> dict[str, Any]:
    facts = {attr: _plain(getattr(order, attr)) for attr, _ in _ORDER}
    facts["id"] = order.external_id
    facts["skus"] = list(skus)
    return facts


def item_facts(item: OrderItem) -> dict[str, Any]:
    return {attr: getattr(item, attr) for attr, _ in _ITEM}


def product_facts(product: Product) -> dict[str, Any]:
    facts = {attr: getattr(product, attr) for attr, _ in _PRODUCT}
    facts["tags"] = list(product.tags or [])
    return facts
