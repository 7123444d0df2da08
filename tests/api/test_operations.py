"""What an operator watches: liveness, readiness, Prometheus metrics and JSON request logs."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator

import httpx
import pytest
from alembic import command
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from service.clock import FakeClock
from service.db import is_sqlite, make_engine, make_sync_engine
from service.logs import JsonFormatter
from service.migrate import alembic_config, head_revisions
from tests.factories import order_payload, signed


async def test_healthz(anon: httpx.AsyncClient) -> None:
    response = await anon.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


async def test_readyz_at_head(anon: httpx.AsyncClient, database_url: str) -> None:
    response = await anon.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "revision": sorted(head_revisions(database_url))}


def _migrate(database_url: str, target: str) -> None:
    engine = make_sync_engine(database_url)
    try:
        with engine.begin() as connection:
            config = alembic_config(database_url)
            config.attributes["connection"] = connection
            (command.upgrade if target == "head" else command.downgrade)(config, target)
    finally:
        engine.dispose()


async def test_readyz_is_503_while_the_schema_is_behind(
    anon: httpx.AsyncClient, database_url: str
) -> None:
    await asyncio.to_thread(_migrate, database_url, "-1")
    try:
        response = await anon.get("/readyz")
    finally:
        await asyncio.to_thread(_migrate, database_url, "head")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "migrating"
    assert body["head"] == sorted(head_revisions(database_url))
    assert body["current"] != body["head"]
    assert (await anon.get("/readyz")).status_code == 200


async def test_readyz_is_503_when_the_database_is_unreachable(
    anon: httpx.AsyncClient, app: FastAPI, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    unreachable = (
        "sqlite+aiosqlite:////nonexistent-directory/huitou.db"
        if is_sqlite(database_url)
        else "postgresql+psycopg://postgres@127.0.0.1:1/huitou"  # nothing listens on port 1
    )
    engine = make_engine(unreachable)
    monkeypatch.setattr(app.state, "engine", engine)
    try:
        response = await anon.get("/readyz")
    finally:
        await engine.dispose()
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "reason": "OperationalError"}


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def test_metrics_count_requests_orders_and_committed_events(
    anon: httpx.AsyncClient, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    payload = order_payload(created_at=clock.now())
    for msg_id, status in (("w1", "paid"), ("w1", "paid"), ("w2", "created")):
        body, headers = signed({**payload, "status": status}, now=clock.now(), msg_id=msg_id)
        assert (await anon.post("/v1/webhooks/orders", content=body, headers=headers)).is_success
    bad = order_payload("o-2", member="m-2", created_at=clock.now())
    bad["member"]["phone"] = "12"  # refused after m-2 was inserted: that transaction rolls back
    assert (await client.post("/v1/orders/batch", json={"orders": [bad]})).status_code == 422

    response = await anon.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    got = samples(response.text)
    route = frozenset({("method", "POST"), ("route", "/v1/webhooks/orders")})
    assert got["huitou_http_requests_total", route | {("status", "200")}] == 3
    assert got["huitou_http_request_duration_seconds_count", route] == 3
    assert got["huitou_http_request_duration_seconds_sum", route] > 0
    batch = frozenset({("method", "POST"), ("route", "/v1/orders/batch"), ("status", "422")})
    assert got["huitou_http_requests_total", batch] == 1
    # the replay and the stale "created" applied nothing
    assert got["huitou_orders_ingested_total", frozenset({("platform", "native")})] == 1
    events = {
        dict(labels)["type"]: value
        for (name, labels), value in got.items()
        if name == "huitou_events_written_total"
    }
    assert events == {"member.created": 1, "order.created": 1, "order.paid": 1}


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    """What the service logs, formatted as in production."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("huitou")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield stream
    logger.removeHandler(handler)
    logger.setLevel(level)


async def test_log_lines_carry_the_request_id_and_no_contact(
    client: httpx.AsyncClient, log_output: io.StringIO
) -> None:
    phone, email = "13812345678", "wang.xiaoming@example.com"
    put = await client.put(
        f"/v1/members/{phone}",
        json={"phone": phone, "email": email},
        headers={"X-Request-Id": "req-42"},
    )
    assert put.status_code == 201
    assert put.headers["x-request-id"] == "req-42"
    missing = await client.get(f"/v1/nowhere/+86{phone}/{email}")
    assert missing.status_code == 404
    generated = missing.headers["x-request-id"]
    assert len(generated) == 32

    lines = [json.loads(line) for line in log_output.getvalue().splitlines()]
    access = [line for line in lines if line["logger"] == "huitou.http"]
    assert [(a["request_id"], a["msg"], a["status"]) for a in access] == [
        ("req-42", "PUT /v1/members/{external_id} 201", 201),
        (generated, "GET unmatched 404", 404),
    ]
    assert all(a["level"] == "info" and a["duration_ms"] >= 0 for a in access)
    output = log_output.getvalue()
    for secret in (phone, email, "wang.xiaoming", "1234"):
        assert secret not in output
