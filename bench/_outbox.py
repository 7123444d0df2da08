"""What the dispatch benchmark is made of: loopback servers in their own processes, seeding,
a timed dispatcher, and the plain httpx loop it is compared with."""

from __future__ import annotations

import asyncio
import json
import os
import resource
import socket
import subprocess
import time
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
import uvloop
from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service import PROJECT_ROOT
from service.clock import FakeClock
from service.db import make_engine, make_sessionmaker
from service.instance import InstanceSecrets, load_secrets
from service.members.models import Channel, Member
from service.messaging import service as template_service
from service.messaging.gateways import Gateways, open_gateways
from service.messaging.gateways.base import Gateway, OutgoingMessage, Receipt
from service.messaging.outbox import Message, MessageStatus
from service.messaging.policies import Purpose
from service.messaging.render import renderer_for
from service.messaging.setup import build_dispatcher
from service.settings import Settings

AT = datetime(2026, 6, 18, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai: no quiet hours
CONCURRENCY = 8
SMS_TEMPLATE, EMAIL_TEMPLATE = "new_customer/thanks", "new_customer/care"
T = TypeVar("T")


def in_loop(main: Coroutine[Any, Any, T]) -> T:
    """Run `main` in the kind of event loop the service's dispatcher runs in: uvicorn's, which
    is uvloop (installed with uvicorn[standard]). Ours and the plain loop both run in it."""
    return uvloop.run(main)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def server_process(*command: str, port: int) -> Iterator[subprocess.Popen[bytes]]:
    """A server in its own process, from when it accepts connections on `port`."""
    process = subprocess.Popen(command, cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL)
    try:
        _wait_for_port(port)
        yield process
    finally:
        process.terminate()
        process.wait(timeout=10)


@dataclass(frozen=True)
class Servers:
    gateway_url: str
    smtp_port: int

    @property
    def gateway_port(self) -> int:
        return int(self.gateway_url.rsplit(":", 1)[1])


def settings_for(url: str, servers: Servers, **extra: Any) -> Settings:
    return Settings(
        database_url=url,
        brand="回头",
        public_url="https://shop.example",
        sms_gateway="http",
        sms_http_url=f"{servers.gateway_url}/sms",
        email_gateway="smtp",
        smtp_port=servers.smtp_port,
        smtp_starttls=False,
        dispatch_concurrency=CONCURRENCY,
        dispatch_batch=500,
        **extra,
    )


def member_rows(count: int, *, prefix: str, block: int) -> list[dict[str, Any]]:
    return [
        {
            "external_id": f"{prefix}{n}",
            "name": f"会员{n}",
            "phone": f"+8613{block}{n:08d}",  # new contacts each round: no duplicate copy
            "email": f"member{block}-{n}@example.com",
            "created_at": AT,
            "updated_at": AT,
        }
        for n in range(count)
    ]


def message_row(member_id: int, *, prefix: str, channel: Channel) -> dict[str, Any]:
    return {
        "idempotency_key": f"{prefix}:{member_id}",
        "member_id": member_id,
        "channel": channel,
        "template": SMS_TEMPLATE if channel is Channel.SMS else EMAIL_TEMPLATE,
        "purpose": Purpose.MARKETING,
        "send_after_at": AT,
        "created_at": AT,
        "updated_at": AT,
    }


async def seed(
    settings: Settings, count: int, *, channel: Channel, prefix: str, block: int = 0
) -> None:
    """`count` members, each with one due message; the shipped templates loaded."""
    engine = make_engine(settings.database_url)
    sessions = make_sessionmaker(engine)
    async with sessions() as session, session.begin():
        members = member_rows(count, prefix=prefix, block=block)
        for at in range(0, count, 5000):
            await session.execute(insert(Member), members[at : at + 5000])
        ids = await session.execute(
            select(Member.id).where(Member.external_id.like(f"{prefix}%")).order_by(Member.id)
        )
        rows = [message_row(member_id, prefix=prefix, channel=channel) for (member_id,) in ids]
        for at in range(0, count, 5000):
            await session.execute(insert(Message), rows[at : at + 5000])
    renderer = renderer_for(settings)
    await template_service.load_shipped_templates(
        sessions, renderer=renderer, settings=settings, now=AT
    )
    await engine.dispose()


class TimedGateway:
    """A gateway that notes when each send starts, to measure the rate the limiter holds."""

    def __init__(self, inner: Gateway) -> None:
        self.inner, self.name, self.channel = inner, inner.name, inner.channel
        self.honours_idempotency = inner.honours_idempotency
        self.starts: list[float] = []

    async def send(self, message: OutgoingMessage) -> Receipt:
        self.starts.append(time.perf_counter())
        return await self.inner.send(message)


@dataclass
class Run:
    seconds: float
    cpu_seconds: float  # this process, and the database server's backends that served it
    report: dict[str, int]
    starts: list[float]

    def send_rate(self) -> float:
        """Sends per second between the first and the last send."""
        return (len(self.starts) - 1) / (self.starts[-1] - self.starts[0])


def cpu_now() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class NullGateway:
    """Accepts at once: what the dispatcher itself costs, without any HTTP."""

    name, honours_idempotency = "null", True

    def __init__(self, channel: Channel) -> None:
        self.channel = channel

    async def send(self, message: OutgoingMessage) -> Receipt:
        return Receipt(self.name, message.idempotency_key)


async def dispatch(settings: Settings, *, null: bool = False) -> Run:
    """Send everything due through one dispatcher, timed."""
    engine = make_engine(settings.database_url, pool_size=4)
    sessions = make_sessionmaker(engine)
    clock = FakeClock(AT)
    async with sessions() as session, session.begin():
        secrets: InstanceSecrets = await load_secrets(session, now=AT)
    async with open_gateways(settings, clock) as opened:
        inner: tuple[Gateway, Gateway] = (
            (NullGateway(Channel.SMS), NullGateway(Channel.EMAIL))
            if null
            else (opened.sms, opened.email)
        )
        sms, email = TimedGateway(inner[0]), TimedGateway(inner[1])
        dispatcher = build_dispatcher(
            sessions=sessions,
            clock=clock,
            settings=settings,
            instance=secrets,
            gateways=Gateways(sms=sms, email=email),
            renderer=renderer_for(settings),
            worker="bench",
        )
        started, cpu = time.perf_counter(), cpu_now()
        report = await dispatcher.run()
        elapsed, cpu = time.perf_counter() - started, cpu_now() - cpu
    cpu += await database_cpu(sessions)
    await engine.dispose()
    return Run(elapsed, cpu, report, sorted(sms.starts + email.starts))


async def database_cpu(sessions: async_sessionmaker[AsyncSession]) -> float:
    """CPU seconds of the PostgreSQL backends serving this database (all opened by this run);
    SQLite works inside this process and is counted there already."""
    async with sessions() as session:
        if session.get_bind().dialect.name != "postgresql":
            return 0.0
        pids = await session.scalars(
            text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        )
        return sum(process_cpu(pid) for pid in pids)


def process_cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0  # another host, or gone
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def sent_bodies(url: str, prefix: str) -> list[dict[str, str]]:
    """The requests the dispatcher sent, to replay through the plain loop under new keys."""
    engine = make_engine(url)
    async with make_sessionmaker(engine)() as session:
        rows = await session.execute(
            select(Member.phone, Message.body, Message.template, Message.idempotency_key)
            .join(Member, Member.id == Message.member_id)
            .where(Message.idempotency_key.like(f"{prefix}:%"))
        )
        bodies = [
            {"to": p or "", "text": b or "", "template": t, "locale": "zh-CN", "key": f"plain-{k}"}
            for p, b, t, k in rows
        ]
    await engine.dispose()
    return bodies


async def plain_loop(gateway_url: str, bodies: list[dict[str, str]]) -> tuple[float, float]:
    """The baseline: the same POSTs, CONCURRENCY at a time, with nothing around them."""
    queue: asyncio.Queue[dict[str, str]] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)

    async with httpx.AsyncClient(timeout=httpx.Timeout(10), limits=limits) as client:

        async def worker() -> None:
            while not queue.empty():
                body = queue.get_nowait()
                payload = {
                    "to": body["to"],
                    "text": body["text"],
                    "template": body["template"],
                    "locale": body["locale"],
                    "idempotency_key": body["key"],
                }
                response = await client.post(
                    f"{gateway_url}/sms", json=payload, headers={"Idempotency-Key": body["key"]}
                )
                response.raise_for_status()

        started, cpu = time.perf_counter(), cpu_now()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        return time.perf_counter() - started, cpu_now() - cpu


