"""What a delivery receipt does to a message's status (pure).

Receipts only move a message up this ladder, so the same receipt twice, or receipts in any
order, end in the same state:

    sent / unknown  <  failed (soft)  <  delivered  <  failed (hard bounce)

- a `delivered` after a soft failure wins: carriers retry, and a delivery proves the earlier
  failure was provisional;
- a soft failure after `delivered` is stale and ignored;
- a hard bounce beats everything, `delivered` included (an email accepted by the receiving
  server can still bounce later), and suppresses the contact; a later `delivered` does not
  undo it, nor lift the suppression;
- a message still queued or sending, or one that was suppressed or expired, takes no receipt.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from service.messaging.outbox import MessageStatus

HARD_BOUNCE = "hard_bounce"
SOFT_BOUNCE = "soft_bounce"
REASON_CHARS = 200


class ReportOutcome(StrEnum):
    DELIVERED = "delivered"
    FAILED = "failed"
    BOUNCED = "bounced"


class Bounce(StrEnum):
    HARD = "hard"
    SOFT = "soft"


@dataclass(frozen=True)
class DeliveryReport:
    """One receipt, whatever the gateway's format; matched by the first id that finds a message."""

    outcome: ReportOutcome
    occurred_at: datetime
    provider_message_id: str | None = None
    idempotency_key: str | None = None
    out_id: str | None = None  # Aliyun's OutId: a digest of our idempotency key
    phone: str | None = None  # E.164, when the gateway names the recipient
    bounce: Bounce | None = None
    reason: str | None = None

    @property
    def is_hard_bounce(self) -> bool:
        return self.outcome is ReportOutcome.BOUNCED and self.bounce is Bounce.HARD


@dataclass(frozen=True)
class Change:
    status: MessageStatus
    reason: str | None
    suppress: bool = False


RECEIVING = frozenset(
    {MessageStatus.SENT, MessageStatus.UNKNOWN, MessageStatus.FAILED, MessageStatus.DELIVERED}
)


def rank(status: MessageStatus, reason: str | None) -> int:
    """The message's rung on the ladder above; -1 where receipts do not apply."""
    if status not in RECEIVING:
        return -1
    if status is MessageStatus.FAILED:
        return 3 if (reason or "").startswith(HARD_BOUNCE) else 1
    return 2 if status is MessageStatus.DELIVERED else 0


def _target(report: DeliveryReport) -> tuple[int, Change]:
    detail = (report.reason or "").strip()
    if report.outcome is ReportOutcome.DELIVERED:
        return 2, Change(MessageStatus.DELIVERED, None)
    if report.is_hard_bounce:
        reason = f"{HARD_BOUNCE}: {detail}" if detail else HARD_BOUNCE
        return 3, Change(MessageStatus.FAILED, reason[:REASON_CHARS], suppress=True)
    label = SOFT_BOUNCE if report.outcome is ReportOutcome.BOUNCED else "failed"
    reason = f"{label}: {detail}" if detail else label
    return 1, Change(MessageStatus.FAILED, reason[:REASON_CHARS])


def receipt_change(
    status: MessageStatus, reason: str | None, report: DeliveryReport
) -> Change | None:
    """The change a receipt makes to a message in `status`, or None if it changes nothing."""
    current = rank(status, reason)
    if current < 0:
        return None
    target, change = _target(report)
    return change if target > current else None
