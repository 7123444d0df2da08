"""The journey report and the attribution behind it against the plain computation, exactly."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.analytics import attribution
from service.analytics.config import AnalyticsConfig
from service.analytics.journey_report import journey_report
from service.clock import FakeClock
from service.settings import Settings
from tests.analytics import reference_journeys as ref
from tests.analytics.journey_world import JourneyWorld, build_journeys
from tests.analytics.test_recompute import fix_sequences
from tests.conftest import START

ZONE = ZoneInfo("Asia/Shanghai")
RANGES = [(date(2025, 10, 1), date(2026, 6, 30)), (date(2026, 1, 15), date(2026, 3, 10))]
SEQUENCES = (
    "journeys",
    "journey_versions",
    "enrolments",
    "enrolment_steps",
    "messages",
    "consent_changes",
)


async def _built(sessions: async_sessionmaker[AsyncSession], *, members: int = 700) -> JourneyWorld:
    async with sessions() as session, session.begin():
        built = await build_journeys(session, members=members)
        await fix_sequences(session)
        if session.get_bind().dialect.name == "postgresql":
            for table in SEQUENCES:
                await session.execute(
                    text(f"SELECT setval('{table}_id_seq', (SELECT max(id) FROM {table}))")
                )
    return built


async def fetch(
    client: httpx.AsyncClient, key: str, first: date, last: date, fmt: str = "json"
) -> httpx.Response:
    query = {"from": first.isoformat(), "to": last.isoformat(), "format": fmt}
    response = await client.get(f"/v1/reports/journeys/{key}", params=query)
    assert response.status_code == 200, response.text
    return response


def check_fixture(world: JourneyWorld) -> None:
    """Guards against a fixture so thin that agreeing with it would prove nothing."""
    start, end = ref.bounds(*RANGES[0], ZONE)
    orders = ref.order_attribution(world, start, end)
    by_id = {m.id: m for m in world.messages}
    assert len(world.orders) > 3000
    assert {o.status for o in world.orders} >= {"refunded", "cancelled", "delivered"}
    assert len(orders) > 300
    assert {by_id[m].journey_id for m in orders.values()} == {1, 2, 3}
    assert {by_id[m].status for m in orders.values()} == {"delivered", "sent"}
    assert {by_id[m].journey_version for m in orders.values() if by_id[m].journey_id == 1} == {1, 2}
    assert len(ref.opt_out_attribution(world, start, end)) > 50
    winback = ref.journey_report(world, "winback", *RANGES[0], ZONE, START)
    assert winback["holdout"]["control_members"] > 40
    assert winback["holdout"]["revenue_uplift_low"] is not None
    assert {r["variant"] for r in winback["rows"]} == {None, "a", "b"}


async def test_every_figure_matches_the_plain_computation(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    clock: FakeClock,
) -> None:
    world = await _built(sessions)
    check_fixture(world)
    assert settings.timezone == "Asia/Shanghai"
    for first, last in RANGES:
        start, end = ref.bounds(first, last, ZONE)
        async with sessions() as session:
            orders = await attribution.order_attribution(session, start_at=start, end_at=end)
            opt_outs = await attribution.opt_out_attribution(session, start_at=start, end_at=end)
        assert orders == ref.order_attribution(world, start, end)
        assert opt_outs == ref.opt_out_attribution(world, start, end)
        for journey in world.journeys:
            body = (await fetch(client, journey.key, first, last)).json()
            expected = ref.journey_report(world, journey.key, first, last, ZONE, clock.now())
            assert body["rows"] == expected["rows"], journey.key
            assert body["holdout"] == expected["holdout"], journey.key
            newest = journey.rule(max(journey.windows))
            assert (body["journey"], body["attribution_window"]) == (
                journey.key,
                newest["attribution_window"],
            )
            assert body["attribution_windows"] == newest["attribution_windows"]
    new_york = ZoneInfo("America/New_York")  # another shop zone: other day bounds, DST
    config = AnalyticsConfig(timezone="America/New_York")
    for journey in world.journeys:
        async with sessions() as session:
            report = await journey_report(
                session,
                key=journey.key,
                first=RANGES[1][0],
                last=RANGES[1][1],
                config=config,
                now=clock.now(),
            )
        found = report.model_dump(mode="json", include={"rows", "holdout"})
        assert found == ref.journey_report(world, journey.key, *RANGES[1], new_york, clock.now())
    clock.set(datetime(2026, 6, 14, tzinfo=UTC))  # some windows of June are still open
    body = (await fetch(client, "winback", *RANGES[0])).json()
    assert (
        body["holdout"]
        == ref.journey_report(world, "winback", *RANGES[0], ZONE, clock.now())["holdout"]
    )
    assert body["holdout"]["windows_closed"] is False


async def test_json_and_csv_agree(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await _built(sessions, members=150)
    first, last = RANGES[0]
    body = (await fetch(client, "winback", first, last)).json()
    response = await fetch(client, "winback", first, last, "csv")
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert "journey_winback_2025-10-01_2026-06-30.csv" in response.headers["content-disposition"]
    header, *rows = list(csv.reader(io.StringIO(response.text)))
    assert header[0] == "section"
    expected = [{"section": "step", **row} for row in body["rows"]]
    expected.append({"section": "holdout", **body["holdout"]})
    assert len(expected) == 4
    assert rows == [[_cell(row.get(f)) for f in header] for row in expected]
    assert set(header) == {"section", *body["rows"][0], *body["holdout"]}


async def test_an_unknown_journey_is_a_404_naming_it(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/v1/reports/journeys/nope", params={"from": "2026-01-01", "to": "2026-01-31"}
    )
    assert response.status_code == 404
    assert response.json() == {
        "error": "journey_not_found",
        "detail": [{"loc": ["path", "key"], "msg": "no journey with key 'nope'"}],
    }


@pytest.mark.parametrize(
    ("first", "last", "field"),
    [("2026-02-01", "2026-01-01", "to"), ("0001-01-01", "2026-01-01", "from")],
)
async def test_a_bad_range_is_a_422_naming_it(
    client: httpx.AsyncClient, first: str, last: str, field: str
) -> None:
    response = await client.get("/v1/reports/journeys/winback", params={"from": first, "to": last})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", field]


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
