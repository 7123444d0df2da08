"""The outbox as marketers see it: which messages went, are waiting, or were stopped, and why."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from service.api.deps import DbSession, Marketer
from service.messaging import queries as message_queries
from service.messaging.outbox import MessageStatus
from service.messaging.schemas import MessagePage

router = APIRouter(prefix="/messages", tags=["messages"], dependencies=[Marketer])


@router.get("", response_model=MessagePage)
async def list_messages(
    session: DbSession,
    member: Annotated[str | None, Query(max_length=128, description="external id")] = None,
    journey_id: Annotated[int | None, Query(ge=1)] = None,
    journey: Annotated[str | None, Query(max_length=100, description="journey key")] = None,
    status: Annotated[list[MessageStatus] | None, Query()] = None,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> MessagePage:
    """Messages newest first, by member, journey and status (repeat `status` for several)."""
    filters = message_queries.MessageFilter(
        member=member, journey_id=journey_id, journey_key=journey, statuses=status or ()
    )
    return await message_queries.list_messages(session, filters=filters, cursor=cursor, limit=limit)
