"""Single-order webhook ingest through the real server process, against a plain INSERT.

`python -m bench ingest [--quick]`: uvicorn serves our app (bench.ingest_app) on a fresh database;
this process is the load generator. Ours is `POST /v1/webhooks/orders` (signature, validation,
member, order, items, stats, events, one transaction); the baseline is a route in the same app,
behind the same middleware and session, that inserts the same order row with one INSERT.

The two are loaded in alternating slices (ours, baseline, baseline, ours, …) after a warm-up of
each, so drift on a shared machine and the growing tables weigh on both alike. `cpu_ratio`
compares the server side's CPU per order instead (the server process, and on PostgreSQL the
backends serving the database): a machine whose speed moves disturbs it less than the rates.

One uvicorn worker and 16 connections by default. On two cores the worker takes one; the load
generator and the database server (PostgreSQL backends, or the SQLite connection's thread) share
the other. A second worker would fight them for that core, and on SQLite it would bring back
writers polling each other's lock across processes. 16 requests in flight keep the worker busy
while others wait on their database round trips, stay under the PostgreSQL pool's 20
connections (10 + 10 overflow) so none waits for one, and on SQLite (one writer at a time) queue
in order for its one connection. Override with BENCH_INGEST_WORKERS and BENCH_INGEST_CONCURRENCY.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import func, insert, select
from sqlalchemy.engine import make_url

from bench.common import BenchOptions, fresh_database, percentile, result_line
from bench.ingest_app import BASELINE_PATH, MEMBER_ENV
from bench.ingest_load import WEBHOOK_PATH, Shop, Slice, load
from service.db import make_sync_engine
from service.members.models import Member
from service.orders.models import Order

SECRET = "whsec_YmVuY2htYXJrLWluZ2VzdC1zZWNyZXQta2V5"
CONCURRENCY = int(os.environ.get("BENCH_INGEST_CONCURRENCY", "16"))
WORKERS = int(os.environ.get("BENCH_INGEST_WORKERS", "1"))


def _seed_baseline_member(url: str) -> int:
    engine = make_sync_engine(url)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        member_id = conn.scalar(
            insert(Member)
            .values(external_id="bench-baseline", created_at=now, updated_at=now)
            .returning(Member.id)
        )
    engine.dispose()
    assert member_id is not None
    return member_id


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _start_server(url: str, member_id: int, log: Path) -> tuple[subprocess.Popen[bytes], int]:
    # uvicorn binds the port itself, as in production: a socket handed over with --fd misses
    # TCP_NODELAY, and every keep-alive response would then wait 40 ms for a delayed ACK.
    port = _free_port()
    env = os.environ | {
        "HUITOU_DATABASE_URL": url,
        "HUITOU_WEBHOOK_SECRETS": SECRET,
        "HUITOU_SCHEDULER_ENABLED": "false",
        MEMBER_ENV: str(member_id),
    }
    command = [sys.executable, "-m", "uvicorn", "bench.ingest_app:create_bench_app", "--factory"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--workers", str(WORKERS)]
    command += ["--no-access-log"]
    with log.open("wb") as out:
        server = subprocess.Popen(command, env=env, stdout=out, stderr=out)
    return server, port


def _wait_ready(server: subprocess.Popen[bytes], base: str, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"server exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError("server not ready after 60 s")


def _cpu_seconds(pid: int, database: str | None) -> float:
    """User + system CPU of the server process, its worker processes and the PostgreSQL
    backends serving `database` (their titles name it), from Linux /proc."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            ours = stat.parent.name == str(pid) or fields[1] == str(pid)
            if not ours and database:
                title = (stat.parent / "cmdline").read_bytes().decode(errors="replace")
                ours = title.startswith("postgres: ") and f" {database} " in title
        except OSError:  # the process ended meanwhile
            continue
        if ours:
            total += sum(int(v) for v in fields[11:13]) / os.sysconf("SC_CLK_TCK")
    return total


