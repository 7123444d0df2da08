"""Signed order webhooks: verified over the raw bytes first, parsed second, applied once."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import SecretStr, TypeAdapter, ValidationError

from service.api.deps import ClockDep, DbSession, SettingsDep
from service.errors import invalid_from_pydantic
from service.orders import deliveries
from service.orders import service as order_service
from service.orders.schemas import IngestResult, OrderIn, WebhookIgnored
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


def platform_body(description: str) -> dict[str, Any]:
    """OpenAPI for a platform's own order JSON, which the route maps rather than validates."""
    schema = {"type": "object", "description": description}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def secret_value(secret: SecretStr | None) -> str | None:
    return secret.get_secret_value() if secret else None


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


PLATFORM_SIGNED: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing or wrong signature, or no secret configured for the platform"},
    422: {
        "description": "The order does not map; `detail` names each field in the platform's terms"
    },
}


@router.post(
    "/shopify/orders",
    response_model=IngestResult | WebhookIgnored,
    openapi_extra=platform_body("A Shopify order, as orders/create, paid, updated… send it"),
    responses=PLATFORM_SIGNED,
)
async def shopify_order_webhook(
    request: Request, session: DbSession, clock: ClockDep, settings: SettingsDep
) -> IngestResult | WebhookIgnored:
    """Shopify's orders/* webhooks, signed with X-Shopify-Hmac-Sha256; a replay changes nothing."""
    return await deliveries.receive_shopify(
        session,
        body=await request.body(),
        headers=request.headers,
        secret=secret_value(settings.shopify_secret),
        now=clock.now(),
        region=settings.country,
    )


@router.post(
    "/woocommerce/orders",
    response_model=IngestResult | WebhookIgnored,
    openapi_extra=platform_body(
        "A WooCommerce order (REST API v3), as order.created/updated send it"
    ),
    responses=PLATFORM_SIGNED,
)
async def woocommerce_order_webhook(
    request: Request, session: DbSession, clock: ClockDep, settings: SettingsDep
) -> IngestResult | WebhookIgnored:
    """WooCommerce's order webhooks, signed with X-WC-Webhook-Signature; the ping gets a 200."""
    return await deliveries.receive_woocommerce(
        session,
        body=await request.body(),
        headers=request.headers,
        secret=secret_value(settings.woocommerce_secret),
        now=clock.now(),
        region=settings.country,
    )
