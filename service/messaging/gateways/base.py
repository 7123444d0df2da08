"""The gateway contract: what a message looks like on the way out, and how sending fails.

Errors say what the dispatcher may do next:
- RetryableError: nothing was delivered, or the gateway dedupes by idempotency key; send again
  after a backoff (`retry_after` when the gateway said how long).
- PermanentError: the gateway refused this message (bad number, rejected content): do not retry.
- UnknownOutcomeError: the request may have been delivered and the gateway does not dedupe;
  do not resend blindly. Resolve it with `query()` where the gateway has one, or a receipt.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol, runtime_checkable

import httpx

from service.members.models import Channel
from service.messaging.policies import Purpose


@dataclass(frozen=True)
class OutgoingMessage:
    """One rendered, decorated message addressed to one contact."""

    idempotency_key: str
    channel: Channel
    to: str  # E.164 phone number, or an email address
    text: str  # the SMS body, or the email's plain-text part
    purpose: Purpose = Purpose.MARKETING
    subject: str | None = None
    html: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)  # email: Message-ID, Date, List-*
    template: str = ""
    locale: str = "zh-CN"
    params: Mapping[str, str] = field(default_factory=dict)  # for providers' own templates


@dataclass(frozen=True)
class Receipt:
    """The gateway accepted the message; `provider_id` correlates later delivery receipts."""

    gateway: str
    provider_id: str | None
    detail: str | None = None


class DeliveryState(StrEnum):
    PENDING = "pending"  # accepted, no delivery report yet
    DELIVERED = "delivered"
    FAILED = "failed"
    NOT_FOUND = "not_found"  # the provider has no record: it never arrived


@dataclass(frozen=True)
class QueryResult:
    state: DeliveryState
    provider_id: str | None = None
    detail: str | None = None


class GatewayError(Exception):
    def __init__(self, gateway: str, detail: str) -> None:
        super().__init__(f"{gateway}: {detail}")
        self.gateway, self.detail = gateway, detail


class RetryableError(GatewayError):
    def __init__(self, gateway: str, detail: str, *, retry_after: float | None = None) -> None:
        super().__init__(gateway, detail)
        self.retry_after = retry_after


class PermanentError(GatewayError):
    pass


class UnknownOutcomeError(GatewayError):
    pass


@runtime_checkable
class Gateway(Protocol):
    name: str
    channel: Channel
    honours_idempotency: bool  # resends with the same key are deduplicated by the provider

    async def send(self, message: OutgoingMessage) -> Receipt: ...


@runtime_checkable
class QueryableGateway(Gateway, Protocol):
    async def query(self, message: OutgoingMessage, *, sent_at: datetime) -> QueryResult:
        """What became of a message whose send ended with UnknownOutcomeError."""
        ...


def retry_after_seconds(response: httpx.Response) -> float | None:
    """`Retry-After` in seconds (RFC 9110 allows an HTTP date too; we read only seconds)."""
    value = response.headers.get("retry-after", "")
    return float(value) if value.strip().isdigit() else None


def error_for_status(gateway: str, response: httpx.Response) -> GatewayError | None:
    """429 and 5xx are worth retrying; any other 4xx will fail the same way again."""
    status = response.status_code
    if status < 400:
        return None
    detail = f"HTTP {status}: {response.text[:200]}"
    if status == 429 or status >= 500:
        return RetryableError(gateway, detail, retry_after=retry_after_seconds(response))
    if status == 408:
        return RetryableError(gateway, detail)
    return PermanentError(gateway, detail)


def error_for_transport(
    gateway: str, exc: httpx.TransportError, *, idempotent: bool
) -> GatewayError:
    """Before the request left, a retry is safe; after it, only with a deduplicating gateway."""
    never_sent = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
    if never_sent or idempotent:
        return RetryableError(gateway, f"{type(exc).__name__}: {exc}")
    return UnknownOutcomeError(gateway, f"{type(exc).__name__} after the request was sent: {exc}")
