"""RFM and stage recompute against one hand-written statement computing the same scores.

`python -m bench rfm [--quick]`: PostgreSQL at 100,000 and 1,000,000 members (5 orders each on
average; --quick: 20,000 and 200,000), SQLite at 20,000 and 200,000 (--quick: 5,000 and 50,000).
Each size runs in its own process, so its peak memory is its own.

- baseline: one CREATE TABLE AS over the orders: recency, frequency, monetary per buyer and
  their 1-5 scores by the same RANK rule, in one transaction.
- ours: a full recompute run as the scheduler starts it (boundaries, member-id chunks with
  segments, stages, tiers, promotion share and gaps, events, snapshot), from member stats;
  the ratio takes its members phase (the replenishment cycles are reported on their own).
  Its scores are checked equal to the baseline's.
- a second run a day later (the nightly steady state) writes only the rows that changed; while
  it runs, a probe commits a one-member stage refresh (what order ingest does) every 20 ms: the
  longest it waited shows whether other writers keep moving.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, text

from bench.common import BenchOptions, fresh_database, peak_rss_mb, result_line
from bench.rfm_data import generate
from service.analytics import service as analytics
from service.analytics.config import AnalyticsConfig
from service.analytics.member_stage import refresh_member_stage, stage_change
from service.analytics.sql import epoch_of
from service.clock import FakeClock
from service.db import make_engine, make_sessionmaker, make_sync_engine
from service.orders import service as order_service
from service.orders.schemas import OrderIn

AS_OF = datetime(2026, 6, 2, 1, 0, tzinfo=UTC)
TARGET = {"postgresql": 1.5, "sqlite": 2.0}
SIZES = {  # (quick, full) pairs of member counts; orders are 5 per member
    "postgresql": ((20_000, 200_000), (100_000, 1_000_000)),
    "sqlite": ((5_000, 50_000), (20_000, 200_000)),
}
COUNTED = (
    "paid_at IS NOT NULL AND status IN ('paid', 'shipped', 'delivered', 'refunded') "
    "AND total - refund_total > 0"
)


def baseline_sql(kind: str, as_of: datetime) -> str:
    last = (
        "CAST(strftime('%s', max(paid_at)) AS INTEGER)"
        if kind == "sqlite"
        else "CAST(floor(EXTRACT(EPOCH FROM max(paid_at))) AS BIGINT)"
    )
    return f"""
    CREATE TABLE bench_rfm AS
    WITH agg AS (
        SELECT member_id, ({epoch_of(as_of)} - {last}) / 86400 AS recency_days,
            count(*) AS frequency, sum(total - refund_total) AS monetary
        FROM orders WHERE {COUNTED} GROUP BY member_id
    )
    SELECT member_id, recency_days, frequency, monetary,
        1 + 5 * (rank() OVER (ORDER BY recency_days DESC) - 1) / count(*) OVER () AS r,
        1 + 5 * (rank() OVER (ORDER BY frequency) - 1) / count(*) OVER () AS f,
        1 + 5 * (rank() OVER (ORDER BY monetary) - 1) / count(*) OVER () AS m
    FROM agg"""


def _baseline(engine: Engine, kind: str) -> float:
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS bench_rfm"))
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(text(baseline_sql(kind, AS_OF)))
    return time.perf_counter() - started


def _forget(engine: Engine, kind: str) -> None:
    """Back to before the first run: no analytics, no runs."""
    with engine.begin() as conn:
        for table in ("member_analytics", "analytics_runs", "lifecycle_snapshots"):
            conn.execute(text(f"DELETE FROM {table}"))
        conn.execute(text("DELETE FROM events WHERE type = 'member.stage_changed'"))
    if kind == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE member_analytics"))


def _mismatches(engine: Engine) -> tuple[int, int]:
    with engine.connect() as conn:
        wrong = conn.scalar(
            text(
                "SELECT count(*) FROM bench_rfm b LEFT JOIN member_analytics a"
                " ON a.member_id = b.member_id WHERE a.member_id IS NULL"
                " OR a.recency_score != b.r OR a.frequency_score != b.f"
                " OR a.monetary_score != b.m"
            )
        )
        scored = conn.scalar(
            text("SELECT count(*) FROM member_analytics WHERE recency_score IS NOT NULL")
        )
        buyers = conn.scalar(text("SELECT count(*) FROM bench_rfm"))
    return int(wrong or 0), int(scored or 0) - int(buyers or 0)


async def _probe(sessions: Any, members: int, stop: asyncio.Event, waits: list[float]) -> None:
    rng = random.Random(3)
    while not stop.is_set():
        started = time.perf_counter()
        async with sessions() as session, session.begin():
            await refresh_member_stage(session, member_id=rng.randint(1, members), now=AS_OF)
        waits.append(time.perf_counter() - started)
        await asyncio.sleep(0.02)


async def _ours(url: str, members: int, at: datetime, *, probe: bool) -> dict[str, Any]:
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    stop, waits = asyncio.Event(), []
    prober = asyncio.create_task(_probe(sessions, members, stop, waits)) if probe else None
    started = time.perf_counter()
    result = await analytics.run_pending(sessions, clock=FakeClock(at), config=AnalyticsConfig())
    seconds = time.perf_counter() - started
    stop.set()
    if prober is not None:
        await prober
    await engine.dispose()
    assert result is not None
    return {
        "seconds": seconds,
        "members_seconds": result.members_seconds,
        "cycles_seconds": result.cycles_seconds,
        "longest_tx_s": result.longest_tx_ms / 1000,
        "rows_written": result.rows_written,
        "stage_changes": result.stage_changes,
        "chunks": result.chunks,
        "probe_max_ms": 1000 * max(waits, default=0.0),
        "probes": len(waits),
    }


async def _no_refresh(*_: object, **__: object) -> None:
    """Ingest without the stage refresh, to measure what the refresh adds."""
    return None


async def _ingest_cost(
    url: str, members: int, blocks: int = 6, per_block: int = 50
) -> dict[str, float]:
    """Mean ms of ingest_order for a paid order of an existing member, with the stage refresh
    and with it replaced by a no-op, in alternating blocks (the machine's load drifts)."""
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    rng, spent = random.Random(5), {"with": 0.0, "without": 0.0}
    serial = 0
    for block in range(blocks):
        kind = "with" if block % 2 == 0 else "without"
        order_service.stage_change = (  # type: ignore[assignment]
            stage_change if kind == "with" else _no_refresh
        )
        for _ in range(per_block):
            serial += 1
            order = OrderIn.model_validate(
                {
                    "id": f"bench-{serial}",
                    "member": {"external_id": f"m{rng.randint(1, members)}"},
                    "status": "paid",
                    "total": "99.00",
                    "created_at": AS_OF.isoformat(),
                    "paid_at": AS_OF.isoformat(),
                    "items": [{"sku": "SKU-1", "quantity": 1, "price": "99.00"}],
                }
            )
            started = time.perf_counter()
            async with sessions() as session, session.begin():
                await order_service.ingest_order(
                    session, order, platform="native", now=AS_OF, region="CN"
                )
            spent[kind] += time.perf_counter() - started
    order_service.stage_change = stage_change  # type: ignore[assignment]
    await engine.dispose()
    calls = blocks // 2 * per_block
    return {f"ingest_{k}_ms": 1000 * v / calls for k, v in spent.items()}


def measure(kind: str, members: int, pg_server: str) -> dict[str, Any]:
    """One size, in this (child) process: load, baseline, first run, check, nightly run."""
    options = BenchOptions(quick=True, databases=[kind], pg_server=pg_server)
    url = fresh_database(kind, "rfm", options)
    engine = make_sync_engine(url)
    figures: dict[str, Any] = {"members": members, "orders": 5 * members}
    figures["load_seconds"] = generate(engine, url, kind, members=members, orders=5 * members)
    # Twice each, interleaved, the faster kept: this machine's load comes and goes.
    baselines, runs = [], []
    for attempt in range(2):
        baselines.append(_baseline(engine, kind))
        if attempt:
            _forget(engine, kind)
        runs.append(asyncio.run(_ours(url, members, AS_OF, probe=False)))
        figures["mismatches"], figures["extra_scored"] = _mismatches(engine)
    figures["baseline_seconds"] = min(baselines)
    figures["baseline_all"] = "/".join(f"{b:.2f}" for b in baselines)
    figures["ours_all"] = "/".join(f"{r['members_seconds']:.2f}" for r in runs)
    figures |= min(runs, key=lambda r: r["members_seconds"])
    nightly = asyncio.run(_ours(url, members, AS_OF + timedelta(days=1), probe=True))
    figures["nightly_seconds"] = nightly["seconds"]
    figures["nightly_members_seconds"] = nightly["members_seconds"]
    figures["probe_max_ms"], figures["probes"] = nightly["probe_max_ms"], nightly["probes"]
    figures["nightly_rows_written"] = nightly["rows_written"]
    figures["nightly_stage_changes"] = nightly["stage_changes"]
    figures |= asyncio.run(_ingest_cost(url, members))
    engine.dispose()
    figures["peak_rss_mb"] = peak_rss_mb()
    return figures


def _in_child(kind: str, members: int, pg_server: str) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        figures: dict[str, Any] = pool.apply(measure, (kind, members, pg_server))
    return figures


def _report(kind: str, small: dict[str, Any], large: dict[str, Any]) -> None:
    for figures in (small, large):
        shown = " ".join(
            f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in figures.items()
        )
        print(f"{kind}: {shown}", flush=True)
        assert figures["mismatches"] == 0, figures
        assert figures["extra_scored"] == 0, figures
    result_line(
        f"rfm_{kind}",
        ratio=large["members_seconds"] / large["baseline_seconds"],
        target=f"<={TARGET[kind]}",
        members=large["members"],
        orders=large["orders"],
        seconds=large["members_seconds"],
        baseline_seconds=large["baseline_seconds"],
        run_seconds=large["seconds"],
        cycles_seconds=large["cycles_seconds"],
        longest_tx_s=large["longest_tx_s"],
        probe_max_ms=large["probe_max_ms"],
        nightly_seconds=large["nightly_seconds"],
        peak_rss_mb=large["peak_rss_mb"],
        peak_rss_small_mb=small["peak_rss_mb"],
        ingest_ms=small["ingest_with_ms"],
        ingest_without_refresh_ms=small["ingest_without_ms"],
    )


def run(options: BenchOptions) -> None:
    for kind in options.databases:
        small_n, large_n = SIZES[kind][0 if options.quick else 1]
        small = _in_child(kind, small_n, options.pg_server)
        large = _in_child(kind, large_n, options.pg_server)
        _report(kind, small, large)
