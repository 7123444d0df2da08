"""Read models of members: one member with everything, or a filtered page."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.analytics.models import MemberAnalytics
from service.analytics.views import analytics_of, analytics_stats
from service.members.models import Channel, Member, MemberConsent, MemberTag, Suppression
from service.members.schemas import ConsentOut, LunarBirthday, MemberOut, MemberPage, MemberStats
from service.members.service import contact_hashes, decode_cursor, encode_cursor


@dataclass(frozen=True)
class MemberFilter:
    tag: str | None = None
    city: str | None = None
    region: str | None = None
    locale: str | None = None
    min_paid_orders: int | None = None
    max_paid_orders: int | None = None
    last_paid_before: datetime | None = None
    last_paid_after: datetime | None = None


async def member_views(
    session: AsyncSession, members: Sequence[Member], *, now: datetime, salt: bytes
) -> list[MemberOut]:
    """API views of members, with tags, consent and suppression loaded in three queries."""
    ids = [m.id for m in members]
    tags: dict[int, list[str]] = defaultdict(list)
    for member_id, tag in await session.execute(
        select(MemberTag.member_id, MemberTag.tag)
        .where(MemberTag.member_id.in_(ids))
        .order_by(MemberTag.tag)
    ):
        tags[member_id].append(tag)
    consents: dict[int, dict[Channel, ConsentOut]] = defaultdict(dict)
    for row in await session.scalars(
        select(MemberConsent).where(
            MemberConsent.member_id.in_(ids), MemberConsent.purpose == "marketing"
        )
    ):
        consents[row.member_id][row.channel] = ConsentOut(
            granted=row.granted, source=row.source, changed_at=row.changed_at
        )
    analytics = await analytics_of(session, ids)
    hashes = {m.id: contact_hashes(salt, m.phone, m.email) for m in members}
    all_hashes = [h for per in hashes.values() for h in per.values()]
    suppressed = (
        set(
            await session.execute(
                select(Suppression.channel, Suppression.contact_hash).where(
                    Suppression.contact_hash.in_(all_hashes)
                )
            )
        )
        if all_hashes
        else set()
    )
    return [
        _view(
            m,
            tags=tags[m.id],
            consent=consents[m.id],
            suppressed=[c for c, h in hashes[m.id].items() if (c, h) in suppressed],
            analytics=analytics.get(m.id),
            now=now,
        )
        for m in members
    ]


def _view(
    m: Member,
    *,
    tags: list[str],
    consent: dict[Channel, ConsentOut],
    suppressed: list[Channel],
    analytics: MemberAnalytics | None,
    now: datetime,
) -> MemberOut:
    lunar = (
        LunarBirthday(month=m.lunar_birth_month, day=m.lunar_birth_day)
        if m.lunar_birth_month and m.lunar_birth_day
        else None
    )
    return MemberOut(
        external_id=m.external_id,
        name=m.name,
        phone=m.phone,
        email=m.email,
        gender=m.gender,
        birthday=m.birthday,
        lunar_birthday=lunar,
        city=m.city,
        region=m.region,
        locale=m.locale,
        timezone=m.timezone,
        tags=tags,
        attributes=m.attributes,
        consent=consent,
        suppressed_channels=suppressed,
        stats=MemberStats(
            paid_orders=m.paid_orders,
            total_spent=m.total_spent,
            average_order_value=m.average_order_value,
            first_paid_at=m.first_paid_at,
            last_paid_at=m.last_paid_at,
            days_since_last_paid=(now - m.last_paid_at).days if m.last_paid_at else None,
            **analytics_stats(analytics),
        ),
        created_at=m.created_at,
        updated_at=m.updated_at,
        erased_at=m.erased_at,
    )


async def list_members(
    session: AsyncSession,
    *,
    filters: MemberFilter,
    cursor: str | None,
    limit: int,
    now: datetime,
    salt: bytes,
) -> MemberPage:
    """One page of members in id order; the cursor is opaque to clients."""
    query = select(Member).order_by(Member.id).limit(limit + 1)
    if cursor:
        query = query.where(Member.id > decode_cursor(cursor))
    if filters.tag:
        query = query.where(
            exists().where(MemberTag.member_id == Member.id, MemberTag.tag == filters.tag)
        )
    for column, value in (
        (Member.city, filters.city),
        (Member.region, filters.region),
        (Member.locale, filters.locale),
    ):
        if value is not None:
            query = query.where(column == value)
    if filters.min_paid_orders is not None:
        query = query.where(Member.paid_orders >= filters.min_paid_orders)
    if filters.max_paid_orders is not None:
        query = query.where(Member.paid_orders <= filters.max_paid_orders)
    if filters.last_paid_before is not None:
        query = query.where(Member.last_paid_at < filters.last_paid_before)
    if filters.last_paid_after is not None:
        query = query.where(Member.last_paid_at >= filters.last_paid_after)
    rows = list(await session.scalars(query))
    page, more = rows[:limit], len(rows) > limit
    return MemberPage(
        items=await member_views(session, page, now=now, salt=salt),
        next_cursor=encode_cursor(page[-1].id) if more else None,
    )
