"""Claiming outbox messages: leases taken with `FOR UPDATE SKIP LOCKED`, then UPDATE … RETURNING.

Any number of dispatchers may claim at once: a row another one is claiming is skipped, never
waited for, and a claimed row carries `leased_by`/`leased_until`. Every write the dispatcher
makes afterwards is fenced on that lease (see outcomes.py), so a slow dispatcher whose lease
was reaped cannot overwrite what the next one recorded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Row, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from service.members.models import Channel
from service.messaging.outbox import Message, MessageStatus
from service.messaging.policies import Purpose

LEASE_EXPIRED = "lease_expired"


@dataclass(frozen=True)
class Claimed:
    """A leased message: what sending, recording or resolving it needs."""

    id: int
    idempotency_key: str
    member_id: int
    journey_id: int | None
    channel: Channel
    template: str
    purpose: Purpose
    priority: int
    context: Mapping[str, Any]
    send_after_at: datetime
    expires_at: datetime | None
    attempts: int
    first_attempt_at: datetime | None
    last_attempt_at: datetime | None
    status_reason: str | None
    gateway: str | None
    subject: str | None
    body: str | None
    segments: int | None
    cost: Decimal | None
    recipient_hash: str | None
    copy_fingerprint: str | None

    @classmethod
    def unsent(
        cls,
        *,
        idempotency_key: str,
        member_id: int,
        journey_id: int | None,
        channel: Channel,
        template: str,
        purpose: Purpose,
        priority: int,
        context: Mapping[str, Any],
        now: datetime,
    ) -> Claimed:
        """A message never handed to a gateway (a preview, a test send), as the copy path reads
        it."""
        return cls(
            id=0,
            idempotency_key=idempotency_key,
            member_id=member_id,
            journey_id=journey_id,
            channel=channel,
            template=template,
            purpose=purpose,
            priority=priority,
            context=context,
            send_after_at=now,
            expires_at=None,
            attempts=0,
            first_attempt_at=None,
            last_attempt_at=None,
            status_reason=None,
            gateway=None,
            subject=None,
            body=None,
            segments=None,
            cost=None,
            recipient_hash=None,
            copy_fingerprint=None,
        )

    @property
    def was_reaped(self) -> bool:
        """Its previous lease ran out mid-send: the send may or may not have happened."""
        return self.status_reason == LEASE_EXPIRED


COLUMNS = tuple(getattr(Message, name) for name in Claimed.__dataclass_fields__)


def _claimed(row: Row[Any]) -> Claimed:
    return Claimed(**row._mapping)


async def reap_expired_leases(session: AsyncSession, *, now: datetime) -> int:
    """Messages left `sending` by a dispatcher that died go back to the queue."""
    stuck = (
        select(Message.id)
        .where(Message.status == MessageStatus.SENDING, Message.leased_until < now)
        .with_for_update(skip_locked=True)
    )
    result = await session.execute(
        update(Message)
        .where(Message.id.in_(stuck.scalar_subquery()))
        .values(
            status=MessageStatus.QUEUED,
            status_reason=LEASE_EXPIRED,
            # the latest instant the lost send can have happened, for a provider query
            last_attempt_at=Message.leased_until,
            leased_by=None,
            leased_until=None,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def claim_due(
    session: AsyncSession, *, now: datetime, worker: str, limit: int, lease: timedelta
) -> list[Claimed]:
    """Lease up to `limit` queued messages due by `now`, oldest due first."""
    due = (
        select(Message.id)
        .where(Message.status == MessageStatus.QUEUED, Message.send_after_at <= now)
        .where(or_(Message.leased_until.is_(None), Message.leased_until < now))
        .where(Message.is_test.is_(False))  # test sends go out in their request, never here
        # index order only: a tie-break on id would sort every message of a blast on each claim
        .order_by(Message.send_after_at)
        .limit(limit)
        .with_for_update(skip_locked=True)  # rendered on PostgreSQL; SQLite writers are serial
    )
    return await _lease(session, due, MessageStatus.SENDING, now=now, worker=worker, lease=lease)


async def claim_unknown(
    session: AsyncSession, *, now: datetime, worker: str, limit: int, lease: timedelta
) -> list[Claimed]:
    """Lease unknown-outcome messages whose next check is due; they stay `unknown`."""
    due = (
        select(Message.id)
        .where(Message.status == MessageStatus.UNKNOWN, Message.send_after_at <= now)
        .where(or_(Message.leased_until.is_(None), Message.leased_until < now))
        .where(Message.is_test.is_(False))
        .order_by(Message.send_after_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return await _lease(session, due, MessageStatus.UNKNOWN, now=now, worker=worker, lease=lease)


async def _lease(
    session: AsyncSession,
    due: Any,
    status: MessageStatus,
    *,
    now: datetime,
    worker: str,
    lease: timedelta,
) -> list[Claimed]:
    rows = await session.execute(
        update(Message)
        .where(Message.id.in_(due.scalar_subquery()))
        .values(status=status, leased_by=worker, leased_until=now + lease, updated_at=now)
        .returning(*COLUMNS)
        .execution_options(synchronize_session=False)
    )
    return sorted((_claimed(row) for row in rows), key=lambda c: (c.send_after_at, c.id))
