"""A generated shop: members, products and a year and a half of orders with every status.

Deterministic (seeded), inserted with plain INSERTs (the API would take minutes for thousands of
orders), and kept in memory as plain Python objects, so the tests compute every expected figure
from the same facts without the database.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.db import table_of
from service.members.models import Member
from service.members.stats import recompute_stats
from service.orders.models import Order, OrderItem
from service.products.models import Product

START = datetime(2025, 1, 1, tzinfo=UTC)
END = datetime(2026, 6, 15, tzinfo=UTC)
COUNTED = {"paid", "shipped", "delivered", "refunded"}

PRODUCTS = [  # sku, category, price, replenish_days
    ("MASK-30", "masks", Decimal("129.00"), None),
    ("MASK-10", "masks", Decimal("49.90"), None),
    ("MASK-5", "masks", Decimal("29.90"), 14),
    ("SERUM-50", "skincare", Decimal("299.00"), 60),
    ("TONER-200", "skincare", Decimal("159.00"), None),
    ("TEA-100", "food", Decimal("88.00"), None),
    ("COAT-L", "apparel", Decimal("899.00"), None),
    ("SCARF", "apparel", Decimal("199.00"), None),
    ("GIFT-BOX", None, Decimal("59.00"), None),
]
CONSUMABLE_DAYS = {"MASK-30": 30, "MASK-10": 10, "MASK-5": 5, "TONER-200": 45, "TEA-100": 20}
SOURCES = ["organic"] * 6 + ["coupon"] * 2 + ["flash_sale", "clearance", "mobile_app"]


@dataclass
class Line:
    sku: str
    quantity: int
    price: Decimal


@dataclass
class FakeOrder:
    id: int
    member_id: int
    status: str
    total: Decimal
    discount_total: Decimal
    refund_total: Decimal
    source: str
    created_at: datetime
    paid_at: datetime | None
    lines: list[Line] = field(default_factory=list)

    @property
    def counted(self) -> bool:
        return (
            self.paid_at is not None
            and self.status in COUNTED
            and self.total - self.refund_total > 0
        )

    @property
    def net(self) -> Decimal:
        return self.total - self.refund_total


@dataclass
class World:
    member_ids: list[int]
    orders: list[FakeOrder]
    categories: dict[str, str | None]
    replenish_days: dict[str, int | None]

    def counted(self) -> list[FakeOrder]:
        return [o for o in self.orders if o.counted]


def _at(rng: random.Random) -> datetime:
    """A payment instant; a third fall within half an hour of midnight in Shanghai or New York."""
    day = START + timedelta(days=rng.randrange((END - START).days))
    kind = rng.random()
    if kind < 0.17:
        return day + timedelta(hours=15, minutes=30, seconds=rng.randrange(3600))
    if kind < 0.34:
        return day + timedelta(hours=4, minutes=30, seconds=rng.randrange(3600))
    return day + timedelta(seconds=rng.randrange(86_400), microseconds=rng.randrange(1_000_000))


def _status(rng: random.Random) -> str:
    return rng.choices(
        ["created", "paid", "shipped", "delivered", "refunded", "cancelled"],
        weights=[4, 10, 10, 60, 8, 8],
    )[0]


def _order(
    rng: random.Random, oid: int, member_id: int, paid: datetime, lines: list[Line]
) -> FakeOrder:
    gross = sum((line.price * line.quantity for line in lines), Decimal(0))
    source = rng.choice(SOURCES)
    deep = source in {"flash_sale", "clearance"} or rng.random() < 0.15
    rate = Decimal(rng.choice([35, 40, 50, 30])) if deep else Decimal(rng.choice([0, 0, 5, 10, 29]))
    discount = (gross * rate / 100).quantize(Decimal("0.01"))
    total = gross - discount
    status = _status(rng)
    refund = Decimal(0)
    if status == "refunded":
        refund = total if rng.random() < 0.6 else (total * Decimal("0.3")).quantize(Decimal("0.01"))
    elif status == "delivered" and rng.random() < 0.08:
        refund = (total * Decimal("0.5")).quantize(Decimal("0.01"))
    paid_at = (
        None if status == "created" or (status == "cancelled" and rng.random() < 0.5) else paid
    )
    return FakeOrder(
        oid,
        member_id,
        status,
        total,
        discount,
        refund,
        source,
        paid - timedelta(minutes=3),
        paid_at,
        lines,
    )


def generate(members: int = 420, seed: int = 20260618) -> tuple[list[int], list[FakeOrder]]:
    rng = random.Random(seed)
    prices = {sku: price for sku, _, price, _ in PRODUCTS}
    orders: list[FakeOrder] = []
    for member_id in range(1, members + 1):
        n = rng.choices([0, 1, 2, 3, 5, 8, 15, 30, 45], weights=[6, 40, 14, 10, 10, 8, 6, 4, 2])[0]
        habit = rng.choice(list(CONSUMABLE_DAYS)) if rng.random() < 0.5 else None
        at = _at(rng)
        for _ in range(n):
            if habit:
                qty = rng.choice([1, 1, 2, 3])
                lines = [Line(habit, qty, prices[habit])]
                if rng.random() < 0.3:
                    extra = rng.choice([p[0] for p in PRODUCTS])
                    lines.append(Line(extra, 1, prices[extra]))
                gap = CONSUMABLE_DAYS[habit] * qty * rng.uniform(0.7, 1.4)
            else:
                picks = rng.sample([p[0] for p in PRODUCTS], rng.choice([1, 1, 2, 3]))
                lines = [Line(sku, rng.choice([1, 1, 2]), prices[sku]) for sku in picks]
                gap = rng.uniform(1, 120)
            orders.append(_order(rng, len(orders) + 1, member_id, at, lines))
            at += timedelta(days=gap, seconds=rng.randrange(86_400))
            if at >= END:
                at = _at(rng)
    return list(range(1, members + 1)), orders


async def build(session: AsyncSession, *, members: int = 420, seed: int = 20260618) -> World:
    member_ids, orders = generate(members, seed)
    created = START - timedelta(days=30)
    await session.execute(
        insert(table_of(Member)),
        [
            {"id": i, "external_id": f"m-{i}", "created_at": created, "updated_at": created}
            for i in member_ids
        ],
    )
    await session.execute(
        insert(table_of(Product)),
        [
            {
                "sku": sku,
                "title": sku,
                "category": category,
                "price": price,
                "replenish_days": days,
                "created_at": created,
                "updated_at": created,
            }
            for sku, category, price, days in PRODUCTS
        ],
    )
    await _insert_orders(session, orders)
    await recompute_stats(session, member_ids=select(Member.id))
    await session.flush()
    return World(
        member_ids,
        orders,
        {sku: category for sku, category, _, _ in PRODUCTS},
        {sku: days for sku, _, _, days in PRODUCTS},
    )


async def _insert_orders(session: AsyncSession, orders: list[FakeOrder]) -> None:
    await session.execute(
        insert(table_of(Order)),
        [
            {
                "id": o.id,
                "external_id": f"o-{o.id}",
                "member_id": o.member_id,
                "status": o.status,
                "currency": "CNY",
                "total": o.total,
                "discount_total": o.discount_total,
                "refund_total": o.refund_total,
                "source": o.source,
                "created_at": o.created_at,
                "paid_at": o.paid_at,
                "recorded_at": o.created_at,
                "updated_at": o.created_at,
            }
            for o in orders
        ],
    )
    await session.execute(
        insert(table_of(OrderItem)),
        [
            {
                "order_id": o.id,
                "member_id": o.member_id,
                "sku": line.sku,
                "quantity": line.quantity,
                "price": line.price,
            }
            for o in orders
            for line in o.lines
        ],
    )