async def raw_loop(port: int, bodies: list[dict[str, str]]) -> tuple[float, float]:
    """The server's ceiling: the same POSTs over CONCURRENCY keep-alive connections, written
    and parsed by hand on asyncio streams, with no HTTP library at all."""
    queue: asyncio.Queue[dict[str, str]] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)

    async def worker() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while not queue.empty():
            body = queue.get_nowait()
            key = f"raw-{body['key']}"
            payload = {k: body[k] for k in ("to", "text", "template", "locale")}
            content = json.dumps({**payload, "idempotency_key": key}).encode()
            writer.write(
                b"POST /sms HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                + f"Idempotency-Key: {key}\r\nContent-Length: {len(content)}\r\n\r\n".encode()
                + content
            )
            head = (await reader.readuntil(b"\r\n\r\n")).decode().lower()
            assert head.startswith("http/1.1 200"), head
            await reader.readexactly(int(head.split("content-length:")[1].split("\r\n")[0]))
        writer.close()

    started, cpu = time.perf_counter(), cpu_now()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return time.perf_counter() - started, cpu_now() - cpu


async def count_sent(url: str) -> int:
    engine = make_engine(url)
    async with make_sessionmaker(engine)() as session:
        found = await session.scalar(
            select(func.count()).where(Message.status == MessageStatus.SENT)
        )
    await engine.dispose()
    return int(found or 0)


async def stats(gateway_url: str) -> dict[str, dict[str, int]]:
    async with httpx.AsyncClient() as client:
        data: dict[str, dict[str, int]] = (await client.get(f"{gateway_url}/_stats")).json()
        return data


def _wait_for_port(port: int) -> None:
    for _ in range(400):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.1):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")
