"""GET /v1/messages: by member, journey and status, newest first, a page at a time."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.clock import FakeClock
from service.keys.models import Scope
from service.keys.service import create_key
from service.messaging.outbox import Message, MessageStatus
from tests.dispatch.kit import add_member, queue


async def seed(sessions: async_sessionmaker[AsyncSession], clock: FakeClock) -> None:
    now = clock.now()
    async with sessions() as session, session.begin():
        alice = await add_member(session, now=now, external_id="alice")
        bob = await add_member(session, now=now, external_id="bob", phone="+8613912345678")
        nurture = {"journey_key": "new-customer-nurture"}
        await queue(session, alice, now=now, key="a1", journey_id=7, context=nurture)
        await queue(session, alice, now=now, key="a2", journey_id=7, context=nurture)
        await queue(session, alice, now=now, key="a3", journey_id=9, context={"journey_key": "win"})
        await queue(session, bob, now=now, key="b1", journey_id=7, context=nurture)
        sent = await session.get_one(Message, 2)
        sent.status, sent.body = MessageStatus.SENT, "【回头】hi"


def keys(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["idempotency_key"] for item in response.json()["items"]]


async def test_messages_are_listed_newest_first_with_filters(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    await seed(sessions, clock)
    assert keys(await client.get("/v1/messages")) == ["b1", "a3", "a2", "a1"]
    assert keys(await client.get("/v1/messages?member=alice")) == ["a3", "a2", "a1"]
    assert keys(await client.get("/v1/messages?journey_id=7")) == ["b1", "a2", "a1"]
    assert keys(await client.get("/v1/messages?journey=new-customer-nurture&member=alice")) == [
        "a2",
        "a1",
    ]
    assert keys(await client.get("/v1/messages?status=sent")) == ["a2"]
    assert keys(await client.get("/v1/messages?status=sent&status=queued&journey=win")) == ["a3"]
    [item] = (await client.get("/v1/messages?status=sent")).json()["items"]
    assert (item["member"], item["body"], item["status"]) == ("alice", "【回头】hi", "sent")


async def test_pages_follow_the_cursor(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    await seed(sessions, clock)
    seen, cursor = [], None
    while True:
        url = "/v1/messages?limit=3" + (f"&cursor={cursor}" if cursor else "")
        body = (await client.get(url)).json()
        seen += [item["idempotency_key"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == ["b1", "a3", "a2", "a1"]


async def test_bad_filters_are_named(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    await seed(sessions, clock)
    unknown = await client.get("/v1/messages?member=nobody")
    assert (unknown.status_code, unknown.json()["error"]) == (404, "member_not_found")
    bad_status = await client.get("/v1/messages?status=lost")
    assert bad_status.status_code == 422
    assert bad_status.json()["detail"][0]["loc"] == ["query", "status", 0]
    bad_cursor = await client.get("/v1/messages?cursor=@@@")
    assert bad_cursor.json()["detail"][0]["loc"] == ["query", "cursor"]


async def test_only_marketers_read_the_outbox(
    anon: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    async with sessions() as session, session.begin():
        _, ingest = await create_key(session, name="shop", scopes=[Scope.INGEST], now=clock.now())
        _, marketer = await create_key(
            session, name="crm", scopes=[Scope.MARKETER], now=clock.now()
        )
    assert (await anon.get("/v1/messages")).status_code == 401
    as_ingest = await anon.get("/v1/messages", headers={"Authorization": f"Bearer {ingest}"})
    assert as_ingest.status_code == 403
    as_marketer = await anon.get("/v1/messages", headers={"Authorization": f"Bearer {marketer}"})
    assert as_marketer.status_code == 200
