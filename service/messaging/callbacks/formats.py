"""Callback bodies, native or Alibaba Cloud's, read into reports and replies (pure).

Aliyun's HTTP batch push posts JSON arrays: `SmsReport` delivery reports (phone_number,
success, biz_id, out_id, err_code, err_msg, send_time, report_time) and `SmsUp` replies
(phone_number, content, sign_name, dest_code, sequence_id, send_time). Its times are Beijing
time without a zone; mainland numbers come without +86. Fields it adds later are ignored.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, TypeVar
from zoneinfo import ZoneInfo

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
)

from service.errors import invalid_from_pydantic
from service.members.contacts import normalize_phone
from service.messaging.callbacks.schemas import MAX_BATCH, InboundBatchIn, ReceiptBatchIn
from service.messaging.callbacks.transitions import Bounce, DeliveryReport, ReportOutcome

CHINA = ZoneInfo("Asia/Shanghai")
ALIYUN_TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y%m%d%H%M%S")
T = TypeVar("T")


def _text(value: object) -> object:
    if value is None:
        return ""
    return str(value) if isinstance(value, int | float) else value


Text = Annotated[str, BeforeValidator(_text), StringConstraints(max_length=2000)]
Id = Annotated[str, BeforeValidator(_text), StringConstraints(min_length=1, max_length=128)]


@dataclass(frozen=True)
class InboundReply:
    provider_id: str
    phone: str  # E.164 when it parses; otherwise as the gateway gave it (matches no member)
    text: str
    received_at: datetime


class AliyunReport(BaseModel):
    model_config = ConfigDict(extra="ignore")

    phone_number: Text
    success: bool
    biz_id: Text = ""
    out_id: Text = ""
    err_code: Text = ""
    err_msg: Text = ""
    report_time: Text = ""
    send_time: Text = ""


class AliyunUp(BaseModel):
    model_config = ConfigDict(extra="ignore")

    phone_number: Text
    content: Text
    sequence_id: Id  # a number in some of Aliyun's documents, a string in others
    sign_name: Text = ""
    dest_code: Text = ""
    send_time: Text = ""


ALIYUN_REPORTS = TypeAdapter(
    Annotated[list[AliyunReport], Field(min_length=1, max_length=MAX_BATCH)]
)
ALIYUN_UPS = TypeAdapter(Annotated[list[AliyunUp], Field(min_length=1, max_length=MAX_BATCH)])


def _validate(adapter: TypeAdapter[T], body: bytes) -> T:
    try:
        return adapter.validate_json(body)
    except ValidationError as exc:
        raise invalid_from_pydantic(exc) from None


def phone_of(raw: str, *, region: str) -> str:
    """E.164 of a number as a gateway writes it ("13812345678", "+86 138…", "85261234567")."""
    for candidate, where in ((raw, region), (f"+{raw.lstrip('+')}", region)):
        try:
            return normalize_phone(candidate, region=where)
        except ValueError:
            continue
    return raw.strip()


def aliyun_time(text: str, *, now: datetime) -> datetime:
    for pattern in ALIYUN_TIME_FORMATS:
        try:
            return min(datetime.strptime(text.strip(), pattern).replace(tzinfo=CHINA), now)
        except ValueError:
            continue
    return now


def native_reports(body: bytes, *, now: datetime) -> list[DeliveryReport]:
    batch = _validate(TypeAdapter(ReceiptBatchIn), body)
    return [
        DeliveryReport(
            outcome=r.status,
            occurred_at=min(r.occurred_at, now) if r.occurred_at else now,
            provider_message_id=r.provider_message_id,
            idempotency_key=r.idempotency_key,
            bounce=r.bounce,
            reason=r.reason,
        )
        for r in batch.receipts
    ]


def aliyun_reports(
    body: bytes, *, now: datetime, hard_bounce_codes: Collection[str]
) -> list[DeliveryReport]:
    """SmsReport entries; an err_code listed in HUITOU_ALIYUN_HARD_BOUNCE_CODES is a hard bounce."""
    reports = []
    for r in _validate(ALIYUN_REPORTS, body):
        hard = not r.success and r.err_code in hard_bounce_codes
        outcome = ReportOutcome.DELIVERED if r.success else ReportOutcome.FAILED
        reason = " ".join(part for part in (r.err_code, r.err_msg) if part) or None
        reports.append(
            DeliveryReport(
                outcome=ReportOutcome.BOUNCED if hard else outcome,
                occurred_at=aliyun_time(r.report_time, now=now),
                provider_message_id=r.biz_id or None,
                out_id=r.out_id or None,
                phone=phone_of(r.phone_number, region="CN"),
                bounce=Bounce.HARD if hard else None,
                reason=reason,
            )
        )
    return reports


def native_replies(body: bytes, *, now: datetime, region: str) -> list[InboundReply]:
    batch = _validate(TypeAdapter(InboundBatchIn), body)
    return [
        InboundReply(
            provider_id=m.id,
            phone=phone_of(m.from_, region=region),
            text=m.text,
            received_at=min(m.received_at, now) if m.received_at else now,
        )
        for m in batch.messages
    ]


def aliyun_replies(body: bytes, *, now: datetime) -> list[InboundReply]:
    return [
        InboundReply(
            provider_id=u.sequence_id,
            phone=phone_of(u.phone_number, region="CN"),
            text=u.content,
            received_at=aliyun_time(u.send_time, now=now),
        )
        for u in _validate(ALIYUN_UPS, body)
    ]
