"""The copy as sent: variables from the database, the member's locale, email through real SMTP."""

from __future__ import annotations

import email
import re
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from email import policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from service.clock import FakeClock
from service.members.models import Channel
from service.messaging.copydata import BadContext, _occasion
from service.messaging.gateways.smtp_email import SmtpConfig, SmtpEmailGateway
from service.messaging.outbox import MessageStatus
from service.messaging.policies import Purpose
from service.messaging.setup import copy_settings
from service.messaging.tokens import read_token
from service.orders.models import Order, OrderItem, OrderStatus
from service.products.models import Product
from tests.dispatch.kit import EMAIL_TEMPLATE, Harness, add_member, add_template, messages, queue
from tests.gateway_server import FakeSmsGateway

RICH = (
    "{{ member.name }}：订单{{ order.id }}的{{ order.items[0].title }}{{ order.total|money }}，"
    "{{ journey.name }}，{{ occasion.name }}，券{{ coupon_code }}，{{ product.title }}"
)
RICH_EN = "{{ member.name }}: {{ order.id }} {{ occasion.name }} {{ coupon_code }}"


async def add_order(harness: Harness, clock: FakeClock, member_id: int) -> int:
    now = clock.now()
    async with harness.sessions() as session, session.begin():
        session.add(
            Product(sku="MASK-30", title="玻尿酸补水面膜 30片", created_at=now, updated_at=now)
        )
        order = Order(
            external_id="E1001", member_id=member_id, status=OrderStatus.PAID, currency="CNY",
            total=Decimal("199.00"), created_at=now, paid_at=now, recorded_at=now, updated_at=now,
        )  # fmt: skip
        session.add(order)
        await session.flush()
        session.add(
            OrderItem(
                order_id=order.id, member_id=member_id, sku="MASK-30", quantity=1,
                price=Decimal("199.00"),
            )
        )  # fmt: skip
        return order.id


async def test_the_copy_uses_order_items_product_journey_occasion_and_coupon(
    harness: Harness, clock: FakeClock, fake: FakeSmsGateway
) -> None:
    async with harness.sessions() as session, session.begin():
        await add_template(session, harness.renderer, now=clock.now(), name="test/rich", zh=RICH,
                           en=RICH_EN)  # fmt: skip
        zh = await add_member(session, now=clock.now())
        en = await add_member(
            session, now=clock.now(), external_id="m-en", phone="+8613912345678",
            name="Alex", locale="en",
        )  # fmt: skip
    order_id = await add_order(harness, clock, zh.id)
    context: dict[str, Any] = {
        "order_id": order_id,
        "journey_key": "new-customer-nurture",
        "journey_name": "新客培养",
        "occasion": "dragon_boat:2026",  # named from the calendar in each member's language
        "coupon_code": "HT-8K2Q",
    }
    async with harness.sessions() as session, session.begin():
        await queue(session, zh, now=clock.now(), key="zh", template="test/rich", context=context)
        en_context = context | {"order_id": await add_en_order(session, clock, en.id)}
        await queue(session, en, now=clock.now(), key="en", template="test/rich",
                    context=en_context)  # fmt: skip
    await harness.tick()
    sent = await messages(harness.sessions)
    assert sent["zh"].body == (
        "【回头】王小明：订单E1001的玻尿酸补水面膜 30片¥199.00，新客培养，端午节，券HT-8K2Q，"
        "玻尿酸补水面膜 30片回T退订"
    )
    assert (
        sent["en"].body == "【回头】Alex: E2002 Dragon Boat Festival HT-8K2Q Reply STOP to opt out"
    )
    assert set(fake.delivered) == {"zh", "en"}


async def add_en_order(session: Any, clock: FakeClock, member_id: int) -> int:
    now = clock.now()
    order = Order(
        external_id="E2002", member_id=member_id, status=OrderStatus.PAID, currency="CNY",
        total=Decimal("50.00"), created_at=now, recorded_at=now, updated_at=now,
    )  # fmt: skip
    session.add(order)
    await session.flush()
    return order.id


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, *args: Any) -> str:
        self.messages.append(args[2].content)
        return "250 2.0.0 queued"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield box, controller.port
    controller.stop()


