"""Learned replenishment cycles against the plain computation; the effective cycle in SQL."""

from __future__ import annotations

import itertools
import statistics
from collections import defaultdict
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.analytics import replenishment
from service.analytics import service as analytics
from service.analytics.config import AnalyticsConfig
from service.analytics.models import ReplenishmentCycle
from service.clock import FakeClock
from service.products.models import Product
from tests.analytics.reference import epoch
from tests.analytics.test_recompute import fix_sequences
from tests.analytics.world import World, build

AS_OF = datetime(2026, 6, 18, 1, 0, tzinfo=UTC)


@pytest.fixture
async def world(sessions: async_sessionmaker[AsyncSession]) -> World:
    async with sessions() as session, session.begin():
        built = await build(session)
        await fix_sequences(session)
    return built


def expected_cycles(world: World, min_pairs: int) -> dict[tuple[str, str], tuple[float, int, int]]:
    bought: dict[tuple[int, str], dict[int, list[object]]] = defaultdict(dict)
    for order in world.counted():
        for line in order.lines:
            entry = bought[(order.member_id, line.sku)].setdefault(order.id, [order.paid_at, 0])
            entry[1] += line.quantity  # type: ignore[operator]
    pairs: dict[tuple[str, str], list[tuple[int, int]]] = defaultdict(list)
    for (member, sku), orders in bought.items():
        ordered = sorted(orders.values(), key=lambda e: e[0])  # type: ignore[arg-type, return-value]
        for (at, qty), (later, _) in itertools.pairwise(ordered):
            per_unit = (epoch(later) - epoch(at)) // qty  # type: ignore[arg-type, operator]
            pairs[("sku", sku)].append((member, per_unit))
            category = world.categories[sku]
            if category is not None:
                pairs[("category", category)].append((member, per_unit))
    return {
        key: (
            statistics.median(v for _, v in found) / 86_400,
            len(found),
            len({m for m, _ in found}),
        )
        for key, found in pairs.items()
        if len(found) >= min_pairs
    }


async def test_cycles_match_and_only_well_sampled_products_get_one(
    sessions: async_sessionmaker[AsyncSession], world: World
) -> None:
    config = AnalyticsConfig(replenish_min_pairs=200)
    result = await analytics.run_pending(sessions, clock=FakeClock(AS_OF), config=config)
    assert result is not None
    async with sessions() as session:
        rows = (await session.scalars(select(ReplenishmentCycle))).all()
    found = {(r.scope, r.key): (r.cycle_days, r.pairs, r.members) for r in rows}
    expected = expected_cycles(world, 200)
    assert found == expected
    assert result.cycles == len(expected)
    every = expected_cycles(world, 1)
    assert set(every) - set(expected), "some products lack enough pairs"
    assert ("sku", "MASK-30") in expected
    assert ("category", "masks") in expected


async def test_effective_days_prefer_the_product_then_learned_then_category(
    sessions: async_sessionmaker[AsyncSession], world: World, client: httpx.AsyncClient
) -> None:
    await analytics.run_pending(
        sessions, clock=FakeClock(AS_OF), config=AnalyticsConfig(replenish_min_pairs=200)
    )
    expected = expected_cycles(world, 200)
    async with sessions() as session:
        effective = dict(
            (
                await session.execute(
                    select(Product.sku, replenishment.effective_replenish_days(Product))
                )
            ).all()
        )
    for sku, days in world.replenish_days.items():
        category = world.categories[sku]
        learned = expected.get(("sku", sku))
        fallback = expected.get(("category", category)) if category else None
        want = days if days is not None else (learned or fallback or (None,))[0]
        assert effective[sku] == want, sku

    body = (await client.get("/v1/products/MASK-30/replenishment")).json()
    mask = expected[("sku", "MASK-30")]
    assert body["basis"] == "learned"
    assert body["effective_days"] == mask[0]
    assert body["learned"]["pairs"] == mask[1]
    assert body["category_learned"]["cycle_days"] == expected[("category", "masks")][0]
    serum = (await client.get("/v1/products/SERUM-50/replenishment")).json()
    assert (serum["basis"], serum["effective_days"], serum["replenish_days"]) == (
        "product",
        60.0,
        60,
    )
    missing = await client.get("/v1/products/NOPE/replenishment")
    assert missing.status_code == 404
    listed = (await client.get("/v1/analytics/replenishment", params={"scope": "category"})).json()
    assert [c["key"] for c in listed] == sorted(k for s, k in expected if s == "category")
