"""The native order as shops post it, and what the orders API returns."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from service.inputs import InputModel, UtcInstant
from service.orders.models import OrderStatus


def _exact_id(value: object) -> object:
    """Keep an integer id exactly as sent (a 19-digit id must not pass through a float)."""
    if isinstance(value, bool):
        raise ValueError("an id is a string or an integer")
    return str(value) if isinstance(value, int) else value


ExternalId = Annotated[
    str,
    BeforeValidator(_exact_id),
    StringConstraints(min_length=1, max_length=64, strip_whitespace=True),
]
Amount = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)]


class OrderMemberIn(InputModel):
    external_id: Annotated[
        str, BeforeValidator(_exact_id), StringConstraints(min_length=1, max_length=128)
    ]
    phone: Annotated[str, StringConstraints(max_length=32)] | None = None
    email: Annotated[str, StringConstraints(max_length=320)] | None = None
    name: Annotated[str, StringConstraints(max_length=200)] | None = None


class OrderItemIn(InputModel):
    sku: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    quantity: int = Field(gt=0, le=100_000)
    price: Amount


class OrderIn(InputModel):
    """One order in Huitou's native form; post it again whenever its status changes."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "1234567890123456789",
                    "member": {"external_id": "m-1001", "phone": "13812345678"},
                    "status": "paid",
                    "currency": "CNY",
                    "total": "199.00",
                    "discount_total": "20.00",
                    "source": "organic",
                    "created_at": "2026-11-11T00:05:00+08:00",
                    "paid_at": "2026-11-11T00:06:10+08:00",
                    "items": [{"sku": "MASK-30", "quantity": 2, "price": "109.50"}],
                }
            ]
        },
    )

    id: ExternalId
    member: OrderMemberIn
    status: OrderStatus
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] = "CNY"
    total: Amount
    discount_total: Amount = Decimal(0)
    refund_total: Amount | None = Field(
        default=None,
        description="Refunded so far; a refunded order without it is refunded in full.",
    )
    source: Annotated[str, StringConstraints(min_length=1, max_length=32)] = "organic"
    created_at: UtcInstant
    paid_at: UtcInstant | None = None
    shipped_at: UtcInstant | None = None
    delivered_at: UtcInstant | None = None
    cancelled_at: UtcInstant | None = None
    refunded_at: UtcInstant | None = None
    items: Annotated[list[OrderItemIn], Field(max_length=500)] = Field(default_factory=list)


class OrderBatchIn(InputModel):
    orders: Annotated[list[OrderIn], Field(min_length=1, max_length=1000)]


class OrderItemOut(BaseModel):
    sku: str
    quantity: int
    price: Decimal


class OrderOut(BaseModel):
    id: str
    platform: str
    member_external_id: str
    status: OrderStatus
    currency: str
    total: Decimal
    discount_total: Decimal
    refund_total: Decimal
    source: str
    created_at: datetime
    paid_at: datetime | None
    shipped_at: datetime | None
    delivered_at: datetime | None
    cancelled_at: datetime | None
    refunded_at: datetime | None
    items: list[OrderItemOut]


class IngestResult(BaseModel):
    id: str
    status: OrderStatus
    applied: bool = Field(description="False when this delivery or status was seen before.")
    events: list[str]


class BatchResult(BaseModel):
    results: list[IngestResult]


class WebhookIgnored(BaseModel):
    """A verified delivery that carries no order to record (a ping, a test order, another topic)."""

    applied: bool = Field(default=False, description="Always false: nothing was recorded.")
    ignored: str = Field(description="Why the delivery was acknowledged without effect.")
