"""Shopify and WooCommerce fixture payloads, and requests signed the way each platform signs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from service.orders.payload import load_json
from service.orders.signature import sign_base64_hmac

FIXTURES = Path(__file__).parent / "fixtures"
SHOPIFY_SECRET = "shpss_test_secret_0123456789"  # the values the settings fixture configures
WOOCOMMERCE_SECRET = "wc_test_secret_0123456789"


def fixture_bytes(platform: str, name: str) -> bytes:
    return (FIXTURES / platform / f"{name}.json").read_bytes()


def fixture(platform: str, name: str) -> dict[str, Any]:
    """A payload as the service reads it: integers exact, decimals as Decimal."""
    return load_json(fixture_bytes(platform, name))


def editable(platform: str, name: str) -> dict[str, Any]:
    """A payload to change and post again (plain JSON types)."""
    payload: dict[str, Any] = json.loads(fixture_bytes(platform, name))
    return payload


def body_of(payload: bytes | dict[str, Any]) -> bytes:
    return payload if isinstance(payload, bytes) else json.dumps(payload).encode()


def shopify_headers(
    body: bytes, *, topic: str, webhook_id: str, secret: str = SHOPIFY_SECRET
) -> dict[str, str]:
    """The headers Shopify sends with an order webhook."""
    return {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": sign_base64_hmac(body, secret),
        "X-Shopify-Shop-Domain": "huitou-demo.myshopify.com",
        "X-Shopify-API-Version": "2025-07",
        "X-Shopify-Webhook-Id": webhook_id,
        "X-Shopify-Event-Id": f"evt-{webhook_id}",
        "X-Shopify-Triggered-At": "2026-06-18T00:45:13.000Z",
    }


def woocommerce_headers(
    body: bytes, *, topic: str, delivery_id: str, secret: str = WOOCOMMERCE_SECRET
) -> dict[str, str]:
    """The headers WooCommerce's webhook delivery adds."""
    resource, event = topic.split(".")
    return {
        "Content-Type": "application/json",
        "User-Agent": "WooCommerce/9.8.5 Hookshot (WordPress/6.8.1)",
        "X-WC-Webhook-Source": "https://shop.example.com/",
        "X-WC-Webhook-Topic": topic,
        "X-WC-Webhook-Resource": resource,
        "X-WC-Webhook-Event": event,
        "X-WC-Webhook-Signature": sign_base64_hmac(body, secret),
        "X-WC-Webhook-ID": "42",
        "X-WC-Webhook-Delivery-ID": delivery_id,
    }
