"""Advance due enrolments: claim a batch, walk each one, write the outbox, in one transaction.

Claimed rows are locked (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite has one writer), so
replicas never take the same enrolment; the walk, the queued messages and the new positions
commit together, so a crash anywhere loses nothing and repeats nothing. A message's
idempotency key is enrolment + step: even a repeated walk could not queue it twice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.db import dialect_insert, session_dialect
from service.events.models import Event
from service.journeys.conditions import evaluate
from service.journeys.engine import Outcome, Position, StepRun, advance, on_awaited_event
from service.journeys.facts import FactBook, load_facts, load_orders
from service.journeys.models import (
    Enrolment,
    EnrolmentState,
    EnrolmentStep,
    Journey,
    JourneyStatus,
)
from service.journeys.queries import load_rules
from service.journeys.rule import JourneyRule, Send, WaitFor, WaitForStep
from service.journeys.service import template_catalogue
from service.journeys.validation import TemplateInfo
from service.members.service import add_tags, remove_tags
from service.messaging.outbox import Message, MessageStatus
from service.messaging.policies import Purpose

EXPIRY = {Purpose.MARKETING: timedelta(days=1), Purpose.TRANSACTIONAL: timedelta(days=3)}


async def claim_due(session: AsyncSession, *, now: datetime, limit: int) -> Sequence[Enrolment]:
    """Lock up to `limit` due enrolments of active journeys; rows another worker holds are
    skipped. Paused journeys keep their place: their enrolments are simply not claimed."""
    query = (
        select(Enrolment)
        .join(Journey, Journey.id == Enrolment.journey_id)
        .where(
            Enrolment.state == EnrolmentState.ACTIVE,
            Enrolment.next_run_at <= now,
            Journey.status == JourneyStatus.ACTIVE,
        )
        .order_by(Enrolment.next_run_at)
        .limit(limit)
        .with_for_update(skip_locked=True, of=Enrolment)
    )
    return (await session.scalars(query)).all()


@dataclass
class Writes:
    messages: list[dict[str, Any]] = field(default_factory=list)
    steps: list[dict[str, Any]] = field(default_factory=list)
    tags: dict[int, tuple[list[str], list[str]]] = field(default_factory=dict)


async def advance_due(
    session: AsyncSession, *, now: datetime, zone: ZoneInfo, worker: str, limit: int = 500
) -> int:
    """Advance one batch of due enrolments; returns how many were claimed."""
    claimed = await claim_due(session, now=now, limit=limit)
    if not claimed:
        return 0
    rules = await load_rules(session, {(e.journey_id, e.journey_version) for e in claimed})
    facts = await load_facts(
        session,
        member_ids={e.member_id for e in claimed},
        order_ids={e.order_id for e in claimed if e.order_id is not None},
        item_ids={e.item_id for e in claimed if e.item_id is not None},
    )
    templates = await template_catalogue(session)
    writes = Writes()
    for enrolment in claimed:
        rule = rules.rule(enrolment.journey_id, enrolment.journey_version)
        member = facts.members.get(enrolment.member_id)
        if member is None or member.erased_at is not None:
            _finish(enrolment, now, "exited", "member_erased")
            continue
        position = await _position(session, enrolment, rule, facts, writes, now=now)
        outcome = _walk(enrolment, rule, facts, position, zone=zone, now=now)
        _record(writes, enrolment, rule, outcome, templates, facts, now=now, worker=worker)
        _move(enrolment, outcome, now)
    await _write(session, writes)
    return len(claimed)


async def _position(
    session: AsyncSession,
    enrolment: Enrolment,
    rule: JourneyRule,
    facts: FactBook,
    writes: Writes,
    *,
    now: datetime,
) -> Position:
    """Where the enrolment stands; a wait_for whose awaited event came moves on to `then`."""
    since = (enrolment.awaiting or {}).get("since")
    position = Position(
        enrolment.step_index,
        enrolment.step_entered_at,
        datetime.fromisoformat(since) if since else None,
    )
    step = rule.steps[position.step_index] if position.step_index < len(rule.steps) else None
    if not isinstance(step, WaitForStep) or position.awaiting_since is None:
        return position
    if not await awaited_event_came(session, enrolment, step.wait_for, facts, now=now):
        return position
    writes.steps.append(_step_row(enrolment, step.id, "event_came", None, None, now, "engine"))
    return on_awaited_event(rule, position, now=now)


async def awaited_event_came(
    session: AsyncSession,
    enrolment: Enrolment,
    wait_for: WaitFor,
    facts: FactBook,
    *,
    now: datetime,
) -> bool:
    """Whether the event a wait_for step waits for is in the log since the wait began.

    The event consumer usually moves the enrolment on as the event comes; this catches an event
    it handled while the transaction that began the wait had not yet committed."""
    since = datetime.fromisoformat((enrolment.awaiting or {})["since"])
    query = select(Event).where(
        Event.member_id == enrolment.member_id,
        Event.id > enrolment.after_event_id,  # not what enrolled it, nor anything before
        Event.type == wait_for.event.value,
        Event.recorded_at >= since,
        Event.recorded_at <= since + wait_for.within,
    )
    if wait_for.same_order:
        query = query.where(Event.order_id == enrolment.order_id)
    for event in await session.scalars(query.order_by(Event.id)):
        if wait_for.if_ is None:
            return True
        if event.order_id is not None and event.order_id not in facts.orders:
            await load_orders(session, facts, [event.order_id])
        known = facts.facts(enrolment.member_id, order_id=event.order_id)
        if evaluate(wait_for.if_, known, now=now):
            return True
    return False


def _walk(
    enrolment: Enrolment,
    rule: JourneyRule,
    facts: FactBook,
    position: Position,
    *,
    zone: ZoneInfo,
    now: datetime,
) -> Outcome:
    return advance(
        rule,
        position,
        member_id=enrolment.member_id,
        facts=facts.facts(
            enrolment.member_id, order_id=enrolment.order_id, item_id=enrolment.item_id
        ),
        evaluate=lambda condition, known: evaluate(condition, known, now=now),
        zone=facts.zone(enrolment.member_id, zone),
        now=now,
    )


def _step_row(
    enrolment: Enrolment,
    step_id: str,
    outcome: str,
    variant: str | None,
    key: str | None,
    now: datetime,
    worker: str,
) -> dict[str, Any]:
    return {
        "enrolment_id": enrolment.id,
        "journey_id": enrolment.journey_id,
        "step_id": step_id,
        "outcome": outcome,
        "variant": variant,
        "message_key": key,
        "worker": worker,
        "ran_at": now,
    }


def _record(
    writes: Writes,
    enrolment: Enrolment,
    rule: JourneyRule,
    outcome: Outcome,
    templates: Mapping[str, TemplateInfo],
    facts: FactBook,
    *,
    now: datetime,
    worker: str,
) -> None:
    item = facts.items.get(enrolment.item_id) if enrolment.item_id is not None else None
    for run in outcome.runs:
        key = f"enrolment:{enrolment.id}:{run.step_id}" if run.send else None
        done = "control" if run.send and enrolment.is_control else run.outcome
        writes.steps.append(_step_row(enrolment, run.step_id, done, run.variant, key, now, worker))
        if run.send is not None and key is not None:
            info = templates.get(run.send.template)
            message = _message(enrolment, rule, run, run.send, key, info, now=now)
            if item is not None:
                message["context"]["sku"] = item.sku
            writes.messages.append(message)
    if outcome.tags_added or outcome.tags_removed:
        writes.tags[enrolment.member_id] = (outcome.tags_added, outcome.tags_removed)


def _message(
    enrolment: Enrolment,
    rule: JourneyRule,
    run: StepRun,
    send: Send,
    key: str,
    info: TemplateInfo | None,
    *,
    now: datetime,
) -> dict[str, Any]:
    """The outbox row of one send; control members' rows are recorded, never sent."""
    purpose = info.purpose if info else Purpose.MARKETING
    channel = send.channel or (info.channel if info else None)
    context = send_context(
        rule,
        send,
        order_id=enrolment.order_id,
        item_id=enrolment.item_id,
        occasion_id=enrolment.occasion_id,
        entered_with=enrolment.context,
    )
    return {
        "idempotency_key": key,
        "member_id": enrolment.member_id,
        "journey_id": enrolment.journey_id,
        "journey_version": enrolment.journey_version,
        "enrolment_id": enrolment.id,
        "step_id": run.step_id,
        "variant": run.variant,
        "channel": channel,
        "template": send.template,
        "purpose": purpose,
        "priority": send.priority if send.priority is not None else rule.priority,
        "status": MessageStatus.SUPPRESSED if enrolment.is_control else MessageStatus.QUEUED,
        "status_reason": "holdout" if enrolment.is_control else None,
        "context": context,
        "send_after_at": now,
        "expires_at": _expiry(enrolment, send, purpose, now),
        "created_at": now,
        "updated_at": now,
    }


