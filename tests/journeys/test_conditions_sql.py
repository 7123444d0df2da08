"""What compile_condition emits: plain column comparisons with bound parameters, the scope's
selectables (aliases too), and refusal of fields whose scope the query does not have."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import aliased

from service.journeys.conditions import InvalidCondition
from service.journeys.conditions_sql import compile_condition
from service.journeys.fields import SqlScope
from service.members.models import Member

NOW = datetime(2026, 6, 18, 1, tzinfo=UTC)
SCOPE = SqlScope(member=Member)


def rendered(condition: Any, dialect: Dialect, scope: SqlScope = SCOPE) -> tuple[str, list[Any]]:
    compiled = (
        select(scope.member.id)
        .where(compile_condition(condition, scope=scope, now=NOW))
        .compile(dialect=dialect)
    )
    where = str(compiled).split("WHERE", 1)[1].strip()
    return where, list(compiled.params.values())


@pytest.mark.parametrize("dialect", [sqlite.dialect(), postgresql.dialect()], ids=["sqlite", "pg"])
def test_days_since_is_a_bound_on_the_column(dialect: Dialect) -> None:
    where, params = rendered({">=": [{"days_since": {"var": "member.last_paid_at"}}, 30]}, dialect)
    assert where.startswith("members.last_paid_at IS NOT NULL AND members.last_paid_at <= ")
    assert "strftime" not in where
    assert "EXTRACT" not in where
    assert params == [NOW - timedelta(days=30)]


@pytest.mark.parametrize("dialect", [sqlite.dialect(), postgresql.dialect()], ids=["sqlite", "pg"])
def test_money_compares_stored_cents(dialect: Dialect) -> None:
    where, params = rendered({">=": [{"var": "member.total_spent"}, 70.005]}, dialect)
    assert "IS NOT NULL" not in where  # total_spent is NOT NULL: no guard needed
    assert where.startswith("members.total_spent >= ")
    assert params == [7001]


def test_text_orders_by_code_point_on_postgresql_and_equality_stays_indexable() -> None:
    where, _ = rendered({"<": [{"var": "member.city"}, "b"]}, postgresql.dialect())
    assert '(members.city) COLLATE "C" <' in where
    where, _ = rendered({"==": [{"var": "member.city"}, "b"]}, postgresql.dialect())
    assert "COLLATE" not in where


def test_an_alias_is_compiled_as_given() -> None:
    member = aliased(Member, name="m")
    where, _ = rendered(
        {"==": [{"var": "member.paid_orders"}, 1]}, sqlite.dialect(), SqlScope(member=member)
    )
    assert where == "m.paid_orders = ?"


def test_a_field_outside_the_scope_is_a_compile_error() -> None:
    with pytest.raises(InvalidCondition, match=r"order\.total is not available for this trigger"):
        compile_condition({">=": [{"var": "order.total"}, 70]}, scope=SCOPE, now=NOW)
