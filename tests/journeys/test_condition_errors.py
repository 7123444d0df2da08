"""validate_condition(): every error, with the path into the JSON and a reason one can act on."""

from __future__ import annotations

from typing import Any

import pytest

from service.journeys.conditions import ConditionError, validate_condition

MEMBER_ONLY = {"member"}
EVERY = {"member", "order", "item", "product"}


def v(name: Any) -> dict[str, Any]:
    return {"var": name}


CASES: list[tuple[Any, set[str], list[tuple[tuple[str | int, ...], str]]]] = [
    (
        {"==": [v("member.paid_order"), 1]},
        MEMBER_ONLY,
        [(("==", 0, "var"), "unknown field member.paid_order (did you mean member.paid_orders?)")],
    ),
    ({"==": [v("shop.name"), 1]}, MEMBER_ONLY, [(("==", 0, "var"), "unknown field shop.name")]),
    (
        {"==": [v("member.attribute.vip"), True]},
        MEMBER_ONLY,
        [
            (
                ("==", 0, "var"),
                "unknown field member.attribute.vip (did you mean member.attributes.vip?)",
            )
        ],
    ),
    (
        {">=": [v("order.total"), 70]},
        MEMBER_ONLY,
        [((">=", 0, "var"), "order.total is not available for this trigger")],
    ),
    (
        {">=": [{"days_since": v("member.city")}, 30]},
        MEMBER_ONLY,
        [((">=", 0, "days_since"), "days_since needs a datetime field, got member.city (text)")],
    ),
    (
        {">=": [{"days_since": "2026-06-01T00:00:00Z"}, 30]},
        MEMBER_ONLY,
        [
            (
                (">=", 0, "days_since"),
                'days_since needs a datetime field, got "2026-06-01T00:00:00Z"',
            )
        ],
    ),
    ({"<": [1]}, MEMBER_ONLY, [(("<",), '"<" takes 2 or 3 arguments')]),
    ({"==": [1, 2, 3]}, MEMBER_ONLY, [(("==",), '"==" takes 2 arguments')]),
    ({"like": [v("member.city"), "%州"]}, MEMBER_ONLY, [(("like",), 'unknown operator "like"')]),
    (
        {"==": [v("order.total"), "abc"]},
        EVERY,
        [(("==", 1), "cannot compare money with text")],
    ),
    (
        {"==": [v("member.paid_orders"), v("member.total_spent")]},
        MEMBER_ONLY,
        [(("==",), "cannot compare int with money")],
    ),
    ({"==": [1, "1"]}, MEMBER_ONLY, [(("==", 1), "cannot compare number with text")]),
    (
        {">": [v("member.last_paid_at"), "2026-06-01"]},
        MEMBER_ONLY,
        [
            (
                (">", 1),
                '"2026-06-01" is not an ISO 8601 datetime with a UTC offset,'
                ' e.g. "2026-06-18T10:00:00+08:00"',
            )
        ],
    ),
    (
        {"==": [v("member.birthday"), "06/18"]},
        MEMBER_ONLY,
        [(("==", 1), '"06/18" is not an ISO 8601 date, e.g. "2026-06-18"')],
    ),
    (
        {"<": [v("member.city"), None]},
        MEMBER_ONLY,
        [(("<",), 'null can only be compared with "==" or "!="')],
    ),
    (
        {"==": [v("member.tags"), "vip"]},
        MEMBER_ONLY,
        [
            (
                ("==",),
                'member.tags holds tags: test one with {"in": ["vip", {"var": "member.tags"}]}',
            )
        ],
    ),
    (
        {"<": [v("member.attributes.vip"), True]},
        MEMBER_ONLY,
        [(("<",), '"<" cannot order bool values')],
    ),
    (
        {"==": [v("member.attributes.level"), v("member.attributes.note")]},
        MEMBER_ONLY,
        [(("==",), "member.attributes.level compares only with literals")],
    ),
    (
        {"==": [v("member.attributes.a-b"), 1]},
        MEMBER_ONLY,
        [
            (
                ("==", 0, "var"),
                "invalid field member.attributes.a-b: attribute keys are letters, digits and _",
            )
        ],
    ),
    (
        {"==": [{"var": ["member.city", 5]}, "杭州"]},
        MEMBER_ONLY,
        [(("==", 0, "var", 1), "default 5 does not fit member.city (text)")],
    ),
    (
        {"in": [{"var": ["member.tags", "vip"]}, ["a"]]},
        MEMBER_ONLY,
        [(("in", 0, "var", 1), "member.tags takes no default")],
    ),
    (
        {"==": [{"var": 3}, 1]},
        MEMBER_ONLY,
        [(("==", 0, "var"), '"var" takes a field name or [name, default]')],
    ),
    (
        {"in": [v("member.city"), ["杭州", None]]},
        MEMBER_ONLY,
        [(("in", 1, 1), 'null cannot be in a list: test it with {"==": [x, null]}')],
    ),
    (
        {"in": [v("member.city"), ["杭州", 5]]},
        MEMBER_ONLY,
        [(("in", 1, 1), "cannot compare text with number")],
    ),
    (
        {"in": [5, v("member.tags")]},
        MEMBER_ONLY,
        [(("in", 0), "a tag must be a text literal, got 5")],
    ),
    (
        {"in": [v("member.tags"), ["vip", 5]]},
        MEMBER_ONLY,
        [(("in", 1, 1), "a tag is text, got 5")],
    ),
    (
        {"in": ["1", v("member.paid_orders")]},
        MEMBER_ONLY,
        [(("in", 1), '"in" looks in tags or text, and member.paid_orders is int')],
    ),
    (
        {"in": ["a", "abc"]},
        MEMBER_ONLY,
        [(("in", 1), '"in" looks in a list of values, a tags field or a text field')],
    ),
    ({"and": []}, MEMBER_ONLY, [(("and",), '"and" takes a list of at least 1 condition')]),
    ({"!": [True, False]}, MEMBER_ONLY, [(("!",), '"!" takes 1 argument')]),
    (
        "vip",
        MEMBER_ONLY,
        [((), 'expected a condition (an object with one operator, or true), got "vip"')],
    ),
    (
        {"var": "member.city"},
        MEMBER_ONLY,
        [(("var",), "member.city is text, not a condition: compare it")],
    ),
    (
        {"days_since": v("member.last_paid_at")},
        MEMBER_ONLY,
        [(("days_since",), 'days_since is a number, not a condition: compare it, e.g. with ">="')],
    ),
    (
        {"==": [{"and": [True]}, 1]},
        MEMBER_ONLY,
        [(("==", 0), 'expected a value, got a condition ("and")')],
    ),
    (
        {"==": [[1], 1]},
        MEMBER_ONLY,
        [(("==", 0), 'a list of values is only allowed as the second argument of "in"')],
    ),
    (
        {"==": [1, 2], "!=": [1, 2]},
        MEMBER_ONLY,
        [((), "an operation is an object with one operator, got 2 keys")],
    ),
    (
        {"==": [v("member.total_spent"), float("inf")]},
        MEMBER_ONLY,
        [(("==", 1), "inf is not a finite number")],
    ),
    (
        {"and": [{"==": [v("member.paid_order"), 1]}, {"or": [{"<": [v("order.total"), 1]}]}]},
        MEMBER_ONLY,
        [
            (
                ("and", 0, "==", 0, "var"),
                "unknown field member.paid_order (did you mean member.paid_orders?)",
            ),
            (("and", 1, "or", 0, "<", 0, "var"), "order.total is not available for this trigger"),
        ],
    ),
]


@pytest.mark.parametrize(("condition", "scopes", "expected"), CASES)
def test_validate_condition(
    condition: Any, scopes: set[str], expected: list[tuple[tuple[str | int, ...], str]]
) -> None:
    errors = validate_condition(condition, scopes=scopes, loc=("audience",))
    assert errors == [ConditionError(("audience", *loc), msg) for loc, msg in expected]


@pytest.mark.parametrize(
    "condition",
    [
        {"==": [{"var": "member.paid_orders"}, 1]},
        {">=": [{"days_since": [{"var": ["member.last_paid_at", "2026-01-01T00:00:00Z"]}]}, 30]},
        {"!": {"in": ["vip", {"var": "member.tags"}]}},
        {"in": [{"var": "member.gender"}, ["female", "other"]]},
        {"==": [{"var": "member.attributes.vip"}, True]},
        {"<=": ["2026-01-01", {"var": "member.birthday"}, "2026-12-31"]},
        True,
    ],
)
def test_well_typed_conditions_validate(condition: Any) -> None:
    assert validate_condition(condition, scopes={"member"}, loc=()) == []
