"""The journey rule: one JSON document, validated by pydantic models with discriminated unions.

Structure only: what needs the database or the condition language (templates that exist,
fields that exist, steps that can be reached) is checked in `validation.py`.
"""

from __future__ import annotations

from datetime import date, time, timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    ConfigDict,
    Discriminator,
    Field,
    JsonValue,
    StringConstraints,
    Tag,
    field_validator,
    model_validator,
)

from service.analytics.models import Stage as Stage  # what a stage trigger enters
from service.calendar.occasions import OccasionSpec
from service.inputs import InputModel
from service.journeys.durations import Duration, TimeOfDay, WaitSpec
from service.members.models import Channel
from service.messaging.schemas import TemplateName

Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
RESERVED_KEYS = frozenset({"schema", "from-template"})  # paths under /v1/journeys
StepId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
TagName = Annotated[str, StringConstraints(min_length=1, max_length=64, strip_whitespace=True)]
Condition = JsonValue


class EventType(StrEnum):
    ORDER_CREATED = "order.created"
    ORDER_PAID = "order.paid"
    ORDER_SHIPPED = "order.shipped"
    ORDER_DELIVERED = "order.delivered"
    ORDER_REFUNDED = "order.refunded"
    ORDER_CANCELLED = "order.cancelled"
    MEMBER_CREATED = "member.created"
    MEMBER_UPDATED = "member.updated"
    MEMBER_CONSENT_CHANGED = "member.consent_changed"
    MEMBER_STAGE_CHANGED = "member.stage_changed"  # payload {"from": stage | null, "to": …}

    @property
    def is_order_event(self) -> bool:
        return self.value.startswith("order.")


