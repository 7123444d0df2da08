"""Small builders of payloads and signed requests."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from service.orders.signature import sign_standard

ADMIN_KEY = "admin-test-key-0123456789abcdef"
WEBHOOK_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def order_payload(
    order_id: str = "o-1",
    *,
    member: str = "m-1",
    status: str = "paid",
    total: str = "100.00",
    created_at: datetime,
    paid_after: timedelta | None = timedelta(minutes=2),
    items: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "id": order_id,
        "member": {"external_id": member},
        "status": status,
        "currency": "CNY",
        "total": total,
        "source": "organic",
        "created_at": created_at.isoformat(),
        "items": items
        if items is not None
        else [{"sku": "MASK-30", "quantity": 1, "price": total}],
    }
    if status != "created" and paid_after is not None and status != "cancelled":
        payload["paid_at"] = (created_at + paid_after).isoformat()
    payload.update(extra)
    return payload


def signed(
    body: bytes | dict[str, Any], *, now: datetime, msg_id: str, secret: str = WEBHOOK_SECRET
) -> tuple[bytes, dict[str, str]]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    stamp = int(now.timestamp())
    return raw, {
        "webhook-id": msg_id,
        "webhook-timestamp": str(stamp),
        "webhook-signature": sign_standard(raw, msg_id=msg_id, timestamp=stamp, secret=secret),
        "content-type": "application/json",
    }
