"""The outbox as marketers see it: which messages went, are waiting, or were stopped, and why."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Response, status

from service.api.deps import (
    ClockDep,
    DbSession,
    GatewaysDep,
    RendererDep,
    SecretsDep,
    SettingsDep,
    require,
)
from service.keys.models import Scope
from service.keys.service import Principal
from service.messaging import queries as message_queries
from service.messaging.outbox import MessageStatus
from service.messaging.schemas import MessagePage, SendTestIn, SendTestOut
from service.messaging.setup import copy_settings
from service.messaging.test_send import send_test

router = APIRouter(prefix="/messages", tags=["messages"])
MarketerKey = Annotated[Principal, Depends(require(Scope.MARKETER))]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=100,
        pattern=r"^[\x21-\x7e]+$",
        description="retries with the same key answer with the first message, never send twice",
    ),
]
TEST_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": SendTestOut, "description": "A retry: the message the key first made"},
    404: {"description": "No such template (version) or member"},
    409: {
        "description": "The destination is suppressed or opted out (nothing sent), or the "
        "Idempotency-Key was used for another request"
    },
}


@router.get("", response_model=MessagePage)
async def list_messages(
    session: DbSession,
    _: MarketerKey,
    member: Annotated[str | None, Query(max_length=128, description="external id")] = None,
    journey_id: Annotated[int | None, Query(ge=1)] = None,
    journey: Annotated[str | None, Query(max_length=100, description="journey key")] = None,
    status: Annotated[list[MessageStatus] | None, Query()] = None,
    is_test: Annotated[bool | None, Query(description="only test sends (true) or none")] = None,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> MessagePage:
    """Messages newest first, by member, journey and status (repeat `status` for several)."""
    filters = message_queries.MessageFilter(
        member=member,
        journey_id=journey_id,
        journey_key=journey,
        statuses=status or (),
        is_test=is_test,
    )
    return await message_queries.list_messages(session, filters=filters, cursor=cursor, limit=limit)


@router.post(
    "/test",
    response_model=SendTestOut,
    status_code=status.HTTP_201_CREATED,
    responses=TEST_RESPONSES,
)
async def send_test_message(
    body: SendTestIn,
    response: Response,
    session: DbSession,
    clock: ClockDep,
    settings: SettingsDep,
    secrets: SecretsDep,
    renderer: RendererDep,
    gateways: GatewaysDep,
    principal: MarketerKey,
    idempotency_key: IdempotencyKey = None,
) -> SendTestOut:
    """Render a template like a real send (marked `[测试]`/`[TEST]`) for a sample member and send
    it through the channel's gateway to your own phone or email, now; the answer says whether
    it went. A suppressed or opted-out destination is refused (409) and nothing is sent."""
    result = await send_test(
        session,
        body=body,
        principal=principal.name,
        idempotency_key=idempotency_key,
        gateways=gateways,
        copy=copy_settings(settings, secrets),
        renderer=renderer,
        region=settings.country,
        lease=timedelta(seconds=settings.dispatch_lease_seconds),
        now=clock.now(),
    )
    if result.replayed:
        response.status_code = status.HTTP_200_OK
    message = result.message
    return SendTestOut(
        outcome=result.outcome,
        reason=None if result.outcome == "sent" else message.status_reason,
        detail=message.last_error,
        replayed=result.replayed,
        to=result.to,
        message=message_queries.message_view(message, result.member),
    )
