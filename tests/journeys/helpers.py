"""Driving journeys in tests: post orders, run the engine at the fake clock, read the outbox."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from service.clock import FakeClock
from service.job_context import JobContext
from service.journeys.jobs import journey_advance, journey_events, journey_time_triggers
from service.journeys.models import Enrolment
from service.messaging.dispatcher import Dispatcher
from service.messaging.outbox import Message
from service.messaging.setup import build_dispatcher
from service.scheduler import PeriodicJob, run_once
from tests.factories import signed

ENGINE_JOBS = [
    PeriodicJob("journey_events", timedelta(seconds=5), journey_events),
    PeriodicJob("journey_time_triggers", timedelta(minutes=1), journey_time_triggers),
    PeriodicJob("journey_advance", timedelta(seconds=5), journey_advance),
]


async def tick(app: FastAPI) -> dict[str, object]:
    """Run the engine's jobs once as of the fake clock (what `huitou tick` does, minus sending)."""
    state = app.state
    return await run_once(
        JobContext(state.sessions, state.clock, state.settings, state.secrets), ENGINE_JOBS
    )


def app_dispatcher(app: FastAPI, *, worker: str = "w-1") -> Dispatcher:
    """The dispatcher the app's scheduler runs: its sessions, clock, gateways and renderer."""
    state = app.state
    return build_dispatcher(
        sessions=state.sessions,
        clock=state.clock,
        settings=state.settings,
        instance=state.secrets,
        gateways=state.gateways,
        renderer=state.renderer,
        worker=worker,
    )


async def post_order(
    anon: httpx.AsyncClient, clock: FakeClock, payload: dict[str, Any], msg_id: str
) -> httpx.Response:
    body, headers = signed(payload, now=clock.now(), msg_id=msg_id)
    response = await anon.post("/v1/webhooks/orders", content=body, headers=headers)
    assert response.status_code == 200, response.text
    return response


async def create_active(client: httpx.AsyncClient, rule: dict[str, Any]) -> dict[str, Any]:
    created = await client.post("/v1/journeys", json=rule)
    assert created.status_code == 201, created.text
    activated = await client.post(f"/v1/journeys/{rule['key']}/activate")
    assert activated.status_code == 200, activated.text
    body: dict[str, Any] = activated.json()
    return body


async def outbox(app: FastAPI) -> list[Message]:
    async with app.state.sessions() as session:
        return list(await session.scalars(select(Message).order_by(Message.id)))


async def enrolments(app: FastAPI) -> list[Enrolment]:
    async with app.state.sessions() as session:
        return list(await session.scalars(select(Enrolment).order_by(Enrolment.id)))
