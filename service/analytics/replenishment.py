"""Learned replenishment cycles: how long one unit of a product lasts, from repeat purchases.

A repeat pair is two consecutive paid orders of the same sku by the same member; its interval per
unit is the seconds between them divided (floor) by the quantity bought the first time. A sku's
cycle is the median over its pairs, a category's the median over the pairs of all its skus;
only those with at least `min_pairs` pairs are stored. The replenishment trigger uses
`effective_replenish_days`: the product's own `replenish_days`, else the learned sku cycle,
else the learned category cycle.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    cast,
    delete,
    distinct,
    func,
    insert,
    literal,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from service.analytics.models import ReplenishmentCycle
from service.analytics.schemas import LearnedCycle, ReplenishmentOut
from service.analytics.sql import DAY_SECONDS, epoch_s, grouped_median, reading
from service.errors import NotFound
from service.members.stats import counted_order
from service.orders.models import Order, OrderItem
from service.products.models import Product

SKU, CATEGORY = "sku", "category"


def repeat_pairs() -> Any:
    """(member_id, sku, per_unit_s) for every repeat purchase of a sku by a member."""
    lines = (
        select(
            OrderItem.member_id,
            OrderItem.sku,
            epoch_s(Order.paid_at).label("paid_s"),
            func.sum(OrderItem.quantity).label("qty"),
        )
        .join(Order, Order.id == OrderItem.order_id)
        .where(counted_order())
        .group_by(OrderItem.member_id, OrderItem.sku, Order.id, Order.paid_at)
        .subquery("lines")
    )
    keys, order = [lines.c.member_id, lines.c.sku], lines.c.paid_s
    lagged = select(
        lines.c.member_id,
        lines.c.sku,
        (lines.c.paid_s - func.lag(lines.c.paid_s).over(partition_by=keys, order_by=order)).label(
            "interval_s"
        ),
        func.lag(lines.c.qty).over(partition_by=keys, order_by=order).label("prev_qty"),
    ).subquery("lagged")
    return (
        select(
            lagged.c.member_id,
            lagged.c.sku,
            (lagged.c.interval_s // lagged.c.prev_qty).label("per_unit_s"),
        )
        .where(lagged.c.interval_s.is_not(None))
        .cte("pairs")
        .prefix_with("MATERIALIZED")
    )


def cycles_select(dialect: str, *, min_pairs: int) -> Any:
    """(scope, key, median per-unit seconds, pairs, members) per sku and per category, for keys
    with at least min_pairs pairs; the pairs are computed once for both."""
    pairs = repeat_pairs()
    keyed = union_all(
        select(
            literal(SKU).label("scope"),
            pairs.c.sku.label("key"),
            pairs.c.member_id,
            pairs.c.per_unit_s,
        ),
        select(literal(CATEGORY), Product.category, pairs.c.member_id, pairs.c.per_unit_s)
        .join(Product, Product.sku == pairs.c.sku)
        .where(Product.category.is_not(None)),
    ).subquery("keyed")
    median = grouped_median(dialect, keyed, ["scope", "key"], "per_unit_s").subquery("median")
    members = (
        select(keyed.c.scope, keyed.c.key, func.count(distinct(keyed.c.member_id)).label("members"))
        .group_by(keyed.c.scope, keyed.c.key)
        .subquery("members")
    )
    return (
        select(median.c.scope, median.c.key, median.c.median, median.c.n, members.c.members)
        .join(members, (members.c.scope == median.c.scope) & (members.c.key == median.c.key))
        .where(median.c.n >= min_pairs)
        .order_by(median.c.scope, median.c.key)
    )


async def learn_cycles(sessions: Any, *, min_pairs: int, now: datetime) -> tuple[int, float, float]:
    """Recompute every learned cycle: one read outside a transaction, then replace the table
    in one short transaction. Returns the cycles stored, the write's and the read's seconds."""
    started = time.perf_counter()
    async with reading(sessions) as conn:
        result = await conn.execute(cycles_select(conn.dialect.name, min_pairs=min_pairs))
        rows = [
            {
                "scope": scope,
                "key": key,
                "cycle_days": float(median) / DAY_SECONDS,
                "pairs": n,
                "members": members,
                "computed_at": now,
            }
            for scope, key, median, n, members in result
        ]
    read_s, started = time.perf_counter() - started, time.perf_counter()
    async with sessions() as session, session.begin():
        await session.execute(delete(ReplenishmentCycle))
        if rows:
            await session.execute(insert(ReplenishmentCycle), rows)
    return len(rows), time.perf_counter() - started, read_s


def _learned(scope: str, key: Any) -> Any:
    return (
        select(ReplenishmentCycle.cycle_days)
        .where(ReplenishmentCycle.scope == scope, ReplenishmentCycle.key == key)
        .scalar_subquery()
    )


def effective_replenish_days(product: Any = Product, sku: Any = None) -> ColumnElement[float]:
    """Days one unit lasts: the product's setting, else the learned sku, else its category.

    `product` is Product or an alias of it; `sku` the item's sku column when the product row may
    be missing (an outer join), else the product's.
    """
    return func.coalesce(
        cast(product.replenish_days, Float),
        _learned(SKU, product.sku if sku is None else sku),
        _learned(CATEGORY, product.category),
    )


class NoReplenishment(NotFound):
    code = "product_not_found"


async def _learned_for(session: AsyncSession, scope: str, key: str | None) -> LearnedCycle | None:
    row = await session.get(ReplenishmentCycle, (scope, key)) if key is not None else None
    if row is None:
        return None
    return LearnedCycle(
        cycle_days=row.cycle_days, pairs=row.pairs, members=row.members, computed_at=row.computed_at
    )


async def replenishment_of(session: AsyncSession, *, sku: str) -> ReplenishmentOut:
    """A product's cycle from each source; 404 for a sku that is neither a product nor learned."""
    product = await session.scalar(select(Product).where(Product.sku == sku))
    learned = await _learned_for(session, SKU, sku)
    if product is None and learned is None:
        raise NoReplenishment(f"no product or learned cycle for sku {sku!r}", loc=["path", "sku"])
    category = product.category if product else None
    by_category = await _learned_for(session, CATEGORY, category)
    own = product.replenish_days if product else None
    sources = [
        ("product", float(own) if own is not None else None),
        ("learned", learned.cycle_days if learned else None),
        ("category", by_category.cycle_days if by_category else None),
    ]
    basis, days = next(((b, d) for b, d in sources if d is not None), (None, None))
    return ReplenishmentOut(
        sku=sku,
        category=category,
        replenish_days=own,
        learned=learned,
        category_learned=by_category,
        effective_days=days,
        basis=basis,
    )


async def list_cycles(session: AsyncSession, *, scope: str | None) -> Sequence[ReplenishmentCycle]:
    query = select(ReplenishmentCycle).order_by(ReplenishmentCycle.scope, ReplenishmentCycle.key)
    if scope is not None:
        query = query.where(ReplenishmentCycle.scope == scope)
    return (await session.scalars(query)).all()
