"""Dispatcher fixtures: a loopback SMS gateway server, the gateways over it, and a harness."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.clock import FakeClock
from service.instance import load_secrets
from service.members.models import Channel
from service.messaging.gateways import Gateways
from service.messaging.gateways.http_sms import HttpSmsGateway
from service.messaging.gateways.local_file import LocalFileGateway, LocalOutbox
from service.messaging.gateways.transport import GatewayTransport
from service.messaging.render import Renderer
from service.settings import Settings
from tests.dispatch.kit import Harness, add_template
from tests.gateway_server import FakeSmsGateway
from tests.loopback_http import LoopbackHttpServer


@pytest.fixture
def fake() -> FakeSmsGateway:
    return FakeSmsGateway()


@pytest.fixture
async def server(fake: FakeSmsGateway) -> AsyncIterator[LoopbackHttpServer]:
    server = await LoopbackHttpServer(fake).start()
    yield server
    if server._server is not None and server._server.is_serving():
        await server.stop()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    """The client the service's gateways use: over the gateway transport (see open_gateways)."""
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
    transport = GatewayTransport(limits=limits)
    async with httpx.AsyncClient(timeout=httpx.Timeout(0.3), transport=transport) as client:
        yield client


@pytest.fixture
def renderer() -> Renderer:
    return Renderer()


@pytest.fixture
def dispatch_settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        brand="回头",
        public_url="https://shop.example",
        scheduler_enabled=False,
        gateway_timeout_seconds=0.3,
        outbox_dir=str(tmp_path / "outbox"),
    )


@pytest.fixture
async def harness(
    sessions: async_sessionmaker[AsyncSession],
    clock: FakeClock,
    dispatch_settings: Settings,
    server: LoopbackHttpServer,
    http: httpx.AsyncClient,
    renderer: Renderer,
    tmp_path: Path,
) -> Harness:
    async with sessions() as session, session.begin():
        secrets = await load_secrets(session, now=clock.now())
        await add_template(session, renderer, now=clock.now())
    local = LocalOutbox(tmp_path / "outbox", clock=clock, zone=dispatch_settings.zone)
    gateways = Gateways(
        sms=HttpSmsGateway(http, url=f"{server.url}/sms"),
        email=LocalFileGateway(local, channel=Channel.EMAIL),
    )
    return Harness(sessions, clock, dispatch_settings, secrets, gateways, renderer)
