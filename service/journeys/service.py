"""Journeys and their life cycle: draft → active ⇄ paused → archived; every save a version."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from service.db import dialect_insert, session_dialect
from service.errors import Conflict, HuitouError, InvalidInput, NotFound
from service.journeys.models import (
    Enrolment,
    EnrolmentState,
    Journey,
    JourneyStatus,
    JourneyVersion,
    TriggerWatermark,
)
from service.journeys.rule import JourneyRule
from service.journeys.validation import TemplateInfo, validate_rule
from service.messaging.models import MessageTemplate
from service.messaging.outbox import Message, MessageStatus

ALLOWED = {
    "activate": {JourneyStatus.DRAFT, JourneyStatus.PAUSED, JourneyStatus.ACTIVE},
    "pause": {JourneyStatus.ACTIVE, JourneyStatus.PAUSED},
    "archive": {JourneyStatus.DRAFT, JourneyStatus.ACTIVE, JourneyStatus.PAUSED},
}


class JourneyNotFound(NotFound):
    code = "journey_not_found"


class InvalidTransition(HuitouError):
    status_code, code = 409, "invalid_transition"


async def template_catalogue(session: AsyncSession) -> dict[str, TemplateInfo]:
    """Each template's channel and purpose, from its newest version."""
    newest = (
        select(MessageTemplate.name, func.max(MessageTemplate.version).label("version"))
        .group_by(MessageTemplate.name)
        .subquery()
    )
    rows = await session.execute(
        select(MessageTemplate.name, MessageTemplate.channel, MessageTemplate.purpose).join(
            newest,
            (MessageTemplate.name == newest.c.name) & (MessageTemplate.version == newest.c.version),
        )
    )
    return {name: TemplateInfo(channel, purpose) for name, channel, purpose in rows}


async def check(session: AsyncSession, document: Any) -> JourneyRule:
    return validate_rule(document, templates=await template_catalogue(session))


async def get_journey(session: AsyncSession, *, key: str, for_update: bool = False) -> Journey:
    query = select(Journey).where(Journey.key == key)
    journey = await session.scalar(query.with_for_update() if for_update else query)
    if journey is None:
        raise JourneyNotFound(f"no journey with key {key!r}", loc=["path", "key"])
    return journey


async def get_version(
    session: AsyncSession, journey: Journey, version: int | None
) -> JourneyVersion:
    number = version or journey.latest_version
    row = await session.scalar(
        select(JourneyVersion).where(
            JourneyVersion.journey_id == journey.id, JourneyVersion.version == number
        )
    )
    if row is None:
        raise JourneyNotFound(
            f"journey {journey.key!r} has no version {number}", loc=["query", "version"]
        )
    return row


async def list_journeys(
    session: AsyncSession, *, status: JourneyStatus | None = None
) -> Sequence[Journey]:
    query = select(Journey).order_by(Journey.key)
    if status is not None:
        query = query.where(Journey.status == status)
    return (await session.scalars(query)).all()


async def create_journey(
    session: AsyncSession, *, document: Any, now: datetime, author: str | None
) -> tuple[Journey, JourneyVersion]:
    """A new journey, in draft, at version 1."""
    rule = await check(session, document)
    if await session.scalar(select(Journey.id).where(Journey.key == rule.key)) is not None:
        raise Conflict(
            f"a journey with key {rule.key!r} exists; PUT /v1/journeys/{rule.key} edits it",
            loc=["body", "key"],
        )
    journey = Journey(
        key=rule.key,
        name=rule.name,
        status=JourneyStatus.DRAFT,
        latest_version=1,
        live_version=None,
        trigger_type=rule.trigger.type,
        priority=rule.priority,
        created_at=now,
        updated_at=now,
    )
    session.add(journey)
    await session.flush()
    return journey, await _add_version(session, journey, rule, version=1, author=author, now=now)


async def update_journey(
    session: AsyncSession, *, key: str, document: Any, now: datetime, author: str | None
) -> tuple[Journey, JourneyVersion]:
    """A new version; members who already entered keep theirs, new ones enter with this one."""
    journey = await get_journey(session, key=key, for_update=True)
    if journey.status is JourneyStatus.ARCHIVED:
        raise InvalidTransition(f"journey {key!r} is archived", loc=["path", "key"])
    if isinstance(document, dict) and document.get("key", key) != key:
        raise InvalidInput(
            [{"loc": ["body", "key"], "msg": f"the key is {key!r}; a journey's key never changes"}]
        )
    rule = await check(
        session, {**document, "key": key} if isinstance(document, dict) else document
    )
    current = await get_version(session, journey, None)
    if current.rule == rule.dump():
        return journey, current  # a retried PUT adds no version
    version = journey.latest_version + 1
    row = await _add_version(session, journey, rule, version=version, author=author, now=now)
    journey.latest_version, journey.name, journey.updated_at = version, rule.name, now
    journey.trigger_type, journey.priority = rule.trigger.type, rule.priority
    if journey.status is not JourneyStatus.DRAFT:
        journey.live_version = version
    return journey, row


async def _add_version(
    session: AsyncSession,
    journey: Journey,
    rule: JourneyRule,
    *,
    version: int,
    author: str | None,
    now: datetime,
) -> JourneyVersion:
    row = JourneyVersion(
        journey_id=journey.id, version=version, rule=rule.dump(), author=author, created_at=now
    )
    session.add(row)
    await session.flush()
    return row


async def change_status(session: AsyncSession, *, key: str, action: str, now: datetime) -> Journey:
    """Activate (or resume), pause, or archive a journey."""
    journey = await get_journey(session, key=key, for_update=True)
    if journey.status not in ALLOWED[action]:
        raise InvalidTransition(
            f"cannot {action} a journey that is {journey.status.value}", loc=["path", "key"]
        )
    if action == "activate":
        if journey.status is JourneyStatus.PAUSED:
            await _skip_paused_time(session, journey_id=journey.id, now=now)
        journey.status, journey.live_version = JourneyStatus.ACTIVE, journey.latest_version
        journey.activated_at = journey.activated_at or now
    elif action == "pause":
        journey.status = JourneyStatus.PAUSED
    else:
        journey.status = JourneyStatus.ARCHIVED
        await _end_everything(session, journey_id=journey.id, now=now)
    journey.updated_at = now
    await session.flush()
    return journey


async def _skip_paused_time(session: AsyncSession, *, journey_id: int, now: datetime) -> None:
    """No one enters a paused journey: time-driven triggers resume from now, as events do."""
    await session.execute(
        dialect_insert(session_dialect(session), TriggerWatermark)
        .values(journey_id=journey_id, scanned_until=now)
        .on_conflict_do_update(index_elements=["journey_id"], set_={"scanned_until": now})
    )


async def _end_everything(session: AsyncSession, *, journey_id: int, now: datetime) -> None:
    """Archiving ends every enrolment and withdraws the journey's messages not yet sent."""
    await session.execute(
        update(Enrolment)
        .where(Enrolment.journey_id == journey_id, Enrolment.state == EnrolmentState.ACTIVE)
        .values(
            state=EnrolmentState.EXITED,
            exit_reason="journey_archived",
            ended_at=now,
            next_run_at=None,
            updated_at=now,
        )
    )
    await session.execute(
        update(Message)
        .where(Message.journey_id == journey_id, Message.status == MessageStatus.QUEUED)
        .values(status=MessageStatus.SUPPRESSED, status_reason="journey_archived", updated_at=now)
    )
