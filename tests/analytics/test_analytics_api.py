"""POST /v1/analytics/recompute runs after the response; runs are readable; scopes hold."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.clock import FakeClock
from service.instance import load_secrets
from service.job_context import JobContext
from service.scheduler import run_once
from service.settings import Settings
from tests.factories import order_payload, signed


async def test_recompute_is_queued_then_run_and_readable(
    client: httpx.AsyncClient, anon: httpx.AsyncClient, clock: FakeClock
) -> None:
    body, headers = signed(
        order_payload("o-1", created_at=clock.now() - timedelta(days=100)),
        now=clock.now(),
        msg_id="m1",
    )
    assert (
        await anon.post("/v1/webhooks/orders", content=body, headers=headers)
    ).status_code == 200

    response = await client.post("/v1/analytics/recompute")
    assert response.status_code == 202
    queued = response.json()
    assert (queued["status"], queued["reason"]) == ("queued", "manual")

    run = (await client.get(f"/v1/analytics/runs/{queued['id']}")).json()
    assert run["status"] == "done"  # the background task ran before the client got its answer
    assert run["rows_written"] == 1
    assert run["chunks"] >= 1
    assert run["longest_tx_ms"] >= 0
    member = (await client.get("/v1/members/m-1")).json()
    assert member["stats"]["stage"] == "sleeping"
    assert member["stats"]["segment"] is not None
    listed = (await client.get("/v1/analytics/runs")).json()
    assert [r["id"] for r in listed] == [queued["id"]]
    assert (await client.get("/v1/analytics/runs/999")).status_code == 404


async def test_reports_and_recompute_need_the_marketer_scope(client: httpx.AsyncClient) -> None:
    created = await client.post("/v1/keys", json={"name": "shop", "scopes": ["ingest"]})
    ingest = {"Authorization": f"Bearer {created.json()['key']}"}
    assert (await client.post("/v1/analytics/recompute", headers=ingest)).status_code == 403
    params = {"from": "2026-01-01", "to": "2026-01-31"}
    denied = await client.get("/v1/reports/return-rate", params=params, headers=ingest)
    assert denied.status_code == 403
    created = await client.post("/v1/keys", json={"name": "mkt", "scopes": ["marketer"]})
    marketer = {"Authorization": f"Bearer {created.json()['key']}"}
    allowed = await client.get("/v1/reports/return-rate", params=params, headers=marketer)
    assert allowed.status_code == 200
    assert (await client.post("/v1/analytics/recompute", headers=marketer)).status_code == 202


async def test_the_scheduler_job_runs_a_due_recompute_once(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, clock: FakeClock
) -> None:
    async with sessions() as session, session.begin():
        secrets = await load_secrets(session, now=clock.now())
    ctx = JobContext(sessions, clock, settings, secrets)
    first = await run_once(ctx)
    assert isinstance(first["analytics_recompute"], dict)
    assert (await run_once(ctx))["analytics_recompute"] is None


async def test_two_replicas_never_run_the_same_recompute_twice(
    sessions: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    from service.analytics import service as analytics
    from service.analytics.config import AnalyticsConfig

    config = AnalyticsConfig()
    results = await asyncio.gather(
        analytics.run_pending(sessions, clock=clock, config=config, worker="a"),
        analytics.run_pending(sessions, clock=clock, config=config, worker="b"),
    )
    assert sorted(r is None for r in results) == [False, True]
    assert await analytics.run_pending(sessions, clock=clock, config=config, worker="c") is None


def test_analytics_settings_parse_and_refuse_nonsense() -> None:
    settings = Settings(promo_sources="flash_sale, live_stream ,", stage_mode="adaptive")
    assert settings.promo_sources == ["flash_sale", "live_stream"]
    with pytest.raises(ValueError, match="stage thresholds must grow"):
        Settings(stage_sleeping_days=200)
    with pytest.raises(ValueError, match="HIGH_PERCENT must be below"):
        Settings(value_tier_high_percent=60, value_tier_medium_percent=50)
