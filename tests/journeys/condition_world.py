"""A seeded population of members, orders, items and products with every awkward value the
condition language must handle: nulls, case and code-point order, cents, instants a microsecond
either side of a day boundary, far past and far future, free-form attributes of mixed JSON types."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, insert, select, text
from sqlalchemy.orm import Session

from service.analytics.models import MemberAnalytics, Segment, Stage, ValueTier
from service.journeys.fields import (
    CATALOGUE,
    Facts,
    Field,
    FieldType,
    item_facts,
    member_facts,
    order_facts,
    product_facts,
)
from service.journeys.sql_functions import json_bool
from service.members.models import Gender, Member, MemberTag
from service.orders.models import Order, OrderItem, OrderStatus
from service.products.models import Product

NOW = datetime(2026, 6, 18, 1, 0, 0, 250_000, tzinfo=UTC)
DAY_OFFSETS = [-400, -31, -30, -29, -7, -1, 0, 1, 7, 29, 30, 365]
_NUDGES = [timedelta(0), timedelta(microseconds=1), -timedelta(microseconds=1)]
# Most instants sit exactly on, or a microsecond beside, a whole number of days from now.
INSTANTS = sorted(
    {NOW + timedelta(days=d) + nudge for d in DAY_OFFSETS for nudge in _NUDGES}
    | {NOW + timedelta(days=d, hours=h) for d in (-30, -1, 0, 1) for h in (-1, 1, 12)}
    | {
        datetime(1, 1, 2, tzinfo=UTC),
        datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
        datetime(1970, 1, 1, tzinfo=UTC),
        datetime(9999, 12, 30, 23, 59, 59, 999_999, tzinfo=UTC),
        NOW.replace(microsecond=0),
    }
)
DATES = [
    date(2026, 6, 18),
    date(2026, 6, 17),
    date(2000, 2, 29),
    date(1990, 1, 1),
    date(9999, 12, 31),
]
TEXTS = ["杭州", "上海", "Hangzhou", "hangzhou", "Zürich", "zebra", "Apple", "apple", "", "é", "B"]
TAGS = ["vip", "VIP", "new", "sleeping", "双11"]
SKUS = ["MASK-30", "MASK-60", "SERUM", "mask-30", "CREAM", "GHOST"]  # GHOST has no product
CENTS = [0, 1, 6999, 7000, 7001, 10050, 123456]
ATTRIBUTE_KEYS = ["level", "note", "vip", "score"]
ATTRIBUTE_VALUES: list[Any] = [0, 1, 3, -1, 2.5, 0.1, 1e16, "3", "gold", "Gold", "", True, False]
ODD_ATTRIBUTES: list[Any] = [None, [1, "gold"], {"gold": 1}]
# Shares as the recompute writes them (promo / paid as doubles), a hair beside the usual bounds.
SHARES = [0.0, 1.0, 0.5, 0.25, 1 / 3, 2 / 3, 0.1, 0.3, 0.1 + 0.2, 0.7, 5e-324, 0.9999999999999999]

# Derived bool fields, to cover the bool type (the shipped catalogue has none yet).
TEST_CATALOGUE = CATALOGUE.extended(
    [
        Field(
            "member.has_city",
            FieldType.BOOL,
            read=lambda m, _now: m["city"] is not None,
            sql=lambda member, _now: member.city.is_not(None),
            nullable=False,
        ),
        Field(
            "member.vip_flag",
            FieldType.BOOL,
            read=lambda m, _now: v if isinstance(v := m["attributes"].get("vip"), bool) else None,
            sql=lambda member, _now: json_bool(member.attributes, "vip"),
        ),
    ]
)


@dataclass(frozen=True)
class World:
    members: list[tuple[int, Facts]]  # member id, facts with the member only
    purchases: list[tuple[tuple[int, int, int], Facts]]  # (member, order, item) ids, all scopes


def _maybe(rng: random.Random, values: list[Any], none_share: float = 0.25) -> Any:
    return None if rng.random() < none_share else rng.choice(values)


def _money(rng: random.Random) -> Decimal:
    return Decimal(rng.choice(CENTS)) / 100


def _member_row(rng: random.Random, n: int) -> dict[str, Any]:
    attributes = {
        key: rng.choice(ATTRIBUTE_VALUES + ODD_ATTRIBUTES)
        for key in ATTRIBUTE_KEYS
        if rng.random() < 0.7
    }
    return {
        "external_id": f"m{n:03d}",
        "gender": rng.choice(list(Gender)),
        "city": _maybe(rng, TEXTS),
        "region": _maybe(rng, TEXTS),
        "locale": rng.choice(["zh-CN", "en", "en-US"]),
        "timezone": _maybe(rng, ["Asia/Shanghai", "America/New_York"], 0.5),
        "attributes": attributes,
        "paid_orders": rng.randint(0, 4),
        "total_spent": _money(rng),
        "average_order_value": _money(rng),
        "first_paid_at": _maybe(rng, INSTANTS),
        "last_paid_at": _maybe(rng, INSTANTS),
        "created_at": rng.choice(INSTANTS),
        "updated_at": NOW,
        "birthday": _maybe(rng, DATES),
    }


def _analytics_row(rng: random.Random, member_id: int) -> dict[str, Any]:
    """A member's analytics; a quarter of members have none (not scored yet)."""
    return {
        "member_id": member_id,
        "recency_score": _maybe(rng, [1, 2, 3, 4, 5], 0.1),
        "frequency_score": _maybe(rng, [1, 2, 3, 4, 5], 0.1),
        "monetary_score": _maybe(rng, [1, 2, 3, 4, 5], 0.1),
        "segment": _maybe(rng, list(Segment)),
        "stage": _maybe(rng, list(Stage), 0.1),
        "previous_stage": _maybe(rng, list(Stage), 0.4),
        "stage_changed_at": _maybe(rng, INSTANTS),
        "value_tier": _maybe(rng, list(ValueTier)),
        "promo_orders": rng.randint(0, 3),
        "promo_share": _maybe(rng, SHARES, 0.15),
    }


