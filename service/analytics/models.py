"""What member analytics store: per-member scores and stage, recompute runs, stage history,
learned replenishment cycles.

Member analytics live in a 1:1 table beside `members`, not on it: a nightly recompute rewrites
these few narrow columns for up to every member, and a `members` row is wide with six indexes,
so each rewrite there costs a new tuple and six index entries (measured ~10x slower at 1M).
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, Float, ForeignKey, Index, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base, IdType, enum_type


class Stage(StrEnum):
    NEW = "new"  # one paid order, not yet sleeping
    ACTIVE = "active"  # two or more paid orders, not yet sleeping
    SLEEPING = "sleeping"
    AT_RISK = "at_risk"
    CHURNED = "churned"


class Segment(StrEnum):
    CHAMPIONS = "champions"
    LOYAL = "loyal"
    POTENTIAL_LOYALIST = "potential_loyalist"
    NEW_CUSTOMERS = "new_customers"
    PROMISING = "promising"
    NEED_ATTENTION = "need_attention"
    ABOUT_TO_SLEEP = "about_to_sleep"
    AT_RISK = "at_risk"
    CANNOT_LOSE = "cannot_lose"
    HIBERNATING = "hibernating"
    LOST = "lost"


class ValueTier(StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class RunStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class MemberAnalytics(Base):
    """One row per member; NULLs for a member without a paid order."""

    __tablename__ = "member_analytics"

    member_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    recency_score: Mapped[int | None] = mapped_column(SmallInteger)
    frequency_score: Mapped[int | None] = mapped_column(SmallInteger)
    monetary_score: Mapped[int | None] = mapped_column(SmallInteger)
    segment: Mapped[Segment | None] = mapped_column(enum_type(Segment))
    stage: Mapped[Stage | None] = mapped_column(enum_type(Stage))
    previous_stage: Mapped[Stage | None] = mapped_column(enum_type(Stage))
    stage_changed_at: Mapped[datetime | None]
    value_tier: Mapped[ValueTier | None] = mapped_column(enum_type(ValueTier))
    promo_orders: Mapped[int] = mapped_column(default=0)
    promo_share: Mapped[float | None] = mapped_column(Float)
    # Twice the median of the member's gaps between paid orders, in whole days: exact integer
    # arithmetic for the adaptive stage thresholds on both databases (a median is a .5 value).
    gap_days_x2: Mapped[int | None]


class AnalyticsRun(Base):
    """One recompute: its settings, boundaries, progress (resumable by member id) and lease."""

    __tablename__ = "analytics_runs"
    __table_args__ = (Index(None, "status", "id"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    reason: Mapped[str] = mapped_column(String(16))
    status: Mapped[RunStatus] = mapped_column(enum_type(RunStatus))
    as_of: Mapped[datetime]
    requested_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    leased_until: Mapped[datetime | None]
    worker: Mapped[str | None] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(default=0)
    next_member_id: Mapped[int] = mapped_column(BigInteger, default=0)
    last_member_id: Mapped[int | None] = mapped_column(BigInteger)
    rows_written: Mapped[int] = mapped_column(default=0)
    stage_changes: Mapped[int] = mapped_column(default=0)
    chunks: Mapped[int] = mapped_column(default=0)
    longest_tx_ms: Mapped[int] = mapped_column(default=0)
    # The stage rules in effect, as columns: an order's stage refresh reads them in SQL.
    stage_mode: Mapped[str] = mapped_column(String(16))
    stage_sleeping_days: Mapped[int]
    stage_at_risk_days: Mapped[int]
    stage_churned_days: Mapped[int]
    stage_reference_gap_days: Mapped[int]
    stage_adaptive_min_orders: Mapped[int]
    shop_gap_days_x2: Mapped[int | None]
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    bounds: Mapped[dict[str, Any] | None]
    error: Mapped[str | None] = mapped_column(String(500))


class LifecycleSnapshot(Base):
    """Members per stage as a run on that local date found them (the latest run of the day)."""

    __tablename__ = "lifecycle_snapshots"

    snapshot_date: Mapped[date] = mapped_column(primary_key=True)
    stage: Mapped[Stage] = mapped_column(enum_type(Stage), primary_key=True)
    members: Mapped[int]
    run_id: Mapped[int] = mapped_column(IdType)
    taken_at: Mapped[datetime]


class ReplenishmentCycle(Base):
    """A learned cycle: median days per unit between repeat purchases, per sku or category."""

    __tablename__ = "replenishment_cycles"

    scope: Mapped[str] = mapped_column(String(8), primary_key=True)  # "sku" | "category"
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    cycle_days: Mapped[float] = mapped_column(Float)
    pairs: Mapped[int]
    members: Mapped[int]
    computed_at: Mapped[datetime]
