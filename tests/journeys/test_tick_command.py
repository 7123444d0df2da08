"""`huitou tick --at …`: every periodic job once as of that instant, with a JSON summary."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from service.__main__ import main
from service.clock import FakeClock
from service.scheduler import periodic_jobs
from tests.factories import order_payload
from tests.journeys.helpers import outbox, post_order


async def huitou_tick(at: datetime, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    """The command as cron runs it; its own event loop, so off this test's loop."""
    assert await asyncio.to_thread(main, ["tick", "--at", at.isoformat()]) == 0
    summary: dict[str, Any] = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    return summary


async def test_tick_at_two_instants_queues_the_unpaid_order_reminder_once_due(
    app: FastAPI,
    anon: httpx.AsyncClient,
    client: httpx.AsyncClient,
    clock: FakeClock,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("HUITOU_DATABASE_URL", database_url)
    monkeypatch.setenv("HUITOU_OUTBOX_DIR", str(tmp_path))
    created = await client.post("/v1/journeys/from-template", json={"template": "unpaid_reminder"})
    assert created.status_code == 201, created.text
    assert (await client.post("/v1/journeys/unpaid-reminder/activate")).status_code == 200
    placed = clock.now()
    await post_order(anon, clock, order_payload("o-1", status="created", created_at=placed), "w1")

    early = await huitou_tick(placed + timedelta(minutes=10), capsys)
    assert list(early) == [job.name for job in periodic_jobs(app.state.settings)]
    assert early["journey_time_triggers"] == {"unpaid-reminder": 0}
    assert await outbox(app) == []

    due = await huitou_tick(placed + timedelta(minutes=31), capsys)  # 30 minutes unpaid
    assert (due["journey_time_triggers"], due["journey_advance"]) == ({"unpaid-reminder": 1}, 1)
    [reminder] = await outbox(app)
    assert (reminder.template, reminder.step_id) == ("unpaid/reminder", "remind")
    assert reminder.created_at == placed + timedelta(minutes=31)

    again = await huitou_tick(placed + timedelta(minutes=31), capsys)  # a re-run adds nothing
    assert (again["journey_time_triggers"], again["journey_advance"]) == ({}, 0)
    assert len(await outbox(app)) == 1


def test_tick_refuses_an_unknown_job(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tick", "--job", "journey_advance", "--job", "nightly_report"]) == 2
    assert "no periodic job named nightly_report" in capsys.readouterr().err
