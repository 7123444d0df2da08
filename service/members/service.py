"""Create, update, read, list and erase members; record consent."""

from __future__ import annotations

import base64
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.db import DIALECTS, dialect_insert, session_dialect, table_of
from service.errors import InvalidInput, NotFound
from service.events.service import append_event
from service.members.contacts import contact_hash, normalize_email, normalize_phone
from service.members.models import (
    DEFAULT_LOCALE,
    Channel,
    ConsentChange,
    Gender,
    Member,
    MemberConsent,
    MemberTag,
    Suppression,
)
from service.members.schemas import MemberIn

PROFILE_FIELDS = (
    "name",
    "gender",
    "birthday",
    "city",
    "region",
    "locale",
    "timezone",
    "attributes",
)


MEMBERS = table_of(Member)
# Built once per dialect: every order webhook runs them, and composing costs more than running.
_INSERT_IF_NEW = {
    name: dialect_insert(name, MEMBERS)
    .on_conflict_do_nothing(index_elements=["external_id"])
    .returning(MEMBERS.c.id)
    for name in DIALECTS
}
_ID_BY_EXTERNAL_ID = select(MEMBERS.c.id).where(MEMBERS.c.external_id == bindparam("external_id"))


class MemberNotFound(NotFound):
    code = "member_not_found"


@dataclass(frozen=True)
class Contacts:
    phone: str | None
    email: str | None


def normalize_contacts(
    phone: str | None, email: str | None, *, region: str, loc: tuple[str | int, ...] = ("body",)
) -> Contacts:
    """Both contacts normalized, or one 422 that names every bad field."""
    errors: list[dict[str, Any]] = []
    norm_phone = norm_email = None
    if phone:
        try:
            norm_phone = normalize_phone(phone, region=region)
        except ValueError as exc:
            errors.append({"loc": [*loc, "phone"], "msg": str(exc), "type": "phone"})
    if email:
        try:
            norm_email = normalize_email(email)
        except ValueError as exc:
            errors.append({"loc": [*loc, "email"], "msg": str(exc), "type": "email"})
    if errors:
        raise InvalidInput(errors)
    return Contacts(norm_phone, norm_email)


def contact_hashes(salt: bytes, phone: str | None, email: str | None) -> dict[Channel, str]:
    hashes = {}
    if phone:
        hashes[Channel.SMS] = contact_hash(salt, Channel.SMS, phone)
    if email:
        hashes[Channel.EMAIL] = contact_hash(salt, Channel.EMAIL, email)
    return hashes


async def suppressed_channels(
    session: AsyncSession, *, salt: bytes, phone: str | None, email: str | None
) -> set[Channel]:
    hashes = contact_hashes(salt, phone, email)
    if not hashes:
        return set()
    rows = await session.execute(
        select(Suppression.channel, Suppression.contact_hash).where(
            Suppression.contact_hash.in_(hashes.values())
        )
    )
    return {channel for channel, digest in rows if hashes.get(channel) == digest}


async def get_member(
    session: AsyncSession, *, external_id: str, for_update: bool = False
) -> Member:
    query = select(Member).where(Member.external_id == external_id)
    member = await session.scalar(query.with_for_update() if for_update else query)
    if member is None:
        raise MemberNotFound(
            f"no member with external id {external_id!r}", loc=["path", "external_id"]
        )
    return member


async def insert_new_member(
    session: AsyncSession, *, external_id: str, now: datetime, values: dict[str, Any]
) -> int | None:
    """The id of a member inserted now, or None if one already has this external id."""
    new_id: int | None = await session.scalar(
        _INSERT_IF_NEW[session_dialect(session)],
        {"external_id": external_id, "created_at": now, "updated_at": now, **values},
    )
    return new_id


async def insert_member_if_new(
    session: AsyncSession, *, external_id: str, now: datetime, values: dict[str, Any]
) -> tuple[int, bool]:
    """The member's id, inserting the row first if no member has this external id."""
    new_id = await insert_new_member(session, external_id=external_id, now=now, values=values)
    if new_id is not None:
        return new_id, True
    existing = await session.scalar(_ID_BY_EXTERNAL_ID, {"external_id": external_id})
    assert existing is not None
    return existing, False


