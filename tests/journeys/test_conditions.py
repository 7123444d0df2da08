"""evaluate() as a table: the semantics of the condition language, without a database."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from service.journeys.conditions import InvalidCondition, evaluate
from service.journeys.fields import CATALOGUE, Facts, Field, FieldType, member_facts
from service.members.models import Gender, Member

NOW = datetime(2026, 6, 18, 1, 0, tzinfo=UTC)
DAY = timedelta(days=1)
MEMBER: dict[str, Any] = {
    "external_id": "m-1",
    "gender": "female",
    "city": "杭州",
    "region": None,
    "locale": "zh-CN",
    "timezone": "Asia/Shanghai",
    "paid_orders": 1,
    "total_spent": Decimal("70.00"),
    "average_order_value": Decimal("70.00"),
    "first_paid_at": NOW - 30 * DAY,
    "last_paid_at": NOW - 30 * DAY,
    "created_at": NOW - 60 * DAY,
    "birthday": date(1990, 6, 18),
    "attributes": {"level": 3, "note": "gold", "vip": True, "ratio": 0.1, "none": None},
    "tags": ["vip", "双11"],
}
ORDER: dict[str, Any] = {
    "id": "o-1",
    "status": "paid",
    "currency": "CNY",
    "total": Decimal("99.00"),
    "discount_total": Decimal("0.00"),
    "refund_total": Decimal("0.00"),
    "source": "organic",
    "created_at": NOW - timedelta(minutes=90),
    "paid_at": NOW - timedelta(minutes=88),
    "shipped_at": None,
    "delivered_at": None,
    "skus": ["MASK-30"],
}


def v(name: str, *default: Any) -> dict[str, Any]:
    return {"var": [name, *default] if default else name}


def facts(*, order: bool = False, **member: Any) -> Facts:
    return {"member": {**MEMBER, **member}, "order": ORDER if order else None}


def days(name: str, unit: str = "days_since") -> dict[str, Any]:
    return {unit: v(name)}


CASES: list[tuple[Any, Facts, bool]] = [
    ({"==": [v("member.paid_orders"), 1]}, facts(), True),
    ({"==": [1, v("member.paid_orders")]}, facts(), True),
    ({"==": [v("member.paid_orders"), 1.0]}, facts(), True),
    ({"==": [v("member.paid_orders"), 1.5]}, facts(), False),
    # money is exact: 70.00 against 70, 70.005 and 69.995
    ({">=": [v("member.total_spent"), 70]}, facts(), True),
    ({">=": [v("member.total_spent"), 70.005]}, facts(), False),
    ({">": [v("member.total_spent"), 69.995]}, facts(), True),
    ({"==": [v("member.total_spent"), 70.0]}, facts(), True),
    # two-valued null: a comparison with null is false, and its negation true
    ({"==": [v("member.region"), None]}, facts(), True),
    ({"!=": [v("member.region"), None]}, facts(), False),
    ({"!=": [v("member.region"), "华东"]}, facts(), False),
    ({"!": {"==": [v("member.region"), "华东"]}}, facts(), True),
    ({"<": [v("member.region"), "z"]}, facts(), False),
    ({"==": [v("member.region", "华东"), "华东"]}, facts(), True),
    ({"==": [v("member.region", "华东"), None]}, facts(), False),
    ({"==": [None, None]}, facts(), True),
    # text: case-sensitive, by code point ("m-1" > "M", "B" < "a")
    ({"==": [v("member.city"), "杭州"]}, facts(), True),
    ({"<": [v("member.external_id"), "M"]}, facts(), False),
    ({"<": [v("member.external_id"), "n"]}, facts(), True),
    ({"<": ["B", "a"]}, facts(), True),
    ({"==": [v("member.gender"), "Female"]}, facts(), False),
    # between
    ({"<": [0, v("member.paid_orders"), 2]}, facts(), True),
    ({"<=": [1, v("member.paid_orders"), 1]}, facts(), True),
    ({"<": [1, v("member.paid_orders"), 2]}, facts(), False),
    # in: a literal list, tags, a substring
    ({"in": [v("member.city"), ["上海", "杭州"]]}, facts(), True),
    ({"in": [v("member.city"), []]}, facts(), False),
    ({"in": [v("member.region"), ["x"]]}, facts(), False),
    ({"in": [v("member.total_spent"), [69.99, 70]]}, facts(), True),
    ({"in": ["vip", v("member.tags")]}, facts(), True),
    ({"in": ["VIP", v("member.tags")]}, facts(), False),
    ({"in": [v("member.tags"), ["new", "双11"]]}, facts(), True),
    ({"in": [v("member.tags"), []]}, facts(), False),
    ({"in": ["杭", v("member.city")]}, facts(), True),
    ({"in": ["Hang", v("member.city")]}, facts(), False),
    ({"in": ["", v("member.city")]}, facts(), True),
    ({"in": ["", v("member.region")]}, facts(), False),
    # whole days elapsed: floor, exact to the microsecond, negative ahead
    ({"==": [days("member.last_paid_at"), 30]}, facts(), True),
    ({">": [days("member.last_paid_at"), 30]}, facts(), False),
    ({">=": [days("member.last_paid_at"), 29.5]}, facts(), True),
    (
        {"==": [days("member.last_paid_at"), 29]},
        facts(last_paid_at=NOW - 30 * DAY + timedelta(microseconds=1)),
        True,
    ),
    (
        {"==": [days("member.last_paid_at"), -1]},
        facts(last_paid_at=NOW + timedelta(microseconds=1)),
        True,
    ),
    (
        {"==": [days("member.last_paid_at", "days_until"), 0]},
        facts(last_paid_at=NOW + timedelta(microseconds=1)),
        True,
    ),
    ({"==": [days("member.last_paid_at", "days_until"), -31]}, facts(), False),
    ({"==": [days("member.last_paid_at", "days_until"), -30]}, facts(), True),
    ({"==": [days("member.first_paid_at", "hours_since"), 720]}, facts(), True),
    ({">=": [days("member.last_paid_at"), 0]}, facts(last_paid_at=None), False),
    ({"!": {">=": [days("member.last_paid_at"), 0]}}, facts(last_paid_at=None), True),
    ({"==": [days("member.last_paid_at"), None]}, facts(last_paid_at=None), True),
    ({">": [days("member.last_paid_at"), {"var": "member.paid_orders"}]}, facts(), True),
    (
        {">=": [{"days_since": v("member.last_paid_at", "2026-06-01T00:00:00Z")}, 17]},
        facts(last_paid_at=None),
        True,
    ),
    # json attributes compare by the literal's type
    ({"==": [v("member.attributes.level"), 3]}, facts(), True),
    ({"==": [v("member.attributes.level"), "3"]}, facts(), False),
    ({"==": [v("member.attributes.vip"), True]}, facts(), True),
    ({"==": [v("member.attributes.vip"), 1]}, facts(), False),
    ({"<": [v("member.attributes.note"), "h"]}, facts(), True),
    ({"==": [v("member.attributes.ratio"), 0.1]}, facts(), True),
    ({">": [v("member.attributes.ratio"), 0.1]}, facts(), False),
    ({"==": [v("member.attributes.missing"), None]}, facts(), True),
    ({"==": [v("member.attributes.none"), None]}, facts(), True),
    ({"!=": [v("member.attributes.missing"), 0]}, facts(), False),
    ({"!": {"==": [v("member.attributes.missing"), 0]}}, facts(), True),
    ({"==": [v("member.attributes.missing", 0), 0]}, facts(), True),
    ({"==": [v("member.attributes.note", 0), 0]}, facts(), False),
    ({"in": [v("member.attributes.level"), ["3", 3]]}, facts(), True),
    ({"in": ["ol", v("member.attributes.note")]}, facts(), True),
    # datetimes compare as instants, in any offset; dates with dates
    ({">": [v("member.last_paid_at"), "2026-05-19T09:00:00+08:00"]}, facts(), False),
    ({">=": [v("member.last_paid_at"), "2026-05-19T09:00:00+08:00"]}, facts(), True),
    ({"==": [v("member.last_paid_at"), "2026-05-19T01:00:00Z"]}, facts(), True),
    ({"==": [v("member.birthday"), "1990-06-18"]}, facts(), True),
    ({"<": [v("member.birthday"), "1990-06-18"]}, facts(), False),
    # a scope missing from the facts reads as null
    ({"==": [v("order.total"), None]}, facts(), True),
    ({">=": [v("order.total"), 0]}, facts(), False),
    ({"in": ["MASK-30", v("order.skus")]}, facts(), False),
    ({"in": ["MASK-30", v("order.skus")]}, facts(order=True), True),
    ({"==": [v("order.id"), "o-1"]}, facts(order=True), True),
    ({">=": [v("order.total"), v("member.average_order_value")]}, facts(order=True), True),
    ({"<": [days("order.created_at", "hours_since"), 2]}, facts(order=True), True),
    # connectives
    ({"and": [True, False]}, facts(), False),
    ({"or": [False, {"==": [v("member.paid_orders"), 1]}]}, facts(), True),
    ({"!": [False]}, facts(), True),
    (True, facts(), True),
]


@pytest.mark.parametrize(("condition", "given", "expected"), CASES)
def test_evaluate(condition: Any, given: Facts, expected: bool) -> None:
    assert evaluate(condition, given, now=NOW) is expected


def test_a_bool_field_is_a_condition_by_itself() -> None:
    has_city = Field("member.has_city", FieldType.BOOL, read=lambda m, _now: m["city"] is not None)
    catalogue = CATALOGUE.extended([has_city])
    assert evaluate({"var": "member.has_city"}, facts(), now=NOW, catalogue=catalogue)
    assert not evaluate({"var": "member.has_city"}, facts(city=None), now=NOW, catalogue=catalogue)


def test_an_invalid_condition_is_refused() -> None:
    with pytest.raises(InvalidCondition, match=r"unknown operator \"like\""):
        evaluate({"like": [v("member.city"), "%州"]}, facts(), now=NOW)


def test_member_facts_hold_plain_values() -> None:
    member = Member(
        external_id="m-1",
        gender=Gender.FEMALE,
        attributes={"level": 3},
        paid_orders=2,
        total_spent=Decimal("12.50"),
        created_at=NOW,
    )
    built = member_facts(member, tags=("vip",))
    assert built["gender"] == "female"
    assert type(built["gender"]) is str
    assert built["tags"] == ["vip"]
    assert built["attributes"] == {"level": 3}
    assert evaluate({"in": ["vip", v("member.tags")]}, {"member": built}, now=NOW)
