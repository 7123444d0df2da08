"""The send-time facts of a batch, in a few set-based queries: who, consent, suppression, history.

`policies.decide` is pure; this module gathers what it decides on for every message of a
claimed batch at once, and `recipient_of`/`history_of` cut out one message's share.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.db import in_list, not_in_list, session_dialect
from service.members.contacts import contact_hash
from service.members.models import Channel, Member, MemberConsent, MemberTag, Suppression
from service.messaging.claims import Claimed
from service.messaging.outbox import Message, MessageStatus
from service.messaging.policies import History, Purpose, Recipient, local_day

# Statuses that mean "this went (or may have gone) to the contact" for caps and duplicates.
SENT_STATUSES = (MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.UNKNOWN)
WEEK = timedelta(days=7)


@dataclass(frozen=True)
class BatchFacts:
    members: Mapping[int, Member]
    tags: Mapping[int, Sequence[str]]
    consent: Mapping[tuple[int, Channel], bool]  # recorded marketing consent
    suppressions: Mapping[tuple[str, Channel], str]  # (contact hash, channel) → reason
    marketing_sent: Mapping[tuple[int, Channel], list[datetime]]  # the last 7 days
    # due or in-flight marketing messages outside the batch: (priority, id) per member/channel
    pending: Mapping[tuple[int, Channel], list[tuple[int, int]]]


def contact_of(member: Member, channel: Channel) -> str | None:
    return member.phone if channel is Channel.SMS else member.email


def member_zone(member: Member, default: ZoneInfo) -> ZoneInfo:
    try:
        return ZoneInfo(member.timezone) if member.timezone else default
    except (ZoneInfoNotFoundError, ValueError):
        return default


async def load_facts(
    session: AsyncSession, batch: Sequence[Claimed], *, now: datetime, salt: bytes
) -> BatchFacts:
    member_ids = sorted({c.member_id for c in batch})
    dialect = session_dialect(session)
    members = {
        m.id: m
        for m in await session.scalars(
            select(Member).where(in_list(Member.id, member_ids, dialect=dialect))
        )
    }
    tags: dict[int, list[str]] = defaultdict(list)
    for member_id, tag in await session.execute(
        select(MemberTag.member_id, MemberTag.tag)
        .where(in_list(MemberTag.member_id, member_ids, dialect=dialect))
        .order_by(MemberTag.tag)
    ):
        tags[member_id].append(tag)
    consent = {
        (member_id, channel): granted
        for member_id, channel, granted in await session.execute(
            select(MemberConsent.member_id, MemberConsent.channel, MemberConsent.granted).where(
                in_list(MemberConsent.member_id, member_ids, dialect=dialect),
                MemberConsent.purpose == "marketing",
            )
        )
    }
    return BatchFacts(
        members=members,
        tags=tags,
        consent=consent,
        suppressions=await _suppressions(session, batch, members, salt),
        marketing_sent=await _marketing_sent(session, member_ids, now),
        pending=await _pending(session, batch, member_ids, now),
    )


async def _suppressions(
    session: AsyncSession, batch: Sequence[Claimed], members: Mapping[int, Member], salt: bytes
) -> dict[tuple[str, Channel], str]:
    hashes = set()
    for claimed in batch:
        member = members.get(claimed.member_id)
        contact = contact_of(member, claimed.channel) if member else None
        if contact:
            hashes.add(contact_hash(salt, claimed.channel, contact))
    if not hashes:
        return {}
    rows = await session.execute(
        select(Suppression.contact_hash, Suppression.channel, Suppression.reason).where(
            in_list(Suppression.contact_hash, sorted(hashes), dialect=session_dialect(session))
        )
    )
    return {(digest, channel): reason for digest, channel, reason in rows}


async def _marketing_sent(
    session: AsyncSession, member_ids: Sequence[int], now: datetime
) -> dict[tuple[int, Channel], list[datetime]]:
    at = func.coalesce(Message.sent_at, Message.last_attempt_at).label("at")
    rows = await session.execute(
        select(Message.member_id, Message.channel, at).where(
            in_list(Message.member_id, member_ids, dialect=session_dialect(session)),
            Message.purpose == Purpose.MARKETING,
            Message.status.in_(SENT_STATUSES),
            Message.is_test.is_(False),  # a marketer's test send counts toward no member's cap
            at > now - WEEK,
        )
    )
    sent: dict[tuple[int, Channel], list[datetime]] = defaultdict(list)
    for member_id, channel, moment in rows:
        sent[(cast(int, member_id), channel)].append(_aware(moment))  # selected by member
    return sent


async def _pending(
    session: AsyncSession, batch: Sequence[Claimed], member_ids: Sequence[int], now: datetime
) -> dict[tuple[int, Channel], list[tuple[int, int]]]:
    dialect = session_dialect(session)
    rows = await session.execute(
        select(Message.member_id, Message.channel, Message.priority, Message.id).where(
            in_list(Message.member_id, member_ids, dialect=dialect),
            Message.purpose == Purpose.MARKETING,
            not_in_list(Message.id, [c.id for c in batch], dialect=dialect),
            Message.is_test.is_(False),
            or_(
                and_(Message.status == MessageStatus.QUEUED, Message.send_after_at <= now),
                and_(Message.status == MessageStatus.SENDING, Message.leased_until >= now),
            ),
            or_(Message.expires_at.is_(None), Message.expires_at > now),
        )
    )
    pending: dict[tuple[int, Channel], list[tuple[int, int]]] = defaultdict(list)
    for member_id, channel, priority, message_id in rows:
        pending[(cast(int, member_id), channel)].append((priority, message_id))
    return pending


async def copies_sent(
    session: AsyncSession, fingerprints: Collection[str], *, since: datetime
) -> dict[str, list[datetime]]:
    """When each of these copy fingerprints went out since `since`."""
    if not fingerprints:
        return {}
    at = func.coalesce(Message.sent_at, Message.last_attempt_at).label("at")
    rows = await session.execute(
        select(Message.copy_fingerprint, at).where(
            in_list(
                Message.copy_fingerprint, sorted(fingerprints), dialect=session_dialect(session)
            ),
            Message.status.in_(SENT_STATUSES),
            Message.is_test.is_(False),
            at >= since,
        )
    )
    found: dict[str, list[datetime]] = defaultdict(list)
    for fingerprint, moment in rows:
        if fingerprint is not None:
            found[fingerprint].append(_aware(moment))
    return found


def _aware(moment: datetime) -> datetime:
    """coalesce() loses the column type on SQLite: naive values there are UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def recipient_of(
    claimed: Claimed, facts: BatchFacts, *, salt: bytes, zone: ZoneInfo
) -> tuple[Recipient, str | None]:
    """The policy view of the message's contact, and the contact's salted hash."""
    member = facts.members.get(claimed.member_id)
    contact = contact_of(member, claimed.channel) if member else None
    digest = contact_hash(salt, claimed.channel, contact) if contact else None
    erased = member is None or member.erased_at is not None
    recipient = Recipient(
        has_contact=contact is not None or erased,  # an erased contact is named as such
        zone=member_zone(member, zone) if member else zone,
        consent=facts.consent.get((claimed.member_id, claimed.channel)),
        suppression=facts.suppressions.get((digest, claimed.channel)) if digest else None,
        erased=erased,
    )
    return recipient, digest


def history_of(
    claimed: Claimed,
    facts: BatchFacts,
    *,
    sent_in_batch: Sequence[datetime],
    copy_times: Sequence[datetime],
    now: datetime,
    zone: ZoneInfo,
) -> History:
    key = (claimed.member_id, claimed.channel)
    outranking = sum(
        1
        for priority, other in facts.pending.get(key, ())
        if (priority, -other) > (claimed.priority, -claimed.id)
    )
    start, end = local_day(now, zone)
    return History(
        marketing_sent_at=[*facts.marketing_sent.get(key, ()), *sent_in_batch],
        pending_higher_priority=outranking,
        same_copy_sent_today=any(start <= t < end for t in copy_times),
    )
