"""Delivery receipts applied to outbox messages: matched in a few queries, moved up at most once.

A receipt finds its message by our idempotency key when the gateway echoes it, else by the
gateway's own message id; Aliyun reports for messages whose send ended `unknown` (so no BizId
was recorded) are found by OutId among that number's unknown messages. A receipt that finds
nothing is counted as unmatched and acknowledged with 200: the gateway retrying it could
never make it match, and a 404 would only have it retry for days.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.events.service import append_event
from service.members.consent import suppress_hash
from service.members.contacts import contact_hash
from service.members.models import Channel, Member
from service.messaging.callbacks.transitions import Change, DeliveryReport, receipt_change
from service.messaging.gateways.aliyun import out_id
from service.messaging.outbox import Message, MessageStatus


@dataclass
class ReceiptCounts:
    received: int = 0
    applied: int = 0
    unchanged: int = 0
    unmatched: int = 0


async def apply_reports(
    session: AsyncSession,
    *,
    gateway: str,
    reports: Sequence[DeliveryReport],
    salt: bytes,
    now: datetime,
) -> ReceiptCounts:
    """Apply a batch of receipts from `gateway`; the counts say what each one did."""
    counts = ReceiptCounts(received=len(reports))
    matches = await _match(session, gateway=gateway, reports=reports, salt=salt)
    for report, messages in zip(reports, matches, strict=True):
        if not messages:
            counts.unmatched += 1
            continue
        applied = False
        for message in messages:
            change = receipt_change(message.status, message.status_reason, report)
            if change is not None:
                await _apply(session, message, change, report, gateway=gateway, salt=salt, now=now)
                applied = True
        if applied:
            counts.applied += 1
        else:
            counts.unchanged += 1
    return counts


async def _match(
    session: AsyncSession, *, gateway: str, reports: Sequence[DeliveryReport], salt: bytes
) -> list[list[Message]]:
    """The messages each report names, locked in id order (two batches never deadlock)."""
    keys = {r.idempotency_key for r in reports if r.idempotency_key}
    ids = {r.provider_message_id for r in reports if r.provider_message_id}
    found: list[Message] = []
    if keys or ids:
        query = select(Message).where(
            or_(
                Message.idempotency_key.in_(keys),
                and_(Message.gateway == gateway, Message.provider_message_id.in_(ids)),
            )
        )
        found = list(await session.scalars(query.order_by(Message.id).with_for_update()))
    by_key = {m.idempotency_key: m for m in found}
    by_id: dict[str | None, list[Message]] = defaultdict(list)
    for m in found:
        if m.gateway == gateway:
            by_id[m.provider_message_id].append(m)
    matches = [
        [by_key[r.idempotency_key]]
        if r.idempotency_key in by_key
        else list(by_id.get(r.provider_message_id, []))
        for r in reports
    ]
    wanted = {
        r.phone for r, m in zip(reports, matches, strict=True) if not m and r.out_id and r.phone
    }
    if wanted:
        by_out_id = await _unknown_by_out_id(session, phones=wanted, salt=salt)
        for i, report in enumerate(reports):
            if not matches[i] and report.out_id in by_out_id:
                matches[i] = [by_out_id[report.out_id]]
    return matches


async def _unknown_by_out_id(
    session: AsyncSession, *, phones: set[str], salt: bytes
) -> dict[str, Message]:
    """Unknown-outcome SMS to these numbers, by the OutId their send carried."""
    hashes = [contact_hash(salt, Channel.SMS, phone) for phone in phones]
    members = select(Member.id).where(Member.phone.in_(phones))
    query = select(Message).where(
        Message.status == MessageStatus.UNKNOWN,
        Message.channel == Channel.SMS,
        or_(Message.recipient_hash.in_(hashes), Message.member_id.in_(members)),
    )
    rows = await session.scalars(query.order_by(Message.id).with_for_update())
    return {out_id(m.idempotency_key): m for m in rows}


async def _apply(
    session: AsyncSession,
    message: Message,
    change: Change,
    report: DeliveryReport,
    *,
    gateway: str,
    salt: bytes,
    now: datetime,
) -> None:
    message.status, message.status_reason = change.status, change.reason
    if change.status is MessageStatus.DELIVERED:
        message.delivered_at = report.occurred_at
    else:
        message.failed_at = report.occurred_at
    message.gateway = message.gateway or gateway
    message.provider_message_id = message.provider_message_id or report.provider_message_id
    message.updated_at = now
    if change.suppress:
        await _suppress_recipient(session, message, report, salt=salt, now=now)
    await append_event(
        session,
        type=f"message.{change.status.value}",
        member_id=message.member_id,
        occurred_at=report.occurred_at,
        now=now,
        payload={
            "message_id": message.id,
            "gateway": gateway,
            "reason": change.reason,
            "bounce": report.bounce.value if report.bounce else None,
        },
    )


async def _suppress_recipient(
    session: AsyncSession, message: Message, report: DeliveryReport, *, salt: bytes, now: datetime
) -> None:
    """Suppress the address that bounced: the recorded recipient, else the number the receipt
    names, else the member's contact on the message's channel."""
    digest = message.recipient_hash
    contact = report.phone if message.channel is Channel.SMS else None
    if digest is None and contact is None:
        column = Member.phone if message.channel is Channel.SMS else Member.email
        contact = await session.scalar(select(column).where(Member.id == message.member_id))
    if digest is None and contact:
        digest = contact_hash(salt, message.channel, contact)
    if digest is not None:
        await suppress_hash(
            session, contact_hash=digest, channel=message.channel, reason="hard_bounce", now=now
        )
