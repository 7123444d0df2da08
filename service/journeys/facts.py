"""What conditions see, loaded for a whole batch in a handful of queries."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.analytics.views import analytics_of
from service.journeys.fields import item_facts, member_facts, order_facts, product_facts
from service.members.models import Member, MemberTag
from service.orders.models import Order, OrderItem
from service.products.models import Product


@dataclass
class FactBook:
    members: dict[int, Member] = field(default_factory=dict)
    member_facts: dict[int, dict[str, Any]] = field(default_factory=dict)
    orders: dict[int, Order] = field(default_factory=dict)
    order_facts: dict[int, dict[str, Any]] = field(default_factory=dict)
    items: dict[int, OrderItem] = field(default_factory=dict)
    products: dict[str, Product] = field(default_factory=dict)

    def facts(
        self, member_id: int, *, order_id: int | None = None, item_id: int | None = None
    ) -> dict[str, Any]:
        item = self.items.get(item_id) if item_id is not None else None
        product = self.products.get(item.sku) if item is not None else None
        return {
            "member": self.member_facts.get(member_id),
            "order": self.order_facts.get(order_id) if order_id is not None else None,
            "item": item_facts(item) if item is not None else None,
            "product": product_facts(product) if product is not None else None,
        }

    def zone(self, member_id: int, default: ZoneInfo) -> ZoneInfo:
        member = self.members.get(member_id)
        return ZoneInfo(member.timezone) if member is not None and member.timezone else default


async def load_facts(
    session: AsyncSession,
    *,
    member_ids: Collection[int],
    order_ids: Collection[int] = (),
    item_ids: Collection[int] = (),
) -> FactBook:
    book = FactBook()
    if member_ids:
        tags: dict[int, list[str]] = defaultdict(list)
        for member_id, tag in await session.execute(
            select(MemberTag.member_id, MemberTag.tag).where(MemberTag.member_id.in_(member_ids))
        ):
            tags[member_id].append(tag)
        analytics = await analytics_of(session, list(member_ids))
        for member in await session.scalars(select(Member).where(Member.id.in_(member_ids))):
            book.members[member.id] = member
            book.member_facts[member.id] = member_facts(
                member, tags=sorted(tags[member.id]), analytics=analytics.get(member.id)
            )
    if item_ids:
        book.items = {
            item.id: item
            for item in await session.scalars(select(OrderItem).where(OrderItem.id.in_(item_ids)))
        }
        order_ids = {*order_ids, *(item.order_id for item in book.items.values())}
    if order_ids:
        await load_orders(session, book, order_ids)
    return book


async def load_orders(session: AsyncSession, book: FactBook, order_ids: Collection[int]) -> None:
    """Add these orders (and their items' products) to the book."""
    skus: dict[int, list[str]] = defaultdict(list)
    for order_id, sku in await session.execute(
        select(OrderItem.order_id, OrderItem.sku).where(OrderItem.order_id.in_(order_ids))
    ):
        skus[order_id].append(sku)
    for order in await session.scalars(select(Order).where(Order.id.in_(order_ids))):
        book.orders[order.id] = order
        book.order_facts[order.id] = order_facts(order, skus=sorted(set(skus[order.id])))
    wanted = {item.sku for item in book.items.values()}
    if wanted:
        book.products = {
            p.sku: p for p in await session.scalars(select(Product).where(Product.sku.in_(wanted)))
        }
