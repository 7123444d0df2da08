"""The property that makes one definition two back ends: for any well-typed condition, the rows
SQL selects are exactly the rows `evaluate` accepts, on SQLite and on PostgreSQL."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, select

from service.db import make_sync_engine
from service.journeys.conditions import evaluate, evaluate_tree, parse_condition, validate_condition
from service.journeys.conditions_sql import compile_condition
from service.journeys.fields import SqlScope
from service.members.models import Member
from service.orders.models import Order, OrderItem
from service.products.models import Product
from tests.journeys.condition_strategies import conditions
from tests.journeys.condition_world import NOW, TEST_CATALOGUE, World, populate

MEMBER_SCOPE = SqlScope(member=Member)
FULL_SCOPE = SqlScope(member=Member, order=Order, item=OrderItem, product=Product)
EVERY_SCOPE = ("member", "order", "item", "product")


def _python(condition: Any, rows: list[tuple[Any, Any]]) -> set[Any]:
    tree = parse_condition(condition, catalogue=TEST_CATALOGUE)
    return {key for key, facts in rows if evaluate_tree(tree, facts, now=NOW)}


def _sql_members(conn: Connection, condition: Any) -> set[Any]:
    where = compile_condition(condition, scope=MEMBER_SCOPE, now=NOW, catalogue=TEST_CATALOGUE)
    with conn.begin_nested():  # a statement that fails shows its own condition, not the next
        return set(conn.scalars(select(Member.id).where(where)))


def _sql_purchases(conn: Connection, condition: Any) -> set[Any]:
    where = compile_condition(condition, scope=FULL_SCOPE, now=NOW, catalogue=TEST_CATALOGUE)
    query = (
        select(Member.id, Order.id, OrderItem.id)
        .join(Order, Order.member_id == Member.id)
        .join(OrderItem, OrderItem.order_id == Order.id)
        .join(Product, Product.sku == OrderItem.sku)
        .where(where)
    )
    with conn.begin_nested():
        return {tuple(row) for row in conn.execute(query)}


def _check(condition: Any, expected: set[Any], actual: set[Any]) -> None:
    assert actual == expected, (
        f"{condition}\nonly SQL: {sorted(actual - expected)[:5]}"
        f"\nonly Python: {sorted(expected - actual)[:5]}"
    )


def _agree(conn: Connection, world: World) -> None:
    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        st.lists(conditions(["member"]), min_size=6, max_size=6),
        st.lists(conditions(EVERY_SCOPE), min_size=3, max_size=3),
    )
    def agree(member_conditions: list[Any], purchase_conditions: list[Any]) -> None:
        for condition in member_conditions:
            assert (
                validate_condition(condition, scopes={"member"}, loc=(), catalogue=TEST_CATALOGUE)
                == []
            )
            _check(condition, _python(condition, world.members), _sql_members(conn, condition))
        for condition in purchase_conditions:
            assert (
                validate_condition(condition, scopes=EVERY_SCOPE, loc=(), catalogue=TEST_CATALOGUE)
                == []
            )
            _check(condition, _python(condition, world.purchases), _sql_purchases(conn, condition))
        key, facts = world.purchases[0]
        assert evaluate(purchase_conditions[0], facts, now=NOW, catalogue=TEST_CATALOGUE) == (
            key in _python(purchase_conditions[0], world.purchases[:1])
        )

    agree()


def test_sql_selects_exactly_what_python_accepts(database_url: str) -> None:
    engine = make_sync_engine(database_url)
    try:
        with engine.connect() as conn, conn.begin() as transaction:
            world = populate(conn, members=240)
            assert len(world.purchases) > 150
            _agree(conn, world)
            transaction.rollback()  # nothing stays behind for other tests
    finally:
        engine.dispose()


def test_bounds_beyond_an_integer_column_compare_instead_of_overflowing(database_url: str) -> None:
    engine = make_sync_engine(database_url)
    try:
        with engine.connect() as conn, conn.begin() as transaction:
            world = populate(conn, members=20)
            for condition in (
                {"<": [{"var": "member.paid_orders"}, -(2**63)]},
                {">": [{"var": "member.paid_orders"}, 2**40]},
                {"!=": [{"var": "member.paid_orders"}, 2**33]},
            ):
                _check(condition, _python(condition, world.members), _sql_members(conn, condition))
            transaction.rollback()
    finally:
        engine.dispose()
