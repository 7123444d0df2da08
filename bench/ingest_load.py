"""The load generator: signed native orders from N concurrent keep-alive connections.

Orders come from a shop's realistic mix: most buyers are new, some come back (a returning member
is picked among those whose earlier order has been acknowledged), 1–3 items from a small
catalogue, mostly paid on arrival, some still unpaid. Every order id is new.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from service.orders.signature import sign_standard

WEBHOOK_PATH = "/v1/webhooks/orders"
REPEAT_SHARE = 0.4  # of orders from members who bought before
UNPAID_SHARE = 0.15  # of orders posted as `created` (not yet paid)
SKUS = [f"SKU-{n:03d}" for n in range(60)]
PRICES = ["9.90", "19.90", "29.00", "49.00", "59.90", "89.00", "109.50", "199.00"]


@dataclass
class Shop:
    """Generates the orders of one variant; order and member ids never repeat across variants."""

    namespace: int
    rng: random.Random = field(default_factory=lambda: random.Random(11))
    returning: list[str] = field(default_factory=list)
    orders: int = 0
    members: int = 0
    acknowledged_orders: int = 0

    def next_order(self) -> tuple[dict[str, Any], str]:
        self.orders += 1
        member, is_new = self._member()
        items = [
            {"sku": self.rng.choice(SKUS), "quantity": self.rng.randint(1, 3), "price": price}
            for price in self.rng.choices(PRICES, k=self.rng.randint(1, 3))
        ]
        total = sum(float(i["price"]) * i["quantity"] for i in items)
        created_at = datetime.now(UTC) - timedelta(seconds=self.rng.randint(5, 600))
        paid = self.rng.random() >= UNPAID_SHARE
        payload: dict[str, Any] = {
            "id": str(self.namespace * 10**15 + self.orders),
            "member": self._contacts(member, is_new),
            "status": "paid" if paid else "created",
            "currency": "CNY",
            "total": f"{total:.2f}",
            "discount_total": "0.00",
            "source": self.rng.choice(["organic", "organic", "organic", "campaign", "search"]),
            "created_at": created_at.isoformat(),
            "items": items,
        }
        if paid:
            payload["paid_at"] = (created_at + timedelta(seconds=30)).isoformat()
        return payload, member

    def acknowledged(self, member: str) -> None:
        # One entry per order: members who bought more often are likelier to come back again.
        self.returning.append(member)
        self.acknowledged_orders += 1

    def _member(self) -> tuple[str, bool]:
        if self.returning and self.rng.random() < REPEAT_SHARE:
            return self.rng.choice(self.returning), False
        self.members += 1
        return f"m-{self.namespace}-{self.members}", True

    def _contacts(self, member: str, is_new: bool) -> dict[str, str]:
        # Shops send the buyer's phone with every order; names and emails now and then.
        number = int(member.rsplit("-", 1)[1])
        contacts = {"external_id": member, "phone": f"1{38 + number % 2}{number % 10**8:08d}"}
        if is_new and number % 3 == 0:
            contacts["name"] = f"会员{number}"
        if number % 5 == 0:
            contacts["email"] = f"buyer{number}@example.com"
        return contacts


@dataclass
class Slice:
    """What one stretch of load measured."""

    completed: int = 0
    seconds: float = 0.0
    client_cpu_seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def add(self, other: Slice) -> None:
        self.completed += other.completed
        self.seconds += other.seconds
        self.client_cpu_seconds += other.client_cpu_seconds
        self.latencies += other.latencies
        self.errors += other.errors


def signed_request(payload: dict[str, Any], secret: str) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload, ensure_ascii=False).encode()
    msg_id, stamp = f"msg_{payload['id']}", int(time.time())
    return body, {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(stamp),
        "webhook-signature": sign_standard(body, msg_id=msg_id, timestamp=stamp, secret=secret),
    }


async def _worker(
    client: httpx.AsyncClient, path: str, shop: Shop, secret: str, until: float, out: Slice
) -> None:
    while time.perf_counter() < until:
        payload, member = shop.next_order()
        body, headers = signed_request(payload, secret)
        started = time.perf_counter()
        response = await client.post(path, content=body, headers=headers)
        out.latencies.append(time.perf_counter() - started)
        if response.status_code != 200:
            out.errors.append(f"{response.status_code} {response.text[:200]}")
            continue
        out.completed += 1
        shop.acknowledged(member)


async def load(
    client: httpx.AsyncClient,
    path: str,
    shop: Shop,
    *,
    secret: str,
    seconds: float,
    concurrency: int,
) -> Slice:
    """Closed-loop load for `seconds`: each connection posts its next order when one returns."""
    out = Slice()
    cpu, started = time.process_time(), time.perf_counter()
    until = started + seconds
    await asyncio.gather(
        *(_worker(client, path, shop, secret, until, out) for _ in range(concurrency))
    )
    out.seconds = time.perf_counter() - started
    out.client_cpu_seconds = time.process_time() - cpu
    return out