async def upsert_member(
    session: AsyncSession,
    *,
    external_id: str,
    data: MemberIn,
    now: datetime,
    region: str,
    salt: bytes,
) -> tuple[Member, bool]:
    """Create or update one member; returns it and whether it was created."""
    given = data.model_fields_set
    contacts = normalize_contacts(data.phone, data.email, region=region)
    member_id, created = await insert_member_if_new(
        session, external_id=external_id, now=now, values={}
    )
    member = await session.get_one(Member, member_id, with_for_update=True, populate_existing=True)
    changed = _apply_profile(member, data, contacts, given)
    if "tags" in given:
        changed |= await _replace_tags(session, member_id=member.id, tags=data.tags or [])
    if changed or created:
        member.updated_at = now
        member.erased_at = None
    await session.flush()
    if created:
        await append_event(
            session, type="member.created", member_id=member.id, occurred_at=now, now=now
        )
    elif changed:
        await append_event(
            session,
            type="member.updated",
            member_id=member.id,
            occurred_at=now,
            now=now,
            payload={"fields": sorted(changed)},
        )
    if data.consent:
        suppressed = await suppressed_channels(
            session, salt=salt, phone=member.phone, email=member.email
        )
        await _record_initial_consent(
            session, member_id=member.id, consent=data.consent, suppressed=suppressed, now=now
        )
    return member, created


def _apply_profile(member: Member, data: MemberIn, contacts: Contacts, given: set[str]) -> set[str]:
    changed: set[str] = set()
    updates: dict[str, Any] = {f: getattr(data, f) for f in PROFILE_FIELDS if f in given}
    if "phone" in given:
        updates["phone"] = contacts.phone
    if "email" in given:
        updates["email"] = contacts.email
    if "lunar_birthday" in given:
        lunar = data.lunar_birthday
        updates["lunar_birth_month"] = lunar.month if lunar else None
        updates["lunar_birth_day"] = lunar.day if lunar else None
    if updates.get("attributes", ...) is None:
        updates["attributes"] = {}
    # Null clears: these two columns have a value for "not known" instead of NULL.
    if "gender" in updates and updates["gender"] is None:
        updates["gender"] = Gender.UNKNOWN
    if "locale" in updates and updates["locale"] is None:
        updates["locale"] = DEFAULT_LOCALE
    for field, value in updates.items():
        if getattr(member, field) != value:
            setattr(member, field, value)
            changed.add(field)
    return changed


async def _replace_tags(session: AsyncSession, *, member_id: int, tags: Iterable[str]) -> set[str]:
    wanted = set(tags)
    current = set(
        await session.scalars(select(MemberTag.tag).where(MemberTag.member_id == member_id))
    )
    if wanted == current:
        return set()
    if current - wanted:
        await session.execute(
            delete(MemberTag).where(
                MemberTag.member_id == member_id, MemberTag.tag.in_(current - wanted)
            )
        )
    session.add_all(MemberTag(member_id=member_id, tag=tag) for tag in sorted(wanted - current))
    return {"tags"}


async def add_tags(session: AsyncSession, *, member_id: int, tags: Iterable[str]) -> None:
    for tag in tags:
        await session.execute(
            dialect_insert(session_dialect(session), MemberTag)
            .values(member_id=member_id, tag=tag)
            .on_conflict_do_nothing()
        )


async def remove_tags(session: AsyncSession, *, member_id: int, tags: Iterable[str]) -> None:
    await session.execute(
        delete(MemberTag).where(MemberTag.member_id == member_id, MemberTag.tag.in_(list(tags)))
    )


async def _record_initial_consent(
    session: AsyncSession,
    *,
    member_id: int,
    consent: dict[Channel, bool],
    suppressed: set[Channel],
    now: datetime,
) -> None:
    """Consent given with the profile applies only where none is recorded yet."""
    recorded = set(
        await session.scalars(
            select(MemberConsent.channel).where(
                MemberConsent.member_id == member_id, MemberConsent.purpose == "marketing"
            )
        )
    )
    for channel, granted in consent.items():
        if channel in recorded:
            continue
        blocked = granted and channel in suppressed
        given, source = granted and not blocked, "suppression_list" if blocked else "initial"
        await record_consent(
            session, member_id=member_id, channel=channel, granted=given, source=source, now=now
        )
        await _consent_changed(
            session, member_id=member_id, channel=channel, granted=given, source=source, now=now
        )


