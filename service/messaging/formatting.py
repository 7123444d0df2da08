"""The money and date filters: CLDR formats in the member's locale and time zone (babel)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_datetime
from babel.numbers import UnknownCurrencyError, format_currency, validate_currency
from jinja2 import pass_context
from jinja2.runtime import Context

DEFAULT_ZONE = "Asia/Shanghai"
DATETIME_PATTERNS = {"zh": "y年M月d日 HH:mm", "en": "MMM d, y, h:mm a"}
NAMED_FORMATS = frozenset({"short", "medium", "long", "full"})


@lru_cache(maxsize=64)
def babel_locale(tag: str) -> Locale:
    """`zh-CN` → babel's zh_CN; an unknown tag falls back to its language, then English."""
    for candidate in (tag.replace("-", "_"), tag.split("-")[0]):
        try:
            return Locale.parse(candidate)
        except (UnknownLocaleError, ValueError):
            continue
    return Locale.parse("en")


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or DEFAULT_ZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_ZONE)


def _member_field(context: Context, field: str, default: str) -> str:
    member = context.get("member")
    value = getattr(member, field, None) if member is not None else None
    return value if isinstance(value, str) and value else default


def format_money(amount: Decimal | int | float | str, currency: str, locale: str) -> str:
    """`¥199.00` for zh-CN and CNY, `$1,234.50` for en and USD, per CLDR."""
    try:
        value = Decimal(str(amount))
    except InvalidOperation as exc:
        raise ValueError(f"money: {amount!r} is not an amount") from exc
    try:
        validate_currency(currency.upper())
    except UnknownCurrencyError as exc:
        raise ValueError(f"money: {currency!r} is not an ISO 4217 currency code") from exc
    return str(format_currency(value, currency.upper(), locale=babel_locale(locale)))


def format_local_date(value: date | datetime, pattern: str, locale: str, zone: str | None) -> str:
    """A date (or an instant's local date in `zone`) in a CLDR named format or pattern."""
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        value = aware.astimezone(_zone(zone)).date()
    return str(format_date(value, pattern, locale=babel_locale(locale)))


def format_local_datetime(
    value: datetime, pattern: str | None, locale: str, zone: str | None
) -> str:
    """An instant in the member's time zone; naive values are taken as UTC."""
    loc = babel_locale(locale)
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    fmt = pattern or DATETIME_PATTERNS.get(loc.language, DATETIME_PATTERNS["en"])
    return str(format_datetime(aware, fmt, tzinfo=_zone(zone), locale=loc))


@pass_context
def money_filter(context: Context, amount: Any, currency: str | None = None) -> str:
    code = currency or context.get("currency") or "CNY"
    return format_money(amount, str(code), _member_field(context, "locale", "zh-CN"))


@pass_context
def date_filter(context: Context, value: Any, pattern: str = "long") -> str:
    if not isinstance(value, date):
        raise ValueError(f"date: expected a date or datetime, got {type(value).__name__}")
    return format_local_date(
        value,
        pattern,
        _member_field(context, "locale", "zh-CN"),
        _member_field(context, "timezone", DEFAULT_ZONE),
    )


@pass_context
def datetime_filter(context: Context, value: Any, pattern: str | None = None) -> str:
    if not isinstance(value, datetime):
        raise ValueError(f"datetime: expected a datetime, got {type(value).__name__}")
    return format_local_datetime(
        value,
        pattern,
        _member_field(context, "locale", "zh-CN"),
        _member_field(context, "timezone", DEFAULT_ZONE),
    )


FILTERS = {"money": money_filter, "date": date_filter, "datetime": datetime_filter}


def warm_up_locales() -> None:
    """Load the CLDR data of the usual locales once, ahead of the first message."""
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    for tag in ("zh-CN", "en"):
        format_money(1, "CNY", tag)
        format_local_datetime(moment, None, tag, DEFAULT_ZONE)
        format_local_date(moment, "long", tag, DEFAULT_ZONE)
