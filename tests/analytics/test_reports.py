"""Every report figure against the plain computation, exactly, in two shop time zones."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.analytics import service as analytics
from service.analytics.config import AnalyticsConfig
from service.clock import FakeClock
from service.settings import Settings
from tests.analytics import reference_reports as ref
from tests.analytics.test_recompute import fix_sequences
from tests.analytics.world import World, build
from tests.factories import ADMIN_KEY

FIRST, LAST = date(2025, 1, 1), date(2026, 6, 30)


@pytest.fixture(params=["Asia/Shanghai", "America/New_York"])
def settings(database_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    return Settings(
        database_url=database_url,
        admin_api_key=ADMIN_KEY,
        scheduler_enabled=False,
        timezone=request.param,
    )


@pytest.fixture
async def world(sessions: async_sessionmaker[AsyncSession]) -> World:
    async with sessions() as session, session.begin():
        built = await build(session)
        await fix_sequences(session)
    return built


async def report(
    client: httpx.AsyncClient, name: str, first: date, last: date, **params: str
) -> list[dict[str, Any]]:
    query = {"from": first.isoformat(), "to": last.isoformat(), **params}
    response = await client.get(f"/v1/reports/{name}", params=query)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["report"], body["from"], body["to"]) == (name, query["from"], query["to"])
    rows: list[dict[str, Any]] = body["rows"]
    return rows


async def test_repurchase_funnel_and_value_concentration(
    client: httpx.AsyncClient, world: World, settings: Settings
) -> None:
    zone = ZoneInfo(settings.timezone)
    for first, last in ((FIRST, LAST), (date(2025, 6, 1), date(2025, 12, 31))):
        assert await report(client, "repurchase-funnel", first, last) == ref.funnel(
            world, first, last, zone
        )
        assert await report(client, "value-concentration", first, last) == ref.concentration(
            world, first, last, zone
        )
    funnel = ref.funnel(world, FIRST, LAST, zone)
    assert funnel[0]["members"] > 150
    assert funnel[4]["members"] > 10


@pytest.mark.parametrize("period", ["day", "week", "month"])
async def test_return_rate_per_period(
    client: httpx.AsyncClient, world: World, settings: Settings, period: str
) -> None:
    zone = ZoneInfo(settings.timezone)
    found = await report(client, "return-rate", FIRST, LAST, period=period)
    assert found == ref.return_rate(world, FIRST, LAST, period, zone)
    assert any(r["returning"] for r in found)


async def test_new_buyers_with_incomplete_windows(
    client: httpx.AsyncClient, world: World, settings: Settings, clock: FakeClock
) -> None:
    zone = ZoneInfo(settings.timezone)
    for period in ("week", "month"):
        found = await report(client, "new-buyers", FIRST, LAST, period=period)
        assert found == ref.new_buyers(world, FIRST, LAST, period, zone, clock.now())
    may = next(r for r in found if r["period_start"] == "2026-05-01")
    assert (may["complete_30d"], may["rate_30d"], may["complete_90d"]) == (False, None, False)
    assert may["repurchased_30d"] >= 0
    january = next(r for r in found if r["period_start"] == "2025-01-01")
    assert january["complete_90d"]
    assert january["rate_90d"] is not None


async def test_lifecycle_derived_then_from_the_snapshot(
    client: httpx.AsyncClient,
    world: World,
    settings: Settings,
    clock: FakeClock,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    zone = ZoneInfo(settings.timezone)
    found = await report(client, "lifecycle", FIRST, LAST, period="month")
    expected = ref.lifecycle(world, FIRST, LAST, "month", zone, clock.now())
    assert [_parsed(r) for r in found] == expected

    await analytics.run_pending(
        sessions, clock=clock, config=AnalyticsConfig(timezone=settings.timezone)
    )
    today = clock.now().astimezone(zone).date()
    days = await report(client, "lifecycle", today - timedelta(days=2), today, period="day")
    assert [r["source"] for r in days] == ["derived", "derived", "snapshot"]
    counted_now = ref.stages_at(world, clock.now())
    assert {k: days[-1][k] for k in counted_now} == counted_now


async def test_reports_as_csv(client: httpx.AsyncClient, world: World) -> None:
    for name, extra in (
        ("return-rate", {"period": "month"}),
        ("new-buyers", {"period": "month"}),
        ("repurchase-funnel", {}),
        ("value-concentration", {}),
        ("lifecycle", {"period": "week"}),
    ):
        query = {"from": FIRST.isoformat(), "to": LAST.isoformat(), **extra}
        as_json = (await client.get(f"/v1/reports/{name}", params=query)).json()["rows"]
        response = await client.get(f"/v1/reports/{name}", params=query | {"format": "csv"})
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/csv; charset=utf-8"
        assert f"{name}_2025-01-01_2026-06-30.csv" in response.headers["content-disposition"]
        header, *rows = list(csv.reader(io.StringIO(response.text)))
        assert header == list(as_json[0])
        assert rows == [[_csv_cell(row[f]) for f in header] for row in as_json]


async def test_a_range_ending_before_it_starts_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/v1/reports/return-rate", params={"from": "2026-02-01", "to": "2026-01-01"}
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "to"]


@pytest.mark.parametrize(
    ("first", "last", "field"),
    [("0001-01-01", "2000-01-01", "from"), ("2026-01-01", "9999-12-31", "to")],
)
async def test_a_date_off_the_calendar_is_refused_naming_it(
    client: httpx.AsyncClient, first: str, last: str, field: str
) -> None:
    for name in ("return-rate", "new-buyers", "lifecycle", "value-concentration"):
        response = await client.get(f"/v1/reports/{name}", params={"from": first, "to": last})
        assert response.status_code == 422, name
        assert response.json()["detail"][0]["loc"] == ["query", field]


def _csv_cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _parsed(row: dict[str, Any]) -> dict[str, Any]:
    return row | {"as_of": datetime.fromisoformat(row["as_of"])}
