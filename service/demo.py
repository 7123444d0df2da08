"""Realistic demo data: a skincare-and-apparel shop with a year of members and orders."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.journeys import service as journey_service
from service.journeys.models import Journey
from service.journeys.rule_templates import find_template, instantiate
from service.members.models import Channel, Member
from service.members.schemas import LunarBirthday, MemberIn
from service.members.service import upsert_member
from service.orders.models import OrderStatus
from service.orders.schemas import OrderIn, OrderItemIn, OrderMemberIn
from service.orders.service import ingest_order
from service.products.schemas import ProductIn
from service.products.service import upsert_product

PRODUCTS = [
    ("MASK-30", "补水面膜 30 片装", "skincare", "109.00", 30, None, ["mask"]),
    ("SERUM-50", "玻尿酸精华 50ml", "skincare", "239.00", 60, None, ["serum"]),
    ("SUNSCREEN-60", "清透防晒乳 60ml", "skincare", "129.00", 45, "summer", ["sun"]),
    ("SHAMPOO-500", "氨基酸洗发水 500ml", "haircare", "69.00", 50, None, []),
    ("COAT-W26", "双面羊绒大衣", "apparel", "1299.00", None, "winter", ["new-arrival"]),
    ("TEE-CLEAR", "纯棉短袖 T 恤（清仓）", "apparel", "39.00", None, "summer", ["clearance"]),
    ("DRESS-S27", "真丝连衣裙 2027 春款", "apparel", "699.00", None, "spring", ["new-arrival"]),
]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = [
    "伟",
    "芳",
    "娜",
    "敏",
    "静",
    "丽",
    "强",
    "磊",
    "洋",
    "艳",
    "勇",
    "军",
    "杰",
    "娟",
    "涛",
    "明",
    "超",
    "秀英",
    "霞",
    "平",
]
CITIES = [
    ("杭州", "浙江"),
    ("上海", "上海"),
    ("北京", "北京"),
    ("广州", "广东"),
    ("成都", "四川"),
    ("武汉", "湖北"),
]
MOBILE_PREFIXES = [
    "135",
    "136",
    "138",
    "139",
    "150",
    "151",
    "158",
    "159",
    "186",
    "187",
    "188",
    "189",
]
SOURCES = ["organic"] * 14 + ["flash_sale"] * 3 + ["coupon"] * 2 + ["clearance"]


DEMO_JOURNEYS = (
    "new_customer_nurture",
    "unpaid_reminder",
    "shipment_notices",
    "review_request",
    "replenishment_reminder",
    "winback",
    "birthday_care",
)


async def seed_demo_journeys(session: AsyncSession, *, now: datetime, directory: Path) -> int:
    """Activate a few ready-made journeys; the message templates must be loaded. Journeys react
    to what happens after they go live, so seed the history first and the live orders after.
    Returns how many were created."""
    if await session.scalar(select(func.count()).select_from(Journey)):
        return 0
    for name in DEMO_JOURNEYS:
        document = instantiate(find_template(directory, name), params={})
        journey, _ = await journey_service.create_journey(
            session, document=document, now=now, author="demo"
        )
        await journey_service.change_status(session, key=journey.key, action="activate", now=now)
    return len(DEMO_JOURNEYS)


async def seed_demo(
    session: AsyncSession, *, now: datetime, region: str, salt: bytes, members: int = 120
) -> bool:
    """Seed once; returns False if the database already has members."""
    if await session.scalar(select(func.count()).select_from(Member)):
        return False
    rng = random.Random(7)
    for sku, title, category, price, days, season, tags in PRODUCTS:
        await upsert_product(
            session,
            sku=sku,
            data=ProductIn(
                title=title,
                category=category,
                price=Decimal(price),
                replenish_days=days,
                season=season,
                tags=tags,
            ),
            now=now,
        )
    for n in range(1, members + 1):
        external_id = f"demo-{n:04d}"
        await upsert_member(
            session,
            external_id=external_id,
            data=_member(rng, n),
            now=now,
            region=region,
            salt=salt,
        )
        for k, order in enumerate(_orders(rng, external_id, now)):
            await ingest_order(
                session, order, platform="native", now=now, region=region, loc=("demo", n, k)
            )
    return True


def _member(rng: random.Random, n: int) -> MemberIn:
    english = n % 6 == 0
    city, province = rng.choice(CITIES)
    birthday = date(rng.randint(1975, 2003), rng.randint(1, 12), rng.randint(1, 28))
    return MemberIn(
        name=f"Member {n}" if english else rng.choice(SURNAMES) + rng.choice(GIVEN),
        phone=f"{rng.choice(MOBILE_PREFIXES)}{rng.randint(10_000_000, 99_999_999)}",
        email=f"demo{n}@example.com" if rng.random() < 0.6 else None,
        birthday=birthday,
        lunar_birthday=LunarBirthday(month=rng.randint(1, 12), day=rng.randint(1, 28))
        if n % 5 == 0
        else None,
        city=city,
        region=province,
        locale="en" if english else "zh-CN",
        tags=["vip"] if n % 10 == 0 else [],
        consent={Channel.SMS: n % 15 != 0, Channel.EMAIL: True},
    )


LIVE = (  # member, order, status, minutes ago, sku: today's orders, after the journeys went live
    ("demo-0003", "live-1", OrderStatus.CREATED, 40, "SERUM-50"),  # unpaid: a reminder
    ("demo-0005", "live-2", OrderStatus.SHIPPED, 90, "MASK-30"),  # a shipment notice
    ("demo-0008", "live-3", OrderStatus.DELIVERED, 600, "SHAMPOO-500"),  # delivered; a review
    ("demo-0121", "live-4", OrderStatus.PAID, 5, "MASK-30"),  # a new customer: nurturing
)


async def seed_demo_live(session: AsyncSession, *, now: datetime, region: str) -> None:
    """A few orders placed today, for the live journeys to act on."""
    prices = {sku: Decimal(price) for sku, _, _, price, *_ in PRODUCTS}
    for external_id, order_id, status, minutes, sku in LIVE:
        created = now - timedelta(minutes=minutes)
        paid = created + timedelta(minutes=2) if status != OrderStatus.CREATED else None
        order = OrderIn(
            id=order_id,
            member=OrderMemberIn(external_id=external_id, phone="13812345678", name="新朋友")
            if external_id == "demo-0121"
            else OrderMemberIn(external_id=external_id),
            status=status,
            total=prices[sku],
            created_at=created,
            paid_at=paid,
            items=[OrderItemIn(sku=sku, quantity=1, price=prices[sku])],
        )
        await ingest_order(session, order, platform="native", now=now, region=region)


def _orders(rng: random.Random, external_id: str, now: datetime) -> list[OrderIn]:
    count = rng.choices([1, 2, 3, 4, 6], weights=[45, 25, 15, 10, 5])[0]
    orders = []
    for k in range(count):
        created = now - timedelta(days=rng.randint(0, 365), minutes=rng.randint(0, 1440))
        sku, _, _, price, *_ = rng.choice(PRODUCTS)
        quantity = rng.choice([1, 1, 1, 2, 3])
        status = rng.choices(list(OrderStatus), weights=[4, 6, 8, 70, 6, 6])[0]
        if now - created < timedelta(days=3) and status == OrderStatus.DELIVERED:
            status = OrderStatus.PAID
        paid = (
            created + timedelta(minutes=rng.randint(1, 30))
            if status != OrderStatus.CREATED
            else None
        )
        total = Decimal(price) * quantity
        orders.append(
            OrderIn(
                id=f"{external_id}-{k + 1}",
                member=OrderMemberIn(external_id=external_id),
                status=status,
                total=total,
                source=rng.choice(SOURCES),
                created_at=created,
                paid_at=paid if status != OrderStatus.CANCELLED else None,
                items=[OrderItemIn(sku=sku, quantity=quantity, price=Decimal(price))],
            )
        )
    return orders
