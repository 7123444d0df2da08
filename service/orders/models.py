"""Orders as the shop reports them, their items, and the webhook deliveries already applied."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base, IdType, enum_type


class OrderStatus(StrEnum):
    CREATED = "created"
    PAID = "paid"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    REFUNDED = "refunded"
    CANCELLED = "cancelled"


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("platform", "external_id"),
        # Covers every per-member read of paid orders (stats, RFM, gaps, promotion share), so
        # they are index-only scans instead of one heap page per order.
        Index(
            "ix_orders_member_facts",
            "member_id",
            "paid_at",
            "status",
            "total",
            "refund_total",
            "discount_total",
            "source",
        ),
        Index(None, "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    platform: Mapped[str] = mapped_column(String(16), default="native")
    external_id: Mapped[str] = mapped_column(String(64))
    member_id: Mapped[int] = mapped_column(IdType, ForeignKey("members.id"))
    status: Mapped[OrderStatus] = mapped_column(enum_type(OrderStatus))
    currency: Mapped[str] = mapped_column(String(3))
    total: Mapped[Decimal]
    discount_total: Mapped[Decimal] = mapped_column(default=Decimal(0))
    refund_total: Mapped[Decimal] = mapped_column(default=Decimal(0))
    source: Mapped[str] = mapped_column(String(32), default="organic")
    created_at: Mapped[datetime]
    paid_at: Mapped[datetime | None]
    shipped_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    refunded_at: Mapped[datetime | None]
    recorded_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class OrderItem(Base):
    __tablename__ = "order_items"
    __table_args__ = (Index(None, "member_id", "sku"), Index(None, "sku"))

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    order_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("orders.id", ondelete="CASCADE"), index=True
    )
    member_id: Mapped[int] = mapped_column(IdType)
    sku: Mapped[str] = mapped_column(String(64))
    quantity: Mapped[int]
    price: Mapped[Decimal]


class WebhookDelivery(Base):
    """A delivery id seen once; a replay finds its row and is acknowledged without effect."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (UniqueConstraint("source", "delivery_id"), Index(None, "received_at"))

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    source: Mapped[str] = mapped_column(String(32))
    delivery_id: Mapped[str] = mapped_column(String(200))
    received_at: Mapped[datetime]
