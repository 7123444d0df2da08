"""Birthday greetings per scheduler tick: due groups plus one SQL count per group, against
loading every member's birthday and time zone into Python and filtering there (the baseline).

`python -m bench calendar_tick [--quick]`: 1,000,000 members (100,000 with --quick), a third of
them with a lunar birthday, in five time zones or none (the shop's, Asia/Shanghai).
"""

from __future__ import annotations

import random
import statistics
import time as clock
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, insert, select

from bench.common import BenchOptions, fresh_database, result_line
from service.calendar.birthdays import gregorian_birthdays_on
from service.calendar.occasions import BirthdayOccasion, CalendarSystem
from service.calendar.queries import members_due
from service.calendar.triggers import due_in_zones
from service.db import make_sync_engine
from service.members.models import Member

ZONES = [None, None, None, "Asia/Shanghai", "America/New_York", "Europe/London", "Asia/Tokyo"]
DEFAULT_ZONE = "Asia/Shanghai"
TICK = datetime(2026, 9, 25, 2, tzinfo=UTC)  # 10:00 in Shanghai
IDLE_TICK = TICK + timedelta(minutes=7)  # no zone reaches 10:00 in this minute
SPEC = BirthdayOccasion(kind="birthday", calendar=CalendarSystem.GREGORIAN)


def _rows(count: int, seed: int = 7) -> list[dict[str, object]]:
    rng, now = random.Random(seed), datetime(2026, 1, 1, tzinfo=UTC)
    rows = []
    for n in range(count):
        lunar = rng.random() < 0.33
        rows.append(
            {
                "external_id": f"m{n}",
                "birthday": date(1970, 1, 1) + timedelta(days=rng.randrange(365 * 40)),
                "lunar_birth_month": rng.randint(1, 12) if lunar else None,
                "lunar_birth_day": rng.randint(1, 30) if lunar else None,
                "timezone": rng.choice(ZONES),
                "created_at": now,
                "updated_at": now,
            }
        )
    return rows


def _median_ms(run: Callable[[], object], repeat: int) -> tuple[float, object]:
    samples, result = [], None
    for _ in range(repeat):
        started = clock.perf_counter()
        result = run()
        samples.append((clock.perf_counter() - started) * 1000)
    return statistics.median(samples), result


def _one(kind: str, options: BenchOptions) -> None:
    size = 100_000 if options.quick else 1_000_000
    engine = make_sync_engine(fresh_database(kind, "calendar_tick", options))
    with engine.begin() as conn:
        rows = _rows(size)
        for at in range(0, size, 20_000):
            conn.execute(insert(Member), rows[at : at + 20_000])

    def tick(start: datetime) -> int:
        groups = due_in_zones(
            SPEC,
            country="CN",
            days_before=0,
            at=time(10),
            start=start,
            end=start + timedelta(minutes=1),
        )
        with engine.connect() as conn:
            return sum(
                conn.scalar(select(func.count()).where(members_due(g, default_zone=DEFAULT_ZONE)))
                or 0
                for g in groups
            )

    def baseline() -> int:
        due = gregorian_birthdays_on(date(2026, 9, 25))
        zones = {"Asia/Shanghai", None}
        with engine.connect() as conn:
            everyone = conn.execute(select(Member.birthday, Member.timezone)).all()
        return sum(
            1
            for b, z in everyone
            if z in zones and b and b.month == due.month and b.day in due.days
        )

    tick_ms, matched = _median_ms(lambda: tick(TICK), 5)
    idle_ms, _ = _median_ms(lambda: tick(IDLE_TICK), 20)
    base_ms, expected = _median_ms(baseline, 3)
    assert matched == expected, (matched, expected)
    engine.dispose()
    result_line(
        f"calendar_tick_{kind}",
        ratio=tick_ms / base_ms,
        target="<0.5",
        members=size,
        matched=matched,
        tick_ms=tick_ms,
        idle_tick_ms=idle_ms,
        baseline_ms=base_ms,
    )


def run(options: BenchOptions) -> None:
    for kind in options.databases:
        _one(kind, options)
