"""Data for the RFM benchmark, generated in the database (generate_series / a recursive CTE).

Orders are in time order by id with members interleaved, as a shop's orders arrive; orders per
member are skewed (the product of two uniform draws) so a few members have hundreds and most one
or two, and the busy members are scattered over the id range, not bunched at its start.
Secondary indexes are dropped while loading and rebuilt after, as a bulk load would; member
stats come from the production statement.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, select, text

from service.db import make_engine, make_sessionmaker
from service.members.models import Member
from service.members.stats import recompute_stats

START = datetime(2024, 6, 1, tzinfo=UTC)
SPREAD = 7919  # a prime: multiplying by it mod the member count scatters the busy members
SPAN_S = 2 * 365 * 86_400  # two years of orders
STATUS = (
    "(ARRAY['paid','shipped','delivered','delivered','delivered','delivered','refunded',"
    "'cancelled'])"
)
SOURCE = "(ARRAY['organic','organic','organic','coupon','flash_sale','clearance'])"


AMENDS = (  # refunds in full and in part, cancellations before and after payment
    "UPDATE orders SET refund_total = total WHERE status = 'refunded' AND id % 3 > 0",
    "UPDATE orders SET refund_total = total / 3 WHERE status = 'refunded' AND id % 3 = 0",
    "UPDATE orders SET paid_at = NULL WHERE status = 'cancelled' AND id % 2 = 0",
)


def _pg_orders(members: int, orders: int) -> str:
    step = SPAN_S / orders
    start = int(START.timestamp())
    return f"""
    INSERT INTO orders (id, platform, external_id, member_id, status, currency, total,
        discount_total, refund_total, source, created_at, paid_at, recorded_at, updated_at)
    SELECT g, 'native', 'o' || g,
        1 + ((floor(random() * {members})::bigint * floor(random() * {members})::bigint)
            / {members} * {SPREAD}) % {members},
        {STATUS}[1 + floor(random() * 8)::int], 'CNY', t, d, 0,
        {SOURCE}[1 + floor(random() * 6)::int], at, at + interval '2 minutes', at, at
    FROM (
        SELECT g, 1000 + floor(random() * 50000)::bigint AS t,
            CASE WHEN random() < 0.3 THEN floor(random() * 20000)::bigint ELSE 0 END AS d,
            to_timestamp({start} + g * {step}) AS at
        FROM generate_series(1, {orders}) g
    ) s"""


def _sqlite_orders(members: int, orders: int) -> str:
    step = SPAN_S / orders
    start = int(START.timestamp())
    u = "(abs(random()) % {n})"
    return f"""
    WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < {orders})
    INSERT INTO orders (id, platform, external_id, member_id, status, currency, total,
        discount_total, refund_total, source, created_at, paid_at, recorded_at, updated_at)
    SELECT n, 'native', 'o' || n,
        1 + (({u.format(n=members)} * {u.format(n=members)}) / {members} * {SPREAD}) % {members},
        CASE abs(random()) % 8 WHEN 6 THEN 'refunded' WHEN 7 THEN 'cancelled'
            WHEN 0 THEN 'paid' WHEN 1 THEN 'shipped' ELSE 'delivered' END,
        'CNY', 1000 + abs(random()) % 50000,
        CASE WHEN abs(random()) % 10 < 3 THEN abs(random()) % 20000 ELSE 0 END, 0,
        CASE abs(random()) % 6 WHEN 3 THEN 'coupon' WHEN 4 THEN 'flash_sale'
            WHEN 5 THEN 'clearance' ELSE 'organic' END,
        strftime('%Y-%m-%d %H:%M:%S.000000', {start} + n * {step}, 'unixepoch'),
        strftime('%Y-%m-%d %H:%M:%S.000000', {start} + n * {step} + 120, 'unixepoch'),
        strftime('%Y-%m-%d %H:%M:%S.000000', {start} + n * {step}, 'unixepoch'),
        strftime('%Y-%m-%d %H:%M:%S.000000', {start} + n * {step}, 'unixepoch')
    FROM g"""


def _members_sql(kind: str, members: int) -> str:
    stamp = "'2024-01-01 00:00:00.000000'" if kind == "sqlite" else "timestamptz '2024-01-01'"
    source = (
        f"(WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < {members}) "
        "SELECT n AS g FROM g)"
        if kind == "sqlite"
        else f"generate_series(1, {members}) g"
    )
    return f"""
    INSERT INTO members (id, external_id, gender, locale, attributes, paid_orders, total_spent,
        average_order_value, created_at, updated_at)
    SELECT g, 'm' || g, 'unknown', 'zh-CN', '{{}}', 0, 0, 0, {stamp}, {stamp} FROM {source}"""


def _items_sql(kind: str) -> str:
    """One line per order: 200 skus in 20 categories, 1-3 units."""
    if kind == "sqlite":
        return """INSERT INTO order_items (order_id, member_id, sku, quantity, price)
        SELECT id, member_id, 'SKU-' || (abs(random()) % 200), 1 + abs(random()) % 3, total
        FROM orders"""
    return """INSERT INTO order_items (order_id, member_id, sku, quantity, price)
    SELECT id, member_id, 'SKU-' || floor(random() * 200)::int, 1 + floor(random() * 3)::int,
        total FROM orders"""


def _products_sql(kind: str) -> str:
    stamp = "'2024-01-01 00:00:00.000000'" if kind == "sqlite" else "timestamptz '2024-01-01'"
    source = (
        "(WITH RECURSIVE g(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM g WHERE n < 199) "
        "SELECT n AS g FROM g)"
        if kind == "sqlite"
        else "generate_series(0, 199) g"
    )
    return f"""INSERT INTO products (sku, title, category, tags, created_at, updated_at)
    SELECT 'SKU-' || g, 'Product ' || g, 'cat-' || (g % 20), '[]', {stamp}, {stamp}
    FROM {source}"""


def _secondary_indexes(conn: Connection, kind: str, tables: tuple[str, ...]) -> list[str]:
    """Drop the tables' secondary indexes and unique constraints; the statements to rebuild."""
    rebuild: list[str] = []
    if kind == "sqlite":
        for name, sql in conn.execute(
            text(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
                f"AND tbl_name IN ({', '.join(repr(t) for t in tables)})"
            )
        ).all():
            rebuild.append(sql)
            conn.execute(text(f'DROP INDEX "{name}"'))
        return rebuild
    for table, name, definition in conn.execute(
        text(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE contype = 'u' AND conrelid::regclass::text = ANY(:t)"
        ),
        {"t": list(tables)},
    ).all():
        rebuild.append(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
        conn.execute(text(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"'))
    for name, definition in conn.execute(
        text(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = ANY(:t)"
            " AND indexname NOT LIKE 'pk_%'"
        ),
        {"t": list(tables)},
    ).all():
        rebuild.append(definition)
        conn.execute(text(f'DROP INDEX "{name}"'))
    return rebuild


def generate(engine: Engine, url: str, kind: str, *, members: int, orders: int) -> float:
    """Load members, products, orders and items; returns the seconds it took."""
    started = time.perf_counter()
    tables = ("members", "orders", "order_items")
    with engine.begin() as conn:
        if kind == "postgresql":
            conn.execute(text("SET session_replication_role = replica"))  # no FK checks on load
        rebuild = _secondary_indexes(conn, kind, tables)
        conn.execute(text(_members_sql(kind, members)))
        conn.execute(text(_products_sql(kind)))
        orders_sql = _pg_orders if kind == "postgresql" else _sqlite_orders
        conn.execute(text(orders_sql(members, orders)))
        for statement in AMENDS:
            conn.execute(text(statement))
        conn.execute(text(_items_sql(kind)))
        for statement in rebuild:
            conn.execute(text(statement))
        if kind == "postgresql":
            for table in ("members", "orders", "order_items"):
                conn.execute(
                    text(f"SELECT setval('{table}_id_seq', (SELECT max(id) FROM {table}))")
                )
    asyncio.run(_member_stats(url))
    _vacuum(engine, kind)
    return time.perf_counter() - started


async def _member_stats(url: str) -> None:
    engine = make_engine(url)
    async with make_sessionmaker(engine)() as session, session.begin():
        await recompute_stats(session, member_ids=select(Member.id))
    await engine.dispose()


def _vacuum(engine: Engine, kind: str) -> None:
    """The steady state a live database is in: statistics fresh, visibility map set."""
    if kind == "sqlite":
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
