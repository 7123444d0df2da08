"""What the journeys API returns, and the few bodies that are not a journey document."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, StringConstraints

from service.inputs import InputModel
from service.journeys.durations import Duration
from service.journeys.models import EnrolmentState, JourneyStatus
from service.journeys.rule import EntryPolicy, JourneyRule

EXAMPLE_RULE: dict[str, Any] = {
    "key": "new-customer-nurture",
    "name": "新客培养 New-customer nurturing",
    "trigger": {"event": "order.paid", "if": {"==": [{"var": "member.paid_orders"}, 1]}},
    "audience": {">=": [{"var": "order.total"}, 70]},
    "entry": {"policy": "once_per_member"},
    "steps": [
        {
            "id": "thanks",
            "wait": {"for": "P1D", "at": "10:00"},
            "send": {"channel": "sms", "template": "new_customer/thanks"},
        },
        {"id": "care", "wait": {"for": "P7D"}, "send": {"template": "new_customer/care"}},
        {
            "id": "coupon",
            "wait": {"for": "P13D"},
            "if": {"<": [{"var": "member.paid_orders"}, 2]},
            "split": [
                {"weight": 50, "template": "new_customer/coupon_a"},
                {"weight": 50, "template": "new_customer/coupon_b"},
            ],
        },
    ],
    "exit_when": [{"event": "order.paid"}],
    "goal": {"event": "order.paid", "within": "P30D"},
    "holdout_percent": 10,
}


class JourneySummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    key: str
    name: str
    status: JourneyStatus
    latest_version: int
    live_version: int | None = Field(description="The version new members enter with.")
    trigger_type: str
    priority: int
    activated_at: datetime | None
    created_at: datetime
    updated_at: datetime


class JourneyList(BaseModel):
    items: list[JourneySummary]


class JourneyOut(JourneySummary):
    version: int = Field(description="The version shown in `rule`.")
    author: str | None
    rule: JourneyRule


class DryRunIn(InputModel):
    window: Duration = Field(
        default=timedelta(days=30),
        description="For event, order and item triggers: how far back to look for occurrences.",
    )
    sample: int = Field(default=10, ge=0, le=100)


class EntryOut(BaseModel):
    policy: EntryPolicy
    cooldown: str | None
    explained: str


class DryRunOut(BaseModel):
    trigger_type: str
    scope: str = Field(description="What was counted, in words.")
    members: int = Field(description="Members the trigger and audience would enrol.")
    control: int = Field(description="Of them, how many the holdout would keep as control.")
    already_entered: int = Field(
        description="Of them, how many have entered this journey before (see `entry`)."
    )
    sample: list[str] = Field(description="External ids of some of them.")
    entry: EntryOut
    holdout_percent: float


class StepRunOut(BaseModel):
    step_id: str
    outcome: str
    variant: str | None
    message_key: str | None
    ran_at: datetime


class EnrolmentOut(BaseModel):
    id: int
    member_external_id: str
    journey_version: int
    state: EnrolmentState
    entry_key: str
    is_control: bool
    step_id: str | None = Field(description="The step it is at; null once ended.")
    next_run_at: datetime | None
    entered_at: datetime
    ended_at: datetime | None
    exit_reason: str | None
    goal_reached_at: datetime | None
    steps: list[StepRunOut]


class EnrolmentPage(BaseModel):
    items: list[EnrolmentOut]
    next_cursor: str | None


ParameterType = Literal[
    "number", "integer", "string", "boolean", "duration", "time", "list", "object"
]


class RuleParameter(BaseModel):
    """One parameter of a rule template; `null` is a valid value only where it is the default."""

    model_config = ConfigDict(extra="forbid")

    type: ParameterType = Field(
        description="number, integer, string, boolean, duration (ISO 8601, e.g. P7D), "
        "time (HH:MM, local), list or object."
    )
    default: JsonValue = None
    required: bool = Field(default=False, description="No default: the value must be given.")
    choices: list[JsonValue] | None = Field(default=None, description="The values allowed.")
    description_zh: str
    description_en: str


class RuleTemplateOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    name_zh: str
    name_en: str
    description_zh: str
    description_en: str
    parameters: dict[str, RuleParameter]
    journey: dict[str, JsonValue] = Field(description="The journey with parameter placeholders.")


class RuleTemplateList(BaseModel):
    items: list[RuleTemplateOut]


class FromTemplateIn(InputModel):
    template: Annotated[str, StringConstraints(pattern=r"^[a-z0-9_-]{1,64}$")]
    params: dict[str, JsonValue] = Field(default_factory=dict)
    key: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")] | None = None
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
