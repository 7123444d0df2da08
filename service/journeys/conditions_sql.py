"""Journey conditions compiled to SQLAlchemy: the semantics of `conditions.evaluate`, in SQL.

Every compiled predicate is two-valued: a nullable operand is guarded (`x IS NOT NULL AND x > :v`),
so `NOT` of it is true exactly where Python says so, and the result is never SQL NULL. A field
compared with a literal compiles to a plain column comparison an index can serve: the literal
is transformed in Python (money to cents, a day count to an instant), `now` is a parameter.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, cast

from pydantic import JsonValue
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Float,
    Numeric,
    String,
    and_,
    false,
    func,
    literal,
    not_,
    or_,
    true,
)

from service.journeys.bounds import (
    INT64_MAX,
    INT64_MIN,
    elapsed_at_least,
    elapsed_at_most,
    int64_outcome,
    integer_plan,
    real_plan,
    shifted,
)
from service.journeys.condition_parse import parse_condition
from service.journeys.condition_tree import (
    COMPARE,
    FLIPPED,
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
from service.journeys.fields import CATALOGUE, FieldCatalogue, FieldType, SqlScope
from service.journeys.sql_functions import (
    epoch_us,
    floor_div,
    json_is_bool,
    json_is_null,
    json_is_number,
    json_is_text,
    json_read_bool,
    json_read_number,
    json_read_text,
    ordered_text,
    text_contains,
)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
ORDERING = frozenset({"<", "<=", ">", ">="})
# A json field in a domain: its value there, and whether it holds a value of that kind.
_JSON_IN: dict[Domain, tuple[Callable[[Any, str], ColumnElement[Any]], ...]] = {
    Domain.NUMBER: (json_read_number, json_is_number),
    Domain.TEXT: (json_read_text, json_is_text),
    Domain.BOOL: (json_read_bool, json_is_bool),
}
_SQL_COMPARE: dict[str, Callable[[Any, Any], ColumnElement[bool]]] = {
    op: cast(Callable[[Any, Any], ColumnElement[bool]], fn) for op, fn in COMPARE.items()
}
Guard = ColumnElement[bool] | None  # None: the value is never NULL


def compile_condition(
    condition: JsonValue,
    *,
    scope: SqlScope,
    now: datetime,
    catalogue: FieldCatalogue = CATALOGUE,
) -> ColumnElement[bool]:
    """A WHERE clause over the scope's selectables; InvalidCondition if it does not validate."""
    tree = parse_condition(condition, scopes=scope.names(), catalogue=catalogue)
    return compile_tree(tree, scope=scope, now=now)


def compile_tree(node: Node, *, scope: SqlScope, now: datetime) -> ColumnElement[bool]:
    return _Compiler(scope, now).node(node)


def _number(value: Decimal) -> ColumnElement[Any]:
    if value == value.to_integral_value() and INT64_MIN <= value <= INT64_MAX:
        return literal(int(value), BigInteger())
    return literal(value, Numeric())


def _guarded(guards: list[Guard], test: ColumnElement[bool]) -> ColumnElement[bool]:
    return and_(*(g for g in guards if g is not None), test)


def _holds(guard: Guard) -> ColumnElement[bool]:
    """True for every non-null value."""
    return true() if guard is None else guard


