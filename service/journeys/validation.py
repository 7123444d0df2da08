"""Check a journey document when it is saved: shape, steps, templates and condition fields.

Every problem is reported at once, each with its path (`steps[2].wait.for`) and reason, so a
marketer fixes a journey in one round instead of one error at a time.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from service.errors import InvalidInput
from service.journeys.conditions import validate_condition
from service.journeys.rule import (
    AnyStep,
    AnyTrigger,
    BranchStep,
    EventTrigger,
    EventType,
    ExitStep,
    JourneyRule,
    ReplenishmentTrigger,
    Send,
    SendStep,
    SplitStep,
    UnpaidOrderTrigger,
    WaitForStep,
)
from service.members.models import Channel
from service.messaging.policies import Purpose

Loc = tuple[str | int, ...]
UNION_TAGS = {
    "steps": {"send", "split", "branch", "wait_for", "tag", "exit", "wait"},
    "trigger": {"event", "unpaid_order", "replenishment", "calendar", "inactivity", "stage"},
    "occasion": {"holiday", "festival", "custom", "birthday"},
}


@dataclass(frozen=True)
class TemplateInfo:
    channel: Channel
    purpose: Purpose


@dataclass(frozen=True)
class Problem:
    loc: Loc
    msg: str


def clean_loc(loc: Sequence[str | int]) -> Loc:
    """Drop the union tags pydantic puts in locations: `steps.1.send.send` → `steps.1.send`."""
    out: list[str | int] = []
    for i, part in enumerate(loc):
        before = loc[i - 1] if i else None
        owner = loc[i - 2] if isinstance(before, int) and i >= 2 else before
        if isinstance(owner, str) and part in UNION_TAGS.get(owner, ()):
            continue
        out.append(part)
    return tuple(out)


def trigger_scopes(trigger: AnyTrigger) -> frozenset[str]:
    """What an enrolment of this trigger knows besides the member: its order, item, product."""
    if isinstance(trigger, EventTrigger):
        return event_scopes(trigger.event)
    if isinstance(trigger, UnpaidOrderTrigger):
        return frozenset({"member", "order"})
    if isinstance(trigger, ReplenishmentTrigger):
        return frozenset({"member", "order", "item", "product"})
    return frozenset({"member"})


def event_scopes(event: EventType) -> frozenset[str]:
    return frozenset({"member", "order"} if event.is_order_event else {"member"})


def parse_rule(document: Any) -> JourneyRule:
    """The document as a rule, or one InvalidInput with every shape error."""
    try:
        return JourneyRule.model_validate(document)
    except ValidationError as exc:
        raise InvalidInput(
            [
                {"loc": ["body", *clean_loc(e["loc"])], "msg": e["msg"], "type": e["type"]}
                for e in exc.errors(include_url=False, include_context=False, include_input=False)
            ]
        ) from None


def validate_rule(document: Any, *, templates: Mapping[str, TemplateInfo]) -> JourneyRule:
    """Parse and check a journey; returns it with each send's channel filled from its template."""
    rule = parse_rule(document)
    problems = [
        *step_problems(rule),
        *template_problems(rule, templates),
        *condition_problems(rule),
    ]
    if problems:
        raise InvalidInput(
            [{"loc": ["body", *p.loc], "msg": p.msg, "type": "journey"} for p in problems]
        )
    return with_template_channels(rule, templates)


# ── steps: ids, jumps and reachability ───────────────────────────────────────────────────


def jumps(step: AnyStep, index: int) -> Iterator[tuple[Loc, str | None]]:
    """(where, target id or None for "the next step") of every way out of a step."""
    here: Loc = ("steps", index)
    if isinstance(step, BranchStep):
        yield (*here, "branch", "then"), step.branch.then
        yield (*here, "branch", "else"), step.branch.else_
    elif isinstance(step, WaitForStep):
        yield (*here, "wait_for", "then"), step.wait_for.then
        yield (*here, "wait_for", "timeout"), step.wait_for.timeout
    elif isinstance(step, SplitStep):
        for k, variant in enumerate(step.split):
            yield (*here, "split", k, "next"), variant.next or step.next
    elif not isinstance(step, ExitStep):
        yield (*here, "next"), step.next
    if step.if_ is not None:
        yield (*here, "if"), None  # a false `if` skips the step