class Model(InputModel):
    """Every part of a rule: unknown keys refused, `if`/`for`/`else` by alias, immutable."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


# ── triggers ──────────────────────────────────────────────────────────────────────────────


class EventTrigger(Model):
    """An event of the log, e.g. the first paid order: `{"event": "order.paid", "if": …}`."""

    type: Literal["event"] = "event"
    event: EventType
    if_: Condition = Field(default=None, alias="if")


class UnpaidOrderTrigger(Model):
    """An order still `created` this long after it was placed (催付); one enrolment per order."""

    type: Literal["unpaid_order"]
    after: Duration
    if_: Condition = Field(default=None, alias="if")


class ReplenishmentTrigger(Model):
    """An item running out: `quantity ×` the days a unit lasts (the product's `replenish_days`,
    else its learned cycle) after delivery (or payment), less `before`; once per item, and not
    if the member has bought the product again since."""

    type: Literal["replenishment"]
    before: Duration = timedelta(days=3)
    basis: Literal["delivered", "paid"] = "delivered"
    at: TimeOfDay | None = None
    if_: Condition = Field(default=None, alias="if")


class CalendarTrigger(Model):
    """A holiday, festival, custom date or birthday, at a local time, `days_before` early."""

    type: Literal["calendar"]
    occasion: OccasionSpec
    at: TimeOfDay = time(10)
    days_before: int = Field(default=0, ge=0, le=60)
    zone: Literal["member", "shop"] = "member"
    if_: Condition = Field(default=None, alias="if")


class InactivityTrigger(Model):
    """No paid order for `days` days: enters once per lapse (a new order starts a new one)."""

    type: Literal["inactivity"]
    days: int = Field(ge=1, le=3650)
    if_: Condition = Field(default=None, alias="if")


class StageTrigger(Model):
    """Entering a life-cycle stage: a `member.stage_changed` event to `stage` (optionally only
    `from` one), while the member is still in it; one enrolment per lapse."""

    type: Literal["stage"]
    stage: Stage
    from_: Stage | None = Field(default=None, alias="from")
    if_: Condition = Field(default=None, alias="if")

    @model_validator(mode="after")
    def moves(self) -> StageTrigger:
        if self.from_ is self.stage:
            raise ValueError("`from` and `stage` are the same stage: a change is from another")
        return self


def _trigger_kind(value: Any) -> str | None:
    if isinstance(value, dict):
        return value.get("type") or ("event" if "event" in value else None)
    return getattr(value, "type", None)


Trigger = Annotated[
    Annotated[EventTrigger, Tag("event")]
    | Annotated[UnpaidOrderTrigger, Tag("unpaid_order")]
    | Annotated[ReplenishmentTrigger, Tag("replenishment")]
    | Annotated[CalendarTrigger, Tag("calendar")]
    | Annotated[InactivityTrigger, Tag("inactivity")]
    | Annotated[StageTrigger, Tag("stage")],
    Discriminator(
        _trigger_kind,
        custom_error_type="trigger_type",
        custom_error_message="trigger.type must be one of event, unpaid_order, replenishment, "
        "calendar, inactivity, stage",
    ),
]


# ── entry, exit, goal ─────────────────────────────────────────────────────────────────────


class EntryPolicy(StrEnum):
    ONCE_PER_MEMBER = "once_per_member"  # a member enters this journey once, ever
    ONCE_PER_KEY = "once_per_key"  # once per order, item, occasion or lapse
    COOLDOWN = "cooldown"  # again once `cooldown` has passed since the last entry
    EVERY_TIME = "every_time"  # on every trigger, but never twice at once for one key


class Entry(Model):
    policy: EntryPolicy = EntryPolicy.ONCE_PER_KEY
    cooldown: Duration | None = None

    @model_validator(mode="before")
    @classmethod
    def shorthand(cls, value: Any) -> Any:
        """`{"once_per_member": true}` is `{"policy": "once_per_member"}`."""
        if isinstance(value, dict) and value.get("once_per_member") is True and len(value) == 1:
            return {"policy": EntryPolicy.ONCE_PER_MEMBER}
        return value

    @model_validator(mode="after")
    def cooldown_given(self) -> Entry:
        if (self.policy is EntryPolicy.COOLDOWN) != (self.cooldown is not None):
            raise ValueError("give `cooldown` exactly when the policy is cooldown")
        return self


class EventMatch(Model):
    """An event that ends an enrolment (`exit_when`); `same_order` for per-order journeys."""

    event: EventType
    if_: Condition = Field(default=None, alias="if")
    same_order: bool = False


class Goal(Model):
    """A conversion: the event within `within` of entering (default: the attribution window)."""

    event: EventType = EventType.ORDER_PAID
    if_: Condition = Field(default=None, alias="if")
    within: Duration | None = None
    exit: bool = False


class FrequencyCapOverride(Model):
    per_day: int = Field(ge=0, le=20)
    per_week: int = Field(ge=0, le=100)


# ── steps ─────────────────────────────────────────────────────────────────────────────────


class Wait(Model):
    for_: Duration | None = Field(default=None, alias="for")
    at: TimeOfDay | None = None
    until: date | None = None

    @model_validator(mode="after")
    def something(self) -> Wait:
        if self.for_ is None and self.at is None and self.until is None:
            raise ValueError("a wait needs `for`, `at` or `until`")
        if self.for_ is not None and self.until is not None:
            raise ValueError("wait either `for` a duration or `until` a date, not both")
        return self

    @property
    def spec(self) -> WaitSpec:
        return WaitSpec(delay=self.for_, at=self.at, until=self.until)


class Send(Model):
    """A message: the channel defaults to the template's; `vars` reach the copy as `vars.*`."""

    template: TemplateName
    channel: Channel | None = None
    coupon_code: Annotated[str, StringConstraints(max_length=64)] | None = None
    vars: dict[Annotated[str, StringConstraints(max_length=64)], JsonValue] = Field(
        default_factory=dict
    )
    priority: int | None = Field(default=None, ge=0, le=100)
    expires_after: Duration | None = None


class Variant(Model):
    """One arm of a split: a message, a path (`next`), or both."""

    name: Annotated[str, StringConstraints(pattern=r"^[a-z0-9_-]{1,32}$")] | None = None
    weight: int = Field(gt=0, le=10_000)
    template: TemplateName | None = None
    channel: Channel | None = None
    coupon_code: Annotated[str, StringConstraints(max_length=64)] | None = None
    vars: dict[Annotated[str, StringConstraints(max_length=64)], JsonValue] = Field(
        default_factory=dict
    )
    next: StepId | None = None

    @property
    def send(self) -> Send | None:
        if self.template is None:
            return None
        return Send(
            template=self.template,
            channel=self.channel,
            coupon_code=self.coupon_code,
            vars=self.vars,
        )


class Branch(Model):
    if_: Condition = Field(alias="if")
    then: StepId | None = None  # None: the next step
    else_: StepId | None = Field(default=None, alias="else")


class WaitFor(Model):
    """Wait for an event, at most `within`; go to `then` if it came, `timeout` if not."""

    event: EventType
    if_: Condition = Field(default=None, alias="if")
    within: Duration
    same_order: bool = False
    then: StepId | None = None
    timeout: StepId | None = None


