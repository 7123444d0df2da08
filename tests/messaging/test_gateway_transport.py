"""The gateways' transport over TLS, as real SMS providers are reached: verified, or refused."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator

import httpx
import pytest
import trustme

from service.members.models import Channel
from service.messaging.gateways.base import OutgoingMessage, RetryableError
from service.messaging.gateways.http_sms import HttpSmsGateway
from service.messaging.gateways.transport import GatewayTransport
from tests.gateway_server import FakeSmsGateway
from tests.loopback_http import LoopbackHttpServer

LIMITS = httpx.Limits(max_connections=4, max_keepalive_connections=4)


@pytest.fixture
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
async def tls_server(ca: trustme.CA, fake: FakeSmsGateway) -> AsyncIterator[LoopbackHttpServer]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    server = await LoopbackHttpServer(fake).start(tls=context)
    yield server
    await server.stop()


@pytest.fixture
def fake() -> FakeSmsGateway:
    return FakeSmsGateway()


def sms(key: str) -> OutgoingMessage:
    return OutgoingMessage(
        idempotency_key=key, channel=Channel.SMS, to="+8613812345678", text="【回头】您好",
        template="new_customer/thanks",
    )  # fmt: skip


async def test_sends_over_verified_tls_and_reuses_the_connection(
    ca: trustme.CA, tls_server: LoopbackHttpServer, fake: FakeSmsGateway
) -> None:
    trusted = ssl.create_default_context()
    ca.configure_trust(trusted)
    transport = GatewayTransport(limits=LIMITS, ssl_context=trusted)
    async with httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(2)) as client:
        gateway = HttpSmsGateway(client, url=f"{tls_server.url}/sms")
        first, second = await gateway.send(sms("a")), await gateway.send(sms("b"))
    assert tls_server.url.startswith("https://")
    assert (first.provider_id, second.provider_id) == ("gw-1", "gw-2")
    assert fake.delivered == {"a": 1, "b": 1}


async def test_a_certificate_nobody_vouches_for_is_refused_before_sending(
    tls_server: LoopbackHttpServer, fake: FakeSmsGateway
) -> None:
    transport = GatewayTransport(limits=LIMITS)  # the usual CAs: not this test's own
    async with httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(2)) as client:
        gateway = HttpSmsGateway(client, url=f"{tls_server.url}/sms", honours_idempotency=False)
        with pytest.raises(RetryableError, match="ConnectError"):  # never sent: safe to retry
            await gateway.send(sms("a"))
    assert fake.attempts == {}


async def test_the_request_on_the_wire_is_the_one_httpx_built(fake: FakeSmsGateway) -> None:
    server = await LoopbackHttpServer(fake).start()
    try:
        async with httpx.AsyncClient(transport=GatewayTransport(limits=LIMITS)) as client:
            await HttpSmsGateway(client, url=f"{server.url}/sms?x=%E5%9B%9E").send(sms("a"))
    finally:
        await server.stop()
    [request] = fake.requests
    assert request.path == "/sms?x=%E5%9B%9E"  # sent as httpx encoded it, not re-quoted
    assert request.headers["user-agent"].startswith("python-httpx/")  # not aiohttp's as well
    assert request.headers["content-length"] == str(len(request.body))
    assert request.headers["idempotency-key"] == "a"


async def test_waiting_past_the_pool_timeout_for_a_connection_is_safe_to_retry(
    fake: FakeSmsGateway,
) -> None:
    """The only connection is held by an unanswered send: the next never leaves."""
    server = await LoopbackHttpServer(fake).start()
    fake.faults.append("slow")
    one = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    timeout = httpx.Timeout(5, connect=0.1, pool=0.1)  # aiohttp waits their sum in all
    try:
        async with httpx.AsyncClient(transport=GatewayTransport(limits=one), timeout=timeout) as c:
            gateway = HttpSmsGateway(c, url=f"{server.url}/sms", honours_idempotency=False)
            held = asyncio.ensure_future(gateway.send(sms("held")))
            await asyncio.sleep(0.05)  # let the first request take the connection
            with pytest.raises(RetryableError, match="ConnectTimeout"):
                await gateway.send(sms("waited"))
            held.cancel()
    finally:
        await server.stop()
    assert "waited" not in fake.attempts


@pytest.mark.parametrize(("keep", "expiry", "connections"), [(4, 5.0, 1), (4, 0.0, 3), (0, 5.0, 3)])
async def test_keep_alive_follows_the_limits(
    fake: FakeSmsGateway, keep: int, expiry: float, connections: int
) -> None:
    server = await LoopbackHttpServer(fake).start()
    limits = httpx.Limits(
        max_connections=4, max_keepalive_connections=keep, keepalive_expiry=expiry
    )
    try:
        async with httpx.AsyncClient(transport=GatewayTransport(limits=limits)) as client:
            gateway = HttpSmsGateway(client, url=f"{server.url}/sms")
            for key in "abc":
                await gateway.send(sms(key))
    finally:
        await server.stop()
    assert server.connections == connections
    assert fake.delivered == {"a": 1, "b": 1, "c": 1}
