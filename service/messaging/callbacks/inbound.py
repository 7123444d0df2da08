"""Inbound SMS replies: each recorded once per provider id, as a `member.replied` event.

A reply asking to opt out (see `keywords`) withdraws SMS marketing consent of every member with
that number; one asking to opt in grants it, unless the number is on the suppression list: a
reply never lifts a hard bounce or an erasure. Replies are applied in the order they were sent;
an opt-out applies however late it arrives, an opt-in never overrides a decision recorded after
the reply was sent (see `apply_consent`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.events.service import append_event
from service.members.consent import apply_consent, suppression_reason
from service.members.contacts import contact_hash
from service.members.models import Channel, Member
from service.messaging.callbacks.formats import InboundReply
from service.messaging.callbacks.keywords import ReplyAction, ReplyIntent, match_reply
from service.orders.service import claim_delivery

TEXT_KEPT = 500


@dataclass
class InboundCounts:
    received: int = 0
    recorded: int = 0
    duplicates: int = 0
    unmatched: int = 0
    opted_out: int = 0
    opted_in: int = 0


async def record_replies(
    session: AsyncSession,
    *,
    gateway: str,
    replies: Sequence[InboundReply],
    salt: bytes,
    now: datetime,
) -> InboundCounts:
    """Record a batch of replies from `gateway`; a provider id seen before changes nothing."""
    counts = InboundCounts(received=len(replies))
    source = f"inbound:{gateway}"
    for reply in sorted(replies, key=lambda r: r.received_at):
        if not await claim_delivery(session, source=source, delivery_id=reply.provider_id, now=now):
            counts.duplicates += 1
            continue
        counts.recorded += 1
        member_ids = await _members_with(session, reply.phone)
        if not member_ids:
            counts.unmatched += 1
            continue
        intent = match_reply(reply.text)
        refused = await _refusal(session, intent, phone=reply.phone, salt=salt)
        for member_id in member_ids:
            await _record(session, member_id, reply, intent, refused, gateway=gateway, now=now)
            if intent is None or refused is not None:
                continue
            granted = intent.action is ReplyAction.OPT_IN
            if await apply_consent(
                session,
                member_id=member_id,
                channel=Channel.SMS,
                granted=granted,
                source=f"sms_reply:{intent.keyword}",
                at=reply.received_at,
                now=now,
            ):
                counts.opted_in += granted
                counts.opted_out += not granted
    return counts


async def _members_with(session: AsyncSession, phone: str) -> list[int]:
    query = select(Member.id).where(Member.phone == phone, Member.erased_at.is_(None))
    return list(await session.scalars(query.order_by(Member.id)))


async def _refusal(
    session: AsyncSession, intent: ReplyIntent | None, *, phone: str, salt: bytes
) -> str | None:
    """Why an opt-in cannot be honoured: the number's suppression reason, if it has one."""
    if intent is None or intent.action is not ReplyAction.OPT_IN:
        return None
    digest = contact_hash(salt, Channel.SMS, phone)
    return await suppression_reason(session, contact_hash=digest, channel=Channel.SMS)


async def _record(
    session: AsyncSession,
    member_id: int,
    reply: InboundReply,
    intent: ReplyIntent | None,
    refused: str | None,
    *,
    gateway: str,
    now: datetime,
) -> None:
    payload: dict[str, Any] = {
        "channel": Channel.SMS.value,
        "gateway": gateway,
        "provider_id": reply.provider_id,
        "text": reply.text[:TEXT_KEPT],
        "source": f"sms_reply:{intent.keyword}" if intent else "sms_reply",
        "action": intent.action.value if intent else None,
    }
    if refused is not None:
        payload["refused"] = refused
    await append_event(
        session,
        type="member.replied",
        member_id=member_id,
        occurred_at=reply.received_at,
        now=now,
        payload=payload,
    )
