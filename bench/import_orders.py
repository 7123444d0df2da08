"""Order history import, end to end, against the raw speed of loading the same rows.

`python -m bench import [--quick]`: 1,000,000 orders (about 1.3 lines each) of 200,000 members
(100,000 of 20,000 with --quick) are written to a CSV file first (not timed). Then, per database:
ours is `huitou import orders FILE` in a subprocess (time and peak RSS of that process); the
baseline parses the same file with the csv module and loads every row into a bare table without
indexes: one psycopg COPY on PostgreSQL, one sqlite3.executemany transaction on SQLite.
"""

from __future__ import annotations

import csv
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from bench.common import BenchOptions, fresh_database, result_line
from service.orders.importer.checkpoint import checkpoint_path
from service.orders.importer.records import COLUMNS, STAMPS

TARGETS = {"postgresql": 0.4, "sqlite": 0.5}
RSS_LIMIT_MB = 300
START = datetime(2024, 6, 1, tzinfo=UTC)
SPAN = timedelta(days=730)
SH = "+08:00"
# created, paid, shipped, delivered, delivered and partly refunded, refunded, cancelled
STATUSES = ["created", "paid", "shipped", "delivered", "partial", "refunded", "cancelled"]
WEIGHTS = [6, 4, 4, 68, 5, 5, 8]
SOURCES = ["organic"] * 14 + ["flash_sale"] * 3 + ["coupon"] * 2 + ["clearance"]
DOMAINS = ["qq.com", "163.com", "126.com", "gmail.com", "outlook.com", "sina.com"]
SURNAMES, GIVEN = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗", "伟芳娜敏静丽强磊洋艳"
PREFIXES = ["135", "136", "138", "139", "150", "151", "158", "159", "186", "187", "188", "189"]
BARE_COLUMNS = (
    "order_id text, member_external_id text, member_phone text, member_email text, "
    "member_name text, status text, currency text, total numeric, discount_total numeric, "
    "refund_total numeric, source text, created_at timestamptz, paid_at timestamptz, "
    "shipped_at timestamptz, delivered_at timestamptz, cancelled_at timestamptz, "
    "refunded_at timestamptz, sku text, quantity integer, price numeric"
)


def _local(at: datetime) -> str:
    return (at + timedelta(hours=8)).replace(tzinfo=None).isoformat(timespec="seconds") + SH


def _members(count: int, rng: random.Random) -> list[tuple[str, str, str, str]]:
    members = []
    for n in range(count):
        phone = f"{rng.choice(PREFIXES)}{rng.randrange(10**8):08d}" if rng.random() < 0.9 else ""
        email = f"u{n}@{rng.choice(DOMAINS)}" if rng.random() < 0.4 else ""
        name = rng.choice(SURNAMES) + rng.choice(GIVEN) if rng.random() < 0.8 else ""
        members.append((f"m{n}", phone, email, name))
    return members


def _order_rows(
    n: int, total_orders: int, rng: random.Random, members: list[tuple[str, str, str, str]]
) -> list[list[str]]:
    created = START + SPAN * (n / total_orders) + timedelta(seconds=rng.randrange(600))
    status = rng.choices(STATUSES, WEIGHTS)[0]
    items = [
        (f"SKU-{rng.randrange(500):03d}", rng.choice((1, 1, 1, 2, 3)), rng.randrange(990, 49_990))
        for _ in range(rng.choices((1, 2, 3), (75, 20, 5))[0])
    ]
    total = sum(q * p for _, q, p in items)
    discount = rng.choice((0, 0, 0, 500, 1000)) if total > 5000 else 0
    paid = created + timedelta(minutes=rng.randrange(1, 60))
    shipped, delivered = paid + timedelta(hours=rng.randrange(2, 48)), paid + timedelta(days=3)
    stamps = {"paid_at": paid, "shipped_at": shipped, "delivered_at": delivered}
    keep = {"created": 0, "paid": 1, "shipped": 2, "delivered": 3, "partial": 3, "refunded": 1}
    times = dict(list(stamps.items())[: keep.get(status, 0)])
    refund = ""
    if status == "partial":
        status, refund = "delivered", f"{rng.randrange(1, total) / 100:.2f}"
    elif status == "refunded":
        times["refunded_at"] = paid + timedelta(days=2)
    elif status == "cancelled":
        times["cancelled_at"] = created + timedelta(hours=1)
    member = members[rng.randrange(len(members))]
    amounts = [f"{(total - discount) / 100:.2f}", f"{discount / 100:.2f}", refund]
    head = [str(1_000_000_000_000_000_000 + n), *member, status, "CNY", *amounts]
    head += [rng.choice(SOURCES), _local(created)]
    head += [_local(times[f]) if f in times else "" for f in STAMPS]
    return [[*head, sku, str(q), f"{p / 100:.2f}"] for sku, q, p in items]


