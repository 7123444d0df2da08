"""The journey engine, pure: where an enrolment is and what is true → what it does next.

`advance` walks an enrolment from its current step as far as it can go at `now`: it waits out
the step's `wait`, skips a step whose `if` is false, and runs the step (send, split, branch,
tag, exit, wait for an event). It stops at the first step that is not due yet, at a `wait_for`
that is still waiting, or at the end. Jumps only go forward (checked when a journey is saved),
so a walk visits each step at most once and a send's idempotency key (enrolment + step) is
unique.

A `tag` step's changes are seen by the conditions of the steps after it in the same walk, as
they are by a later walk, which reads the member's tags again once they are written.

Waits count from when the enrolment reached the step, which is when the previous step ran:
a journey paused for three days and resumed sends the next message on time relative to the
previous one, not all at once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from service.journeys.durations import resolve_wait
from service.journeys.rule import (
    AnyStep,
    BranchStep,
    ExitStep,
    JourneyRule,
    Send,
    SendStep,
    SplitStep,
    TagStep,
    WaitForStep,
)

Evaluate = Callable[[Any, Mapping[str, Any]], bool]
VARIANT_NAMES = "abcdefghij"
HOLDOUT_MULTIPLIER = 2_654_435_761  # Knuth's multiplicative hash constant
HOLDOUT_JOURNEY_MULTIPLIER = 40_503
HOLDOUT_MODULUS = 1_000_003  # a prime
HOLDOUT_BUCKETS = 10_000


@dataclass(frozen=True)
class Position:
    """Where an enrolment stands: the step it reached, when, and a wait_for it is inside."""

    step_index: int
    arrived_at: datetime
    awaiting_since: datetime | None = None


@dataclass(frozen=True)
class StepRun:
    """What running one step did; `send` is the message to queue (not for control members)."""

    step_id: str
    outcome: str  # sent, skipped, split, branched, tagged, waited, waiting, timed_out, exited
    variant: str | None = None
    send: Send | None = None


@dataclass(frozen=True)
class Outcome:
    runs: list[StepRun]
    position: Position
    next_run_at: datetime | None  # None once ended
    ended: str | None = None  # "completed" or "exited"
    exit_reason: str | None = None
    tags_added: list[str] = field(default_factory=list)
    tags_removed: list[str] = field(default_factory=list)


def holdout_bucket(member_id: int, journey_id: int) -> int:
    """0–9999, fixed per member and journey; the SQL twin is `queries.holdout_bucket_sql`."""
    mixed = (member_id * HOLDOUT_MULTIPLIER + journey_id * HOLDOUT_JOURNEY_MULTIPLIER) % (
        HOLDOUT_MODULUS
    )
    return mixed % HOLDOUT_BUCKETS


def is_control(member_id: int, journey_id: int, holdout_percent: float) -> bool:
    return holdout_bucket(member_id, journey_id) < round(holdout_percent * 100)


def with_tag_changes(
    facts: Mapping[str, Any], *, added: list[str], removed: list[str]
) -> Mapping[str, Any]:
    """The facts with the member's tags as they are once these changes are written (added
    first, then removed, as the engine's writes do)."""
    member = facts.get("member")
    if member is None or not (added or removed):
        return facts
    tags = sorted((set(member.get("tags") or ()) | set(added)) - set(removed))
    return {**facts, "member": {**member, "tags": tags}}


def pick_variant(weights: list[int], *, journey_key: str, step_id: str, member_id: int) -> int:
    """The split arm of a member: deterministic per member, journey and step, by weight."""
    digest = hashlib.sha256(f"{journey_key}|{step_id}|{member_id}".encode()).digest()
    point = int.from_bytes(digest[:8], "big") % sum(weights)
    for index, weight in enumerate(weights):
        if point < weight:
            return index
        point -= weight
    raise AssertionError("unreachable: point < sum(weights)")


