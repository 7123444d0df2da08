"""Journeys, their versions, the members walking them (enrolments) and each step they ran."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    SmallInteger,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base, IdType, enum_type


class JourneyStatus(StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    PAUSED = "paused"
    ARCHIVED = "archived"


class EnrolmentState(StrEnum):
    ACTIVE = "active"  # walking the steps; due again at next_run_at
    COMPLETED = "completed"  # ran past the last step
    EXITED = "exited"  # an exit step, exit_when, a goal with exit, or the journey archived


class Journey(Base):
    __tablename__ = "journeys"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[JourneyStatus] = mapped_column(
        enum_type(JourneyStatus), default=JourneyStatus.DRAFT
    )
    latest_version: Mapped[int]
    # The version new members enter with; set on activation and on each edit after it.
    live_version: Mapped[int | None]
    trigger_type: Mapped[str] = mapped_column(String(32))
    priority: Mapped[int] = mapped_column(default=50)
    # Members enter from what happens after this instant; time-driven triggers count from here.
    activated_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class JourneyVersion(Base):
    __tablename__ = "journey_versions"
    __table_args__ = (UniqueConstraint("journey_id", "version"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    journey_id: Mapped[int] = mapped_column(IdType, ForeignKey("journeys.id", ondelete="CASCADE"))
    version: Mapped[int]
    rule: Mapped[dict[str, Any]]
    author: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime]


class Enrolment(Base):
    """One member on one journey: where they are, when they are due, and why they entered.

    `entry_key` names what they entered for (an order, an item, an occasion, a lapse, or
    `member`); at most one active enrolment per (journey, member, entry_key). `dedupe_key`
    names the trigger occurrence (an event id, an occasion id …), unique per journey and member,
    so a trigger that fires twice for the same occurrence enrols once.
    """

    __tablename__ = "enrolments"
    __table_args__ = (
        UniqueConstraint("journey_id", "member_id", "dedupe_key"),
        Index(
            "uq_enrolments_active_entry",
            "journey_id",
            "member_id",
            "entry_key",
            unique=True,
            postgresql_where=text("state = 'active'"),
            sqlite_where=text("state = 'active'"),
        ),
        Index(None, "state", "next_run_at"),
        Index(None, "member_id", "state"),
        Index(None, "journey_id", "entered_at"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    journey_id: Mapped[int] = mapped_column(IdType, ForeignKey("journeys.id", ondelete="CASCADE"))
    journey_version: Mapped[int]
    member_id: Mapped[int] = mapped_column(IdType, ForeignKey("members.id", ondelete="CASCADE"))
    entry_key: Mapped[str] = mapped_column(String(128))
    dedupe_key: Mapped[str] = mapped_column(String(160))
    is_control: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[EnrolmentState] = mapped_column(
        enum_type(EnrolmentState), default=EnrolmentState.ACTIVE
    )
    # Events up to this id happened before the enrolment: only later ones exit it or count.
    after_event_id: Mapped[int] = mapped_column(BigInteger, default=0)
    order_id: Mapped[int | None] = mapped_column(IdType)
    item_id: Mapped[int | None] = mapped_column(IdType)
    occasion_id: Mapped[str | None] = mapped_column(String(64))
    step_index: Mapped[int] = mapped_column(SmallInteger, default=0)
    step_entered_at: Mapped[datetime]
    next_run_at: Mapped[datetime | None]
    # The rest of what the copy needs: the occasion's names and local date, split choices.
    context: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # While a wait_for step waits: {"event": …, "since": …}; cleared when it moves on.
    awaiting: Mapped[dict[str, Any] | None]
    entered_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    exit_reason: Mapped[str | None] = mapped_column(String(64))
    goal_reached_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]


class EnrolmentStep(Base):
    """A step an enrolment ran, and what came of it: the journey's audit trail."""

    __tablename__ = "enrolment_steps"
    __table_args__ = (Index(None, "enrolment_id", "id"), Index(None, "journey_id", "step_id"))

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    enrolment_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("enrolments.id", ondelete="CASCADE")
    )
    journey_id: Mapped[int] = mapped_column(IdType)
    step_id: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(32))
    variant: Mapped[str | None] = mapped_column(String(32))
    message_key: Mapped[str | None] = mapped_column(String(200))
    worker: Mapped[str | None] = mapped_column(String(64))
    ran_at: Mapped[datetime]


class TriggerWatermark(Base):
    """How far a journey's time-driven trigger has looked: the next run starts here."""

    __tablename__ = "trigger_watermarks"

    journey_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("journeys.id", ondelete="CASCADE"), primary_key=True
    )
    scanned_until: Mapped[datetime]
