"""The generic HTTP SMS gateway against a real loopback server that misbehaves on demand."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator

import httpx
import pytest

from service.members.models import Channel
from service.messaging.gateways.base import (
    OutgoingMessage,
    PermanentError,
    RetryableError,
    UnknownOutcomeError,
)
from service.messaging.gateways.http_sms import HttpSmsGateway
from service.messaging.gateways.transport import GatewayTransport
from tests.gateway_server import FakeSmsGateway
from tests.loopback_http import LoopbackHttpServer

TOKEN = "Bearer gw-test-token"


def sms(key: str = "enrol-1:thanks") -> OutgoingMessage:
    return OutgoingMessage(
        idempotency_key=key,
        channel=Channel.SMS,
        to="+8613812345678",
        text="【回头】王小明，感谢您第一次光临！回T退订",
        template="new_customer/thanks",
    )


@pytest.fixture
def fake() -> FakeSmsGateway:
    return FakeSmsGateway(token=TOKEN)


@pytest.fixture
async def server(fake: FakeSmsGateway) -> AsyncIterator[LoopbackHttpServer]:
    server = await LoopbackHttpServer(fake).start()
    yield server
    await server.stop()


@pytest.fixture(params=["gateway_transport", "httpx_default"])
async def client(request: pytest.FixtureRequest) -> AsyncIterator[httpx.AsyncClient]:
    """Over the transport the service uses, and over httpx's own: the same behaviour."""
    limits = httpx.Limits(max_connections=10, max_keepalive_connections=10)
    transport = (
        GatewayTransport(limits=limits)
        if request.param == "gateway_transport"
        else httpx.AsyncHTTPTransport(limits=limits)
    )
    async with httpx.AsyncClient(timeout=httpx.Timeout(0.5), transport=transport) as client:
        yield client


def gateway(client: httpx.AsyncClient, server: LoopbackHttpServer, **kw: bool) -> HttpSmsGateway:
    return HttpSmsGateway(
        client, url=f"{server.url}/sms", auth_value=TOKEN, honours_idempotency=kw.get("idem", True)
    )


async def test_send_posts_json_with_auth_and_idempotency_key(
    fake: FakeSmsGateway, server: LoopbackHttpServer, client: httpx.AsyncClient
) -> None:
    receipt = await gateway(client, server).send(sms())
    assert receipt.provider_id == "gw-1"
    [request] = fake.requests
    assert request.method == "POST"
    assert request.path == "/sms"
    assert request.headers["authorization"] == TOKEN
    assert request.headers["idempotency-key"] == "enrol-1:thanks"
    assert request.headers["content-type"] == "application/json"
    body = json.loads(request.body)
    assert body["to"] == "+8613812345678"
    assert body["text"].startswith("【回头】")
    assert fake.delivered["enrol-1:thanks"] == 1


async def test_a_resend_with_the_same_key_is_delivered_once(
    fake: FakeSmsGateway, server: LoopbackHttpServer, client: httpx.AsyncClient
) -> None:
    gw = gateway(client, server)
    first, second = await gw.send(sms()), await gw.send(sms())
    assert first.provider_id == second.provider_id
    assert fake.attempts["enrol-1:thanks"] == 2
    assert fake.delivered["enrol-1:thanks"] == 1


@pytest.mark.parametrize(
    ("fault", "error", "retry_after"),
    [
        ("500", RetryableError, None),
        ("503", RetryableError, None),
        ("429", RetryableError, 7.0),
        ("400", PermanentError, None),
        ("422", PermanentError, None),
        ("drop", RetryableError, None),
        ("slow", RetryableError, None),
    ],
)
async def test_faults_map_to_the_error_taxonomy(
    fake: FakeSmsGateway,
    server: LoopbackHttpServer,
    client: httpx.AsyncClient,
    fault: str,
    error: type[Exception],
    retry_after: float | None,
) -> None:
    fake.faults.append(fault)
    with pytest.raises(error) as raised:
        await gateway(client, server).send(sms())
    if retry_after is not None:
        assert isinstance(raised.value, RetryableError)
        assert raised.value.retry_after == retry_after
    assert fake.delivered["enrol-1:thanks"] == 0


@pytest.mark.parametrize("fault", ["slow", "drop_after_delivery"])
async def test_without_idempotency_a_lost_answer_is_an_unknown_outcome(
    fake: FakeSmsGateway, server: LoopbackHttpServer, client: httpx.AsyncClient, fault: str
) -> None:
    fake.faults.append(fault)
    with pytest.raises(UnknownOutcomeError):
        await gateway(client, server, idem=False).send(sms())


async def test_retry_after_a_lost_answer_delivers_once_when_the_gateway_dedupes(
    fake: FakeSmsGateway, server: LoopbackHttpServer, client: httpx.AsyncClient
) -> None:
    fake.faults.append("drop_after_delivery")
    gw = gateway(client, server)
    with pytest.raises(RetryableError):
        await gw.send(sms())
    await gw.send(sms())
    assert fake.delivered["enrol-1:thanks"] == 1


async def test_a_closed_port_is_retryable(client: httpx.AsyncClient) -> None:
    # bound but not listening: connections are refused, and no other process can take the port
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        gw = HttpSmsGateway(client, url=f"http://127.0.0.1:{port}/sms", honours_idempotency=False)
        with pytest.raises(RetryableError, match="ConnectError"):
            await gw.send(sms())


async def test_a_wrong_token_is_permanent(
    server: LoopbackHttpServer, client: httpx.AsyncClient
) -> None:
    gw = HttpSmsGateway(client, url=f"{server.url}/sms", auth_value="Bearer wrong")
    with pytest.raises(PermanentError, match="401"):
        await gw.send(sms())


async def test_a_connection_the_server_closed_while_idle_is_not_reused(
    fake: FakeSmsGateway, server: LoopbackHttpServer, client: httpx.AsyncClient
) -> None:
    gw = gateway(client, server)
    await gw.send(sms("first"))  # leaves a keep-alive connection in the pool
    await server.stop()  # closes it from the server's side
    again = await LoopbackHttpServer(fake).start(server.port)
    try:
        receipt = await gw.send(sms("second"))
    finally:
        await again.stop()
    assert receipt.provider_id == "gw-2"
    assert fake.delivered == {"first": 1, "second": 1}


async def test_many_concurrent_sends_share_the_pool(
    fake: FakeSmsGateway, server: LoopbackHttpServer, client: httpx.AsyncClient
) -> None:
    gw = gateway(client, server)
    receipts = await asyncio.gather(*(gw.send(sms(f"k{n}")) for n in range(50)))
    assert len({r.provider_id for r in receipts}) == 50
    assert sum(fake.delivered.values()) == 50
