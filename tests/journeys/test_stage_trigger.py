"""Stage triggers end to end: orders age under the fake clock, the analytics recompute (the
scheduler's job) moves members between life-cycle stages and writes member.stage_changed, and
the journey engine enrols each member once per stage entry and queues the journey's message."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from service.clock import FakeClock
from service.events.models import Event
from service.events.service import move_cursor
from service.job_context import JobContext
from service.journeys.models import Journey
from service.journeys.rule import Stage
from service.scheduler import analytics_recompute
from tests.factories import order_payload
from tests.journeys.helpers import create_active, enrolments, post_order, tick
from tests.journeys.templates.support import member_ids, timeline

STAGES = [s.value for s in Stage]
STAGE_CHANGED = "member.stage_changed"


def stage_journey(stage: str, **trigger: Any) -> dict[str, Any]:
    return {
        "key": f"enter-{stage}".replace("_", "-"),
        "name": f"enter {stage}",
        "trigger": {"type": "stage", "stage": stage, **trigger},
        "steps": [{"id": "hello", "send": {"template": "winback/gentle"}}],
    }


async def recompute(app: FastAPI) -> object:
    """The scheduler's analytics job, as of the fake clock."""
    state = app.state
    return await analytics_recompute(
        JobContext(state.sessions, state.clock, state.settings, state.secrets)
    )


async def names(app: FastAPI) -> dict[int, str]:
    return {i: name for i, (name, _) in (await member_ids(app)).items()}


async def stage_events(app: FastAPI) -> list[tuple[str, str | None, str]]:
    members = await names(app)
    async with app.state.sessions() as session:
        events = await session.scalars(
            select(Event).where(Event.type == "member.stage_changed").order_by(Event.id)
        )
        return [(members[e.member_id or 0], e.payload["from"], e.payload["to"]) for e in events]


async def entered(app: FastAPI) -> list[tuple[str, str]]:
    """(journey key, member) of every enrolment, in the order they were made."""
    members = await names(app)
    async with app.state.sessions() as session:
        keys = {row.id: row.key for row in await session.execute(select(Journey.id, Journey.key))}
    return [(keys[e.journey_id], members[e.member_id]) for e in await enrolments(app)]


async def buy(anon: httpx.AsyncClient, clock: FakeClock, order: str, member: str) -> None:
    payload = order_payload(order, member=member, created_at=clock.now())
    await post_order(anon, clock, payload, f"{order}:{clock.now().isoformat()}")


async def at_time(app: FastAPI, clock: FakeClock, when: datetime) -> None:
    clock.set(when)
    assert await recompute(app) is not None  # a run was due, and ran
    await tick(app)


def key(stage: str) -> str:
    return f"enter-{stage}".replace("_", "-")


