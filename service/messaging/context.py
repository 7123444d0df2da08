"""What a template can see: the member, order, product, journey, occasion, coupon and links."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any


class Record:
    """Read-only template variables: keys read as attributes (`order.items` is not dict.items)."""

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, Any]) -> None:
        object.__setattr__(self, "_data", {k: _wrap(v) for k, v in data.items()})

    def __getattr__(self, name: str) -> Any:
        try:
            return self._data[name]
        except KeyError:
            raise AttributeError(name) from None

    def __getitem__(self, name: str) -> Any:
        return self._data[name]

    def __contains__(self, name: object) -> bool:
        return name in self._data

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("template variables are read-only")

    def __repr__(self) -> str:
        return f"Record({', '.join(self._data)})"


def _plain(instance: Any) -> dict[str, Any]:
    """A dataclass as a dict, nested ones too; unlike asdict() it copies nothing (Record wraps
    read-only), which matters at thousands of messages a second."""
    out = dict(vars(instance))
    for name, value in out.items():
        if _is_record(value):
            out[name] = _plain(value)
        elif isinstance(value, list | tuple) and value and _is_record(value[0]):
            out[name] = [_plain(item) for item in value]
    return out


def _is_record(value: Any) -> bool:
    return hasattr(value, "__dataclass_fields__") and not isinstance(value, type)


def _wrap(value: Any) -> Any:
    if isinstance(value, Mapping):
        return Record(value)
    if isinstance(value, list | tuple):
        return tuple(_wrap(item) for item in value)
    return value


@dataclass(frozen=True)
class MemberVars:
    id: int
    name: str | None
    locale: str = "zh-CN"
    timezone: str = "Asia/Shanghai"
    tags: Sequence[str] = ()
    city: str | None = None
    birthday: date | None = None
    paid_orders: int = 0
    total_spent: Decimal = Decimal(0)
    average_order_value: Decimal = Decimal(0)
    first_paid_at: datetime | None = None
    last_paid_at: datetime | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ItemVars:
    sku: str
    title: str
    quantity: int
    price: Decimal


@dataclass(frozen=True)
class OrderVars:
    id: str
    total: Decimal
    currency: str = "CNY"
    items: Sequence[ItemVars] = ()
    created_at: datetime | None = None
    paid_at: datetime | None = None
    shipped_at: datetime | None = None
    tracking_number: str | None = None
    carrier: str | None = None
    pay_by: datetime | None = None


@dataclass(frozen=True)
class ProductVars:
    sku: str
    title: str
    price: Decimal | None = None
    url: str | None = None


@dataclass(frozen=True)
class JourneyVars:
    key: str
    name: str


@dataclass(frozen=True)
class MessageContext:
    """Everything one message's copy may use; what does not apply to a message is None."""

    member: MemberVars
    brand: str
    unsubscribe_url: str
    order: OrderVars | None = None
    product: ProductVars | None = None
    journey: JourneyVars | None = None
    occasion: str | None = None
    coupon_code: str | None = None
    shop_url: str | None = None
    currency: str = "CNY"

    def variables(self, now: datetime) -> dict[str, Any]:
        """The template variables: `member.stats` derived once as of `now`."""
        member = _plain(self.member)
        last = self.member.last_paid_at
        member["stats"] = {
            "paid_orders": self.member.paid_orders,
            "total_spent": self.member.total_spent,
            "average_order_value": self.member.average_order_value,
            "days_since_last_order": (now - last).days if last else None,
        }
        values: dict[str, Any] = {
            "member": Record(member),
            "order": Record(_plain(self.order)) if self.order else None,
            "product": Record(_plain(self.product)) if self.product else None,
            "journey": Record(_plain(self.journey)) if self.journey else None,
            "occasion": Record({"name": self.occasion}) if self.occasion else None,
        }
        if self.order:
            values["currency"] = self.order.currency
        scalar = ("brand", "unsubscribe_url", "coupon_code", "shop_url")
        return {"currency": self.currency, **{k: getattr(self, k) for k in scalar}, **values}


SAMPLE_NOW = datetime(2026, 6, 18, 2, 0, tzinfo=UTC)


def sample_context(*, locale: str, brand: str) -> MessageContext:
    """A member with everything filled in, to test-render templates when they are saved."""
    name = "王小明" if locale.startswith("zh") else "Alex Chen"
    return MessageContext(
        member=MemberVars(
            id=1,
            name=name,
            locale=locale,
            tags=("vip", "skin_dry"),
            city="杭州",
            birthday=date(1990, 6, 20),
            paid_orders=3,
            total_spent=Decimal("597.00"),
            average_order_value=Decimal("199.00"),
            first_paid_at=datetime(2025, 11, 11, 4, 0, tzinfo=UTC),
            last_paid_at=datetime(2026, 5, 1, 4, 0, tzinfo=UTC),
        ),
        brand=brand,
        unsubscribe_url="https://shop.example/u/sample-token",
        order=OrderVars(
            id="E20260618001",
            total=Decimal("199.00"),
            items=(ItemVars("MASK-30", "玻尿酸补水面膜 30片", 1, Decimal("199.00")),),
            created_at=datetime(2026, 6, 17, 12, 30, tzinfo=UTC),
            paid_at=datetime(2026, 6, 17, 12, 32, tzinfo=UTC),
            shipped_at=datetime(2026, 6, 18, 1, 0, tzinfo=UTC),
            tracking_number="SF1234567890",
            carrier="顺丰速运",
            pay_by=datetime(2026, 6, 18, 12, 30, tzinfo=UTC),
        ),
        product=ProductVars("MASK-30", "玻尿酸补水面膜 30片", Decimal("199.00")),
        journey=JourneyVars("new-customer-nurture", "新客培养"),
        occasion="端午节" if locale.startswith("zh") else "Dragon Boat Festival",
        coupon_code="HT-8K2Q",
        shop_url="https://shop.example",
    )