async def _measure(
    base: str, pid: int, database: str | None, *, warmup: float, slices: int, seconds: float
) -> tuple[dict[str, Slice], dict[str, float], int]:
    """Warm both up, then alternate slices; returns what each measured, the server side's CPU
    seconds for each (SQLite works inside the server process), and ours' total."""
    shops = {"ours": Shop(namespace=1), "baseline": Shop(namespace=2)}
    paths = {"ours": WEBHOOK_PATH, "baseline": BASELINE_PATH}
    totals = {name: Slice() for name in shops}
    server_cpu = dict.fromkeys(shops, 0.0)
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:
        for name in shops:
            await load(
                client,
                paths[name],
                shops[name],
                secret=SECRET,
                seconds=warmup,
                concurrency=CONCURRENCY,
            )
        order = ["ours", "baseline"]
        for n in range(slices):
            for name in order if n % 2 == 0 else order[::-1]:
                cpu = _cpu_seconds(pid, database)
                part = await load(
                    client,
                    paths[name],
                    shops[name],
                    secret=SECRET,
                    seconds=seconds,
                    concurrency=CONCURRENCY,
                )
                server_cpu[name] += _cpu_seconds(pid, database) - cpu
                totals[name].add(part)
    for name, part in totals.items():
        if part.errors:
            raise RuntimeError(f"{name}: {len(part.errors)} failed requests, e.g. {part.errors[0]}")
        print(
            f"  {name}: {part.completed} orders in {part.seconds:.1f} s, "
            f"server cpu {server_cpu[name] / part.seconds:.0%}, "
            f"load generator cpu {part.client_cpu_seconds / part.seconds:.0%}, "
            f"p50 {percentile(part.latencies, 50) * 1000:.2f} ms",
            flush=True,
        )
    return totals, server_cpu, shops["ours"].acknowledged_orders


def _check(url: str, expected: int) -> None:
    """Every acknowledged order is recorded once, and stats count the paid ones."""
    engine = make_sync_engine(url)
    with engine.connect() as conn:
        native = conn.scalar(select(func.count()).where(Order.platform == "native"))
        paid = conn.scalar(
            select(func.count()).where(Order.platform == "native", Order.paid_at.is_not(None))
        )
        counted = conn.scalar(select(func.sum(Member.paid_orders)))
    engine.dispose()
    assert native == expected, (native, expected)
    assert counted == paid, (counted, paid)


def _one(kind: str, options: BenchOptions) -> None:
    url = fresh_database(kind, "ingest", options)
    member_id = _seed_baseline_member(url)
    log = Path(tempfile.mkdtemp(prefix="bench-ingest-")) / "server.log"
    server, port = _start_server(url, member_id, log)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(server, base, log)
        warmup, slices, seconds = (3.0, 4, 4.0) if options.quick else (5.0, 6, 4.5)
        print(
            f"ingest {kind}: {WORKERS} worker(s), {CONCURRENCY} connections, "
            f"load average {os.getloadavg()[0]:.1f} before",
            flush=True,
        )
        database = make_url(url).database if kind == "postgresql" else None
        totals, cpu, acknowledged = asyncio.run(
            _measure(
                base,
                server.pid,
                database,
                warmup=warmup,
                slices=slices,
                seconds=seconds,
            )
        )
        print(f"  load average {os.getloadavg()[0]:.1f} after (2 cores)", flush=True)
    finally:
        server.terminate()
        server.wait(timeout=30)
    ours, base_ = totals["ours"], totals["baseline"]
    _check(url, expected=acknowledged)
    rate, base_rate = ours.completed / ours.seconds, base_.completed / base_.seconds
    ours_cpu, base_cpu = cpu["ours"] / ours.completed, cpu["baseline"] / base_.completed
    result_line(
        f"ingest_{kind}",
        ratio=rate / base_rate,
        target=">=0.5",
        orders_per_s=round(rate),
        p50_ms=percentile(ours.latencies, 50) * 1000,
        p99_ms=percentile(ours.latencies, 99) * 1000,
        baseline_orders_per_s=round(base_rate),
        baseline_p99_ms=percentile(base_.latencies, 99) * 1000,
        cpu_ratio=base_cpu / ours_cpu,
        cpu_ms_per_order=ours_cpu * 1000,
        baseline_cpu_ms_per_order=base_cpu * 1000,
    )


def run(options: BenchOptions) -> None:
    for kind in options.databases:
        _one(kind, options)
