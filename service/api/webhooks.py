"""Signed order webhooks: verified over the raw bytes first, parsed second, applied once."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import TypeAdapter, ValidationError

from service.api.deps import ClockDep, DbSession, SettingsDep
from service.errors import invalid_from_pydantic
from service.orders import service as order_service
from service.orders.schemas import IngestResult, OrderIn
from service.orders.signature import verify_standard

router = APIRouter(prefix="/webhooks", tags=["webhooks"])
ORDER = TypeAdapter(OrderIn)


def json_body(schema: str) -> dict[str, Any]:
    """OpenAPI for a route that reads its own raw body (to check the signature before parsing)."""
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
        }
    }


SIGNED: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing or wrong signature, or a timestamp outside the tolerance"},
    422: {"description": "The body is not a valid order; `detail` names each bad field"},
}


@router.post(
    "/orders", response_model=IngestResult, openapi_extra=json_body("OrderIn"), responses=SIGNED
)
async def native_order_webhook(
    request: Request, session: DbSession, clock: ClockDep, settings: SettingsDep
) -> IngestResult:
    """A native order, signed per Standard Webhooks; a replayed webhook-id changes nothing."""
    body = await request.body()
    now = clock.now()
    webhook_id = verify_standard(
        body,
        request.headers,
        secrets=[s.get_secret_value() for s in settings.webhook_secrets],
        now=now,
        tolerance_seconds=settings.webhook_tolerance_seconds,
    )
    try:
        order = ORDER.validate_json(body)
    except ValidationError as exc:
        raise invalid_from_pydantic(exc) from None
    if not await order_service.claim_delivery(
        session, source="standard", delivery_id=webhook_id, now=now
    ):
        return IngestResult(id=order.id, status=order.status, applied=False, events=[])
    return await order_service.ingest_order(
        session, order, platform="native", now=now, region=settings.country
    )
