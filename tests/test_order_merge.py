"""The merge rule that webhooks and imports share (pure, as a table)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from service.orders.merge import OrderMessage, OrderState, initial_state, merge
from service.orders.models import OrderStatus as S

NOW = datetime(2026, 6, 18, 1, 0, tzinfo=UTC)
T1 = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
T2 = datetime(2026, 6, 2, 8, 0, tzinfo=UTC)


def message(status: S, **kw: Any) -> OrderMessage:
    values: dict[str, Any] = {
        "currency": "CNY",
        "total": Decimal("100.00"),
        "discount_total": Decimal(0),
        "source": "organic",
    }
    return OrderMessage(status=status, **(values | kw))


def recorded(status: S, **kw: Any) -> OrderState:
    values: dict[str, Any] = {
        "currency": "CNY",
        "total": Decimal("100.00"),
        "discount_total": Decimal(0),
        "source": "organic",
        "refund_total": Decimal(0),
    }
    return OrderState(status=status, **(values | kw))


@pytest.mark.parametrize(
    ("current", "incoming", "changes", "entered"),
    [
        (recorded(S.PAID, paid_at=T1), message(S.CREATED), {}, []),
        (
            recorded(S.PAID, paid_at=T1),
            message(S.DELIVERED, stamps={"delivered_at": T2}, source="coupon"),
            {
                "status": S.DELIVERED,
                "shipped_at": NOW,
                "delivered_at": T2,
                "currency": "CNY",
                "total": Decimal("100.00"),
                "discount_total": Decimal(0),
                "source": "coupon",
            },
            [S.SHIPPED, S.DELIVERED],
        ),
        (  # a late time fills the gap, the status stays
            recorded(S.SHIPPED, paid_at=T1),
            message(S.PAID, stamps={"paid_at": T2, "shipped_at": T2}),
            {"shipped_at": T2},
            [],
        ),
        (  # refunds only grow
            recorded(S.DELIVERED, paid_at=T1, refund_total=Decimal("30.00")),
            message(S.DELIVERED, refund_total=Decimal("20.00")),
            {},
            [],
        ),
        (
            recorded(S.DELIVERED, paid_at=T1, refund_total=Decimal("30.00")),
            message(S.DELIVERED, refund_total=Decimal("45.00")),
            {"refund_total": Decimal("45.00")},
            [],
        ),
        (  # refunded without an amount: all of it
            recorded(S.DELIVERED, paid_at=T1),
            message(S.REFUNDED),
            {
                "status": S.REFUNDED,
                "refunded_at": NOW,
                "refund_total": Decimal("100.00"),
                "currency": "CNY",
                "total": Decimal("100.00"),
                "discount_total": Decimal(0),
                "source": "organic",
            },
            [S.REFUNDED],
        ),
        (
            recorded(S.CANCELLED, cancelled_at=T1),
            message(S.PAID, stamps={"paid_at": T2}),
            {"paid_at": T2},
            [],
        ),
    ],
)
def test_merge(
    current: OrderState, incoming: OrderMessage, changes: dict[str, Any], entered: list[S]
) -> None:
    assert merge(current, incoming, now=NOW) == (changes, entered)


def test_a_first_message_saying_delivered_also_means_paid_and_shipped() -> None:
    state = initial_state(message(S.DELIVERED, stamps={"paid_at": T1}), now=NOW)
    assert (state.paid_at, state.shipped_at, state.delivered_at) == (T1, NOW, NOW)
    assert state.refund_total == 0
