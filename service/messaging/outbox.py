"""The outbox: one row per message decided, written in the transaction that decided it.

Journeys write rows `queued`; the dispatcher claims them, re-checks policies at send time, sends
them and records what happened. The idempotency key (enrolment + step, or journey + member +
occasion) is UNIQUE, so a retried decision can never queue a message twice.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base, IdType, Money, enum_type
from service.members.models import Channel
from service.messaging.policies import Purpose


class MessageStatus(StrEnum):
    QUEUED = "queued"  # waiting for its send time (also after a deferral or a retry)
    SENDING = "sending"  # claimed by a dispatcher until leased_until
    SENT = "sent"  # the gateway accepted it
    DELIVERED = "delivered"  # a receipt confirmed delivery
    FAILED = "failed"  # permanently refused, or retries ran past the deadline
    UNKNOWN = "unknown"  # the request may have gone out; resolved by receipt or query
    SUPPRESSED = "suppressed"  # a policy stopped it (consent, suppression, erased, holdout)
    EXPIRED = "expired"  # its moment passed before it could be sent


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        Index(None, "status", "send_after_at"),
        Index(None, "member_id", "created_at"),
        Index(None, "journey_id", "status"),
        Index(None, "gateway", "provider_message_id"),
        Index(None, "copy_fingerprint"),  # "the same copy to this contact today?"
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    # None only for a test send filled with the built-in sample member (is_test)
    member_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("members.id"))
    journey_id: Mapped[int | None] = mapped_column(IdType)
    journey_version: Mapped[int | None]
    enrolment_id: Mapped[int | None] = mapped_column(IdType, index=True)
    step_id: Mapped[str | None] = mapped_column(String(64))
    variant: Mapped[str | None] = mapped_column(String(32))
    channel: Mapped[Channel] = mapped_column(enum_type(Channel))
    template: Mapped[str] = mapped_column(String(200))
    purpose: Mapped[Purpose] = mapped_column(enum_type(Purpose))
    priority: Mapped[int] = mapped_column(default=50)
    status: Mapped[MessageStatus] = mapped_column(
        enum_type(MessageStatus), default=MessageStatus.QUEUED
    )
    status_reason: Mapped[str | None] = mapped_column(String(200))
    # What the copy needs beyond the member: order id, item id, occasion, coupon, overrides.
    context: Mapped[dict[str, Any]] = mapped_column(default=dict)
    send_after_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)  # times handed to a gateway
    first_attempt_at: Mapped[datetime | None]  # the retry deadline counts from here
    last_attempt_at: Mapped[datetime | None]  # the last hand-over (or the latest it can have been)
    last_error: Mapped[str | None] = mapped_column(String(500))
    leased_until: Mapped[datetime | None]
    leased_by: Mapped[str | None] = mapped_column(String(64))
    gateway: Mapped[str | None] = mapped_column(String(32))
    provider_message_id: Mapped[str | None] = mapped_column(String(128))
    recipient_hash: Mapped[str | None] = mapped_column(String(64))  # salted, never the number
    copy_fingerprint: Mapped[str | None] = mapped_column(String(64))
    subject: Mapped[str | None] = mapped_column(String(300))
    body: Mapped[str | None] = mapped_column(Text)
    segments: Mapped[int | None]
    cost: Mapped[Decimal | None] = mapped_column(Money(places=4))  # SMS segments cost ¥0.045
    is_test: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    failed_at: Mapped[datetime | None]
