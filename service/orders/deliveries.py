"""Order webhooks from Shopify and WooCommerce: verified, mapped, claimed once, ingested."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from service.orders import shopify, woocommerce
from service.orders.payload import load_json
from service.orders.schemas import IngestResult, OrderIn, WebhookIgnored
from service.orders.service import claim_delivery, ingest_order
from service.orders.signature import verify_base64_hmac

MAX_DELIVERY_ID = 200


async def receive_shopify(
    session: AsyncSession,
    *,
    body: bytes,
    headers: Mapping[str, str],
    secret: str | None,
    now: datetime,
    region: str,
) -> IngestResult | WebhookIgnored:
    """One Shopify orders/* delivery; the HMAC is checked over the raw bytes before parsing."""
    verify_base64_hmac(
        body, headers.get("x-shopify-hmac-sha256"), secret=secret, header=shopify.HMAC_HEADER
    )
    payload = load_json(body)
    topic = headers.get("x-shopify-topic")
    if reason := shopify.ignored(payload, topic=topic):
        return WebhookIgnored(ignored=reason)
    order = shopify.to_order(payload, topic=topic, region=region)
    return await apply_delivery(
        session,
        order,
        platform=shopify.PLATFORM,
        key=shopify.delivery_key(headers),
        now=now,
        region=region,
    )


async def receive_woocommerce(
    session: AsyncSession,
    *,
    body: bytes,
    headers: Mapping[str, str],
    secret: str | None,
    now: datetime,
    region: str,
) -> IngestResult | WebhookIgnored:
    """One WooCommerce order delivery, or the unsigned ping sent when the webhook is saved."""
    if woocommerce.is_ping(body):
        return WebhookIgnored(ignored="ping")
    verify_base64_hmac(
        body,
        headers.get("x-wc-webhook-signature"),
        secret=secret,
        header=woocommerce.SIGNATURE_HEADER,
    )
    payload = load_json(body)
    if reason := woocommerce.ignored(payload, topic=headers.get("x-wc-webhook-topic")):
        return WebhookIgnored(ignored=reason)
    order = woocommerce.to_order(payload, region=region)
    return await apply_delivery(
        session,
        order,
        platform=woocommerce.PLATFORM,
        key=woocommerce.delivery_key(headers),
        now=now,
        region=region,
    )


async def apply_delivery(
    session: AsyncSession,
    order: OrderIn,
    *,
    platform: str,
    key: tuple[str, str] | None,
    now: datetime,
    region: str,
) -> IngestResult:
    """Ingest once per delivery id; without one, the idempotent ingest alone absorbs a replay."""
    if key is not None:
        source, delivery_id = key
        if len(delivery_id) > MAX_DELIVERY_ID:
            delivery_id = "sha256:" + hashlib.sha256(delivery_id.encode()).hexdigest()
        if not await claim_delivery(session, source=source, delivery_id=delivery_id, now=now):
            return IngestResult(id=order.id, status=order.status, applied=False, events=[])
    return await ingest_order(session, order, platform=platform, now=now, region=region)
