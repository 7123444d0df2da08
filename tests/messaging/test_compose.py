"""Composing a rendered template into the message a gateway sends."""

from __future__ import annotations

from decimal import Decimal

from service.members.models import Channel
from service.messaging.compose import Sender, compose
from service.messaging.context import SAMPLE_NOW
from service.messaging.policies import ConsentModel, Purpose, QuietHours, policy_config
from service.messaging.render import RenderedMessage

SENDER = Sender(
    brand="回头", email_from="回头 <news@shop.example>", unsubscribe_mailto="u@shop.example"
)
URL = "https://shop.example/u/tok"


def test_marketing_sms_is_signed_opt_out_and_priced() -> None:
    rendered = RenderedMessage(
        "winback/gentle", 3, Channel.SMS, Purpose.MARKETING, "zh-CN", {"sms": "好久不见"}
    )
    composed = compose(
        rendered,
        to="+8613812345678",
        idempotency_key="k",
        sender=SENDER,
        unsubscribe_url=URL,
        now=SAMPLE_NOW,
    )
    assert composed.message.text == "【回头】好久不见回T退订"
    assert (composed.segments, composed.cost) == (1, Decimal("0.0450"))
    assert composed.message.template == "winback/gentle"


def test_marketing_email_gets_links_and_headers() -> None:
    parts = {"subject": "主题", "text": "正文", "html": "<html><body><p>正文</p></body></html>"}
    rendered = RenderedMessage(
        "new_customer/care", 1, Channel.EMAIL, Purpose.MARKETING, "zh-CN", parts
    )
    composed = compose(
        rendered,
        to="a@example.com",
        idempotency_key="k",
        sender=SENDER,
        unsubscribe_url=URL,
        now=SAMPLE_NOW,
    )
    message = composed.message
    assert URL in message.text
    assert message.html is not None
    assert URL in message.html
    assert message.subject == "主题"
    assert message.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_transactional_email_has_no_unsubscribe() -> None:
    parts = {"subject": "已发货", "text": "正文", "html": "<p>正文</p>"}
    rendered = RenderedMessage(
        "shipping/x", 1, Channel.EMAIL, Purpose.TRANSACTIONAL, "zh-CN", parts
    )
    composed = compose(
        rendered,
        to="a@example.com",
        idempotency_key="k",
        sender=SENDER,
        unsubscribe_url=URL,
        now=SAMPLE_NOW,
    )
    assert URL not in composed.message.text
    assert "List-Unsubscribe" not in composed.message.headers


def test_policy_config_from_settings_values() -> None:
    config = policy_config(quiet_hours="22:00-07:30", per_day=2, per_week=5, consent_model="opt_in")
    assert config.quiet_hours == QuietHours.parse("22:00-07:30")
    assert (config.cap.per_day, config.cap.per_week) == (2, 5)
    assert config.consent_model is ConsentModel.OPT_IN
