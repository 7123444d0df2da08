"""What the message-templates API accepts and returns."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field, JsonValue, StringConstraints, model_validator

from service.inputs import InputModel
from service.members.models import Channel
from service.members.schemas import Locale
from service.messaging.outbox import MessageStatus
from service.messaging.policies import Purpose
from service.messaging.render import PARTS

TEMPLATE_NAME = r"^[a-z0-9_]+(/[a-z0-9_]+)*$"
TemplateName = Annotated[str, StringConstraints(pattern=TEMPLATE_NAME, max_length=200)]
Source = Annotated[str, StringConstraints(max_length=20_000)]


class TemplateIn(InputModel):
    """A template's copy: per locale, `sms` for SMS, or `subject`, `text` and `html` for email."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "channel": "sms",
                    "purpose": "marketing",
                    "description": "Thank a new customer",
                    "locales": {
                        "zh-CN": {
                            "sms": "{{ member.name or '亲' }}，感谢您第一次光临{{ brand }}！"
                        },
                        "en": {"sms": "Hi {{ member.name or 'there' }}, thanks for your order!"},
                    },
                }
            ]
        },
    )

    channel: Channel
    purpose: Purpose = Purpose.MARKETING
    description: Annotated[str, StringConstraints(max_length=500)] = ""
    locales: dict[Locale, dict[str, Source]] = Field(min_length=1, max_length=20)

    @model_validator(mode="after")
    def check_parts(self) -> Self:
        wanted = set(PARTS[self.channel])
        for locale, parts in self.locales.items():
            if set(parts) != wanted:
                missing, extra = sorted(wanted - set(parts)), sorted(set(parts) - wanted)
                raise ValueError(
                    f"locale {locale}: a {self.channel.value} template has exactly the parts "
                    f"{', '.join(sorted(wanted))}"
                    + (f"; missing {', '.join(missing)}" if missing else "")
                    + (f"; unexpected {', '.join(extra)}" if extra else "")
                )
        return self

    def checksum(self) -> str:
        """Identifies the content, so loading the same file again adds no version."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()


class TemplateSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str
    version: int
    channel: Channel
    purpose: Purpose
    description: str
    source: str
    author: str | None
    created_at: datetime


class TemplateOut(TemplateSummary):
    locales: dict[str, dict[str, str]]


class TemplateList(BaseModel):
    items: list[TemplateSummary]


class MessageOut(BaseModel):
    """One outbox message: what was decided, and what became of it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    idempotency_key: str
    member: str | None  # the member's external id; None for a test with the sample member
    journey_id: int | None
    journey_version: int | None
    step_id: str | None
    variant: str | None
    channel: Channel
    template: str
    purpose: Purpose
    priority: int
    status: MessageStatus
    status_reason: str | None
    context: dict[str, Any]
    send_after_at: datetime
    expires_at: datetime | None
    attempts: int
    last_error: str | None
    gateway: str | None
    provider_message_id: str | None
    subject: str | None
    body: str | None
    segments: int | None
    cost: Decimal | None
    is_test: bool
    created_at: datetime
    updated_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None
    failed_at: datetime | None


class MessagePage(BaseModel):
    items: list[MessageOut]
    next_cursor: str | None


ExternalId = Annotated[str, StringConstraints(min_length=1, max_length=128)]
OrderRef = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class PreviewIn(InputModel):
    """Whose copy to preview, with which version of the journey and which order."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"member": "m-1001", "order_id": "E20260618001"}]}
    )

    member: ExternalId = Field(description="the member's external id")
    version: int | None = Field(
        default=None, ge=1, le=1_000_000, description="default: the newest version, draft or live"
    )
    order_id: OrderRef | None = Field(
        default=None,
        description="the shop's id of one of the member's orders; default: the member's latest "
        "order when the journey's trigger comes with an order",
    )
    sku: OrderRef | None = Field(
        default=None, description="the product the copy is about; default: the order's first item"
    )
    locale: Locale | None = Field(default=None, description="default: the member's locale")


class SmsCopy(BaseModel):
    text: str  # as the gateway gets it: 【brand】 signature and opt-out included
    encoding: str  # GSM-7 or UCS-2
    units: int  # septets or UTF-16 code units
    segments: int
    cost: Decimal


class EmailCopy(BaseModel):
    sender: str  # the From header
    subject: str
    text: str
    html: str
    headers: dict[str, str]  # Message-ID, Date, List-Unsubscribe, List-Unsubscribe-Post


class PolicyOut(BaseModel):
    """What the send-time policies would decide for this member if the message went now."""

    verdict: str  # send, defer, suppress
    reason: str | None  # opted_out, suppressed, no_contact, quiet_hours, frequency_cap, …
    send_at: datetime | None  # in the member's time zone: now, or when a deferral ends
    explanation: str


class StepPreview(BaseModel):
    step_id: str
    variant: str | None  # the split arm, for a split step
    via: list[str]  # the branch, split and wait_for arms that lead to the step
    condition: JsonValue = None  # the step's `if`
    member_gets: bool | None  # on today's facts; None when an awaited event decides
    channel: Channel
    template: str
    template_version: int
    purpose: Purpose
    locale: str  # the copy's locale chosen for the member
    to: str | None  # the member's contact on the channel
    sms: SmsCopy | None
    email: EmailCopy | None
    policy: PolicyOut


class PreviewOut(BaseModel):
    journey: str
    version: int
    status: str  # the journey's status: draft, active, paused, archived
    member: str
    at: datetime
    control_group: bool  # the member is in the journey's holdout: nothing would be sent
    order_id: str | None  # the order the copy uses (the shop's id)
    sku: str | None
    occasion: str | None  # the occurrence a calendar journey's copy names
    steps: list[StepPreview]


class SendTestIn(InputModel):
    """A template rendered for a sample member and sent to the marketer's own phone or email."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"template": "test/hello", "to": "13812345678", "locale": "zh-CN"}]
        }
    )

    template: TemplateName
    version: int | None = Field(default=None, ge=1, le=2**31 - 1, description="default: newest")
    channel: Channel | None = Field(default=None, description="default: the template's")
    to: Annotated[str, StringConstraints(min_length=1, max_length=320)] = Field(
        description="the phone number (read for HUITOU_COUNTRY) or email address to send to"
    )
    locale: Locale | None = Field(
        default=None, description="default: the sample member's locale (zh-CN built in)"
    )
    member: ExternalId | None = Field(
        default=None, description="a member whose data fills the copy; default: a built-in one"
    )
    order_id: OrderRef | None = Field(
        default=None, description="one of the member's orders; default: their latest"
    )
    coupon_code: Annotated[str, StringConstraints(max_length=64)] | None = None


class SendTestOut(BaseModel):
    outcome: str  # sent, or failed (see reason)
    reason: str | None  # rejected, gateway_unavailable, unknown_outcome
    detail: str | None  # the gateway's words
    replayed: bool  # an earlier request with this Idempotency-Key answered
    to: str  # the destination, normalized
    message: MessageOut
