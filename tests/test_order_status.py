"""Order statuses move forward only, whatever order their messages arrive in (pure)."""

from __future__ import annotations

import pytest

from service.orders.models import OrderStatus as S
from service.orders.status import transitions


@pytest.mark.parametrize(
    ("current", "incoming", "entered"),
    [
        (None, S.CREATED, []),
        (None, S.PAID, [S.PAID]),
        (None, S.DELIVERED, [S.PAID, S.SHIPPED, S.DELIVERED]),  # skipped milestones count
        (None, S.CANCELLED, [S.CANCELLED]),
        (None, S.REFUNDED, [S.REFUNDED]),
        (S.CREATED, S.CREATED, []),
        (S.CREATED, S.SHIPPED, [S.PAID, S.SHIPPED]),
        (S.PAID, S.PAID, []),  # the same status again
        (S.PAID, S.CREATED, []),  # a stale one
        (S.SHIPPED, S.PAID, []),
        (S.SHIPPED, S.DELIVERED, [S.DELIVERED]),
        (S.DELIVERED, S.REFUNDED, [S.REFUNDED]),
        (S.PAID, S.CANCELLED, [S.CANCELLED]),
        (S.CANCELLED, S.PAID, []),  # final
        (S.CANCELLED, S.REFUNDED, []),
        (S.REFUNDED, S.DELIVERED, []),
        (S.REFUNDED, S.REFUNDED, []),
    ],
)
def test_transitions(current: S | None, incoming: S, entered: list[S]) -> None:
    assert transitions(current, incoming) == entered
