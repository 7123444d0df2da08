"""Entering a life-cycle stage: the stage trigger, driven by `member.stage_changed` events.

Member analytics own the stages (service/analytics): the recompute moves members into sleeping,
at risk and churned as time passes, and order ingest into new and active; each move appends
`member.stage_changed` with `{"from": …, "to": …}`. The journey event consumer reads those in
log order after its cursor, once, and a stage trigger fires on an event to its stage (and from
its `from`, if given) while the member is still in that stage: a member who has already moved
on enters for the later event instead, never for a stage they have left.

A member enters once per lapse: the entry key is the stage and the member's last paid order,
the key the stage trigger has always used, so sleeping again only follows a new order (or a
return to the stage by a refund), and journeys activated before stages were events keep their
members' entries.
"""

from __future__ import annotations

import calendar

from sqlalchemy import select

from service.analytics.models import MemberAnalytics
from service.events.models import Event
from service.journeys.enrolments import Candidates
from service.journeys.facts import FactBook
from service.journeys.fields import SqlScope
from service.journeys.rule import EventType, JourneyRule, StageTrigger
from service.journeys.time_triggers import Window, conditions
from service.members.models import Member

STAGE_CHANGED = EventType.MEMBER_STAGE_CHANGED.value


def stage_entry_key(trigger: StageTrigger, event: Event, facts: FactBook) -> str | None:
    """What the event enters its member for under this trigger; None if it does not fire."""
    payload = event.payload or {}
    if event.type != STAGE_CHANGED or payload.get("to") != trigger.stage.value:
        return None
    if trigger.from_ is not None and payload.get("from") != trigger.from_.value:
        return None
    member = facts.member_facts.get(event.member_id or 0)
    if member is None or member["stage"] != trigger.stage.value:
        return None  # moved on since the event: the later one says where to
    paid = member["last_paid_at"]
    lapse = calendar.timegm(paid.utctimetuple()) if paid is not None else f"event{event.id}"
    return f"{trigger.stage.value}:{lapse}"


def stage_candidates(rule: JourneyRule, trigger: StageTrigger, window: Window) -> Candidates:
    """For dry runs: members whose stage became `trigger.stage` within the window and who are
    still in it (what the analytics rows say; the events themselves are not scanned)."""
    moved = select(MemberAnalytics.member_id).where(
        MemberAnalytics.stage == trigger.stage,
        MemberAnalytics.stage_changed_at > window.start,
        MemberAnalytics.stage_changed_at <= window.end,
    )
    if trigger.from_ is not None:
        moved = moved.where(MemberAnalytics.previous_stage == trigger.from_)
    rows = select(Member.id.label("member_id")).where(
        Member.id.in_(moved), *conditions(rule, SqlScope(member=Member), window.end)
    )
    return Candidates(rows)