@dataclass
class _Walk:
    rule: JourneyRule
    member_id: int
    facts: Mapping[str, Any]
    evaluate: Evaluate
    now: datetime
    runs: list[StepRun] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    def target(self, step_id: str | None, index: int) -> int:
        return index + 1 if step_id is None else self.rule.step_index(step_id)

    def run(self, step: AnyStep, index: int) -> int | None:
        """Run a due step; the index of the next step, or None to exit."""
        if step.if_ is not None and not self.evaluate(step.if_, self.facts):
            self.runs.append(StepRun(step.id, "skipped"))
            return index + 1
        if isinstance(step, SendStep):
            self.runs.append(StepRun(step.id, "sent", send=step.send))
        elif isinstance(step, SplitStep):
            return self.split(step, index)
        elif isinstance(step, BranchStep):
            taken = self.evaluate(step.branch.if_, self.facts)
            self.runs.append(StepRun(step.id, "branched", variant="then" if taken else "else"))
            return self.target(step.branch.then if taken else step.branch.else_, index)
        elif isinstance(step, TagStep):
            self.added += step.tag.add
            self.removed += step.tag.remove
            self.facts = with_tag_changes(self.facts, added=self.added, removed=self.removed)
            self.runs.append(StepRun(step.id, "tagged"))
        elif isinstance(step, ExitStep):
            self.runs.append(StepRun(step.id, "exited"))
            return None
        else:
            self.runs.append(StepRun(step.id, "waited"))
        return self.target(step.next, index)

    def split(self, step: SplitStep, index: int) -> int:
        arm = pick_variant(
            [v.weight for v in step.split],
            journey_key=self.rule.key,
            step_id=step.id,
            member_id=self.member_id,
        )
        variant = step.split[arm]
        name = variant.name or VARIANT_NAMES[arm]
        outcome = "sent" if variant.send else "split"
        self.runs.append(StepRun(step.id, outcome, variant=name, send=variant.send))
        return self.target(variant.next or step.next, index)


def advance(
    rule: JourneyRule,
    position: Position,
    *,
    member_id: int,
    facts: Mapping[str, Any],
    evaluate: Evaluate,
    zone: ZoneInfo,
    now: datetime,
) -> Outcome:
    """Walk the enrolment as far as `now` allows."""
    walk = _Walk(rule, member_id, facts, evaluate, now)
    index, arrived, awaiting = position.step_index, position.arrived_at, position.awaiting_since
    while index < len(rule.steps):
        step = rule.steps[index]
        if isinstance(step, WaitForStep) and awaiting is not None:
            deadline = awaiting + step.wait_for.within
            if now < deadline:
                return _stay(walk, Position(index, arrived, awaiting), deadline)
            walk.runs.append(StepRun(step.id, "timed_out"))
            index, arrived, awaiting = walk.target(step.wait_for.timeout, index), now, None
            continue
        due = resolve_wait(step.wait.spec, arrived_at=arrived, zone=zone) if step.wait else arrived
        if due > now:
            return _stay(walk, Position(index, arrived), due)
        if isinstance(step, WaitForStep) and (step.if_ is None or evaluate(step.if_, walk.facts)):
            walk.runs.append(StepRun(step.id, "waiting"))
            return _stay(walk, Position(index, arrived, now), now + step.wait_for.within)
        following = walk.run(step, index)
        if following is None:
            reason = step.exit.reason if isinstance(step, ExitStep) else "exit_step"
            return _end(walk, Position(index, now), "exited", reason)
        index, arrived = following, now
    return _end(walk, Position(index, arrived), "completed", None)


def on_awaited_event(rule: JourneyRule, position: Position, *, now: datetime) -> Position:
    """The awaited event came: continue at the `then` step (default: the next one)."""
    step = rule.steps[position.step_index]
    assert isinstance(step, WaitForStep)
    then = step.wait_for.then
    index = position.step_index + 1 if then is None else rule.step_index(then)
    return Position(index, now)


def _stay(walk: _Walk, position: Position, next_run_at: datetime) -> Outcome:
    return Outcome(
        walk.runs, position, next_run_at, tags_added=walk.added, tags_removed=walk.removed
    )


def _end(walk: _Walk, position: Position, ended: str, reason: str | None) -> Outcome:
    return Outcome(
        walk.runs,
        position,
        None,
        ended=ended,
        exit_reason=reason,
        tags_added=walk.added,
        tags_removed=walk.removed,
    )
