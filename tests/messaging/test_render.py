"""Rendering: variables, money and dates in the member's locale and zone, errors with lines."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from service import PROJECT_ROOT
from service.members.models import Channel
from service.messaging.context import SAMPLE_NOW, MemberVars, MessageContext, sample_context
from service.messaging.files import TemplateFileError, read_template_file, read_template_files
from service.messaging.formatting import format_local_date, format_local_datetime, format_money
from service.messaging.policies import Purpose
from service.messaging.render import Renderer, RenderError, TemplateContent, choose_locale

RULE_TEMPLATES = [
    "new_customer/thanks", "new_customer/care", "new_customer/coupon_a", "new_customer/coupon_b",
    "replenish/reminder", "holiday/greeting", "holiday/spring_festival", "holiday/sale_preview",
    "birthday/greeting", "birthday/coupon", "birthday/coupon_email", "winback/gentle",
    "winback/offer", "winback/last_chance",
    "unpaid/reminder", "unpaid/last_call", "shipping/shipped", "shipping/delivered",
    "review/request", "season/clearance_offer", "season/new_arrivals",
    "vip/new_arrival_preview", "test/hello",
]  # fmt: skip
TRANSACTIONAL = {"unpaid/reminder", "unpaid/last_call", "shipping/shipped", "shipping/delivered"}
SHIPPED = {f.name: f for f in read_template_files(PROJECT_ROOT / "message_templates")}


@pytest.mark.parametrize(
    ("amount", "currency", "locale", "expected"),
    [
        ("199", "CNY", "zh-CN", "¥199.00"),
        (Decimal("1234.5"), "CNY", "zh-CN", "¥1,234.50"),
        (Decimal("-5"), "CNY", "zh-CN", "-¥5.00"),
        ("1234.5", "USD", "en", "$1,234.50"),
        ("1234.5", "USD", "zh-CN", "US$1,234.50"),
        ("9.9", "EUR", "en", "€9.90"),
        ("199", "CNY", "en", "CN¥199.00"),
        ("199", "CNY", "xx-YY", "CN¥199.00"),  # unknown locale: English
    ],
)
def test_money(amount: Decimal | str, currency: str, locale: str, expected: str) -> None:
    assert format_money(amount, currency, locale) == expected


@pytest.mark.parametrize(
    ("value", "pattern", "locale", "zone", "expected"),
    [
        (
            datetime(2026, 6, 17, 16, 30, tzinfo=UTC),
            "long",
            "zh-CN",
            "Asia/Shanghai",
            "2026年6月18日",
        ),
        (
            datetime(2026, 6, 17, 16, 30, tzinfo=UTC),
            "long",
            "en",
            "America/New_York",
            "June 17, 2026",
        ),
        (date(2026, 2, 17), "M月d日", "zh-CN", None, "2月17日"),
        (datetime(2026, 6, 17, 16, 30), "long", "zh-CN", "Asia/Shanghai", "2026年6月18日"),  # noqa: DTZ001  (naive means UTC)
    ],
)
def test_date_in_the_member_zone(
    value: date, pattern: str, locale: str, zone: str | None, expected: str
) -> None:
    assert format_local_date(value, pattern, locale, zone) == expected


@pytest.mark.parametrize(
    ("locale", "zone", "expected"),
    [
        ("zh-CN", "Asia/Shanghai", "2026年6月18日 00:30"),
        ("en", "Europe/London", "Jun 17, 2026, 5:30 PM"),
    ],
)
def test_datetime_in_the_member_zone(locale: str, zone: str, expected: str) -> None:
    moment = datetime(2026, 6, 17, 16, 30, tzinfo=UTC)
    assert format_local_datetime(moment, None, locale, zone) == expected


@pytest.mark.parametrize(
    ("available", "wanted", "chosen"),
    [
        (["zh-CN", "en"], "en", "en"),
        (["zh-CN", "en"], "en-GB", "en"),
        (["zh-CN", "en"], "zh-TW", "zh-CN"),
        (["zh-CN", "en"], "fr", "zh-CN"),
        (["en"], "fr", "en"),
    ],
)
def test_choose_locale(available: list[str], wanted: str, chosen: str) -> None:
    assert choose_locale(dict.fromkeys(available), wanted) == chosen


def test_every_rule_template_ships_checked_in_both_locales() -> None:
    assert sorted(SHIPPED) == sorted(RULE_TEMPLATES)
    renderer = Renderer()
    for name, file in SHIPPED.items():
        assert set(file.content.locales) == {"zh-CN", "en"}, name
        expected = Purpose.TRANSACTIONAL if name in TRANSACTIONAL else Purpose.MARKETING
        assert file.content.purpose is expected, name
        content = TemplateContent(
            name, file.content.channel, file.content.purpose, file.content.locales
        )
        assert renderer.check(content, brand="回头小店") == [], name


@pytest.mark.parametrize(
    "name", ["holiday/greeting", "holiday/spring_festival", "holiday/sale_preview"]
)
def test_holiday_copy_names_the_occasion(name: str) -> None:
    file = SHIPPED[name]
    content = TemplateContent(
        name, file.content.channel, file.content.purpose, file.content.locales
    )
    context = replace(sample_context(locale="zh-CN", brand="回头小店"), occasion="中秋节")
    rendered = Renderer().render(content, context=context, now=SAMPLE_NOW)
    assert "中秋节" in "".join(rendered.parts.values())


def test_copy_without_the_optional_variables_still_renders() -> None:
    """A birthday has no order or product: templates that mention them must test for them."""
    bare = MessageContext(
        member=MemberVars(id=9, name=None, locale="en"),
        brand="Huitou",
        unsubscribe_url="https://shop.example/u/t",
        coupon_code="HT-1",
        occasion="Mid-Autumn Festival",
    )
    needs_order = {"unpaid/reminder", "unpaid/last_call", "shipping/shipped", "shipping/delivered"}
    needs_product = {"replenish/reminder"}
    renderer = Renderer()
    for name, file in SHIPPED.items():
        if name in needs_order | needs_product:
            continue
        content = TemplateContent(
            name, file.content.channel, file.content.purpose, file.content.locales
        )
        rendered = renderer.render(content, context=bare, now=SAMPLE_NOW)
        assert "None" not in "".join(rendered.parts.values()), name


def test_html_parts_are_escaped_and_text_parts_are_not() -> None:
    template = TemplateContent(
        "t/e",
        Channel.EMAIL,
        Purpose.MARKETING,
        {
            "en": {
                "subject": "{{ member.name }}",
                "text": "{{ member.name }}",
                "html": "<p>{{ member.name }}</p>",
            }
        },
    )
    context = sample_context(locale="en", brand="B")
    context = replace(context, member=replace(context.member, name="<b>Tom & Jerry</b>"))
    out = Renderer().render(template, context=context, now=SAMPLE_NOW)
    assert out.parts["html"] == "<p>&lt;b&gt;Tom &amp; Jerry&lt;/b&gt;</p>"
    assert out.parts["text"] == "<b>Tom & Jerry</b>"
    assert out.parts["subject"] == "<b>Tom & Jerry</b>"


@pytest.mark.parametrize(
    ("source", "line", "fragment"),
    [
        ("第一行\n{{ member.nmae }}", 2, "nmae"),
        ("a\nb\n{% if member.name %}\n{{ coupon }}\n{% endif %}", 4, "'coupon' is undefined"),
        ("a\n{% for x in %}", 2, "Expected an expression"),
        ("{{ member.name|nofilter }}", 1, "No filter named 'nofilter'"),
        ("x\n\n{{ order.total|money('XXXX') }}", 3, "money"),
    ],
)
def test_errors_name_the_line(source: str, line: int, fragment: str) -> None:
    template = TemplateContent("t/x", Channel.SMS, Purpose.MARKETING, {"zh-CN": {"sms": source}})
    [problem] = Renderer().check(template, brand="B")
    assert problem.line == line
    assert fragment in problem.msg
    assert problem.loc == ["locales", "zh-CN", "sms", f"line {line}"]


def test_render_raises_with_the_part_and_locale() -> None:
    template = TemplateContent(
        "t/x", Channel.SMS, Purpose.MARKETING, {"en": {"sms": "{{ order.id }}"}}
    )
    context = MessageContext(
        member=MemberVars(id=1, name="A", locale="en"), brand="B", unsubscribe_url="u"
    )
    with pytest.raises(RenderError) as raised:
        Renderer().render(template, context=context, now=SAMPLE_NOW)
    assert (raised.value.locale, raised.value.part) == ("en", "sms")


@pytest.mark.parametrize(
    ("name", "body", "message"),
    [
        ("bad/file", "channel = 'sms'\n[locales.zh-CN]\n", "exactly the parts"),
        ("bad/toml", "channel = \n", "not valid TOML"),
        ("Bad/Name", "channel = 'sms'\n[locales.en]\nsms = 'x'\n", "lowercase"),
    ],
)
def test_broken_template_files_are_reported_with_their_path(
    tmp_path: Path, name: str, body: str, message: str
) -> None:
    path = tmp_path / f"{name}.toml"
    path.parent.mkdir(parents=True)
    path.write_text(body, encoding="utf-8")
    with pytest.raises(TemplateFileError, match=message):
        read_template_file(tmp_path, path)