def send_context(
    rule: JourneyRule,
    send: Send,
    *,
    order_id: int | None,
    item_id: int | None,
    occasion_id: str | None,
    entered_with: Mapping[str, Any],
    sku: str | None = None,
) -> dict[str, Any]:
    """What a send's message carries for its copy: the journey, the enrolment's order, item and
    occasion (and what it entered with), the step's coupon and vars, the journey's own cap."""
    context = {
        "journey_key": rule.key,
        "journey_name": rule.name,
        "order_id": order_id,
        "item_id": item_id,
        "occasion_id": occasion_id,
        **entered_with,
        "coupon_code": send.coupon_code,
        "vars": send.vars,
    }
    if rule.frequency_cap is not None:
        context["frequency_cap"] = rule.frequency_cap.model_dump()
    if sku is not None:
        context["sku"] = sku
    return context


def _expiry(enrolment: Enrolment, send: Send, purpose: Purpose, now: datetime) -> datetime:
    """`expires_after`, or a day for marketing (three for notices); an occasion's greeting
    never outlives the occasion's last local day."""
    expires = now + (send.expires_after or EXPIRY[purpose])
    ends = enrolment.context.get("occasion_ends_at")
    return min(expires, datetime.fromisoformat(ends)) if ends else expires


def _move(enrolment: Enrolment, outcome: Outcome, now: datetime) -> None:
    position = outcome.position
    enrolment.step_index, enrolment.step_entered_at = position.step_index, position.arrived_at
    enrolment.awaiting = (
        {"since": position.awaiting_since.isoformat()} if position.awaiting_since else None
    )
    enrolment.next_run_at, enrolment.updated_at = outcome.next_run_at, now
    if outcome.ended is not None:
        _finish(enrolment, now, outcome.ended, outcome.exit_reason)


def _finish(enrolment: Enrolment, now: datetime, ended: str, reason: str | None) -> None:
    enrolment.state = EnrolmentState(ended)
    enrolment.exit_reason, enrolment.ended_at = reason, now
    enrolment.next_run_at, enrolment.awaiting, enrolment.updated_at = None, None, now


async def _write(session: AsyncSession, writes: Writes) -> None:
    if writes.messages:
        await session.execute(
            dialect_insert(session_dialect(session), Message).on_conflict_do_nothing(
                index_elements=["idempotency_key"]
            ),
            writes.messages,
        )
    if writes.steps:
        await session.execute(insert(EnrolmentStep), writes.steps)
    for member_id, (added, removed) in writes.tags.items():
        if added:
            await add_tags(session, member_id=member_id, tags=added)
        if removed:
            await remove_tags(session, member_id=member_id, tags=removed)
    await session.flush()