def generate(path: Path, orders: int, members: int, seed: int = 11) -> int:
    """Write the CSV (rows of one order consecutive, by time); returns its row count."""
    rng = random.Random(seed)
    people = _members(members, rng)
    lines = 0
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(COLUMNS)
        for n in range(orders):
            rows = _order_rows(n, orders, rng, people)
            writer.writerows(rows)
            lines += len(rows)
    return lines


def _rows(path: Path) -> Iterator[list[str]]:
    with path.open(newline="") as file:
        reader = csv.reader(file)
        next(reader)
        yield from reader


def baseline_postgresql(path: Path, options: BenchOptions) -> float:
    url = make_url(fresh_database("postgresql", "import_baseline", options))
    with psycopg.connect(f"{options.pg_server}/{url.database}") as conn:
        conn.execute(f"CREATE TABLE bare ({BARE_COLUMNS})")
        conn.commit()
        started = time.perf_counter()
        with conn.cursor() as cursor, cursor.copy("COPY bare FROM STDIN") as copy:
            for row in _rows(path):
                copy.write_row([value or None for value in row])
        conn.commit()
        return time.perf_counter() - started


def baseline_sqlite(path: Path, options: BenchOptions) -> float:
    database = make_url(fresh_database("sqlite", "import_baseline", options)).database
    assert database is not None
    conn = sqlite3.connect(database)
    conn.execute(f"CREATE TABLE bare ({BARE_COLUMNS})")
    conn.commit()
    started = time.perf_counter()
    with conn:
        conn.executemany(f"INSERT INTO bare VALUES ({', '.join('?' * len(COLUMNS))})", _rows(path))
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed


def ours(path: Path, url: str) -> tuple[float, float, str]:
    """Seconds, peak RSS in MB, and the importer's summary line."""
    env = {**os.environ, "HUITOU_DATABASE_URL": url}
    checkpoint_path(path).unlink(missing_ok=True)  # a fresh database: import all of it
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "service", "import", "orders", str(path)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    err = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"huitou import orders failed ({process.returncode}):\n{err}")
    return elapsed, usage.ru_maxrss / 1024, err.strip().splitlines()[-1]


def run(options: BenchOptions) -> None:
    orders, members = (100_000, 20_000) if options.quick else (1_000_000, 200_000)
    path = Path(tempfile.gettempdir()) / f"huitou-bench-orders-{orders}-v1.csv"
    if not path.exists():  # the file is the same for a size, so it is written once
        partial = path.with_suffix(".partial")
        generate(partial, orders, members)
        partial.replace(path)
    print(f"{path}: {orders} orders, {path.stat().st_size / 1e6:.0f} MB", flush=True)
    for kind in options.databases:
        url = fresh_database(kind, "import", options)
        baseline = (baseline_sqlite if kind == "sqlite" else baseline_postgresql)(path, options)
        elapsed, rss, summary = ours(path, url)
        print(summary)
        result_line(
            f"import_{kind}",
            ratio=baseline / elapsed,
            target=f">={TARGETS[kind]}",
            orders_per_s=orders / elapsed,
            baseline_orders_per_s=orders / baseline,
            peak_rss_mb=rss,
            rss_target=f"<{RSS_LIMIT_MB}",
            seconds=elapsed,
            baseline_seconds=baseline,
        )
