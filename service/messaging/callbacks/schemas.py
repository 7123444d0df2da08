"""The native callback bodies gateways post, and what the callbacks answer."""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from service.messaging.callbacks.transitions import Bounce, ReportOutcome

MAX_BATCH = 1000
Id = Annotated[str, StringConstraints(min_length=1, max_length=128)]


class ReceiptIn(BaseModel):
    """One delivery receipt, found by the gateway's message id or by our idempotency key."""

    model_config = ConfigDict(extra="forbid")

    provider_message_id: Id | None = None
    idempotency_key: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
    status: ReportOutcome
    bounce: Bounce | None = Field(default=None, description="hard or soft; with status bounced")
    reason: Annotated[str, StringConstraints(max_length=500)] | None = None
    occurred_at: AwareDatetime | None = Field(default=None, description="default: when received")

    @model_validator(mode="after")
    def check(self) -> Self:
        if self.provider_message_id is None and self.idempotency_key is None:
            raise ValueError("give provider_message_id or idempotency_key")
        if (self.bounce is None) == (self.status is ReportOutcome.BOUNCED):
            raise ValueError("bounce (hard or soft) goes with status bounced, and only with it")
        return self


class ReceiptBatchIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "receipts": [
                        {"provider_message_id": "gw-81f2", "status": "delivered"},
                        {
                            "idempotency_key": "enrolment:41:thanks",
                            "status": "bounced",
                            "bounce": "hard",
                            "reason": "550 5.1.1 user unknown",
                            "occurred_at": "2026-06-18T02:00:05Z",
                        },
                    ]
                }
            ]
        },
    )

    receipts: list[ReceiptIn] = Field(min_length=1, max_length=MAX_BATCH)


class InboundIn(BaseModel):
    """One SMS a member sent us; `id` is the gateway's id for it (retries carry the same id)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    id: Id
    from_: Annotated[str, StringConstraints(min_length=1, max_length=32)] = Field(alias="from")
    text: Annotated[str, StringConstraints(max_length=2000)]
    received_at: AwareDatetime | None = Field(default=None, description="default: when received")


class InboundBatchIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"messages": [{"id": "mo-5521", "from": "+8613812345678", "text": "退订"}]}
            ]
        },
    )

    messages: list[InboundIn] = Field(min_length=1, max_length=MAX_BATCH)


class ReceiptResult(BaseModel):
    received: int
    applied: int = Field(description="receipts that changed a message")
    unchanged: int = Field(description="repeats, stale receipts, messages not yet sent")
    unmatched: int = Field(description="no message has this id: acknowledged, not retried")
    code: int | None = Field(default=None, description="aliyun only: 0, as its push expects")
    msg: str | None = None


class InboundResult(BaseModel):
    received: int
    recorded: int = Field(description="replies seen for the first time")
    duplicates: int = Field(description="replies whose id was already recorded")
    unmatched: int = Field(description="new replies from a number no member has")
    opted_out: int = Field(description="members whose consent a reply withdrew")
    opted_in: int = Field(description="members whose consent a reply granted")
    code: int | None = Field(default=None, description="aliyun only: 0, as its push expects")
    msg: str | None = None
