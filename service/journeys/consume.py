"""Journeys react to the event log: event and stage triggers enrol, `exit_when` ends, goals
convert, and a `wait_for` step moves on. One consumer cursor, row-locked, so one replica reads
at a time.

Within a batch, events are handled in log order, and for each event the enrolments that
already exist react before new ones are made: the paid order that enrols a member in
new-customer nurturing does not also count as the repurchase that ends it. An event reaches an
enrolment only if it came after the enrolment began (`after_event_id`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.events.models import Event
from service.events.service import cursor_position, move_cursor, read_events_after
from service.journeys.conditions import evaluate
from service.journeys.engine import Position, on_awaited_event
from service.journeys.enrolments import Candidates, LiveJourney, enrol, single
from service.journeys.facts import FactBook, load_facts
from service.journeys.models import Enrolment, EnrolmentState, EnrolmentStep, JourneyStatus
from service.journeys.queries import RuleBook, live_journeys, load_rules
from service.journeys.rule import (
    EventMatch,
    EventTrigger,
    Goal,
    JourneyRule,
    StageTrigger,
    WaitFor,
    WaitForStep,
)
from service.journeys.stage_entry import stage_entry_key

CONSUMER = "journeys"
LONGEST_GOAL = timedelta(days=366)


@dataclass
class Batch:
    """What one batch of events works on, loaded up front."""

    now: datetime
    facts: FactBook
    rules: RuleBook
    enrolments: dict[int, list[Enrolment]]
    worker: str
    entered: int = 0
    reacted: int = 0

    def holds(self, condition: Any, event: Event) -> bool:
        if condition is None:
            return True
        facts = self.facts.facts(event.member_id or 0, order_id=event.order_id)
        return bool(evaluate(condition, facts, now=self.now))


async def consume_events(
    session: AsyncSession, *, now: datetime, worker: str, limit: int = 500
) -> dict[str, int]:
    """Handle the next batch of events; returns counts for the log and `huitou tick`."""
    position = await cursor_position(session, consumer=CONSUMER, now=now)
    events = list(await read_events_after(session, position=position, limit=limit))
    if not events:
        return {"events": 0, "entered": 0, "reacted": 0}
    journeys = await live_journeys(session, statuses=(JourneyStatus.ACTIVE, JourneyStatus.PAUSED))
    batch = await _load(session, events, journeys, now=now, worker=worker)
    triggered = [j for j in journeys if isinstance(j.rule.trigger, EventTrigger | StageTrigger)]
    for event in events:
        if event.member_id is None:
            continue
        for enrolment in batch.enrolments.get(event.member_id, []):
            if event.id > enrolment.after_event_id:
                _react(session, batch, enrolment, event)
        for journey in triggered:
            await _maybe_enrol(session, batch, journey, event)
    await move_cursor(session, consumer=CONSUMER, position=events[-1].id, now=now)
    return {"events": len(events), "entered": batch.entered, "reacted": batch.reacted}


async def _load(
    session: AsyncSession,
    events: Sequence[Event],
    journeys: Sequence[LiveJourney],
    *,
    now: datetime,
    worker: str,
) -> Batch:
    member_ids = {e.member_id for e in events if e.member_id is not None}
    order_ids = {e.order_id for e in events if e.order_id is not None}
    oldest = now - LONGEST_GOAL
    found = (
        await session.scalars(
            select(Enrolment).where(
                Enrolment.member_id.in_(member_ids),
                or_(
                    Enrolment.state == EnrolmentState.ACTIVE,
                    (Enrolment.goal_reached_at.is_(None)) & (Enrolment.entered_at >= oldest),
                ),
            )
        )
    ).all()
    enrolments: dict[int, list[Enrolment]] = defaultdict(list)
    for enrolment in found:
        enrolments[enrolment.member_id].append(enrolment)
    rules = await load_rules(
        session,
        [(e.journey_id, e.journey_version) for e in found] + [(j.id, j.version) for j in journeys],
    )
    facts = await load_facts(session, member_ids=member_ids, order_ids=order_ids)
    return Batch(now, facts, rules, enrolments, worker)


def _matches(
    match: EventMatch | WaitFor | Goal, enrolment: Enrolment, event: Event, batch: Batch
) -> bool:
    if event.type != match.event.value:
        return False
    if getattr(match, "same_order", False) and event.order_id != enrolment.order_id:
        return False
    return batch.holds(match.if_, event)


def _react(session: AsyncSession, batch: Batch, enrolment: Enrolment, event: Event) -> None:
    """Goal, exit_when and wait_for of one enrolment, for one event after its start."""
    rule = batch.rules.rule(enrolment.journey_id, enrolment.journey_version)
    goal = rule.goal
    window = (goal.within or rule.attribution_window) if goal else None
    if (
        goal is not None
        and window is not None
        and enrolment.goal_reached_at is None
        and event.occurred_at <= enrolment.entered_at + window
        and _matches(goal, enrolment, event, batch)
    ):
        enrolment.goal_reached_at = event.occurred_at
        _log(session, batch, enrolment, "goal", f"goal:{event.type}")
        if goal.exit and enrolment.state is EnrolmentState.ACTIVE:
            _end(enrolment, batch.now, "goal_reached")
    if enrolment.state is not EnrolmentState.ACTIVE:
        return
    for match in rule.exit_when:
        if _matches(match, enrolment, event, batch):
            _log(session, batch, enrolment, "exit_when", f"exit_when:{event.type}")
            _end(enrolment, batch.now, f"exit_when:{event.type}")
            return
    _resume_wait_for(session, batch, rule, enrolment, event)


def _resume_wait_for(
    session: AsyncSession, batch: Batch, rule: JourneyRule, enrolment: Enrolment, event: Event
) -> None:
    if enrolment.awaiting is None or enrolment.step_index >= len(rule.steps):
        return
    step = rule.steps[enrolment.step_index]
    since = datetime.fromisoformat(enrolment.awaiting["since"])
    if (
        not isinstance(step, WaitForStep)
        or event.recorded_at < since  # it came before the wait began
        or not _matches(step.wait_for, enrolment, event, batch)
    ):
        return
    position = on_awaited_event(
        rule, Position(enrolment.step_index, enrolment.step_entered_at), now=batch.now
    )
    _log(session, batch, enrolment, step.id, "event_came")
    enrolment.step_index, enrolment.step_entered_at = position.step_index, position.arrived_at
    enrolment.awaiting, enrolment.next_run_at = None, batch.now
    enrolment.updated_at = batch.now


def _end(enrolment: Enrolment, now: datetime, reason: str) -> None:
    enrolment.state, enrolment.exit_reason = EnrolmentState.EXITED, reason
    enrolment.ended_at, enrolment.next_run_at, enrolment.updated_at = now, None, now
    enrolment.awaiting = None


def _log(
    session: AsyncSession, batch: Batch, enrolment: Enrolment, step_id: str, outcome: str
) -> None:
    batch.reacted += 1
    session.add(
        EnrolmentStep(
            enrolment_id=enrolment.id,
            journey_id=enrolment.journey_id,
            step_id=step_id[:64],
            outcome=outcome[:32],
            worker=batch.worker,
            ran_at=batch.now,
        )
    )


def _entry_key(journey: LiveJourney, event: Event, batch: Batch) -> str | None:
    """What the event enters its member for under the journey's trigger; None: no entry."""
    trigger = journey.rule.trigger
    if isinstance(trigger, StageTrigger):
        return stage_entry_key(trigger, event, batch.facts)
    assert isinstance(trigger, EventTrigger)
    if event.type != trigger.event.value:
        return None
    return f"order:{event.order_id}" if event.order_id is not None else "member"


async def _maybe_enrol(
    session: AsyncSession, batch: Batch, journey: LiveJourney, event: Event
) -> None:
    if (
        event.recorded_at < journey.activated_at  # only what happens once it is live
        or batch.rules.journeys[journey.id].status is not JourneyStatus.ACTIVE
        or (key := _entry_key(journey, event, batch)) is None
    ):
        return
    member = batch.facts.members.get(event.member_id or 0)
    if member is None or member.erased_at is not None:
        return
    trigger_if = journey.rule.trigger.if_
    if not (batch.holds(trigger_if, event) and batch.holds(journey.rule.audience, event)):
        return
    rows = single(member.id, key=key, occurrence=f"event:{event.id}", order_id=event.order_id)
    candidates = Candidates(rows, after_event_id=event.id, arrived_at=event.recorded_at)
    if await enrol(session, journey, candidates, now=batch.now):
        batch.entered += 1
        created = await session.scalars(
            select(Enrolment).where(
                Enrolment.journey_id == journey.id,
                Enrolment.member_id == member.id,
                Enrolment.after_event_id == event.id,
            )
        )
        batch.enrolments[member.id].extend(created)