async def test_members_enter_each_stage_once_from_its_event(
    app: FastAPI, anon: httpx.AsyncClient, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    await recompute(app)  # the stage rules exist from the first run on: ingest uses them
    for stage in STAGES:
        await create_active(client, stage_journey(stage))
    for order, member in [("o-1", "mei"), ("o-2", "lin"), ("o-3", "kai")]:
        await buy(anon, clock, order, member)  # a first paid order: null -> new, at ingest
    await tick(app)
    clock.advance(days=20)
    await buy(anon, clock, "o-4", "mei")  # new -> active
    await tick(app)
    paid = clock.now() + timedelta(minutes=2)

    # 04:02 in Shanghai each time: the nightly recompute (03:00) is due at every step
    clock.set(paid + timedelta(days=89, hours=19))  # lin and kai sleep; mei not yet
    await recompute(app)
    await buy(anon, clock, "o-5", "kai")  # kai comes back before the engine reads her event
    await tick(app)
    assert await entered(app) == [
        (key("new"), "mei"),
        (key("new"), "lin"),
        (key("new"), "kai"),
        (key("active"), "mei"),
        (key("sleeping"), "lin"),  # kai left sleeping before it was read: not her
        (key("active"), "kai"),
    ]
    await at_time(app, clock, paid + timedelta(days=90, hours=19))
    assert (await stage_events(app))[-1] == ("mei", "active", "sleeping")
    assert (await entered(app))[-1] == (key("sleeping"), "mei")
    await at_time(app, clock, paid + timedelta(days=91, hours=19))  # nothing moves: no entry
    assert len(await entered(app)) == 7
    await at_time(app, clock, paid + timedelta(days=180, hours=19))
    await at_time(app, clock, paid + timedelta(days=365, hours=19))
    await at_time(app, clock, paid + timedelta(days=366, hours=19))

    assert await stage_events(app) == [
        ("mei", None, "new"),
        ("lin", None, "new"),
        ("kai", None, "new"),
        ("mei", "new", "active"),
        ("lin", "new", "sleeping"),
        ("kai", "new", "sleeping"),
        ("kai", "sleeping", "active"),
        ("mei", "active", "sleeping"),
        ("mei", "sleeping", "at_risk"),
        ("lin", "sleeping", "at_risk"),
        ("kai", "active", "sleeping"),  # 90 days after her second order
        ("mei", "at_risk", "churned"),
        ("lin", "at_risk", "churned"),
        ("kai", "sleeping", "at_risk"),
    ]
    assert (await entered(app))[6:] == [
        (key("sleeping"), "mei"),
        (key("at_risk"), "mei"),
        (key("at_risk"), "lin"),
        (key("sleeping"), "kai"),
        (key("churned"), "mei"),
        (key("churned"), "lin"),
        (key("at_risk"), "kai"),
    ]
    messages = await timeline(app)
    assert len(messages) == 13  # each entry queued its journey's one message
    assert {template for _, template, _ in messages} == {"winback/gentle"}

    async with app.state.sessions() as session, session.begin():  # read the whole log again
        await move_cursor(session, consumer="journeys", position=0, now=clock.now())
    await tick(app)
    assert len(await entered(app)) == 13
    assert len(await timeline(app)) == 13


async def test_from_narrows_the_move_and_the_audience_reads_analytics(
    app: FastAPI, anon: httpx.AsyncClient, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    await recompute(app)
    rule = stage_journey("active", **{"from": "sleeping"})
    rule["audience"] = {"in": [{"var": "member.previous_stage"}, ["sleeping"]]}
    await create_active(client, rule)
    await buy(anon, clock, "o-1", "mei")
    clock.advance(days=3)
    await buy(anon, clock, "o-2", "mei")  # new -> active: not from sleeping
    await buy(anon, clock, "o-3", "lin")
    clock.set(clock.now() + timedelta(days=95))
    await recompute(app)  # both asleep
    await buy(anon, clock, "o-4", "lin")  # sleeping -> active: welcome back
    await tick(app)
    assert await entered(app) == [(key("active"), "lin")]
    dry = await client.post(f"/v1/journeys/{key('active')}/dry-run", json={"sample": 5})
    assert dry.status_code == 200, dry.text
    assert (dry.json()["members"], dry.json()["sample"]) == (1, ["lin"])
    any_move = stage_journey("any") | {"key": "any-move", "trigger": {"event": STAGE_CHANGED}}
    assert (await client.post("/v1/journeys", json=any_move)).status_code == 201
    dry = await client.post("/v1/journeys/any-move/dry-run", json={"sample": 5})
    assert (dry.json()["members"], dry.json()["sample"]) == (2, ["mei", "lin"])


@pytest.mark.parametrize(
    ("trigger", "loc", "fragment"),
    [
        ({"type": "stage", "stage": "dormant"}, ["body", "trigger", "stage"], "new"),
        ({"type": "stage", "stage": "new", "from": "asleep"}, ["body", "trigger", "from"], "new"),
        ({"type": "stage", "stage": "active", "from": "active"}, ["body", "trigger"], "same"),
        ({"type": "stage", "stage": "active", "days": 3}, ["body", "trigger", "days"], "extra"),
    ],
)
async def test_a_bad_stage_trigger_is_a_422_at_its_path(
    client: httpx.AsyncClient, trigger: dict[str, Any], loc: list[str], fragment: str
) -> None:
    rule = stage_journey("active") | {"trigger": trigger}
    response = await client.post("/v1/journeys", json=rule)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert any(d["loc"] == loc and fragment in d["msg"].lower() for d in detail), detail
