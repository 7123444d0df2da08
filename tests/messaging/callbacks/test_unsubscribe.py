"""GET and POST /u/{token}: the page in the member's language, RFC 8058 one-click, expiry."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI

from service.clock import FakeClock
from service.members.models import Channel, MemberConsent
from service.messaging.outbox import MessageStatus
from service.messaging.tokens import make_token
from service.messaging.unsubscribe import TokenCheck
from tests.messaging.callbacks.helpers import (
    Sessions,
    add_message,
    consent_changes,
    consent_events,
    load_message,
    member_id,
    put_member,
)


async def one_click(anon: httpx.AsyncClient, url: str) -> httpx.Response:
    """What an RFC 8058 mail client sends: a form-encoded POST, no cookies, no credentials."""
    return await anon.post(
        url,
        content=b"List-Unsubscribe=One-Click",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )


def link(app: FastAPI, member: int, channel: Channel, clock: FakeClock) -> str:
    check = TokenCheck.of(app.state.settings, app.state.secrets)
    token = make_token(check.key, member_id=member, channel=channel, issued_at=clock.now())
    return f"/u/{token}"


@pytest.fixture
async def zh_member(client: httpx.AsyncClient, sessions: Sessions) -> int:
    await put_member(
        client, "m-zh", name="王小明", phone="13812345678", email="wxm@example.com", locale="zh-CN"
    )
    return await member_id(sessions, "m-zh")


@pytest.fixture
async def en_member(client: httpx.AsyncClient, sessions: Sessions) -> int:
    await put_member(client, "m-en", name="Alex Chen", email="alex@example.com", locale="en")
    return await member_id(sessions, "m-en")


async def email_consent(sessions: Sessions, member: int) -> MemberConsent | None:
    async with sessions() as session:
        return await session.get(MemberConsent, (member, Channel.EMAIL, "marketing"))


async def test_the_page_speaks_the_members_language_and_changes_nothing(
    anon: httpx.AsyncClient,
    app: FastAPI,
    clock: FakeClock,
    sessions: Sessions,
    zh_member: int,
    en_member: int,
) -> None:
    zh = await anon.get(link(app, zh_member, Channel.SMS, clock))
    assert zh.status_code == 200
    assert zh.headers["content-type"].startswith("text/html")
    assert '<html lang="zh-CN">' in zh.text
    assert "退订短信" in zh.text
    assert "确认退订" in zh.text
    assert (
        '<form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click">'
        in zh.text
    )
    en = await anon.get(link(app, en_member, Channel.EMAIL, clock))
    assert '<html lang="en">' in en.text
    assert "Unsubscribe from emails" in en.text
    assert "Huitou" in en.text
    for page in (zh, en):
        assert "<script" not in page.text
        assert page.headers["cache-control"] == "no-store"
        assert page.headers["referrer-policy"] == "no-referrer"
        for personal in ("王小明", "Alex", "13812345678", "@example.com", "m-zh", "m-en"):
            assert personal not in page.text
    assert await email_consent(sessions, en_member) is None
    assert await consent_changes(sessions, zh_member) == []


async def test_one_click_post_opts_out_once_without_cookies_or_auth(
    anon: httpx.AsyncClient, app: FastAPI, clock: FakeClock, sessions: Sessions, en_member: int
) -> None:
    url = link(app, en_member, Channel.EMAIL, clock)
    clock.advance(days=3)
    response = await one_click(anon, url)
    assert response.status_code == 200
    assert "You are unsubscribed" in response.text
    assert not response.cookies
    consent = await email_consent(sessions, en_member)
    assert consent is not None
    assert (consent.granted, consent.source, consent.changed_at) == (
        False,
        "unsubscribe_link",
        clock.now(),
    )
    clock.advance(minutes=1)
    again = await one_click(anon, url)
    assert again.status_code == 200
    assert [(c.granted, c.source) for c in await consent_changes(sessions, en_member)] == [
        (False, "unsubscribe_link")
    ]
    [event] = await consent_events(sessions)
    assert event.payload == {"channel": "email", "granted": False, "source": "unsubscribe_link"}
    page = await anon.get(url)
    assert "You are unsubscribed" in page.text  # no button once done


async def test_the_pages_button_posts_the_same_opt_out(
    anon: httpx.AsyncClient, app: FastAPI, clock: FakeClock, sessions: Sessions, zh_member: int
) -> None:
    url = link(app, zh_member, Channel.SMS, clock)
    response = await anon.post(url, data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert "您已退订" in response.text
    assert "营销短信" in response.text
    changes = await consent_changes(sessions, zh_member)
    assert [(c.channel, c.granted) for c in changes] == [(Channel.SMS, False)]


@pytest.mark.parametrize(("age", "status"), [
    (timedelta(days=60), 200),
    (timedelta(days=400), 200),
    (timedelta(days=400, seconds=1), 410),
])  # fmt: skip
async def test_links_work_for_their_validity_and_then_expire(
    anon: httpx.AsyncClient,
    app: FastAPI,
    clock: FakeClock,
    sessions: Sessions,
    en_member: int,
    age: timedelta,
    status: int,
) -> None:
    url = link(app, en_member, Channel.EMAIL, clock)
    clock.advance(seconds=age.total_seconds())
    page = await anon.get(url)
    posted = await one_click(anon, url)
    assert (page.status_code, posted.status_code) == (status, status)
    consent = await email_consent(sessions, en_member)
    if status == 200:
        assert consent is not None
        assert consent.granted is False
    else:
        assert consent is None
        assert "This link has expired" in posted.text
        assert "链接已过期" in posted.text
        assert "Alex" not in posted.text


async def test_a_shorter_configured_validity_still_covers_sixty_days(
    anon: httpx.AsyncClient, app: FastAPI, clock: FakeClock, en_member: int
) -> None:
    app.state.settings = app.state.settings.model_copy(update={"unsubscribe_token_days": 60})
    url = link(app, en_member, Channel.EMAIL, clock)
    clock.advance(days=60)
    assert (await anon.get(url)).status_code == 200
    clock.advance(seconds=1)
    assert (await anon.get(url)).status_code == 410


async def test_forged_links_get_a_404_page_that_names_no_one(
    anon: httpx.AsyncClient, app: FastAPI, clock: FakeClock, sessions: Sessions, en_member: int
) -> None:
    url = link(app, en_member, Channel.EMAIL, clock)
    payload, mac = url.removeprefix("/u/").split(".")
    tampered = f"/u/{payload}.{'A' if mac[0] != 'A' else 'B'}{mac[1:]}"
    check = TokenCheck.of(app.state.settings, app.state.secrets)
    nobody = make_token(check.key, member_id=999_999, channel=Channel.SMS, issued_at=clock.now())
    for bad in (tampered, "/u/garbage", f"/u/{nobody}"):
        for method in ("GET", "POST"):
            response = await anon.request(method, bad)
            assert response.status_code == 404, (bad, method)
            assert "This link is not valid" in response.text
            assert "链接无效" in response.text
            assert "Alex" not in response.text
    assert await email_consent(sessions, en_member) is None


async def test_links_live_outside_v1(
    anon: httpx.AsyncClient, app: FastAPI, clock: FakeClock, en_member: int
) -> None:
    url = link(app, en_member, Channel.EMAIL, clock)
    assert (await anon.get(f"/v1{url}")).status_code == 404


async def test_queued_marketing_is_left_for_the_dispatcher_and_consent_reads_withdrawn(
    anon: httpx.AsyncClient, app: FastAPI, clock: FakeClock, sessions: Sessions, zh_member: int
) -> None:
    queued = await add_message(
        sessions,
        member=zh_member,
        key="k-1",
        now=clock.now(),
        status=MessageStatus.QUEUED,
        channel=Channel.EMAIL,
    )
    await one_click(anon, link(app, zh_member, Channel.EMAIL, clock))
    row = await load_message(sessions, queued)
    assert (row.status, row.updated_at) == (
        MessageStatus.QUEUED,
        clock.now() - timedelta(minutes=5),
    )
    consent = await email_consent(sessions, zh_member)
    assert consent is not None
    assert consent.granted is False
