"""The journey report against one hand-written statement attributing the same orders.

`python -m bench journey_report [--quick]`: PostgreSQL at 200,000 members (--quick: 40,000),
SQLite at 40,000 (--quick: 10,000), 5 orders each (the RFM benchmark's shop: every status,
refunds in full and in part). Half the orders had a journey step 1 to 90 hours before payment
(two journeys, two variants, a tenth held out), and its SMS was delivered, sent without a
receipt or failed; a few members opted out after it. The report covers a year.

- baseline: one statement: each counted order of the year with its last touch found by a
  correlated subquery (LIMIT 1 on the member's messages), counted and summed per step, variant
  and channel of one journey. That is the attributed orders and revenue only.
- ours: the whole journey report of that journey (message counts, cost, attribution of orders
  and opt-outs, the holdout's members, revenue and intervals), checked to give the same
  attributed orders and revenue as the baseline.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, insert, text

from bench.common import BenchOptions, fresh_database, peak_rss_mb, result_line
from bench.rfm_data import generate
from service.analytics.config import AnalyticsConfig
from service.analytics.journey_report import journey_report
from service.analytics.periods import local_midnight
from service.db import make_engine, make_sessionmaker, make_sync_engine, table_of
from service.journeys.models import Journey, JourneyVersion

SIZES = {"postgresql": (40_000, 200_000), "sqlite": (10_000, 40_000)}
TARGET = {"postgresql": 1.5, "sqlite": 4.0}
FIRST, LAST = date(2025, 6, 1), date(2026, 5, 31)
NOW = datetime(2026, 6, 2, 1, 0, tzinfo=UTC)
CONFIG = AnalyticsConfig()
COUNTED = (
    "o.paid_at IS NOT NULL AND o.status IN ('paid', 'shipped', 'delivered', 'refunded') "
    "AND o.total - o.refund_total > 0"
)


def _hours_before(kind: str, column: str, hours: str) -> str:
    if kind == "postgresql":
        return f"{column} - ({hours}) * interval '1 hour'"
    return f"strftime('%Y-%m-%d %H:%M:%f', {column}, '-' || ({hours}) || ' hours') || '000'"


def _walks_sql(kind: str) -> list[str]:
    at = _hours_before(kind, "paid_at", "1 + id % 90")
    false = "false" if kind == "postgresql" else "0"
    two_hours = (
        "created_at + interval '2 hours'"
        if kind == "postgresql"
        else "strftime('%Y-%m-%d %H:%M:%f', created_at, '+2 hours') || '000'"
    )
    return [
        f"""INSERT INTO enrolments (id, journey_id, journey_version, member_id, entry_key,
            dedupe_key, is_control, state, after_event_id, step_index, step_entered_at, context,
            entered_at, updated_at, goal_reached_at)
        SELECT id / 2, 1 + (id / 2) % 2, 1, member_id, 'order:' || id, 'event:' || id,
            id % 10 = 0, 'completed', 0, 1, at, '{{}}', at, at,
            CASE WHEN id % 3 = 0 THEN paid_at END
        FROM (SELECT id, member_id, paid_at, {at} AS at FROM orders
              WHERE id % 2 = 0 AND paid_at IS NOT NULL) s""",
        """INSERT INTO enrolment_steps (enrolment_id, journey_id, step_id, outcome, variant,
            ran_at)
        SELECT id, journey_id, 's1', CASE WHEN is_control THEN 'control' ELSE 'sent' END,
            CASE WHEN id % 3 = 0 THEN 'a' ELSE 'b' END, entered_at
        FROM enrolments""",
        f"""INSERT INTO messages (id, idempotency_key, member_id, journey_id, journey_version,
            enrolment_id, step_id, variant, channel, template, purpose, priority, status,
            status_reason, context, send_after_at, attempts, cost, is_test, created_at,
            updated_at, sent_at, delivered_at)
        SELECT id, 'enrolment:' || id || ':' || 's1', member_id, journey_id, 1, id, 's1',
            CASE WHEN id % 3 = 0 THEN 'a' ELSE 'b' END, 'sms', 't/s1', 'marketing', 50,
            CASE WHEN is_control THEN 'suppressed' WHEN id % 10 = 1 THEN 'failed'
                WHEN id % 10 = 3 THEN 'sent' ELSE 'delivered' END,
            CASE WHEN is_control THEN 'holdout' END, '{{}}', entered_at, 0,
            CASE WHEN is_control THEN NULL ELSE 450 END, {false}, entered_at, entered_at,
            CASE WHEN is_control THEN NULL ELSE entered_at END,
            CASE WHEN NOT is_control AND id % 10 NOT IN (1, 3) THEN entered_at END
        FROM enrolments""",
        f"""INSERT INTO consent_changes (member_id, channel, purpose, granted, source,
            occurred_at)
        SELECT member_id, 'sms', 'marketing', {false}, 'sms_reply:TD', {two_hours}
        FROM messages WHERE id % 50 = 8 AND sent_at IS NOT NULL""",
    ]


def load(engine: Engine, url: str, kind: str, members: int) -> float:
    seconds = generate(engine, url, kind, members=members, orders=5 * members)
    started = time.perf_counter()
    created = datetime(2024, 1, 1, tzinfo=UTC)
    with engine.begin() as conn:
        for journey_id in (1, 2):
            key = f"bench-{journey_id}"
            conn.execute(
                insert(table_of(Journey)).values(
                    id=journey_id,
                    key=key,
                    name=key,
                    status="active",
                    latest_version=1,
                    live_version=1,
                    trigger_type="event",
                    priority=50,
                    activated_at=created,
                    created_at=created,
                    updated_at=created,
                )
            )
            rule = {
                "key": key,
                "steps": [{"id": "s1"}],
                "goal": {"event": "order.paid"},
                "attribution_window": "P5D",
            }
            conn.execute(
                insert(table_of(JourneyVersion)).values(
                    journey_id=journey_id, version=1, rule=rule, created_at=created
                )
            )
        for statement in _walks_sql(kind):
            conn.execute(text(statement))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE" if kind == "sqlite" else "VACUUM ANALYZE"))
    return seconds + time.perf_counter() - started


def _stamp(kind: str, at: datetime) -> str:
    utc = at.astimezone(UTC)
    return f"'{utc:%Y-%m-%d %H:%M:%S}.000000'" if kind == "sqlite" else f"'{utc.isoformat()}'"


def baseline_sql(kind: str) -> str:
    touch = "coalesce(t.delivered_at, t.sent_at)"
    since = (
        "o.paid_at - interval '5 days'"
        if kind == "postgresql"
        else "strftime('%Y-%m-%d %H:%M:%f', o.paid_at, '-5 days') || '000'"
    )
    start = _stamp(kind, local_midnight(FIRST, CONFIG.zone))
    end = _stamp(kind, local_midnight(LAST + timedelta(days=1), CONFIG.zone))
    return f"""
    SELECT m.step_id, m.variant, m.channel, count(*), sum(o.total - o.refund_total)
    FROM orders o JOIN messages m ON m.id = (
        SELECT t.id FROM messages t
        WHERE t.member_id = o.member_id AND t.status IN ('delivered', 'sent')
            AND NOT t.is_test AND {touch} < o.paid_at AND {touch} >= {since}
        ORDER BY {touch} DESC, t.id DESC LIMIT 1)
    WHERE {COUNTED} AND o.paid_at >= {start} AND o.paid_at < {end} AND m.journey_id = 1
    GROUP BY m.step_id, m.variant, m.channel"""


def _baseline(engine: Engine, kind: str) -> tuple[float, dict[Any, tuple[int, int]]]:
    started = time.perf_counter()
    with engine.connect() as conn:
        rows = conn.execute(text(baseline_sql(kind))).all()
    found = {(s, v, c): (int(n), int(cents)) for s, v, c, n, cents in rows}
    return time.perf_counter() - started, found


async def _ours(url: str) -> tuple[float, dict[Any, tuple[int, int]], dict[str, Any]]:
    engine = make_engine(url)
    async with engine.connect() as conn:  # the pool's first connection is not the report's
        await conn.execute(text("SELECT 1"))
    started = time.perf_counter()
    async with make_sessionmaker(engine)() as session:
        report = await journey_report(
            session, key="bench-1", first=FIRST, last=LAST, config=CONFIG, now=NOW
        )
    seconds = time.perf_counter() - started
    await engine.dispose()
    found = {
        (r.step_id, r.variant, r.channel): (r.attributed_orders, int(r.attributed_revenue * 100))
        for r in report.rows
        if r.attributed_orders
    }
    holdout = report.holdout
    figures = {
        "treated": holdout.treatment_members,
        "control": holdout.control_members,
        "opt_outs": sum(r.opt_outs for r in report.rows),
        "uplift_low": str(holdout.revenue_uplift_low),
    }
    return seconds, found, figures


def measure(kind: str, members: int, options: BenchOptions) -> None:
    url = fresh_database(kind, "journey_report", options)
    engine = make_sync_engine(url)
    load_seconds = load(engine, url, kind, members)
    baselines, runs = [], []
    for _ in range(2):  # interleaved, the faster kept: this machine's load comes and goes
        seconds, expected = _baseline(engine, kind)
        baselines.append(seconds)
        ours, found, figures = asyncio.run(_ours(url))
        runs.append(ours)
        assert found == expected, (found, expected)
    engine.dispose()
    attributed = sum(n for n, _ in expected.values())
    result_line(
        f"journey_report_{kind}",
        ratio=min(runs) / min(baselines),
        target=f"<={TARGET[kind]}",
        members=members,
        orders=5 * members,
        attributed_orders=attributed,
        seconds=min(runs),
        baseline_seconds=min(baselines),
        load_seconds=load_seconds,
        peak_rss_mb=peak_rss_mb(),
        **figures,
    )


def run(options: BenchOptions) -> None:
    for kind in options.databases:
        measure(kind, SIZES[kind][0 if options.quick else 1], options)