def _order_row(rng: random.Random, member_id: int, n: int) -> dict[str, Any]:
    return {
        "external_id": f"o{n:04d}",
        "member_id": member_id,
        "status": rng.choice(list(OrderStatus)),
        "currency": rng.choice(["CNY", "USD"]),
        "total": _money(rng),
        "discount_total": _money(rng),
        "refund_total": _money(rng),
        "source": rng.choice(["organic", "promo", "Promo", "双11"]),
        "created_at": rng.choice(INSTANTS),
        "paid_at": _maybe(rng, INSTANTS),
        "shipped_at": _maybe(rng, INSTANTS, 0.5),
        "delivered_at": _maybe(rng, INSTANTS, 0.5),
        "recorded_at": NOW,
        "updated_at": NOW,
    }


def _product_row(rng: random.Random, sku: str) -> dict[str, Any]:
    return {
        "sku": sku,
        "title": rng.choice(TEXTS),
        "category": _maybe(rng, ["mask", "Mask", "serum"]),
        "price": None if rng.random() < 0.2 else _money(rng),
        "replenish_days": _maybe(rng, [7, 30, 60]),
        "season": _maybe(rng, ["spring", "winter"]),
        "launch_date": _maybe(rng, DATES),
        "tags": rng.sample(TAGS, rng.randint(0, 3)),
        "created_at": NOW,
        "updated_at": NOW,
    }


def _use_linguistic_collation(conn: Connection) -> None:
    """On PostgreSQL, columns whose collation orders "apple" before "B": COLLATE "C" must win."""
    for table, column, size in [("members", "city", 100), ("products", "title", 300)]:
        collated = f'VARCHAR({size}) COLLATE "en-US-x-icu"'
        conn.execute(text(f"ALTER TABLE {table} ALTER COLUMN {column} TYPE {collated}"))


def populate(conn: Connection, *, members: int, seed: int = 20260618) -> World:
    """Insert the population inside the caller's transaction and read it back as facts."""
    rng = random.Random(seed)
    if conn.dialect.name == "postgresql":
        _use_linguistic_collation(conn)
    conn.execute(insert(Product), [_product_row(rng, sku) for sku in SKUS if sku != "GHOST"])
    ids = (
        conn.execute(
            insert(Member).returning(Member.id), [_member_row(rng, n) for n in range(members)]
        )
        .scalars()
        .all()
    )
    tags = [{"member_id": i, "tag": t} for i in ids for t in rng.sample(TAGS, rng.randint(0, 3))]
    scored = [_analytics_row(rng, i) for i in ids if rng.random() < 0.75]
    conn.execute(insert(MemberAnalytics), scored)
    conn.execute(insert(MemberTag), tags)
    orders = [
        _order_row(rng, i, n)
        for n, i in enumerate(i for i in ids for _ in range(rng.randint(0, 2)))
    ]
    order_ids = conn.execute(insert(Order).returning(Order.id), orders).scalars().all()
    items = [
        {
            "order_id": o,
            "member_id": m["member_id"],
            "sku": rng.choice(SKUS),
            "quantity": rng.randint(1, 3),
            "price": _money(rng),
        }
        for o, m in zip(order_ids, orders, strict=True)
        for _ in range(rng.randint(1, 2))
    ]
    conn.execute(insert(OrderItem), items)
    return _read_back(conn)


def _read_back(conn: Connection) -> World:
    with Session(bind=conn) as session:
        tags: dict[int, list[str]] = {}
        for member_id, tag in session.execute(select(MemberTag.member_id, MemberTag.tag)):
            tags.setdefault(member_id, []).append(tag)
        analytics = {a.member_id: a for a in session.scalars(select(MemberAnalytics))}
        members = {
            m.id: member_facts(m, tags=tags.get(m.id, []), analytics=analytics.get(m.id))
            for m in session.scalars(select(Member))
        }
        products = {p.sku: product_facts(p) for p in session.scalars(select(Product))}
        items = list(session.scalars(select(OrderItem)))
        skus: dict[int, list[str]] = {}
        for item in items:
            skus.setdefault(item.order_id, []).append(item.sku)
        orders = {o.id: o for o in session.scalars(select(Order))}
        purchases: list[tuple[tuple[int, int, int], Facts]] = [
            (
                (item.member_id, item.order_id, item.id),
                {
                    "member": members[item.member_id],
                    "order": order_facts(orders[item.order_id], skus=skus[item.order_id]),
                    "item": item_facts(item),
                    "product": products[item.sku],
                },
            )
            for item in items
            if item.sku in products
        ]
    return World([(i, {"member": f}) for i, f in members.items()], purchases)
