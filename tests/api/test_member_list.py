"""GET /v1/members: cursor pages that neither repeat nor skip a member; bad queries."""

from __future__ import annotations

import base64

import httpx
import pytest

from service.errors import InvalidInput
from service.members.service import decode_cursor, encode_cursor


async def test_walking_every_page_sees_each_member_once(client: httpx.AsyncClient) -> None:
    ids = [f"m-{i:02}" for i in range(23)]
    for i, external_id in enumerate(ids):
        tags = ["even"] if i % 2 == 0 else []
        await client.put(f"/v1/members/{external_id}", json={"tags": tags})
    for query, expected in (("limit=5", ids), ("limit=4&tag=even", ids[::2])):
        seen, cursor, pages = [], None, 0
        while True:
            url = f"/v1/members?{query}" + (f"&cursor={cursor}" if cursor else "")
            page = (await client.get(url)).json()
            seen += [item["external_id"] for item in page["items"]]
            pages += 1
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == expected  # in order, no duplicates, nothing missed
        assert pages == -(-len(expected) // int(query.split("&")[0].split("=")[1]))


async def test_the_last_full_page_has_no_cursor(client: httpx.AsyncClient) -> None:
    for i in range(4):
        await client.put(f"/v1/members/m-{i}", json={})
    first = (await client.get("/v1/members?limit=2")).json()
    second = (await client.get(f"/v1/members?limit=2&cursor={first['next_cursor']}")).json()
    assert [i["external_id"] for i in second["items"]] == ["m-2", "m-3"]
    assert second["next_cursor"] is None


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    ["zzz", "%00", "!!", b64("-1"), b64("0"), b64("abc"), b64(str(2**63)), b64("9" * 40),
     b64("1") + "==", b64(" 1")],
)  # fmt: skip
async def test_a_cursor_the_api_did_not_issue_is_422(
    client: httpx.AsyncClient, cursor: str
) -> None:
    response = await client.get(f"/v1/members?cursor={cursor}")
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["query", "cursor"]


@pytest.mark.parametrize(
    ("query", "loc"),
    [
        ("last_paid_before=2026-06-01", ["query", "last_paid_before"]),  # no offset
        ("last_paid_after=2026-06-01T00:00:00", ["query", "last_paid_after"]),
        ("last_paid_after=0001-01-01T00:00:00%2B14:00", ["query", "last_paid_after"]),
        ("min_paid_orders=99999999999999999999999", ["query", "min_paid_orders"]),
        ("max_paid_orders=-1", ["query", "max_paid_orders"]),
        ("limit=0", ["query", "limit"]),
        ("limit=201", ["query", "limit"]),
    ],
)
async def test_bad_filters_are_422(client: httpx.AsyncClient, query: str, loc: list[str]) -> None:
    response = await client.get(f"/v1/members?{query}")
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == loc


@pytest.mark.parametrize("member_id", [1, 9, 10, 255, 123456789, 2**63 - 1])
def test_cursors_round_trip(member_id: int) -> None:
    assert decode_cursor(encode_cursor(member_id)) == member_id


@pytest.mark.parametrize(
    "cursor", ["", "MA", "LTE", "MQ==", "MQ=", "IDE", "OTIyMzM3MjAzNjg1NDc3NTgwOA"]
)
def test_decode_refuses_what_encode_cannot_make(cursor: str) -> None:
    with pytest.raises(InvalidInput):
        decode_cursor(cursor)
