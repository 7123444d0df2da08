"""Who may call back: a gateway with a configured secret, proving it before its body is read.

Gateways sign per Standard Webhooks (HMAC-SHA256 over "{webhook-id}.{webhook-timestamp}.{raw
body}", as our order webhooks do) with their own `whsec_` secret. Aliyun's HTTP push cannot
sign with our secret, so its callback URL carries a token (`?token=…`) compared in constant
time. A gateway without a configured secret has no callbacks: 404.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping, Sequence
from datetime import datetime

from pydantic import SecretStr

from service.errors import BadSignature, NotFound
from service.orders.signature import verify_standard

URL_TOKEN_GATEWAYS = frozenset({"aliyun"})


class GatewayNotFound(NotFound):
    code = "gateway_not_found"


def callback_secrets(configured: Mapping[str, Sequence[SecretStr]], gateway: str) -> list[str]:
    secrets = [s.get_secret_value() for s in configured.get(gateway, ())]
    if not secrets:
        raise GatewayNotFound(
            f"no callbacks for gateway {gateway!r}: HUITOU_GATEWAY_CALLBACK_SECRETS names none",
            loc=["path", "name"],
        )
    return secrets


def verify_token(token: str | None, secrets: Sequence[str]) -> None:
    if not token:
        raise BadSignature("the callback URL needs its ?token=", loc=["query", "token"])
    given = token.encode()
    if not any(hmac.compare_digest(given, secret.encode()) for secret in secrets):
        raise BadSignature("the token matches no configured secret", loc=["query", "token"])


def verify_callback(
    gateway: str,
    body: bytes,
    *,
    headers: Mapping[str, str],
    token: str | None,
    configured: Mapping[str, Sequence[SecretStr]],
    now: datetime,
    tolerance_seconds: int,
) -> None:
    """Return quietly if the gateway proved who it is; GatewayNotFound or BadSignature if not."""
    secrets = callback_secrets(configured, gateway)
    if gateway in URL_TOKEN_GATEWAYS:
        verify_token(token, secrets)
        return
    verify_standard(body, headers, secrets=secrets, now=now, tolerance_seconds=tolerance_seconds)
