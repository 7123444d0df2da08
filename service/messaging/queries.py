"""Read models of the outbox: messages by member, journey and status, newest first, by page."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.members import service as member_service
from service.members.models import Member
from service.messaging.outbox import Message, MessageStatus
from service.messaging.schemas import MessageOut, MessagePage


@dataclass(frozen=True)
class MessageFilter:
    member: str | None = None  # external id
    journey_id: int | None = None
    journey_key: str | None = None  # the `journey_key` the journey wrote into the context
    statuses: Sequence[MessageStatus] = ()
    is_test: bool | None = None  # only test sends, only real messages, or both


async def list_messages(
    session: AsyncSession, *, filters: MessageFilter, cursor: str | None, limit: int
) -> MessagePage:
    """One page of messages, newest first; `next_cursor` continues after the last one."""
    query = (
        select(Message, Member.external_id)
        .outerjoin(Member, Member.id == Message.member_id)  # a test send may name no member
        .order_by(Message.id.desc())
        .limit(limit + 1)
    )
    if cursor:
        query = query.where(Message.id < member_service.decode_cursor(cursor))
    if filters.member is not None:
        member = await member_service.get_member(session, external_id=filters.member)
        query = query.where(Message.member_id == member.id)
    if filters.journey_id is not None:
        query = query.where(Message.journey_id == filters.journey_id)
    if filters.journey_key is not None:
        query = query.where(Message.context["journey_key"].as_string() == filters.journey_key)
    if filters.statuses:
        query = query.where(Message.status.in_(filters.statuses))
    if filters.is_test is not None:
        query = query.where(Message.is_test.is_(filters.is_test))
    rows = (await session.execute(query)).all()
    page, more = rows[:limit], len(rows) > limit
    items = [message_view(message, external_id) for message, external_id in page]
    last = page[-1][0].id if page else None
    return MessagePage(
        items=items,
        next_cursor=member_service.encode_cursor(last) if more and last is not None else None,
    )


def message_view(message: Message, external_id: str | None) -> MessageOut:
    fields = {name: getattr(message, name) for name in MessageOut.model_fields if name != "member"}
    return MessageOut(member=external_id, **fields)
