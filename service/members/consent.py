"""Consent decisions that arrive from outside (replies, links, bounces), applied at most once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.db import dialect_insert, session_dialect
from service.events.service import append_event
from service.members.models import Channel, MemberConsent, Suppression
from service.members.service import record_consent

# A stronger reason replaces a weaker one on the suppression list, never the other way round.
SUPPRESSION_STRENGTH = {"erased": 3, "hard_bounce": 2}


async def current_consent(
    session: AsyncSession, *, member_id: int, channel: Channel
) -> MemberConsent | None:
    return await session.scalar(
        select(MemberConsent).where(
            MemberConsent.member_id == member_id,
            MemberConsent.channel == channel,
            MemberConsent.purpose == "marketing",
        )
    )


async def apply_consent(
    session: AsyncSession,
    *,
    member_id: int,
    channel: Channel,
    granted: bool,
    source: str,
    at: datetime,
    now: datetime,
) -> bool:
    """Record a marketing consent decision made at `at`, with its event; False if it changes
    nothing: the same decision is in force, or it is a grant older than the recorded decision.
    A withdrawal always applies, however late it arrives: stopping wrongly is undone by the
    member's next opt-in, messaging someone who asked us to stop is not undone at all."""
    current = await current_consent(session, member_id=member_id, channel=channel)
    if current is not None and current.granted == granted:
        return False
    if current is not None and granted and current.changed_at > at:
        return False
    await record_consent(
        session, member_id=member_id, channel=channel, granted=granted, source=source, now=at
    )
    await append_event(
        session,
        type="member.consent_changed",
        member_id=member_id,
        occurred_at=at,
        now=now,
        payload={"channel": channel.value, "granted": granted, "source": source},
    )
    return True


async def suppress_hash(
    session: AsyncSession, *, contact_hash: str, channel: Channel, reason: str, now: datetime
) -> None:
    """Put a hashed contact on the suppression list, upgrading a weaker reason already there."""
    strength = SUPPRESSION_STRENGTH.get(reason, 0)
    at_least_as_strong = {reason, *(r for r, s in SUPPRESSION_STRENGTH.items() if s >= strength)}
    await session.execute(
        dialect_insert(session_dialect(session), Suppression)
        .values(contact_hash=contact_hash, channel=channel, reason=reason, created_at=now)
        .on_conflict_do_update(
            index_elements=["contact_hash", "channel"],
            set_={"reason": reason, "created_at": now},
            where=Suppression.reason.not_in(sorted(at_least_as_strong)),
        )
    )


async def suppression_reason(
    session: AsyncSession, *, contact_hash: str, channel: Channel
) -> str | None:
    return await session.scalar(
        select(Suppression.reason).where(
            Suppression.contact_hash == contact_hash, Suppression.channel == channel
        )
    )