def step_problems(rule: JourneyRule) -> list[Problem]:
    problems: list[Problem] = []
    index: dict[str, int] = {}
    for i, step in enumerate(rule.steps):
        if step.id in index:
            problems.append(Problem(("steps", i, "id"), f"duplicate step id {step.id!r}"))
        index.setdefault(step.id, i)
    reached = {0}
    for i, step in enumerate(rule.steps):
        for loc, target in jumps(step, i):
            if target is None:
                to = i + 1
            elif target not in index:
                problems.append(Problem(loc, f"no step with id {target!r}"))
                continue
            else:
                to = index[target]
                if to <= i:
                    problems.append(Problem(loc, f"jumps back to {target!r}: journeys run forward"))
                    continue
            if i in reached:
                reached.add(to)
    for i, step in enumerate(rule.steps):
        if i not in reached:
            problems.append(Problem(("steps", i), f"step {step.id!r} is unreachable"))
    return problems


# ── templates ────────────────────────────────────────────────────────────────────────────


def sends(rule: JourneyRule) -> Iterator[tuple[Loc, Send]]:
    for i, step in enumerate(rule.steps):
        if isinstance(step, SendStep):
            yield ("steps", i, "send"), step.send
        elif isinstance(step, SplitStep):
            for k, variant in enumerate(step.split):
                if variant.send is not None:
                    yield ("steps", i, "split", k), variant.send


def template_problems(rule: JourneyRule, templates: Mapping[str, TemplateInfo]) -> list[Problem]:
    problems = []
    for loc, send in sends(rule):
        info = templates.get(send.template)
        if info is None:
            problems.append(Problem((*loc, "template"), f"unknown template {send.template!r}"))
        elif send.channel is not None and send.channel != info.channel:
            problems.append(
                Problem(
                    (*loc, "channel"),
                    f"template {send.template!r} is an {info.channel.value} template",
                )
            )
    return problems


def with_template_channels(rule: JourneyRule, templates: Mapping[str, TemplateInfo]) -> JourneyRule:
    """The rule with every send's channel written out, so the engine never guesses."""
    document = rule.dump()
    for loc, send in sends(rule):
        node: Any = document
        for part in loc:
            node = node[part]
        node["channel"] = templates[send.template].channel.value
    return JourneyRule.model_validate(document)


# ── conditions ───────────────────────────────────────────────────────────────────────────


def conditions(rule: JourneyRule) -> Iterator[tuple[Loc, Any, frozenset[str]]]:
    """Every condition of the rule, where it is, and which facts it may read."""
    scopes = trigger_scopes(rule.trigger)
    yield ("trigger", "if"), rule.trigger.if_, scopes
    yield ("audience",), rule.audience, scopes
    for i, step in enumerate(rule.steps):
        yield ("steps", i, "if"), step.if_, scopes
        if isinstance(step, BranchStep):
            yield ("steps", i, "branch", "if"), step.branch.if_, scopes
        if isinstance(step, WaitForStep):
            yield (
                ("steps", i, "wait_for", "if"),
                step.wait_for.if_,
                event_scopes(step.wait_for.event),
            )
    for k, match in enumerate(rule.exit_when):
        yield ("exit_when", k, "if"), match.if_, event_scopes(match.event)
    if rule.goal is not None:
        yield ("goal", "if"), rule.goal.if_, event_scopes(rule.goal.event)


def condition_problems(rule: JourneyRule) -> list[Problem]:
    problems = [
        Problem(error.loc, error.msg)
        for loc, condition, scopes in conditions(rule)
        if condition is not None
        for error in validate_condition(condition, scopes=scopes, loc=loc)
    ]
    has_order = "order" in trigger_scopes(rule.trigger)
    same_order: list[tuple[Loc, bool]] = [
        (("exit_when", k, "same_order"), m.same_order) for k, m in enumerate(rule.exit_when)
    ]
    same_order += [
        (("steps", i, "wait_for", "same_order"), s.wait_for.same_order)
        for i, s in enumerate(rule.steps)
        if isinstance(s, WaitForStep)
    ]
    problems += [
        Problem(loc, "same_order needs a trigger with an order")
        for loc, wanted in same_order
        if wanted and not has_order
    ]
    return problems
