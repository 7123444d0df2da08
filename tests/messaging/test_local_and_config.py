"""The local outbox file gateway, and gateways chosen by settings."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from service.clock import FakeClock
from service.members.models import Channel
from service.messaging.gateways import open_gateways
from service.messaging.gateways.aliyun import AliyunSmsGateway
from service.messaging.gateways.base import Gateway, OutgoingMessage
from service.messaging.gateways.http_sms import HttpSmsGateway
from service.messaging.gateways.local_file import LocalFileGateway
from service.messaging.gateways.smtp_email import SmtpEmailGateway
from service.messaging.policies import Purpose
from service.settings import Settings


def messages() -> list[OutgoingMessage]:
    return [
        OutgoingMessage(
            idempotency_key="enrol-1:thanks",
            channel=Channel.SMS,
            to="+8613812345678",
            text="【回头】王小明，感谢您第一次光临！回T退订",
            template="new_customer/thanks",
        ),
        OutgoingMessage(
            idempotency_key="enrol-1:care",
            channel=Channel.EMAIL,
            to="xiaoming@example.com",
            text="王小明，您好：\n用得还顺手吗？",
            html="<p>王小明，您好</p>",
            subject="宝贝用得还顺手吗？",
            headers={"List-Unsubscribe": "<https://shop.example/u/t>"},
            template="new_customer/care",
            purpose=Purpose.MARKETING,
        ),
    ]


async def test_local_gateway_appends_readable_entries_per_shop_day(
    tmp_path: Path, clock: FakeClock
) -> None:
    settings = Settings(outbox_dir=str(tmp_path / "outbox"))
    async with open_gateways(settings, clock) as gateways:
        sms, email = messages()
        await gateways.sms.send(sms)
        await gateways.email.send(email)
        clock.advance(hours=16)  # 2026-06-19 01:00 in Shanghai
        await gateways.sms.send(sms)
    first = (tmp_path / "outbox/2026-06-18.log").read_text(encoding="utf-8")
    assert "2026-06-18 09:00:00 +0800 · SMS · new_customer/thanks" in first
    assert "To: +8613812345678" in first
    assert "【回头】王小明，感谢您第一次光临！回T退订" in first
    assert "Subject: 宝贝用得还顺手吗？" in first
    assert "List-Unsubscribe: <https://shop.example/u/t>" in first
    assert "[HTML part: 13 characters]" in first
    assert (tmp_path / "outbox/2026-06-19.log").exists()


def kinds(gateways: object) -> tuple[type, type]:
    return type(getattr(gateways, "sms")), type(getattr(gateways, "email"))  # noqa: B009


@pytest.mark.parametrize(
    ("env", "sms_type", "email_type"),
    [
        ({}, LocalFileGateway, LocalFileGateway),
        (
            {"sms_gateway": "http", "sms_http_url": "http://127.0.0.1:9/sms"},
            HttpSmsGateway,
            LocalFileGateway,
        ),
        (
            {
                "sms_gateway": "aliyun",
                "aliyun_access_key_id": "id",
                "aliyun_access_key_secret": "k" * 20,
            },
            AliyunSmsGateway,
            LocalFileGateway,
        ),
        ({"email_gateway": "smtp"}, LocalFileGateway, SmtpEmailGateway),
    ],
)
async def test_gateways_follow_the_settings(
    clock: FakeClock, env: dict[str, str], sms_type: type, email_type: type
) -> None:
    async with open_gateways(Settings(**env), clock) as gateways:
        assert kinds(gateways) == (sms_type, email_type)
        assert isinstance(gateways.for_channel(Channel.SMS), Gateway)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"sms_gateway": "http"}, "HUITOU_SMS_HTTP_URL"),
        ({"sms_gateway": "aliyun"}, "HUITOU_ALIYUN_ACCESS_KEY_ID"),
        ({"sms_gateway": "carrier-pigeon"}, "sms_gateway"),
        ({"smtp_starttls": True, "smtp_implicit_tls": True}, "choose one"),
        ({"quiet_hours": "9pm-8am"}, "quiet_hours"),
        ({"unsubscribe_token_days": 30}, "unsubscribe_token_days"),
        ({"smtp_password": "changeme"}, "placeholder"),
    ],
)
def test_bad_messaging_settings_are_refused(env: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Settings(**env)  # type: ignore[arg-type]
