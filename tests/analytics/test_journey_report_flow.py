"""The journey report over what the real engine and dispatcher wrote: members enter from order
webhooks, half are held out, the rest are sent an SMS by the local gateway, some buy again."""

from __future__ import annotations

import copy
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from service.clock import FakeClock
from service.job_context import JobContext
from service.journeys.schemas import EXAMPLE_RULE
from service.members.models import Member
from service.scheduler import periodic_jobs, run_once
from service.settings import Settings
from tests.factories import ADMIN_KEY, WEBHOOK_SECRET, order_payload
from tests.journeys.helpers import create_active, enrolments, outbox, post_order

MEMBERS = 24
AGAIN_SOON, AGAIN_LATE = range(0, 14), range(14, 18)  # buy again 1 day / 4 days after the SMS


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        admin_api_key=ADMIN_KEY,
        webhook_secrets=WEBHOOK_SECRET,
        scheduler_enabled=False,
        outbox_dir=str(tmp_path / "outbox"),
    )


def rule() -> dict[str, Any]:
    found = copy.deepcopy(EXAMPLE_RULE)
    found.update(
        holdout_percent=50, steps=[EXAMPLE_RULE["steps"][0]], exit_when=[], attribution_window="P3D"
    )
    return found


async def tick(app: FastAPI) -> dict[str, object]:
    """Every periodic job once, sending included (what `huitou tick` does)."""
    s = app.state
    ctx = JobContext(
        s.sessions, s.clock, s.settings, s.secrets, gateways=s.gateways, renderer=s.renderer
    )
    return await run_once(ctx, periodic_jobs(s.settings))


async def buy(anon: httpx.AsyncClient, clock: FakeClock, n: int, order: str, total: str) -> None:
    payload = order_payload(f"o-{n}-{order}", member=f"m-{n}", total=total, created_at=clock.now())
    payload["member"]["phone"] = f"+86138{n:08d}"
    await post_order(anon, clock, payload, f"w-{n}-{order}")


async def test_the_report_reads_what_the_engine_and_the_dispatcher_wrote(
    app: FastAPI, anon: httpx.AsyncClient, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    key = EXAMPLE_RULE["key"]
    await create_active(client, rule())
    for n in range(MEMBERS):
        await buy(anon, clock, n, "first", "99.00")
    await tick(app)
    clock.advance(hours=25)  # 10:00 the next day in Shanghai: the thanks step sends
    await tick(app)
    sent = {m.member_id for m in await outbox(app) if m.sent_at is not None}
    rows = await enrolments(app)
    assert len(rows) == MEMBERS
    control = {e.member_id for e in rows if e.is_control}
    treated = {e.member_id for e in rows if not e.is_control}
    assert control
    assert treated
    assert sent == treated
    clock.advance(days=1)
    for n in AGAIN_SOON:
        await buy(anon, clock, n, "second", "88.00")
    clock.advance(days=3)
    for n in AGAIN_LATE:
        await buy(anon, clock, n, "second", "88.00")
    await tick(app)  # the goal events
    ids = await _member_ids(app)
    soon = {ids[f"m-{n}"] for n in AGAIN_SOON}
    again = soon | {ids[f"m-{n}"] for n in AGAIN_LATE}
    assert soon & treated
    assert soon & control

    response = await client.get(
        f"/v1/reports/journeys/{key}", params={"from": "2026-06-18", "to": "2026-06-30"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    [row] = body["rows"]
    assert (row["step_id"], row["variant"], row["channel"]) == ("thanks", None, "sms")
    assert (row["queued"], row["sent"], row["held_out"]) == (
        len(treated),
        len(treated),
        len(control),
    )
    assert row["attributed_orders"] == len(soon & treated)
    assert Decimal(row["attributed_revenue"]) == 88 * len(soon & treated)
    assert row["conversions"] == len(again & treated)
    holdout = body["holdout"]
    assert (holdout["treatment_members"], holdout["control_members"]) == (
        len(treated),
        len(control),
    )
    assert Decimal(holdout["treatment_revenue"]) == 88 * len(soon & treated)
    assert Decimal(holdout["control_revenue"]) == 88 * len(soon & control)
    assert holdout["treatment_conversions"] == len(again & treated)
    assert holdout["control_conversions"] == len(again & control)
    assert holdout["windows_closed"] is True


async def _member_ids(app: FastAPI) -> dict[str, int]:
    async with app.state.sessions() as session:
        return dict((await session.execute(select(Member.external_id, Member.id))).all())
