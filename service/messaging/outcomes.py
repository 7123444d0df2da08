"""What became of a claimed message, and recording it: one fenced UPDATE per kind of outcome.

Each builder returns the columns an outcome sets; `record` writes many outcomes in a few
executemany statements. Every write is fenced on the lease (`leased_by` and the status the lease
holds), so an outcome arriving after the lease was reaped and re-claimed changes nothing.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Table, bindparam, update
from sqlalchemy.ext.asyncio import AsyncSession

from service.messaging.claims import Claimed
from service.messaging.outbox import Message, MessageStatus

log = logging.getLogger("huitou.dispatcher")
ERROR_CHARS = 500


@dataclass(frozen=True)
class Copy:
    """The message as it went (or may have gone) out, kept on the row."""

    subject: str | None
    body: str
    segments: int
    cost: Decimal
    recipient_hash: str
    copy_fingerprint: str

    def columns(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "body": self.body,
            "segments": self.segments,
            "cost": self.cost,
            "recipient_hash": self.recipient_hash,
            "copy_fingerprint": self.copy_fingerprint,
        }


@dataclass(frozen=True)
class Outcome:
    message_id: int
    held: MessageStatus  # the status the lease holds the row in: `sending`, or `unknown`
    values: Mapping[str, Any]

    @property
    def status(self) -> MessageStatus:
        status: MessageStatus = self.values["status"]
        return status

    @property
    def reason(self) -> str | None:
        reason: str | None = self.values.get("status_reason")
        return reason


def _released(status: MessageStatus, reason: str | None, now: datetime) -> dict[str, Any]:
    return {
        "status": status,
        "status_reason": reason,
        "leased_by": None,
        "leased_until": None,
        "updated_at": now,
    }


def _attempted(claimed: Claimed, now: datetime, gateway: str) -> dict[str, Any]:
    return {
        "attempts": claimed.attempts + 1,
        "first_attempt_at": claimed.first_attempt_at or now,
        "last_attempt_at": now,
        "gateway": gateway,
    }


def _error(error: str | None) -> str | None:
    return error[:ERROR_CHARS] if error else None


def sent(
    claimed: Claimed, *, now: datetime, gateway: str, provider_id: str | None, copy: Copy
) -> Outcome:
    values = {
        **_released(MessageStatus.SENT, None, now),
        **_attempted(claimed, now, gateway),
        **copy.columns(),
        "provider_message_id": provider_id,
        "sent_at": now,
        "last_error": None,
    }
    return Outcome(claimed.id, MessageStatus.SENDING, values)


def retry(claimed: Claimed, *, now: datetime, at: datetime, gateway: str, error: str) -> Outcome:
    values = {
        **_released(MessageStatus.QUEUED, "retry", now),
        **_attempted(claimed, now, gateway),
        "send_after_at": at,
        "last_error": _error(error),
    }
    return Outcome(claimed.id, MessageStatus.SENDING, values)


def failed(
    claimed: Claimed,
    *,
    now: datetime,
    reason: str,
    error: str | None,
    gateway: str | None = None,
    held: MessageStatus = MessageStatus.SENDING,
) -> Outcome:
    values = {
        **_released(MessageStatus.FAILED, reason, now),
        "failed_at": now,
        "last_error": _error(error),
    }
    if gateway is not None:  # the gateway refused it: that was an attempt
        values |= _attempted(claimed, now, gateway)
    return Outcome(claimed.id, held, values)


def unknown(
    claimed: Claimed,
    *,
    now: datetime,
    check_at: datetime,
    gateway: str,
    error: str,
    copy: Copy,
    attempted: bool,
) -> Outcome:
    """The send may have happened: never resent blindly, checked again at `check_at`."""
    values = {
        **_released(MessageStatus.UNKNOWN, "unknown_outcome", now),
        **copy.columns(),
        "gateway": gateway,
        "send_after_at": check_at,
        "last_error": _error(error),
    }
    if attempted:
        values |= _attempted(claimed, now, gateway)
    return Outcome(claimed.id, MessageStatus.SENDING, values)


def deferred(claimed: Claimed, *, now: datetime, until: datetime, reason: str) -> Outcome:
    values = {**_released(MessageStatus.QUEUED, reason, now), "send_after_at": until}
    return Outcome(claimed.id, MessageStatus.SENDING, values)


def stopped(claimed: Claimed, *, now: datetime, status: MessageStatus, reason: str) -> Outcome:
    """Suppressed or expired by a policy: final, nothing was sent."""
    return Outcome(claimed.id, MessageStatus.SENDING, _released(status, reason, now))


def resolved(
    claimed: Claimed, *, now: datetime, status: MessageStatus, provider_id: str | None
) -> Outcome:
    """An unknown outcome the provider answered for: it went out at the last attempt."""
    values = {
        **_released(status, None, now),
        "sent_at": claimed.last_attempt_at or now,
        "provider_message_id": provider_id,
        "last_error": None,
    }
    if status is MessageStatus.DELIVERED:
        values["delivered_at"] = now
    return Outcome(claimed.id, MessageStatus.UNKNOWN, values)


def requeued(claimed: Claimed, *, now: datetime, reason: str) -> Outcome:
    """The provider has no record of it: it never went out, so it is sent again."""
    values = {**_released(MessageStatus.QUEUED, reason, now), "send_after_at": now}
    return Outcome(claimed.id, MessageStatus.UNKNOWN, values)


def recheck(claimed: Claimed, *, now: datetime, at: datetime, error: str | None) -> Outcome:
    values: dict[str, Any] = {
        **_released(MessageStatus.UNKNOWN, "unknown_outcome", now),
        "send_after_at": at,
    }
    if error is not None:
        values["last_error"] = _error(error)
    return Outcome(claimed.id, MessageStatus.UNKNOWN, values)


async def record(session: AsyncSession, outcomes: Iterable[Outcome], *, worker: str) -> int:
    """Write the outcomes, fenced on this worker's lease; the number of rows written."""
    groups: dict[tuple[MessageStatus, tuple[str, ...]], list[Outcome]] = defaultdict(list)
    for outcome in outcomes:
        groups[(outcome.held, tuple(sorted(outcome.values)))].append(outcome)
    written = expected = 0
    table = cast(Table, Message.__table__)
    for (held, keys), group in groups.items():
        statement = (
            update(table)
            .where(
                table.c.id == bindparam("m_id"),
                table.c.leased_by == bindparam("m_worker"),
                table.c.status == bindparam("m_held", type_=table.c.status.type),
            )
            .values({key: bindparam(f"v_{key}", type_=table.c[key].type) for key in keys})
        )
        params = [
            {"m_id": o.message_id, "m_worker": worker, "m_held": held}
            | {f"v_{key}": o.values[key] for key in keys}
            for o in group
        ]
        result = await session.execute(statement, params)
        written += int(getattr(result, "rowcount", 0) or 0)
        expected += len(group)
    if written < expected:
        log.warning("outcomes of %d messages arrived after their lease", expected - written)
    return written
