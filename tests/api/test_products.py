"""PUT and GET /v1/products/{sku}: create (201) or replace (200), read, 404 naming the sku."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from service.clock import FakeClock

MASK = {
    "title": "补水面膜 30 片",
    "category": "skincare",
    "price": "109.50",
    "replenish_days": 30,
    "season": "all",
    "launch_date": "2026-03-01",
    "tags": ["mask", "bestseller"],
}


async def test_put_creates_then_replaces(client: httpx.AsyncClient, clock: FakeClock) -> None:
    created = await client.put("/v1/products/MASK-30", json=MASK)
    assert created.status_code == 201, created.text
    assert created.json() == {
        **MASK,
        "sku": "MASK-30",
        "created_at": "2026-06-18T01:00:00Z",
        "updated_at": "2026-06-18T01:00:00Z",
    }
    assert (await client.get("/v1/products/MASK-30")).json() == created.json()

    clock.advance(days=1)
    replaced = await client.put(
        "/v1/products/MASK-30", json={"title": "补水面膜 30 片（新版）", "price": "99.00"}
    )
    assert replaced.status_code == 200
    body = replaced.json()
    assert (body["title"], body["price"]) == ("补水面膜 30 片（新版）", "99.00")
    # a PUT replaces: what it leaves out is reset, not kept
    assert (body["category"], body["replenish_days"], body["tags"]) == (None, None, [])
    assert body["created_at"] == "2026-06-18T01:00:00Z"
    assert body["updated_at"] == "2026-06-19T01:00:00Z"
    assert (await client.get("/v1/products/MASK-30")).json() == body


async def test_a_sku_with_unicode_and_dots(client: httpx.AsyncClient) -> None:
    response = await client.put("/v1/products/面膜.v2", json={"title": "x"})
    assert response.status_code == 201
    assert (await client.get("/v1/products/面膜.v2")).json()["sku"] == "面膜.v2"


async def test_unknown_sku_is_404_naming_it(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/products/NOPE-1")
    assert response.status_code == 404
    assert response.json() == {
        "error": "product_not_found",
        "detail": [{"loc": ["path", "sku"], "msg": "no product with sku 'NOPE-1'"}],
    }


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({**MASK, "price": "1.005"}, ["body", "price"]),
        ({**MASK, "replenish_days": 0}, ["body", "replenish_days"]),
        ({**MASK, "launch_date": "2026-02-30"}, ["body", "launch_date"]),
        ({**MASK, "tags": ["x"] * 51}, ["body", "tags"]),
        ({**MASK, "title": ""}, ["body", "title"]),
    ],
)
async def test_bad_products_are_422(
    client: httpx.AsyncClient, body: dict[str, Any], loc: list[str]
) -> None:
    response = await client.put("/v1/products/MASK-30", json=body)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == loc
    assert (await client.get("/v1/products/MASK-30")).status_code == 404


async def test_a_sku_longer_than_the_column_is_422(client: httpx.AsyncClient) -> None:
    response = await client.put("/v1/products/" + "S" * 65, json={"title": "x"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["path", "sku"]