class _Compiler:
    def __init__(self, scope: SqlScope, now: datetime) -> None:
        self.scope, self.now = scope, now

    def node(self, node: Node) -> ColumnElement[bool]:
        match node:
            case Const(value):
                return true() if value else false()
            case AllOf(items):
                return and_(*(self.node(item) for item in items))
            case AnyOf(items):
                return or_(*(self.node(item) for item in items))
            case Not(item):
                return not_(self.node(item))
            case IsNull(operand):
                return self.is_null(operand)
            case HasAnyTag(field, tags):
                assert field.has_any is not None
                return field.has_any(self.selectable(field.scope, field.name), tags)
            case Contains():
                return self.contains(node)
            case InValues():
                return self.in_values(node)
            case Compare():
                return self.compare(node)
        raise AssertionError(node)

    def selectable(self, scope: str, name: str) -> Any:
        if (selectable := self.scope.selectable(scope)) is None:
            raise InvalidCondition(
                [ConditionError((), f"{name} is not available for this trigger")]
            )
        return selectable

    def document(self, ref: Ref) -> ColumnElement[Any]:
        """The field's own SQL expression (for a json field, the whole object)."""
        assert ref.field.sql is not None
        return ref.field.sql(self.selectable(ref.field.scope, ref.field.name), self.now)

    def column(self, ref: Ref, domain: Domain) -> tuple[ColumnElement[Any], Guard]:
        """The value in the domain without its default, and the guard that makes a test on it
        two-valued (for json: the key holds a value of the domain's kind)."""
        expr = self.document(ref)
        if ref.field.type == FieldType.JSON:
            assert ref.field.json_key is not None
            read, holds_kind = _JSON_IN[domain]
            return read(expr, ref.field.json_key), holds_kind(expr, ref.field.json_key)
        return expr, (expr.is_not(None) if ref.field.nullable else None)

    def checked(self, ref: Ref, guard: Guard, test: ColumnElement[bool]) -> ColumnElement[bool]:
        if ref.field.type == FieldType.JSON:
            # The value test first: on SQLite it is one JSON parse and settles most rows, and the
            # type test runs only where it held. Alone it is NULL for a missing key: coalesce.
            return and_(func.coalesce(test, false()), _holds(guard))
        return _guarded([guard], test)

    def is_null(self, operand: Ref | Elapsed) -> ColumnElement[bool]:
        ref = operand.ref if isinstance(operand, Elapsed) else operand
        if ref.default is not None:
            return false()
        if ref.field.type == FieldType.JSON:
            assert ref.field.json_key is not None
            return json_is_null(self.document(ref), ref.field.json_key)
        return self.document(ref).is_(None) if ref.field.nullable else false()

    def compare(self, node: Compare) -> ColumnElement[bool]:
        op, left, right = node.op, node.left, node.right
        if isinstance(left, Lit):
            op, left, right = FLIPPED[op], right, left
        if isinstance(right, Lit):
            assert not isinstance(left, Lit)
            return self.versus(left, op, right.value, node.domain)
        a, guard_a = self.value(left, node.domain)
        b, guard_b = self.value(right, node.domain)
        if node.domain == Domain.TEXT and op in ORDERING:
            a, b = ordered_text(a), ordered_text(b)
        return _guarded([guard_a, guard_b], _SQL_COMPARE[op](a, b))

    def value(self, operand: Operand, domain: Domain) -> tuple[ColumnElement[Any], Guard]:
        """An operand as a per-row SQL value: for comparing two fields, where no bound helps."""
        if isinstance(operand, Lit):
            raise AssertionError("literals are compared by versus()")
        if isinstance(operand, Elapsed):
            at, guard = self.value(operand.ref, Domain.DATETIME)
            now_us = literal((self.now - EPOCH) // MICROSECOND, BigInteger())
            diff = now_us - epoch_us(at) if operand.unit.is_since else epoch_us(at) - now_us
            return floor_div(diff, operand.unit.step // MICROSECOND), guard
        expr, guard = self.column(operand, domain)
        if operand.default is None:
            return expr, guard
        default = operand.default
        if operand.field.type == FieldType.MONEY:
            return func.coalesce(expr, _number(default * 100)), None
        if operand.field.type == FieldType.INT:
            return func.coalesce(expr, _number(default)), None
        if operand.field.type == FieldType.NUMBER:  # the default is a double already
            return func.coalesce(expr, literal(float(default), Float())), None
        return func.coalesce(expr, literal(default, expr.type)), None

    def versus(
        self, operand: Ref | Elapsed, op: str, value: Any, domain: Domain
    ) -> ColumnElement[bool]:
        """`operand op literal`, as a comparison of the bare column with a bound parameter."""
        ref = operand.ref if isinstance(operand, Elapsed) else operand
        if ref.default is not None:
            bare_ref = replace(ref, default=None)
            bare = replace(operand, ref=bare_ref) if isinstance(operand, Elapsed) else bare_ref
            test = self.versus(bare, op, value, domain)
            # Where the field is null its default stands in, and that outcome is known now.
            stand_in = self.default_value(operand, domain)
            return or_(self.is_null(bare), test) if compare_values(op, stand_in, value) else test
        if isinstance(operand, Elapsed):
            return self.elapsed_versus(operand, op, value)
        expr, guard = self.column(operand, domain)
        if operand.field.type in (FieldType.INT, FieldType.MONEY):
            scale = 100 if operand.field.type == FieldType.MONEY else 1  # money is stored in cents
            return self.integer_versus(expr, guard, op, value * scale)
        if operand.field.type == FieldType.NUMBER:
            return self.real_versus(expr, guard, op, value)
        if domain == Domain.TEXT and op in ORDERING:
            expr = ordered_text(expr)
        return self.checked(operand, guard, _SQL_COMPARE[op](expr, value))

    def default_value(self, operand: Ref | Elapsed, domain: Domain) -> Any:
        if isinstance(operand, Elapsed):
            return elapsed(operand.unit, operand.ref.default, self.now)
        if operand.field.type == FieldType.JSON:
            return project_json(operand.default, domain)
        return operand.default

    def integer_versus(
        self, expr: ColumnElement[Any], guard: Guard, op: str, bound: Decimal
    ) -> ColumnElement[bool]:
        plan = integer_plan(op, bound)
        if isinstance(plan, bool):
            return _holds(guard) if plan else false()
        plan_op, k = plan
        if (outcome := int64_outcome(plan_op, k)) is not None:
            return _holds(guard) if outcome else false()
        # bound as BIGINT: a bound beyond an INTEGER column's range must compare, not overflow
        return _guarded([guard], _SQL_COMPARE[plan_op](expr, literal(k, BigInteger())))

    def real_versus(
        self, expr: ColumnElement[Any], guard: Guard, op: str, bound: Decimal
    ) -> ColumnElement[bool]:
        plan = real_plan(op, bound)
        if isinstance(plan, bool):
            return _holds(guard) if plan else false()
        plan_op, nearest = plan
        return _guarded([guard], _SQL_COMPARE[plan_op](expr, literal(nearest, Float())))

    def elapsed_versus(self, operand: Elapsed, op: str, bound: Decimal) -> ColumnElement[bool]:
        at, guard = self.column(operand.ref, Domain.DATETIME)
        plan = integer_plan(op, bound)
        if isinstance(plan, bool):
            return _holds(guard) if plan else false()
        plan_op, k = plan
        unit = operand.unit

        def instant(op_steps: tuple[str, int]) -> ColumnElement[bool]:
            instant_op, steps = op_steps
            if (boundary := shifted(self.now, steps, unit.step)) is None:
                is_before_boundary = steps > 0  # the boundary lies after every instant
                holds = is_before_boundary == (instant_op in ("<", "<="))
                return _holds(guard) if holds else false()
            return _guarded([guard], _SQL_COMPARE[instant_op](at, boundary))

        if plan_op == ">=":
            return instant(elapsed_at_least(unit, k))
        if plan_op == "<=":
            return instant(elapsed_at_most(unit, k))
        if plan_op == "==":
            return and_(instant(elapsed_at_least(unit, k)), instant(elapsed_at_most(unit, k)))
        return or_(instant(elapsed_at_most(unit, k - 1)), instant(elapsed_at_least(unit, k + 1)))

    def in_values(self, node: InValues) -> ColumnElement[bool]:
        operand, values = node.operand, node.values
        if not isinstance(operand, Ref) or operand.default is not None or not values:
            return or_(false(), *(self.versus(operand, "==", v, node.domain) for v in values))
        if operand.field.type == FieldType.JSON:
            return or_(*(self.versus(operand, "==", v, node.domain) for v in values))
        expr, guard = self.column(operand, node.domain)
        keys = list(values)
        if operand.field.type in (FieldType.INT, FieldType.MONEY):
            scale = 100 if operand.field.type == FieldType.MONEY else 1
            scaled = (v * scale for v in values)
            keys = [
                int(v) for v in scaled if v == v.to_integral_value() and INT64_MIN <= v <= INT64_MAX
            ]
        if operand.field.type == FieldType.NUMBER:  # only a value a double reads as
            keys = [float(v) for v in values if Decimal(repr(float(v))) == v]
        return _guarded([guard], expr.in_(keys)) if keys else false()

    def contains(self, node: Contains) -> ColumnElement[bool]:
        ref, needle = node.operand, node.needle
        if ref.default is not None:
            bare = replace(ref, default=None)
            test = self.contains(Contains(bare, needle))
            stand_in = self.default_value(ref, Domain.TEXT)
            return (
                or_(self.is_null(bare), test)
                if stand_in is not None and needle in stand_in
                else test
            )
        expr, guard = self.column(ref, Domain.TEXT)
        return self.checked(ref, guard, text_contains(expr, literal(needle, String())))
