"""Where a journey's messages are and who gets them (pure): every send, and a member's route.

`send_items` lists every message a rule can send: each `send` step and each split variant
with a template, labelled with how it is reached (`branch vip: then`, `split offer: variant
b`, `wait_for paid: timeout`). `member_route` walks the rule the way the engine does, with
every wait over and today's facts, to say which of them one member would get; a `wait_for`
leaves the rest undecided, since it depends on an event still to come.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import JsonValue

from service.journeys.engine import VARIANT_NAMES, Evaluate, pick_variant, with_tag_changes
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


@dataclass(frozen=True)
class SendItem:
    """One message the journey can send."""

    index: int
    step_id: str
    send: Send
    variant: str | None  # the split arm's name; None for a send step
    via: tuple[str, ...]  # the branch, split and wait_for arms that jump to the step
    condition: JsonValue  # the step's own `if`, None when it has none


def _target(rule: JourneyRule, step_id: str | None, index: int) -> int:
    return index + 1 if step_id is None else rule.step_index(step_id)


def _jumps(rule: JourneyRule, index: int, step: AnyStep) -> list[tuple[int, str]]:
    """(target index, label) of the arms of a branch, split or wait_for step."""
    if isinstance(step, BranchStep):
        return [
            (_target(rule, step.branch.then, index), f"branch {step.id}: then"),
            (_target(rule, step.branch.else_, index), f"branch {step.id}: else"),
        ]
    if isinstance(step, SplitStep):
        return [
            (
                _target(rule, variant.next or step.next, index),
                f"split {step.id}: variant {variant.name or VARIANT_NAMES[arm]}",
            )
            for arm, variant in enumerate(step.split)
            if (variant.next or step.next) is not None  # a jump, not just the next step
        ]
    if isinstance(step, WaitForStep):
        return [
            (_target(rule, step.wait_for.then, index), f"wait_for {step.id}: event came"),
            (_target(rule, step.wait_for.timeout, index), f"wait_for {step.id}: timeout"),
        ]
    return []


def send_items(rule: JourneyRule) -> list[SendItem]:
    """Every send step and every split variant with a template, in step order."""
    incoming: dict[int, list[str]] = defaultdict(list)
    for index, step in enumerate(rule.steps):
        for target, label in _jumps(rule, index, step):
            if target < len(rule.steps) and label not in incoming[target]:
                incoming[target].append(label)
    items = []
    for index, step in enumerate(rule.steps):
        via = tuple(incoming[index])
        if isinstance(step, SendStep):
            items.append(SendItem(index, step.id, step.send, None, via, step.if_))
        elif isinstance(step, SplitStep):
            for arm, variant in enumerate(step.split):
                if variant.send is not None:
                    name = variant.name or VARIANT_NAMES[arm]
                    items.append(SendItem(index, step.id, variant.send, name, via, step.if_))
    return items


@dataclass(frozen=True)
class MemberRoute:
    """The messages one member's walk reaches; after `undecided_after`, nothing is known."""

    reached: frozenset[tuple[str, str | None]]  # (step id, variant)
    undecided_after: int | None = None  # the index of the wait_for the walk stopped at

    def gets(self, item: SendItem) -> bool | None:
        """True if the member would get this message, False if not, None if an event decides."""
        if (item.step_id, item.variant) in self.reached:
            return True
        if self.undecided_after is not None and item.index > self.undecided_after:
            return None
        return False


def member_route(
    rule: JourneyRule, *, member_id: int, facts: Mapping[str, Any], evaluate: Evaluate
) -> MemberRoute:
    """The engine's walk for one member with every wait over, on these facts (and the tags
    the walk's own tag steps add or remove)."""
    reached: set[tuple[str, str | None]] = set()
    added: list[str] = []
    removed: list[str] = []
    index = 0
    while index < len(rule.steps):
        step = rule.steps[index]
        if step.if_ is not None and not evaluate(step.if_, facts):
            index += 1  # skipped, as the engine does
            continue
        if isinstance(step, WaitForStep):
            return MemberRoute(frozenset(reached), undecided_after=index)
        if isinstance(step, ExitStep):
            break
        if isinstance(step, SendStep):
            reached.add((step.id, None))
        elif isinstance(step, SplitStep):
            arm = pick_variant(
                [v.weight for v in step.split],
                journey_key=rule.key,
                step_id=step.id,
                member_id=member_id,
            )
            variant = step.split[arm]
            if variant.send is not None:
                reached.add((step.id, variant.name or VARIANT_NAMES[arm]))
            index = _target(rule, variant.next or step.next, index)
            continue
        elif isinstance(step, BranchStep):
            taken = evaluate(step.branch.if_, facts)
            index = _target(rule, step.branch.then if taken else step.branch.else_, index)
            continue
        elif isinstance(step, TagStep):
            added, removed = added + step.tag.add, removed + step.tag.remove
            facts = with_tag_changes(facts, added=added, removed=removed)
        index = _target(rule, step.next, index)
    return MemberRoute(frozenset(reached))
