"""Compliance decorations: signature, opt-out, segments and cost, email headers and links."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from service.messaging.decorations import (
    add_unsubscribe_html,
    add_unsubscribe_text,
    decorate_sms,
    email_headers,
    message_id,
    mime_message,
    sms_cost,
    sms_segments,
)
from service.messaging.policies import Purpose

M, T = Purpose.MARKETING, Purpose.TRANSACTIONAL


@pytest.mark.parametrize(
    ("text", "locale", "purpose", "expected"),
    [
        ("亲，好久不见", "zh-CN", M, "【回头】亲，好久不见回T退订"),
        ("【回头】亲，好久不见", "zh-CN", M, "【回头】亲，好久不见回T退订"),
        ("亲，好久不见【回头】", "zh-CN", M, "亲，好久不见【回头】回T退订"),
        ("亲，好久不见，回T退订", "zh-CN", M, "【回头】亲，好久不见，回T退订"),
        ("亲，好久不见，退订回T", "zh-CN", M, "【回头】亲，好久不见，退订回T"),
        ("亲，好久不见，回TD退订", "zh-CN", M, "【回头】亲，好久不见，回TD退订"),
        ("您的订单已发货", "zh-CN", T, "【回头】您的订单已发货"),
        ("Long time no see!", "en", M, "【回头】Long time no see! Reply STOP to opt out"),
        ("Hi! Reply STOP to unsubscribe", "en", M, "【回头】Hi! Reply STOP to unsubscribe"),
        ("  Your order shipped.  ", "en", T, "【回头】Your order shipped."),
    ],
)
def test_decorate_sms(text: str, locale: str, purpose: Purpose, expected: str) -> None:
    assert decorate_sms(text, brand="回头", locale=locale, purpose=purpose) == expected


@pytest.mark.parametrize(
    ("text", "encoding", "units", "segments"),
    [
        ("", "GSM-7", 0, 0),
        ("a" * 160, "GSM-7", 160, 1),
        ("a" * 161, "GSM-7", 161, 2),
        ("a" * 306, "GSM-7", 306, 2),
        ("a" * 307, "GSM-7", 307, 3),
        ("€" * 80, "GSM-7", 160, 1),  # the extension table counts two septets
        ("a" * 159 + "[", "GSM-7", 161, 2),
        ("Café £5 @home ¥", "GSM-7", 15, 1),
        ("你" * 70, "UCS-2", 70, 1),
        ("你" * 71, "UCS-2", 71, 2),
        ("你" * 134, "UCS-2", 134, 2),
        ("你" * 135, "UCS-2", 135, 3),
        ("a" * 69 + "你", "UCS-2", 70, 1),  # one non-GSM character turns the whole text UCS-2
        ("😀" * 35, "UCS-2", 70, 1),  # outside the BMP: two UTF-16 code units each
        ("😀" * 36, "UCS-2", 72, 2),
    ],
)
def test_sms_segments(text: str, encoding: str, units: int, segments: int) -> None:
    result = sms_segments(text)
    assert (result.encoding, result.units, result.segments) == (encoding, units, segments)


def test_sms_cost_is_segments_times_price() -> None:
    assert sms_cost(3, Decimal("0.045")) == Decimal("0.1350")


def test_marketing_email_headers_follow_rfc_8058() -> None:
    headers = email_headers(
        idempotency_key="k-1",
        sender="Shop <news@shop.example>",
        now=datetime(2026, 6, 18, 2, 0, tzinfo=UTC),
        purpose=M,
        unsubscribe_url="https://shop.example/u/abc",
        unsubscribe_mailto="unsub@shop.example",
    )
    assert headers["List-Unsubscribe"] == (
        "<https://shop.example/u/abc>, <mailto:unsub@shop.example?subject=unsubscribe>"
    )
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert headers["Message-ID"] == message_id("k-1", "shop.example")
    assert headers["Message-ID"].endswith("@shop.example>")
    assert headers["Date"] == "Thu, 18 Jun 2026 02:00:00 +0000"


def test_transactional_email_has_no_unsubscribe_headers() -> None:
    headers = email_headers(
        idempotency_key="k-1",
        sender="news@shop.example",
        now=datetime(2026, 6, 18, tzinfo=UTC),
        purpose=T,
        unsubscribe_url="https://shop.example/u/abc",
        unsubscribe_mailto=None,
    )
    assert "List-Unsubscribe" not in headers


def test_the_same_key_gives_the_same_message_id() -> None:
    assert (
        message_id("a", "x.example") == message_id("a", "x.example") != message_id("b", "x.example")
    )


@pytest.mark.parametrize(("locale", "label"), [("zh-CN", "点此退订"), ("en", "Unsubscribe here")])
def test_visible_unsubscribe_links(locale: str, label: str) -> None:
    url = "https://shop.example/u/a?b=1&c=2"
    text = add_unsubscribe_text("Hello", url=url, locale=locale)
    assert text.endswith(f"{url}\n")
    assert label in text
    html = add_unsubscribe_html("<html><body><p>Hi</p></body></html>", url=url, locale=locale)
    assert 'href="https://shop.example/u/a?b=1&amp;c=2"' in html
    assert html.endswith("</p></body></html>")
    assert add_unsubscribe_text(text, url=url, locale=locale) == text  # not twice
    assert add_unsubscribe_html(html, url=url, locale=locale) == html


def test_mime_message_is_multipart_alternative() -> None:
    message = mime_message(
        sender="Shop <news@shop.example>",
        to="a@example.com",
        subject="主题",
        text="正文",
        html_body="<p>正文</p>",
        headers={"Message-ID": "<x@shop.example>"},
    )
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    assert message["Message-ID"] == "<x@shop.example>"
