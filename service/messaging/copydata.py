"""The template variables of a batch from the database: orders, items, products, and the refs.

A message's `context` (written by the journey that queued it) refers to what its copy is about:

| key | meaning |
|---|---|
| `order_id` | `orders.id` of the triggering order (`order.*` in the copy) |
| `sku` | the product (`product.*`); without it, the order's first item |
| `journey_key`, `journey_name` | `journey.key`, `journey.name` |
| `occasion` | an occurrence id (`spring_festival:2027`), a name, or `{"name_zh", "name_en"}` |
| `coupon_code` | `coupon_code` |
| `tracking_number`, `carrier`, `pay_by` | shipment and unpaid-order details of `order` |
| `frequency_cap` | `{"per_day": n, "per_week": n}`: the journey's own marketing cap |
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.calendar.occasions import occasions_in_year
from service.db import in_list, session_dialect
from service.members.models import Member
from service.messaging.claims import Claimed
from service.messaging.context import (
    ItemVars,
    JourneyVars,
    MemberVars,
    MessageContext,
    OrderVars,
    ProductVars,
)
from service.messaging.policies import FrequencyCap
from service.orders.models import Order, OrderItem
from service.products.models import Product


class BadContext(ValueError):
    """The message's context does not say what its copy needs in a usable form."""


@dataclass(frozen=True)
class CopyData:
    orders: Mapping[int, Order]
    items: Mapping[int, Sequence[OrderItem]]
    products: Mapping[str, Product]


def _order_id(claimed: Claimed) -> int | None:
    value = claimed.context.get("order_id")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


async def load_copy_data(session: AsyncSession, batch: Sequence[Claimed]) -> CopyData:
    order_ids = sorted({i for c in batch if (i := _order_id(c)) is not None})
    orders: dict[int, Order] = {}
    items: dict[int, list[OrderItem]] = defaultdict(list)
    dialect = session_dialect(session)
    if order_ids:
        orders = {
            o.id: o
            for o in await session.scalars(
                select(Order).where(in_list(Order.id, order_ids, dialect=dialect))
            )
        }
        for item in await session.scalars(
            select(OrderItem)
            .where(in_list(OrderItem.order_id, order_ids, dialect=dialect))
            .order_by(OrderItem.id)
        ):
            items[item.order_id].append(item)
    skus = {str(c.context["sku"]) for c in batch if c.context.get("sku")}
    skus |= {item.sku for group in items.values() for item in group}
    products: dict[str, Product] = {}
    if skus:
        products = {
            p.sku: p
            for p in await session.scalars(
                select(Product).where(in_list(Product.sku, skus, dialect=dialect))
            )
        }
    return CopyData(orders, items, products)


def member_vars(member: Member, tags: Sequence[str], default_zone: str) -> MemberVars:
    return MemberVars(
        id=member.id,
        name=member.name,
        locale=member.locale,
        timezone=member.timezone or default_zone,
        tags=tuple(tags),
        city=member.city,
        birthday=member.birthday,
        paid_orders=member.paid_orders,
        total_spent=member.total_spent,
        average_order_value=member.average_order_value,
        first_paid_at=member.first_paid_at,
        last_paid_at=member.last_paid_at,
        attributes=member.attributes or {},
    )


def _text(context: Mapping[str, Any], key: str) -> str | None:
    value = context.get(key)
    if value is None:
        return None
    if not isinstance(value, str | int):
        raise BadContext(f"context.{key} must be text")
    return str(value)


def _order_vars(claimed: Claimed, data: CopyData) -> OrderVars | None:
    order_id = _order_id(claimed)
    if order_id is None:
        return None
    order = data.orders.get(order_id)
    if order is None:
        raise BadContext(f"context.order_id {order_id} names no order")
    titles = {sku: p.title for sku, p in data.products.items()}
    pay_by = _text(claimed.context, "pay_by")
    return OrderVars(
        id=order.external_id,
        total=order.total,
        currency=order.currency,
        items=tuple(
            ItemVars(i.sku, titles.get(i.sku, i.sku), i.quantity, i.price)
            for i in data.items.get(order_id, ())
        ),
        created_at=order.created_at,
        paid_at=order.paid_at,
        shipped_at=order.shipped_at,
        tracking_number=_text(claimed.context, "tracking_number"),
        carrier=_text(claimed.context, "carrier"),
        pay_by=datetime.fromisoformat(pay_by) if pay_by else None,
    )


def _product_vars(claimed: Claimed, data: CopyData, order: OrderVars | None) -> ProductVars | None:
    sku = _text(claimed.context, "sku") or (order.items[0].sku if order and order.items else None)
    product = data.products.get(sku) if sku else None
    if product is None:
        return None
    return ProductVars(product.sku, product.title, product.price)


OCCURRENCE_ID = re.compile(r"^(?P<key>[a-z0-9][a-z0-9_]*):(?P<year>\d{4})$")


@lru_cache(maxsize=64)
def _calendar_names(country: str, year: int) -> dict[str, tuple[str, str]]:
    """Occurrence id → (zh, en) name of the country's holidays and the festivals around a year."""
    found = occasions_in_year(country, year) + occasions_in_year(country, year + 1)
    return {o.occasion_id: (o.name_zh, o.name_en) for o in found}


def _occasion(value: Any, locale: str, country: str) -> str | None:
    zh = locale.lower().startswith("zh")
    if value is None:
        return None
    if isinstance(value, str):
        match = OCCURRENCE_ID.match(value)
        if match is None:
            return value  # a display name already
        if match["key"] == "birthday":
            return "生日" if zh else "birthday"
        names = _calendar_names(country, int(match["year"])).get(value)
        if names is None:
            raise BadContext(f"context.occasion {value!r} is no occasion of {country}")
        return names[0] if zh else names[1]
    if isinstance(value, Mapping):
        name = value.get("name_zh" if zh else "name_en") or value.get("name")
        return str(name) if name else None
    raise BadContext("context.occasion must be an occurrence id, a name or {name_zh, name_en}")


def message_context(
    claimed: Claimed,
    member: MemberVars,
    data: CopyData,
    *,
    brand: str,
    unsubscribe_url: str,
    shop_url: str | None,
    country: str = "CN",
) -> MessageContext:
    """Everything the message's copy may use; BadContext if its refs do not resolve."""
    ctx = claimed.context
    order = _order_vars(claimed, data)
    journey_key = _text(ctx, "journey_key")
    journey_name = _text(ctx, "journey_name")
    return MessageContext(
        member=member,
        brand=brand,
        unsubscribe_url=unsubscribe_url,
        order=order,
        product=_product_vars(claimed, data, order),
        journey=JourneyVars(journey_key, journey_name or journey_key) if journey_key else None,
        occasion=_occasion(ctx.get("occasion"), member.locale, country),
        coupon_code=_text(ctx, "coupon_code"),
        shop_url=shop_url,
    )


def journey_cap(claimed: Claimed) -> FrequencyCap | None:
    """The journey's own marketing cap, if its context carries one."""
    cap = claimed.context.get("frequency_cap")
    if cap is None:
        return None
    try:
        return FrequencyCap(per_day=int(cap["per_day"]), per_week=int(cap["per_week"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise BadContext("context.frequency_cap must be {per_day, per_week}") from exc
