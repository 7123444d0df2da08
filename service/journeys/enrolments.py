"""Enrol members, set-based: one INSERT … SELECT whatever the trigger, idempotent by keys.

The entry policy is mostly a choice of keys. `entry_key` is what the member enters for;
`dedupe_key` is unique per journey and member, so whatever produces the same dedupe key twice
enrols once. A partial unique index allows one active enrolment per entry key.

| policy          | entry_key | dedupe_key      | so                                     |
|-----------------|-----------|-----------------|----------------------------------------|
| once_per_member | member    | member          | one enrolment per member, ever         |
| once_per_key    | the key   | the key         | one per order / item / occasion / lapse |
| cooldown        | member    | the occurrence  | again once `cooldown` has passed       |
| every_time      | the key   | the occurrence  | each occurrence, one active per key    |

The occurrence is what fired: an event id, an occasion, an order, an item, a lapse.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    Select,
    String,
    exists,
    func,
    literal,
    select,
    true,
)
from sqlalchemy.ext.asyncio import AsyncSession

from service.db import JsonType, dialect_insert, session_dialect
from service.events.models import Event
from service.journeys.engine import (
    HOLDOUT_BUCKETS,
    HOLDOUT_JOURNEY_MULTIPLIER,
    HOLDOUT_MODULUS,
    HOLDOUT_MULTIPLIER,
)
from service.journeys.models import Enrolment, EnrolmentState
from service.journeys.rule import EntryPolicy, JourneyRule

AnySelect = Select[*tuple[Any, ...]]
COLUMNS = (
    "journey_id",
    "journey_version",
    "member_id",
    "entry_key",
    "dedupe_key",
    "is_control",
    "state",
    "step_index",
    "step_entered_at",
    "next_run_at",
    "order_id",
    "item_id",
    "occasion_id",
    "after_event_id",
    "context",
    "entered_at",
    "updated_at",
)


@dataclass(frozen=True)
class LiveJourney:
    """A journey members can enter now, with the rule of the version they enter."""

    id: int
    key: str
    version: int
    rule: JourneyRule
    activated_at: datetime


@dataclass(frozen=True)
class Candidates:
    """What to enrol: a select with `member_id`, `key`, `occurrence`, `order_id`, `item_id`."""

    rows: AnySelect
    occasion_id: str | None = None
    context: dict[str, Any] | None = None
    after_event_id: int | None = None  # None: the newest event now
    arrived_at: datetime | None = None  # when they entered; None: now (an event: when it came)


def holdout_bucket_sql(member_id: ColumnElement[int], journey_id: int) -> ColumnElement[int]:
    """The SQL twin of `engine.holdout_bucket` (integer arithmetic, the same on both)."""
    mixed = (
        member_id * literal(HOLDOUT_MULTIPLIER, BigInteger)
        + literal(journey_id * HOLDOUT_JOURNEY_MULTIPLIER, BigInteger)
    ) % HOLDOUT_MODULUS
    return mixed % HOLDOUT_BUCKETS


def keys(policy: EntryPolicy, *, key: Any, occurrence: Any) -> tuple[Any, Any]:
    """(entry_key, dedupe_key) for a policy; see the module's table."""
    member = literal("member", String)
    return {
        EntryPolicy.ONCE_PER_MEMBER: (member, member),
        EntryPolicy.ONCE_PER_KEY: (key, key),
        EntryPolicy.COOLDOWN: (member, occurrence),
        EntryPolicy.EVERY_TIME: (key, occurrence),
    }[policy]


async def enrol(
    session: AsyncSession, journey: LiveJourney, candidates: Candidates, *, now: datetime
) -> int:
    """Enrol every candidate the entry policy admits; returns how many entered."""
    src = candidates.rows.subquery("candidates")
    rule = journey.rule
    entry_key, dedupe_key = keys(rule.entry.policy, key=src.c.key, occurrence=src.c.occurrence)
    after = (
        literal(candidates.after_event_id, BigInteger)
        if candidates.after_event_id is not None
        else select(func.coalesce(func.max(Event.id), 0)).scalar_subquery()
    )
    threshold = round(rule.holdout_percent * 100)
    arrived = min(candidates.arrived_at or now, now)
    rows = select(
        literal(journey.id, BigInteger),
        literal(journey.version, Integer),
        src.c.member_id,
        entry_key,
        dedupe_key,
        holdout_bucket_sql(src.c.member_id, journey.id) < threshold,
        literal(EnrolmentState.ACTIVE.value, String),
        literal(0, Integer),
        literal(arrived, Enrolment.step_entered_at.type),
        literal(arrived, Enrolment.next_run_at.type),
        src.c.order_id,
        src.c.item_id,
        literal(candidates.occasion_id, String),
        after,
        literal(candidates.context or {}, JsonType),
        literal(arrived, Enrolment.entered_at.type),
        literal(now, Enrolment.updated_at.type),
    ).where(_cooled_down(rule, src.c.member_id, journey.id, now) if rule.entry.cooldown else true())
    statement = (
        dialect_insert(session_dialect(session), Enrolment)
        .from_select(COLUMNS, rows)
        .on_conflict_do_nothing()
        # Without it SQLAlchemy closes the cursor first, and psycopg reports -1 inserted.
        .execution_options(preserve_rowcount=True)
    )
    result = await session.execute(statement)
    return int(getattr(result, "rowcount", 0) or 0)


def _cooled_down(
    rule: JourneyRule, member_id: ColumnElement[int], journey_id: int, now: datetime
) -> ColumnElement[bool]:
    assert rule.entry.cooldown is not None
    since = now - rule.entry.cooldown
    recent = exists().where(
        Enrolment.journey_id == journey_id,
        Enrolment.member_id == member_id,
        Enrolment.entered_at > since,
    )
    return ~recent


def single(
    member_id: int,
    *,
    key: str,
    occurrence: str,
    order_id: int | None = None,
    item_id: int | None = None,
) -> AnySelect:
    """Candidates of one event: a one-row select of bound values."""
    return select(
        literal(member_id, BigInteger).label("member_id"),
        literal(key, String).label("key"),
        literal(occurrence, String).label("occurrence"),
        literal(order_id, BigInteger).label("order_id"),
        literal(item_id, BigInteger).label("item_id"),
    )