async def _consent_changed(
    session: AsyncSession,
    *,
    member_id: int,
    channel: Channel,
    granted: bool,
    source: str,
    now: datetime,
) -> None:
    await append_event(
        session,
        type="member.consent_changed",
        member_id=member_id,
        occurred_at=now,
        now=now,
        payload={"channel": channel.value, "granted": granted, "source": source},
    )


async def record_consent(
    session: AsyncSession,
    *,
    member_id: int,
    channel: Channel,
    granted: bool,
    source: str,
    now: datetime,
    purpose: str = "marketing",
) -> None:
    """Set the member's consent for a channel and keep the change in the audit trail."""
    values = {"granted": granted, "source": source, "changed_at": now}
    await session.execute(
        dialect_insert(session_dialect(session), MemberConsent)
        .values(member_id=member_id, channel=channel, purpose=purpose, **values)
        .on_conflict_do_update(index_elements=["member_id", "channel", "purpose"], set_=values)
    )
    session.add(
        ConsentChange(
            member_id=member_id,
            channel=channel,
            purpose=purpose,
            granted=granted,
            source=source,
            occurred_at=now,
        )
    )


async def set_consent(
    session: AsyncSession,
    *,
    external_id: str,
    channel: Channel,
    granted: bool,
    source: str,
    now: datetime,
    salt: bytes,
) -> Member:
    """An explicit consent change; an explicit grant lifts an erasure or opt-out suppression."""
    member = await get_member(session, external_id=external_id, for_update=True)
    if granted:
        contact = member.phone if channel == Channel.SMS else member.email
        if contact:
            await session.execute(
                delete(Suppression).where(
                    Suppression.contact_hash == contact_hash(salt, channel, contact),
                    Suppression.channel == channel,
                    Suppression.reason != "hard_bounce",
                )
            )
    await record_consent(
        session, member_id=member.id, channel=channel, granted=granted, source=source, now=now
    )
    await _consent_changed(
        session, member_id=member.id, channel=channel, granted=granted, source=source, now=now
    )
    return member


async def suppress_contact(
    session: AsyncSession,
    *,
    channel: Channel,
    contact: str,
    reason: str,
    salt: bytes,
    now: datetime,
) -> None:
    await session.execute(
        dialect_insert(session_dialect(session), Suppression)
        .values(
            contact_hash=contact_hash(salt, channel, contact),
            channel=channel,
            reason=reason,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["contact_hash", "channel"])
    )


async def erase_member(
    session: AsyncSession, *, external_id: str, now: datetime, salt: bytes
) -> None:
    """Wipe personal data, keep the contacts' salted hashes so they are never re-subscribed."""
    member = await get_member(session, external_id=external_id, for_update=True)
    for channel, contact in ((Channel.SMS, member.phone), (Channel.EMAIL, member.email)):
        if contact:
            await suppress_contact(
                session, channel=channel, contact=contact, reason="erased", salt=salt, now=now
            )
        await record_consent(
            session, member_id=member.id, channel=channel, granted=False, source="erasure", now=now
        )
    for field in ("name", "phone", "email", "birthday", "lunar_birth_month", "lunar_birth_day"):
        setattr(member, field, None)
    member.city = member.region = None
    member.attributes = {}
    member.erased_at = member.updated_at = now
    await session.execute(delete(MemberTag).where(MemberTag.member_id == member.id))
    await append_event(session, type="member.erased", member_id=member.id, occurred_at=now, now=now)


def encode_cursor(member_id: int) -> str:
    return base64.urlsafe_b64encode(str(member_id).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The member id behind a cursor; anything encode_cursor could not have made is a 422."""
    try:
        member_id = int(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode())
    except ValueError:
        member_id = 0
    if not 0 < member_id < 2**63 or encode_cursor(member_id) != cursor:
        msg = "not a cursor this API returned"
        raise InvalidInput([{"loc": ["query", "cursor"], "msg": msg, "type": "cursor"}])
    return member_id
