"""Builders for callback tests: members through the API, outbox rows, signed callbacks."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.events.models import Event
from service.members.models import Channel, ConsentChange, Member, MemberConsent
from service.messaging.outbox import Message, MessageStatus
from service.messaging.policies import Purpose
from tests.factories import signed

HTTP_SECRET = "whsec_" + base64.b64encode(b"http-gateway-callback-key-000001").decode()
OLD_SECRET = "whsec_" + base64.b64encode(b"http-gateway-callback-key-rotate").decode()
ALIYUN_TOKEN = "aliyun-push-token-5b0c1d9e2f3a4b6c"
HARD_CODE = "INVALID_NUMBER"
PHONE = "+8613812345678"

Sessions = async_sessionmaker[AsyncSession]


async def put_member(client: httpx.AsyncClient, external_id: str, **fields: Any) -> dict[str, Any]:
    response = await client.put(f"/v1/members/{external_id}", json=fields)
    assert response.status_code in (200, 201), response.text
    body: dict[str, Any] = response.json()
    return body


async def get_member(client: httpx.AsyncClient, external_id: str) -> dict[str, Any]:
    response = await client.get(f"/v1/members/{external_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def member_id(sessions: Sessions, external_id: str) -> int:
    async with sessions() as session:
        found = await session.scalar(select(Member.id).where(Member.external_id == external_id))
    assert found is not None
    return found


async def add_message(
    sessions: Sessions,
    *,
    member: int,
    key: str,
    now: datetime,
    status: MessageStatus = MessageStatus.SENT,
    channel: Channel = Channel.SMS,
    gateway: str | None = "http",
    provider_id: str | None = None,
    recipient_hash: str | None = None,
) -> int:
    sent = status in (MessageStatus.SENT, MessageStatus.UNKNOWN)
    row = Message(
        idempotency_key=key,
        member_id=member,
        channel=channel,
        template="new_customer/thanks",
        purpose=Purpose.MARKETING,
        status=status,
        send_after_at=now - timedelta(minutes=5),
        gateway=gateway,
        provider_message_id=provider_id,
        recipient_hash=recipient_hash,
        created_at=now - timedelta(minutes=5),
        updated_at=now - timedelta(minutes=5),
        sent_at=now - timedelta(minutes=1) if sent else None,
    )
    async with sessions() as session, session.begin():
        session.add(row)
    return row.id


async def load_message(sessions: Sessions, message_id: int) -> Message:
    async with sessions() as session:
        return await session.get_one(Message, message_id)


async def event_types(sessions: Sessions) -> list[str]:
    async with sessions() as session:
        return list(await session.scalars(select(Event.type).order_by(Event.id)))


async def events_of(sessions: Sessions, type: str) -> list[Event]:
    async with sessions() as session:
        return list(
            await session.scalars(select(Event).where(Event.type == type).order_by(Event.id))
        )


async def consent_events(sessions: Sessions) -> list[Event]:
    """`member.consent_changed` events other than the initial consent given with the profile."""
    return [
        e
        for e in await events_of(sessions, "member.consent_changed")
        if e.payload.get("source") != "initial"
    ]


async def consent_changes(sessions: Sessions, member: int) -> list[ConsentChange]:
    async with sessions() as session:
        query = select(ConsentChange).where(ConsentChange.member_id == member)
        return list(await session.scalars(query.order_by(ConsentChange.id)))


async def sms_consent(sessions: Sessions, member: int) -> MemberConsent | None:
    async with sessions() as session:
        return await session.scalar(
            select(MemberConsent).where(
                MemberConsent.member_id == member, MemberConsent.channel == Channel.SMS
            )
        )


async def post_signed(
    anon: httpx.AsyncClient,
    url: str,
    payload: Any,
    *,
    now: datetime,
    msg_id: str = "cb-1",
    secret: str = HTTP_SECRET,
) -> httpx.Response:
    body, headers = signed(json.dumps(payload).encode(), now=now, msg_id=msg_id, secret=secret)
    return await anon.post(url, content=body, headers=headers)


async def post_aliyun(
    anon: httpx.AsyncClient, url: str, payload: Any, *, token: str | None = ALIYUN_TOKEN
) -> httpx.Response:
    params = {"token": token} if token is not None else {}
    return await anon.post(
        url,
        content=json.dumps(payload, ensure_ascii=False).encode(),
        params=params,
        headers={"content-type": "application/json"},
    )
