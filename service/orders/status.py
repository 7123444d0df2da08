"""How an order's status may move: forward only, whatever order the webhooks arrive in (pure)."""

from __future__ import annotations

from service.orders.models import OrderStatus

RANK = {
    OrderStatus.CREATED: 0,
    OrderStatus.PAID: 1,
    OrderStatus.SHIPPED: 2,
    OrderStatus.DELIVERED: 3,
    OrderStatus.REFUNDED: 4,
    OrderStatus.CANCELLED: 4,
}
TERMINAL = {OrderStatus.REFUNDED, OrderStatus.CANCELLED}
MILESTONES = (OrderStatus.PAID, OrderStatus.SHIPPED, OrderStatus.DELIVERED)
TIMESTAMP_FIELD = {
    OrderStatus.PAID: "paid_at",
    OrderStatus.SHIPPED: "shipped_at",
    OrderStatus.DELIVERED: "delivered_at",
    OrderStatus.REFUNDED: "refunded_at",
    OrderStatus.CANCELLED: "cancelled_at",
}


def transitions(current: OrderStatus | None, incoming: OrderStatus) -> list[OrderStatus]:
    """The statuses the order enters when `incoming` arrives: none if it would move it back.

    Skipped milestones count as entered (a first message saying `delivered` also means paid and
    shipped), so a journey waiting for `order.paid` never misses an order.
    """
    if current in TERMINAL:
        return []
    if incoming in TERMINAL:
        return [incoming]
    start = -1 if current is None else RANK[current]
    return [s for s in MILESTONES if start < RANK[s] <= RANK[incoming]]
