"""Property-based requests to every operation of /openapi.json: no 5xx, responses match schemas.

Schemathesis runs the ASGI app (and its lifespan) on its own event loop thread, so these tests
are synchronous. Webhooks get no valid signature here; they must answer 401, not fail.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.python.asgi import get_client, shutdown_lifespans
from schemathesis.specs.openapi.checks import response_schema_conformance

from service.app import create_app
from service.clock import FakeClock
from service.db import make_engine
from tests.api.conftest import api_settings
from tests.conftest import START, truncate_all
from tests.factories import ADMIN_KEY

# 30 finds what 20 did not (a NUL in text on PostgreSQL, naive datetimes, cursor overflow),
# in about half a minute per database on an idle machine; raise it for a deeper run.
EXAMPLES_PER_OPERATION = int(os.environ.get("HUITOU_FUZZ_EXAMPLES", "30"))


async def _empty(database_url: str) -> None:
    engine = make_engine(database_url)
    await truncate_all(engine)
    await engine.dispose()


# The document is the same whatever the database; only the app answering it differs.
schema = schemathesis.openapi.from_dict(create_app(api_settings("sqlite+aiosqlite://")).openapi())


@pytest.fixture(scope="module")
def live_app(database_url: str) -> Iterator[FastAPI]:
    asyncio.run(_empty(database_url))
    app = create_app(api_settings(database_url), FakeClock(START), migrate=False)
    with get_client(app):  # runs the lifespan on schemathesis's event loop thread
        pass
    yield app
    shutdown_lifespans()
    asyncio.run(_empty(database_url))


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,  # the same cases every run: a failure here is reproducible
)
def test_every_operation(case: schemathesis.Case, live_app: FastAPI) -> None:
    case.call_and_validate(
        app=live_app,
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        checks=[not_a_server_error, response_schema_conformance],
    )
