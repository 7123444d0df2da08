"""Gateway callbacks: delivery receipts and inbound replies, verified before they are parsed."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, TypeAdapter

from service.api.deps import ClockDep, DbSession, SecretsDep, SettingsDep
from service.messaging.callbacks import formats
from service.messaging.callbacks import inbound as inbound_service
from service.messaging.callbacks import receipts as receipt_service
from service.messaging.callbacks.auth import verify_callback
from service.messaging.callbacks.schemas import (
    InboundBatchIn,
    InboundResult,
    ReceiptBatchIn,
    ReceiptResult,
)

router = APIRouter(prefix="/gateways", tags=["gateway callbacks"])
GatewayName = Annotated[str, Path(max_length=32, description="the gateway that sent the messages")]
Token = Annotated[
    str | None, Query(max_length=256, description="aliyun only: the token in its callback URL")
]
ALIYUN_OK: dict[str, Any] = {"code": 0, "msg": "接收成功"}  # what Aliyun's push expects back
CALLBACK: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing or wrong signature (or aliyun token)"},
    404: {"description": "No callback secret is configured for this gateway"},
    422: {"description": "The body is not a batch this gateway sends"},
}


def _inline(schema: Any, defs: dict[str, Any]) -> Any:
    """A JSON schema with its local $refs replaced by what they name."""
    if isinstance(schema, list):
        return [_inline(item, defs) for item in schema]
    if not isinstance(schema, dict):
        return schema
    if "$ref" in schema:
        return _inline(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
    return {k: _inline(v, defs) for k, v in schema.items() if k != "$defs"}


def body_doc(native: type[BaseModel], aliyun: TypeAdapter[Any]) -> dict[str, Any]:
    """OpenAPI for a body read raw (the signature is checked before it is parsed)."""
    schemas = []
    for title, schema in (
        ("native", native.model_json_schema()),
        ("aliyun", aliyun.json_schema()),
    ):
        schemas.append({**_inline(schema, schema.get("$defs", {})), "title": title})
    content = {"application/json": {"schema": {"anyOf": schemas}}}
    return {"requestBody": {"required": True, "content": content}}


async def verified_body(
    name: GatewayName, request: Request, settings: SettingsDep, clock: ClockDep, token: Token = None
) -> bytes:
    """The raw body, once the gateway proved who it is (before anything parses it)."""
    body = await request.body()
    verify_callback(
        name,
        body,
        headers=request.headers,
        token=token,
        configured=settings.gateway_callback_secrets,
        now=clock.now(),
        tolerance_seconds=settings.webhook_tolerance_seconds,
    )
    return body


VerifiedBody = Annotated[bytes, Depends(verified_body)]


@router.post(
    "/{name}/receipts",
    response_model=ReceiptResult,
    response_model_exclude_none=True,
    openapi_extra=body_doc(ReceiptBatchIn, formats.ALIYUN_REPORTS),
    responses=CALLBACK,
)
async def post_receipts(
    name: GatewayName,
    body: VerifiedBody,
    session: DbSession,
    clock: ClockDep,
    settings: SettingsDep,
    secrets: SecretsDep,
) -> ReceiptResult:
    """Delivery receipts (a batch); unknown message ids are acknowledged and counted."""
    now = clock.now()
    reports = (
        formats.aliyun_reports(body, now=now, hard_bounce_codes=settings.aliyun_hard_bounce_codes)
        if name == "aliyun"
        else formats.native_reports(body, now=now)
    )
    counts = await receipt_service.apply_reports(
        session, gateway=name, reports=reports, salt=secrets.contact_salt, now=now
    )
    return ReceiptResult(**vars(counts), **(ALIYUN_OK if name == "aliyun" else {}))


@router.post(
    "/{name}/inbound",
    response_model=InboundResult,
    response_model_exclude_none=True,
    openapi_extra=body_doc(InboundBatchIn, formats.ALIYUN_UPS),
    responses=CALLBACK,
)
async def post_inbound(
    name: GatewayName,
    body: VerifiedBody,
    session: DbSession,
    clock: ClockDep,
    settings: SettingsDep,
    secrets: SecretsDep,
) -> InboundResult:
    """Inbound SMS (a batch): STOP, T, TD, 退订 … opt out; START, 订阅 opt back in."""
    now = clock.now()
    replies = (
        formats.aliyun_replies(body, now=now)
        if name == "aliyun"
        else formats.native_replies(body, now=now, region=settings.country)
    )
    counts = await inbound_service.record_replies(
        session, gateway=name, replies=replies, salt=secrets.contact_salt, now=now
    )
    return InboundResult(**vars(counts), **(ALIYUN_OK if name == "aliyun" else {}))