@pytest.fixture
async def on_smtp(harness: Harness, mailbox: tuple[Mailbox, int]) -> AsyncIterator[Harness]:
    config = SmtpConfig(host="127.0.0.1", port=mailbox[1], sender="回头 <news@shop.example>",
                        starttls=False, timeout=1.0)  # fmt: skip
    gateway = SmtpEmailGateway(config)
    yield replace(harness, gateways=replace(harness.gateways, email=gateway))
    await gateway.close()


async def test_a_marketing_email_goes_through_smtp_with_a_working_unsubscribe_link(
    on_smtp: Harness, clock: FakeClock, mailbox: tuple[Mailbox, int]
) -> None:
    async with on_smtp.sessions() as session, session.begin():
        await add_template(session, on_smtp.renderer, now=clock.now(), name=EMAIL_TEMPLATE,
                           email=True)  # fmt: skip
        member = await add_member(session, now=clock.now(), email="xiaoming@example.com")
        await queue(session, member, now=clock.now(), key="mail-1", template=EMAIL_TEMPLATE,
                    channel=Channel.EMAIL, purpose=Purpose.MARKETING)  # fmt: skip
    assert (await on_smtp.tick())["sent"] == 1
    [raw] = mailbox[0].messages
    parsed = email.message_from_bytes(raw, _class=EmailMessage, policy=policy.default)
    assert parsed["Subject"] == "来自回头"
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    found = re.search(r"<(https://[^>]+)>", str(parsed["List-Unsubscribe"]))
    assert found is not None
    link = found.group(1)
    assert link.startswith("https://shop.example/u/")
    key = copy_settings(on_smtp.settings, on_smtp.secrets).token_key
    claim = read_token(key, link.rsplit("/", 1)[1], now=clock.now() + timedelta(days=60))
    assert (claim.member_id, claim.channel) == (member.id, Channel.EMAIL)
    stored = (await messages(on_smtp.sessions))["mail-1"]
    assert stored.status is MessageStatus.SENT
    assert stored.subject == "来自回头"
    assert link in (stored.body or "")
    assert (stored.segments, stored.cost) == (0, Decimal(0))


async def test_the_same_email_copy_matches_although_each_link_is_signed_anew(
    on_smtp: Harness, clock: FakeClock, mailbox: tuple[Mailbox, int]
) -> None:
    async with on_smtp.sessions() as session, session.begin():
        await add_template(session, on_smtp.renderer, now=clock.now(), name=EMAIL_TEMPLATE,
                           email=True)  # fmt: skip
        member = await add_member(session, now=clock.now(), email="xiaoming@example.com")
        await queue(session, member, now=clock.now(), key="mail-1", template=EMAIL_TEMPLATE,
                    channel=Channel.EMAIL)  # fmt: skip
    await on_smtp.tick()
    clock.advance(seconds=5)
    async with on_smtp.sessions() as session, session.begin():
        await queue(session, member, now=clock.now(), key="mail-2", template=EMAIL_TEMPLATE,
                    channel=Channel.EMAIL)  # fmt: skip
    await on_smtp.tick()
    stored = await messages(on_smtp.sessions)
    assert stored["mail-2"].status_reason == "duplicate_copy"
    assert len(mailbox[0].messages) == 1


@pytest.mark.parametrize(
    ("value", "locale", "expected"),
    [
        ("spring_festival:2027", "zh-CN", "春节"),
        ("spring_festival:2027", "en", "Spring Festival"),
        ("laba:2025", "zh-CN", "腊八节"),  # a lunar year's 腊八 falls in the next Gregorian year
        ("birthday:2026", "zh-CN", "生日"),
        ("店庆", "zh-CN", "店庆"),
        ({"name_zh": "店庆", "name_en": "Anniversary"}, "en", "Anniversary"),
        (None, "en", None),
    ],
)
def test_occasions_are_named_in_the_members_language(
    value: object, locale: str, expected: str | None
) -> None:
    assert _occasion(value, locale, "CN") == expected


@pytest.mark.parametrize("value", ["no_such_day:2027", 42])
def test_an_occasion_that_names_nothing_is_a_bad_context(value: object) -> None:
    with pytest.raises(BadContext):
        _occasion(value, "zh-CN", "CN")