class TagChange(Model):
    add: list[TagName] = Field(default_factory=list, max_length=20)
    remove: list[TagName] = Field(default_factory=list, max_length=20)

    @model_validator(mode="after")
    def something(self) -> TagChange:
        if not self.add and not self.remove:
            raise ValueError("add or remove at least one tag")
        return self


class Exit(Model):
    reason: Annotated[str, StringConstraints(max_length=64)] = "exit_step"


class StepBase(Model):
    id: StepId
    wait: Wait | None = None
    if_: Condition = Field(default=None, alias="if")
    next: StepId | None = None


class SendStep(StepBase):
    send: Send


class SplitStep(StepBase):
    split: list[Variant] = Field(min_length=2, max_length=10)


class BranchStep(StepBase):
    branch: Branch


class WaitForStep(StepBase):
    wait_for: WaitFor


class TagStep(StepBase):
    tag: TagChange


class ExitStep(StepBase):
    exit: Exit


class WaitStep(StepBase):
    wait: Wait


ACTIONS = ("send", "split", "branch", "wait_for", "tag", "exit")


def _step_kind(value: Any) -> str | None:
    if isinstance(value, dict):
        present = [a for a in ACTIONS if a in value]
        if len(present) > 1:
            return None
        if present:
            return present[0]
        return "wait" if "wait" in value else None
    for kind in ACTIONS:
        if getattr(value, kind, None) is not None:
            return kind
    return "wait"


def _exit_shorthand(value: Any) -> Any:
    """`"exit": true` is `"exit": {}`."""
    if isinstance(value, dict) and value.get("exit") is True:
        return {**value, "exit": {}}
    return value


Step = Annotated[
    Annotated[SendStep, Tag("send")]
    | Annotated[SplitStep, Tag("split")]
    | Annotated[BranchStep, Tag("branch")]
    | Annotated[WaitForStep, Tag("wait_for")]
    | Annotated[TagStep, Tag("tag")]
    | Annotated[ExitStep, Tag("exit")]
    | Annotated[WaitStep, Tag("wait")],
    Discriminator(
        _step_kind,
        custom_error_type="step_kind",
        custom_error_message="a step has exactly one of send, split, branch, wait_for, tag, "
        "exit (or only a wait)",
    ),
]


class JourneyRule(Model):
    """A journey: who enters when, which steps they walk, and what counts as success."""

    key: Slug
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    description: Annotated[str, StringConstraints(max_length=2000)] = ""
    trigger: Trigger
    audience: Condition = None
    entry: Entry = Field(default_factory=Entry)
    steps: list[Step] = Field(min_length=1, max_length=50)
    exit_when: list[EventMatch] = Field(default_factory=list, max_length=10)
    goal: Goal | None = None
    holdout_percent: float = Field(default=0, ge=0, le=50)
    priority: int = Field(default=50, ge=0, le=100)
    attribution_window: Duration = timedelta(days=5)
    attribution_windows: dict[Channel, Duration] = Field(
        default_factory=dict,
        description="A channel's own attribution window, in place of `attribution_window`.",
        examples=[{"sms": "P1D"}],
    )
    frequency_cap: FrequencyCapOverride | None = None

    @field_validator("key")
    @classmethod
    def not_reserved(cls, key: str) -> str:
        if key in RESERVED_KEYS:
            raise ValueError(f"{key!r} is reserved; choose another key")
        return key

    @model_validator(mode="before")
    @classmethod
    def shorthands(cls, value: Any) -> Any:
        """A single `exit_when` object is a list of one; `"exit": true` steps are `{}`."""
        if not isinstance(value, dict):
            return value
        value = dict(value)
        if isinstance(value.get("exit_when"), dict):
            value["exit_when"] = [value["exit_when"]]
        if isinstance(value.get("steps"), list):
            value["steps"] = [_exit_shorthand(step) for step in value["steps"]]
        return value

    def step_index(self, step_id: str) -> int:
        return next(i for i, step in enumerate(self.steps) if step.id == step_id)

    def dump(self) -> dict[str, Any]:
        """The stored form: JSON, aliases (`if`, `for`), defaults written out."""
        return self.model_dump(mode="json", by_alias=True)


AnyStep = SendStep | SplitStep | BranchStep | WaitForStep | TagStep | ExitStep | WaitStep
AnyTrigger = (
    EventTrigger
    | UnpaidOrderTrigger
    | ReplenishmentTrigger
    | CalendarTrigger
    | InactivityTrigger
    | StageTrigger
)
