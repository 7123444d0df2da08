"""Messages per second through the dispatcher to a loopback HTTP SMS gateway in another process,
against a plain async httpx loop sending the same requests (same bodies, same concurrency) to the
same server; a per-gateway rate limit held; SMTP to aiosmtpd as a figure.

`python -m bench dispatch [--quick]`: five rounds of 10,000 messages per database (2,000 with
--quick), each to its own member, through the whole path: claim, facts, render, compose, send,
record; each round is followed by the plain loop on the very requests it sent, and the medians
are reported (a shared machine's load moves both alike). `cpu_ratio` compares CPU seconds per
message instead (ours: this process plus the PostgreSQL backends that served it), which a busy
machine disturbs less than wall-clock rates. The rate limit is set to 500/s, or to
half of what the plain loop reached when the machine cannot do more, so that the limiter, not
the machine, holds the rate.
"""

from __future__ import annotations

import asyncio
import os
import resource
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bench.common import BenchOptions, fresh_database, result_line
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
RATE = 500.0
SMS_TEMPLATE, EMAIL_TEMPLATE = "new_customer/thanks", "new_customer/care"


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


async def dispatch(settings: Settings) -> Run:
    """Send everything due through one dispatcher, timed."""
    engine = make_engine(settings.database_url, pool_size=4)
    sessions = make_sessionmaker(engine)
    clock = FakeClock(AT)
    async with sessions() as session, session.begin():
        secrets: InstanceSecrets = await load_secrets(session, now=AT)
    async with open_gateways(settings, clock) as opened:
        sms, email = TimedGateway(opened.sms), TimedGateway(opened.email)
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


def measure_throughput(kind: str, options: BenchOptions, servers: Servers) -> float:
    """Rounds of ours then the plain loop on the same requests; medians. The plain rate."""
    count, rounds = (2_000, 5) if options.quick else (10_000, 5)
    url = fresh_database(kind, "dispatch", options)
    settings = settings_for(url, servers)
    ours: list[Run] = []
    plain: list[tuple[float, float]] = []
    for round_ in range(rounds):
        prefix = f"t{round_}-"
        asyncio.run(seed(settings, count, channel=Channel.SMS, prefix=prefix, block=round_))
        run = asyncio.run(dispatch(settings))
        assert run.report.get("sent") == count, run.report
        ours.append(run)
        plain.append(
            asyncio.run(plain_loop(servers.gateway_url, asyncio.run(sent_bodies(url, prefix))))
        )
    assert asyncio.run(count_sent(url)) == count * rounds
    delivered = asyncio.run(stats(servers.gateway_url))["delivered"]
    assert max(delivered.values()) == 1
    ours_s = statistics.median(r.seconds for r in ours)
    plain_s = statistics.median(p[0] for p in plain)
    ours_cpu = statistics.median(r.cpu_seconds for r in ours)
    plain_cpu = statistics.median(p[1] for p in plain)
    result_line(
        f"dispatch_{kind}",
        ratio=statistics.median(p[0] / r.seconds for r, p in zip(ours, plain, strict=True)),
        target=">=0.7",
        messages_per_s=count / ours_s,
        plain_per_s=count / plain_s,
        cpu_ratio=plain_cpu / ours_cpu,
        cpu_ms_per_message=ours_cpu / count * 1000,
        plain_cpu_ms_per_message=plain_cpu / count * 1000,
        messages=count,
        rounds=rounds,
        concurrency=CONCURRENCY,
    )
    return count / plain_s


def measure_rate_limit(kind: str, options: BenchOptions, servers: Servers, rate: float) -> None:
    """A configured SMS rate, below what the machine can send, held by the limiter."""
    count = max(500, int(rate * (10 if options.quick else 30)))
    url = fresh_database(kind, "dispatch_rate", options)
    settings = settings_for(url, servers, sms_rate_per_second=rate)
    asyncio.run(seed(settings, count, channel=Channel.SMS, prefix="r"))
    run = asyncio.run(dispatch(settings))
    assert run.report.get("sent") == count, run.report
    measured = run.send_rate()
    result_line(
        "dispatch_rate_limit",
        ratio=measured / rate,
        target="<=1.05",
        low=">=0.95",
        configured_per_s=rate,
        measured_per_s=measured,
        messages=count,
        database=kind,
    )


def measure_smtp(kind: str, options: BenchOptions, servers: Servers) -> None:
    count = 1_000 if options.quick else 5_000
    url = fresh_database(kind, "dispatch_smtp", options)
    settings = settings_for(url, servers, smtp_pool_size=CONCURRENCY)
    asyncio.run(seed(settings, count, channel=Channel.EMAIL, prefix="e"))
    run = asyncio.run(dispatch(settings))
    assert run.report.get("sent") == count, run.report
    result_line(
        "dispatch_smtp",
        ratio=1.0,
        target="figure",
        messages_per_s=count / run.seconds,
        cpu_ms_per_message=run.cpu_seconds / count * 1000,
        messages=count,
        smtp_connections=CONCURRENCY,
        database=kind,
    )


def run(options: BenchOptions) -> None:
    gateway_port, smtp_port = free_port(), free_port()
    gateway = (sys.executable, "-m", "tests.gateway_server", "--port", str(gateway_port))
    sink = (
        sys.executable, "-m", "aiosmtpd", "-n", "-c", "aiosmtpd.handlers.Sink",
        "-l", f"127.0.0.1:{smtp_port}",
    )  # fmt: skip
    with server_process(*gateway, port=gateway_port), server_process(*sink, port=smtp_port):
        servers = Servers(f"http://127.0.0.1:{gateway_port}", smtp_port)
        plain_rates = [measure_throughput(kind, options, servers) for kind in options.databases]
        kind = "postgresql" if "postgresql" in options.databases else options.databases[0]
        # the limiter must be what holds the rate back, not the machine: at most half of it
        rate = float(min(RATE, 10 * int(min(plain_rates) / 20)))
        measure_rate_limit(kind, options, servers, max(rate, 10.0))
        measure_smtp(kind, options, servers)


def _wait_for_port(port: int) -> None:
    for _ in range(400):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.1):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")
