"""Unknown outcomes: ask the provider what became of the message, never send it blindly again.

A message whose request may have reached a gateway that does not deduplicate is `unknown`.
Where the gateway can be queried (Aliyun's QuerySendDetails), each check asks it: delivered or
pending means it went out, failed means it failed, not found means it never arrived and may be
sent again. Otherwise a delivery receipt may still settle it. A message still unknown at the
resolution deadline is marked failed with reason `unknown_outcome`, and never resent.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from service.messaging import outcomes
from service.messaging.claims import Claimed
from service.messaging.gateways.base import (
    DeliveryState,
    Gateway,
    GatewayError,
    OutgoingMessage,
    QueryableGateway,
)
from service.messaging.outbox import MessageStatus
from service.messaging.outcomes import Outcome

log = logging.getLogger("huitou.dispatcher")


@dataclass(frozen=True)
class ResolutionPolicy:
    check_every: timedelta = timedelta(minutes=1)  # also the wait before the first check
    deadline: timedelta = timedelta(hours=24)  # from the attempt; then failed, never resent


async def resolve(
    claimed: Claimed,
    gateway: Gateway,
    *,
    contact: str | None,
    now: datetime,
    policy: ResolutionPolicy,
) -> Outcome:
    """The next state of one unknown message."""
    attempted_at = claimed.last_attempt_at or claimed.send_after_at
    give_up_at = attempted_at + policy.deadline
    if now >= give_up_at:
        return outcomes.failed(
            claimed,
            now=now,
            reason="unknown_outcome",
            error="no receipt or provider record before the resolution deadline",
            held=MessageStatus.UNKNOWN,
        )
    if not isinstance(gateway, QueryableGateway) or gateway.name != claimed.gateway:
        return outcomes.recheck(claimed, now=now, at=give_up_at, error=None)  # a receipt may come
    if contact is None:  # erased meanwhile: nothing to ask about, a receipt may still come
        return outcomes.recheck(claimed, now=now, at=give_up_at, error=None)
    return await _ask(gateway, claimed, contact, attempted_at=attempted_at, now=now, policy=policy)


async def _ask(
    gateway: QueryableGateway,
    claimed: Claimed,
    contact: str,
    *,
    attempted_at: datetime,
    now: datetime,
    policy: ResolutionPolicy,
) -> Outcome:
    message = OutgoingMessage(
        idempotency_key=claimed.idempotency_key,
        channel=claimed.channel,
        to=contact,
        text=claimed.body or "",
        purpose=claimed.purpose,
        template=claimed.template,
    )
    try:
        result = await gateway.query(message, sent_at=attempted_at)
    except GatewayError as exc:
        log.info("query of message %s failed: %s", claimed.id, exc)
        return outcomes.recheck(claimed, now=now, at=now + policy.check_every, error=str(exc))
    if result.state is DeliveryState.NOT_FOUND:
        return outcomes.requeued(claimed, now=now, reason="not_found_at_provider")
    if result.state is DeliveryState.FAILED:
        return outcomes.failed(
            claimed, now=now, reason="provider_failed", error=result.detail,
            held=MessageStatus.UNKNOWN,
        )  # fmt: skip
    delivered = result.state is DeliveryState.DELIVERED
    status = MessageStatus.DELIVERED if delivered else MessageStatus.SENT
    return outcomes.resolved(claimed, now=now, status=status, provider_id=result.provider_id)
