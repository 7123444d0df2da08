"""Webhook signatures: Standard Webhooks, Shopify and WooCommerce, checked over the raw bytes."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from datetime import datetime

from service.errors import BadSignature, InvalidInput

SIGNATURE_VERSION = "v1"
MAX_WEBHOOK_ID = 200  # webhook_deliveries.delivery_id


def _secret_bytes(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix("whsec_"))


def sign_standard(body: bytes, *, msg_id: str, timestamp: int, secret: str) -> str:
    """The `webhook-signature` header for this body (for senders, tests and benchmarks)."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(_secret_bytes(secret), signed, hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode()}"


def verify_standard(
    body: bytes,
    headers: Mapping[str, str],
    *,
    secrets: Sequence[str],
    now: datetime,
    tolerance_seconds: int,
) -> str:
    """Check a Standard Webhooks signature; returns the webhook id for deduplication."""
    msg_id = headers.get("webhook-id")
    stamp = headers.get("webhook-timestamp")
    signatures = headers.get("webhook-signature")
    if not msg_id or not stamp or not signatures:
        raise BadSignature(
            "webhook-id, webhook-timestamp and webhook-signature headers are required",
            loc=["header"],
        )
    if len(msg_id) > MAX_WEBHOOK_ID:
        raise InvalidInput(
            [
                {
                    "loc": ["header", "webhook-id"],
                    "msg": f"longer than {MAX_WEBHOOK_ID} characters",
                    "type": "string_too_long",
                }
            ]
        )
    try:
        timestamp = int(stamp)
    except ValueError:
        raise BadSignature("not a unix timestamp", loc=["header", "webhook-timestamp"]) from None
    if abs(now.timestamp() - timestamp) > tolerance_seconds:
        raise BadSignature(
            f"timestamp is more than {tolerance_seconds} s away from now",
            loc=["header", "webhook-timestamp"],
        )
    if not secrets:
        raise BadSignature(
            "no webhook secret is configured (HUITOU_WEBHOOK_SECRETS)", loc=["header"]
        )
    expected = {sign_standard(body, msg_id=msg_id, timestamp=timestamp, secret=s) for s in secrets}
    for candidate in signatures.split():
        if any(hmac.compare_digest(candidate, e) for e in expected):
            return msg_id
    raise BadSignature(
        "no signature matches any configured secret", loc=["header", "webhook-signature"]
    )


def sign_base64_hmac(body: bytes, secret: str) -> str:
    """base64(HMAC-SHA256(body)): the scheme of Shopify and WooCommerce."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def verify_base64_hmac(
    body: bytes, header_value: str | None, *, secret: str | None, header: str
) -> None:
    if not secret:
        raise BadSignature(f"no secret is configured to verify {header}", loc=["header", header])
    if not header_value or not hmac.compare_digest(
        header_value.strip(), sign_base64_hmac(body, secret)
    ):
        raise BadSignature("signature does not match the body", loc=["header", header])
