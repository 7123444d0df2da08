"""GET /v1/calendar/occasions: what a marketer can start a journey on."""

from __future__ import annotations

import httpx
import pytest

URL = "/v1/calendar/occasions"


async def test_lists_holidays_and_festivals_of_the_year(client: httpx.AsyncClient) -> None:
    response = await client.get(URL, params={"year": 2027})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["country"], body["year"]) == ("CN", 2027)
    by_id = {o["occasion_id"]: o for o in body["occasions"]}
    assert by_id["spring_festival:2027"] == {
        "occasion_id": "spring_festival:2027",
        "kind": "holiday",
        "key": "spring_festival",
        "date": "2027-02-06",
        "lunar": {"year": 2027, "month": 1, "day": 1, "is_leap_month": False},
        "calendar": None,
        "name_zh": "春节",
        "name_en": "Spring Festival",
    }
    assert by_id["lantern_festival:2027"]["date"] == "2027-02-20"
    assert by_id["lantern_festival:2027"]["calendar"] == "lunar"
    assert by_id["double_11:2027"]["name_zh"] == "双11"
    dates = [o["date"] for o in body["occasions"]]
    assert dates == sorted(dates)


async def test_year_defaults_to_this_year_in_the_shop_zone(client: httpx.AsyncClient) -> None:
    body = (await client.get(URL)).json()  # the test clock stands at 2026-06-18
    assert body["year"] == 2026
    assert "mid_autumn:2026" in {o["occasion_id"] for o in body["occasions"]}


async def test_another_country(client: httpx.AsyncClient) -> None:
    body = (await client.get(URL, params={"year": 2026, "country": "us"})).json()
    assert body["country"] == "US"
    holidays = {o["key"] for o in body["occasions"] if o["kind"] == "holiday"}
    assert {"thanksgiving_day", "independence_day"} <= holidays
    assert "spring_festival" not in holidays


@pytest.mark.parametrize(
    ("params", "loc"),
    [
        ({"country": "XX"}, ["query", "country"]),
        ({"country": "CHN"}, ["query", "country"]),
        ({"year": 2100}, ["query", "year"]),
        ({"year": 1900}, ["query", "year"]),
        ({"year": "soon"}, ["query", "year"]),
    ],
)
async def test_bad_queries_name_the_field(
    client: httpx.AsyncClient, params: dict[str, object], loc: list[str]
) -> None:
    response = await client.get(URL, params=params)
    assert response.status_code == 422, response.text
    [error] = response.json()["detail"]
    assert error["loc"] == loc


async def test_marketers_only(client: httpx.AsyncClient, anon: httpx.AsyncClient) -> None:
    assert (await anon.get(URL)).status_code == 401
    keys = {}
    for scope in ("marketer", "ingest"):
        created = await client.post("/v1/keys", json={"name": scope, "scopes": [scope]})
        keys[scope] = created.json()["key"]
    auth = {"Authorization": f"Bearer {keys['marketer']}"}
    assert (await anon.get(URL, headers=auth)).status_code == 200
    auth = {"Authorization": f"Bearer {keys['ingest']}"}
    assert (await anon.get(URL, headers=auth)).status_code == 403
