"""A journey dry run: COUNT the members a compiled audience condition selects, against a
hand-written COUNT with the same predicate (the baseline). Target: at most 3x the baseline.

`python -m bench conditions_dry_run [--quick]`: 1,000,000 members (100,000 with --quick), a
fifth of them tagged, with last purchases spread over two years and free-form attributes.
"""

from __future__ import annotations

import random
import statistics
import time as clock
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any

from pydantic import JsonValue
from sqlalchemy import ColumnElement, Engine, and_, exists, func, insert, literal_column, select
from sqlalchemy import text as sql_text

from bench.common import BenchOptions, fresh_database, result_line
from service.db import make_sync_engine
from service.journeys.conditions_sql import compile_condition
from service.journeys.fields import SqlScope
from service.members.models import Member, MemberTag

NOW = datetime(2026, 6, 18, 1, tzinfo=UTC)
CITIES = ["杭州", "上海", "北京", "广州", "深圳", "成都", None]
TAGS = ["vip", "new", "blocked", "sleeping"]
LAPSED: JsonValue = {
    "and": [
        {">=": [{"days_since": {"var": "member.last_paid_at"}}, 30]},
        {"<": [{"days_since": {"var": "member.last_paid_at"}}, 90]},
        {">=": [{"var": "member.paid_orders"}, 2]},
        {">=": [{"var": "member.total_spent"}, 500]},
        {"in": [{"var": "member.city"}, ["杭州", "上海", "北京"]]},
        {"!": {"in": ["blocked", {"var": "member.tags"}]}},
    ]
}
VIP_LEVEL: JsonValue = {
    "and": [
        {"in": ["vip", {"var": "member.tags"}]},
        {">=": [{"var": "member.attributes.level"}, 3]},
    ]
}


def _members(start: int, count: int, rng: random.Random) -> list[dict[str, Any]]:
    rows = []
    for n in range(start, start + count):
        paid = rng.randint(0, 6)
        last = NOW - timedelta(seconds=rng.randrange(730 * 86400)) if paid else None
        rows.append(
            {
                "external_id": f"m{n}",
                "city": rng.choice(CITIES),
                "paid_orders": paid,
                "total_spent": Decimal(rng.randrange(0, 300_000)) / 100,
                "last_paid_at": last,
                "first_paid_at": last,
                "attributes": {"level": rng.randint(0, 5)} if rng.random() < 0.5 else {},
                "created_at": NOW,
                "updated_at": NOW,
            }
        )
    return rows


def _populate(engine: Engine, size: int) -> None:
    rng = random.Random(7)
    with engine.begin() as conn:
        for at in range(0, size, 20_000):
            ids = conn.execute(
                insert(Member).returning(Member.id), _members(at, min(20_000, size - at), rng)
            ).scalars()
            tags = [{"member_id": i, "tag": rng.choice(TAGS)} for i in ids if rng.random() < 0.2]
            conn.execute(insert(MemberTag), tags)
    with engine.begin() as conn:
        conn.execute(sql_text("ANALYZE"))


def _has_tag(tag: str) -> ColumnElement[bool]:
    return exists(
        select(literal_column("1")).where(MemberTag.member_id == Member.id, MemberTag.tag == tag)
    )


def _hand_written() -> dict[str, ColumnElement[bool]]:
    """The predicates a developer would write by hand for the same two audiences."""
    lapsed = and_(
        Member.last_paid_at <= NOW - timedelta(days=30),
        Member.last_paid_at > NOW - timedelta(days=90),
        Member.paid_orders >= 2,
        literal_column("members.total_spent") >= 50_000,  # cents
        Member.city.in_(["杭州", "上海", "北京"]),
        ~_has_tag("blocked"),
    )
    vip = and_(_has_tag("vip"), Member.attributes["level"].as_integer() >= 3)
    return {"lapsed": lapsed, "vip_level": vip}


def _median_ms(run: Callable[[], object], repeat: int) -> tuple[float, object]:
    samples, result = [], None
    for _ in range(repeat):
        started = clock.perf_counter()
        result = run()
        samples.append((clock.perf_counter() - started) * 1000)
    return statistics.median(samples), result


def _count(engine: Engine, where: ColumnElement[bool]) -> int:
    with engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(Member).where(where)) or 0


def _one(kind: str, options: BenchOptions) -> None:
    size = 100_000 if options.quick else 1_000_000
    engine = make_sync_engine(fresh_database(kind, "conditions_dry_run", options))
    _populate(engine, size)
    scope = SqlScope(member=Member)
    figures: dict[str, object] = {"members": size}
    ratios = []
    for name, baseline in _hand_written().items():
        condition = LAPSED if name == "lapsed" else VIP_LEVEL
        ours = compile_condition(condition, scope=scope, now=NOW)
        _count(engine, ours), _count(engine, baseline)  # warm the cache and the plans
        ours_ms, matched = _median_ms(partial(_count, engine, ours), 5)
        base_ms, expected = _median_ms(partial(_count, engine, baseline), 5)
        assert matched == expected, (name, matched, expected)
        ratios.append(ours_ms / base_ms)
        figures.update(
            {f"{name}_ms": ours_ms, f"{name}_baseline_ms": base_ms, f"{name}_n": matched}
        )
    engine.dispose()
    result_line(f"conditions_dry_run_{kind}", ratio=max(ratios), target="<=3", **figures)


def run(options: BenchOptions) -> None:
    for kind in options.databases:
        _one(kind, options)
