"""GET /v1/members filters, against one seeded set of members per database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio

from tests.api.conftest import SharedApi
from tests.factories import order_payload

pytestmark = pytest.mark.asyncio(loop_scope="module")

PEOPLE: dict[str, dict[str, Any]] = {
    "hz-vip": {"city": "杭州", "region": "浙江", "tags": ["vip"], "locale": "zh-CN"},
    "hz-new": {"city": "杭州", "region": "浙江", "tags": ["new"], "locale": "zh-CN"},
    "sh-vip": {"city": "上海", "region": "上海", "tags": ["vip", "new"], "locale": "en"},
    "bj": {"city": "北京", "region": "北京", "locale": "en-GB"},
    "none": {},
}
PAID_DAYS_AGO = {"hz-vip": [40, 10, 3], "hz-new": [100], "sh-vip": [20, 15]}  # bj, none: 0


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def seeded(shared_api: SharedApi) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the shared app, whose members are seeded once."""
    async with shared_api.client(shared_api.keys["marketer"]) as client:
        await seed(client, shared_api)
        yield client


async def seed(client: httpx.AsyncClient, api: SharedApi) -> None:
    now = api.clock.now()
    for external_id, profile in PEOPLE.items():
        assert (await client.put(f"/v1/members/{external_id}", json=profile)).status_code == 201
    orders = [
        order_payload(f"{member}-{days}", member=member, created_at=now - timedelta(days=days))
        for member, ago in PAID_DAYS_AGO.items()
        for days in ago
    ]
    async with api.client(api.keys["ingest"]) as ingest:
        assert (await ingest.post("/v1/orders/batch", json={"orders": orders})).status_code == 200


async def listed(client: httpx.AsyncClient, query: str) -> list[str]:
    response = await client.get(f"/v1/members?{query}")
    assert response.status_code == 200, response.text
    return sorted(item["external_id"] for item in response.json()["items"])


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["bj", "hz-new", "hz-vip", "none", "sh-vip"]),
        ("tag=vip", ["hz-vip", "sh-vip"]),
        ("tag=new&city=杭州", ["hz-new"]),
        ("city=杭州", ["hz-new", "hz-vip"]),
        ("region=上海", ["sh-vip"]),
        ("locale=en", ["sh-vip"]),
        ("locale=zh-CN", ["hz-new", "hz-vip", "none"]),  # the default locale
        ("min_paid_orders=2", ["hz-vip", "sh-vip"]),
        ("max_paid_orders=0", ["bj", "none"]),
        ("min_paid_orders=1&max_paid_orders=2", ["hz-new", "sh-vip"]),
        # 2026-06-18T01:00Z is now; the last payments were 3, 100 and 15 days ago (+2 min)
        ("last_paid_after=2026-06-08T00:00:00Z", ["hz-vip"]),
        ("last_paid_before=2026-06-08T00:00:00%2B08:00", ["hz-new", "sh-vip"]),
        ("last_paid_after=2026-01-01T00:00:00Z&last_paid_before=2026-06-01T00:00:00Z", ["hz-new"]),
        ("tag=nobody", []),
    ],
)
async def test_filters(seeded: httpx.AsyncClient, query: str, expected: list[str]) -> None:
    assert await listed(seeded, query) == expected
