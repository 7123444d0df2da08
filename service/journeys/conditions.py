"""Journey conditions: a strict subset of JSONLogic, evaluated here in Python (pure).

`conditions_sql.compile_condition` compiles the same tree to SQL; both give the same answer for
every condition and member (a property test holds them to it).

Values
    {"var": "member.paid_orders"}            a field (see `fields.CATALOGUE`)
    {"var": ["member.city", "杭州"]}          a field with a default used where it is null
    {"days_since": {"var": "member.last_paid_at"}}   floor((now - t) / 1 day), negative ahead
    {"days_until": {"var": "order.created_at"}}      floor((t - now) / 1 day)
    {"hours_since": {"var": "order.created_at"}}     floor((now - t) / 1 hour)
    5, 70.005, "杭州", true, null              literals

Conditions
    true / false
    {"==": [a, b]}  "!="  "<"  "<="  ">"  ">="    {"<": [a, x, b]} is a < x and x < b
    {"in": [x, ["a", "b"]]}                   x equals one of the literals
    {"in": ["vip", {"var": "member.tags"}]}   a tag (member.tags, order.skus, product.tags)
    {"in": [{"var": "member.tags"}, ["vip", "svip"]]}   any of these tags
    {"in": ["杭", {"var": "member.city"}]}     substring of a text field (case-sensitive)
    {"and": [c, …]}  {"or": [c, …]}  {"!": c}
    {"var": "<bool field>"}                   the field is true

Semantics (two-valued: never unknown)
- A comparison with a null side is false; `!` of it is true. Only == / != against the literal
  null test for null: {"==": [{"var": "member.city"}, null]}. So != "x" is false for a null city.
- Every comparison has one type. Numbers (int, money, days) compare exactly as decimals: money
  70.005 is between 70.00 and 70.01, never a float; a number field (a stored double, such as
  member.promo_share) reads as the decimal it prints as, like a JSON number. Text compares
  case-sensitively by code point.
  Datetime fields compare with ISO 8601 instants that carry an offset ("2026-06-18T10:00:00+08:00",
  "…Z") as instants; date fields with "YYYY-MM-DD" dates; a date never stands for a datetime.
  Bools only with == and !=. Comparing a field with another field needs the same type.
- json fields (member.attributes.<key>) compare with literals only, by the literal's type: a
  number literal matches a JSON number, a string a JSON string, a bool a JSON bool; any other
  JSON value (or a missing key) makes the comparison false. A missing key is null.
- A scope absent from the facts (an order for a member event) reads as null, its tags as none.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from pydantic import JsonValue

from service.journeys.condition_parse import condition_errors, parse_condition
from service.journeys.condition_tree import (
    AllOf,
    AnyOf,
    Compare,
    ConditionError,
    Const,
    Contains,
    Domain,
    Elapsed,
    HasAnyTag,
    InvalidCondition,
    InValues,
    IsNull,
    Lit,
    Node,
    Not,
    Operand,
    Ref,
    compare_values,
    elapsed,
    project_json,
)
from service.journeys.fields import CATALOGUE, Facts, FieldCatalogue, FieldType

__all__ = [
    "ConditionError",
    "InvalidCondition",
    "evaluate",
    "evaluate_tree",
    "parse_condition",
    "validate_condition",
]


def validate_condition(
    condition: JsonValue,
    *,
    scopes: Collection[str],
    loc: Sequence[str | int],
    catalogue: FieldCatalogue = CATALOGUE,
) -> list[ConditionError]:
    """Every error in the condition, located below `loc`; fields must be in `scopes`."""
    return condition_errors(condition, scopes=scopes, catalogue=catalogue, loc=loc)


def evaluate(
    condition: JsonValue, facts: Facts, *, now: datetime, catalogue: FieldCatalogue = CATALOGUE
) -> bool:
    """Whether the facts satisfy the condition; InvalidCondition if it does not validate."""
    return evaluate_tree(parse_condition(condition, catalogue=catalogue), facts, now=now)


def evaluate_tree(node: Node, facts: Facts, *, now: datetime) -> bool:
    match node:
        case Const(value):
            return value
        case AllOf(items):
            return all(evaluate_tree(item, facts, now=now) for item in items)
        case AnyOf(items):
            return any(evaluate_tree(item, facts, now=now) for item in items)
        case Not(item):
            return not evaluate_tree(item, facts, now=now)
        case Compare(op, left, right, domain):
            return compare_values(
                op, _value(left, domain, facts, now), _value(right, domain, facts, now)
            )
        case IsNull(operand):
            return _raw(operand, facts, now) is None
        case InValues(operand, values, domain):
            found = _value(operand, domain, facts, now)
            return found is not None and found in values
        case HasAnyTag(field, tags):
            scope = facts.get(field.scope)
            held: list[str] = (field.read(scope, now) if scope is not None else None) or []
            return any(tag in held for tag in tags)
        case Contains(operand, needle):
            text = _value(operand, Domain.TEXT, facts, now)
            return text is not None and needle in text
    raise AssertionError(node)


def _raw(operand: Ref | Elapsed, facts: Facts, now: datetime) -> Any:
    """The value before a json field is seen in a domain; None for null."""
    if isinstance(operand, Elapsed):
        return elapsed(operand.unit, _raw(operand.ref, facts, now), now)
    scope = facts.get(operand.field.scope)
    value = operand.field.read(scope, now) if scope is not None else None
    return operand.default if value is None else value


def _value(operand: Operand, domain: Domain, facts: Facts, now: datetime) -> Any:
    if isinstance(operand, Lit):
        return operand.value
    raw = _raw(operand, facts, now)
    if isinstance(operand, Ref) and operand.field.type == FieldType.JSON:
        return project_json(raw, domain)
    return raw
