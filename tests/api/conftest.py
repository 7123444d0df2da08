"""One app per test module, for long tables of requests that write nothing (or nothing shared).

A module opts in with `pytestmark = pytest.mark.asyncio(loop_scope="module")`: starting the app
(migrations are already run, but shipped templates are loaded and checked) costs a quarter of a
second, and a table of a few hundred requests should not pay it per row.
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest_asyncio
from fastapi import FastAPI

from service.app import create_app
from service.clock import FakeClock
from service.db import make_engine
from service.keys.models import Scope
from service.settings import Settings
from tests.conftest import START, truncate_all
from tests.factories import ADMIN_KEY, WEBHOOK_SECRET


def api_settings(database_url: str) -> Settings:
    """The same settings as the function-scoped `settings` fixture."""
    return Settings(
        database_url=database_url,
        admin_api_key=ADMIN_KEY,
        webhook_secrets=WEBHOOK_SECRET,
        shopify_secret="shpss_test_secret_0123456789",
        woocommerce_secret="wc_test_secret_0123456789",
        scheduler_enabled=False,
        max_body_bytes=64_000,
        outbox_dir=str(Path(tempfile.gettempdir()) / "huitou-api-tests-outbox"),
    )


@dataclass(frozen=True)
class SharedApi:
    app: FastAPI
    clock: FakeClock
    settings: Settings
    keys: dict[Scope, str]  # a bearer token holding exactly this one scope

    def client(self, token: str | None = None) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        transport = httpx.ASGITransport(app=self.app)
        return httpx.AsyncClient(transport=transport, base_url="http://test", headers=headers)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shared_api(database_url: str) -> AsyncIterator[SharedApi]:
    settings, clock = api_settings(database_url), FakeClock(START)
    engine = make_engine(database_url)
    await truncate_all(engine)
    app = create_app(settings, clock, migrate=False)
    async with app.router.lifespan_context(app):
        keys: dict[Scope, str] = {Scope.ADMIN: ADMIN_KEY}
        async with SharedApi(app, clock, settings, {}).client(ADMIN_KEY) as admin:
            for scope in (Scope.MARKETER, Scope.INGEST):
                created = await admin.post("/v1/keys", json={"name": scope, "scopes": [scope]})
                keys[scope] = created.json()["key"]
        yield SharedApi(app, clock, settings, keys)
    await truncate_all(engine)
    await engine.dispose()
