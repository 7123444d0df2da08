"""The unsubscribe pages (pure): plain, accessible HTML in zh-CN or en, no script, no cookies.

They name the channel and the brand, never the member. A bad or expired link gets a page in
both languages, since it tells us nothing we may trust about who opened it.
"""

from __future__ import annotations

from enum import StrEnum
from html import escape

from service.members.models import Channel


class Page(StrEnum):
    CONFIRM = "confirm"  # a button that POSTs the one-click opt-out
    DONE = "done"
    EXPIRED = "expired"
    INVALID = "invalid"


CHANNEL = {
    "zh": {Channel.SMS: "短信", Channel.EMAIL: "邮件"},
    "en": {Channel.SMS: "text messages", Channel.EMAIL: "emails"},
}
COPY = {
    ("zh", Page.CONFIRM): (
        "退订{channel}",
        "确认后，您将不再收到{brand}的营销{channel}。订单和物流通知不受影响。",
        "确认退订",
    ),
    ("en", Page.CONFIRM): (
        "Unsubscribe from {channel}",
        "You will no longer get marketing {channel} from {brand}. "
        "Order and delivery notices are not affected.",
        "Unsubscribe",
    ),
    ("zh", Page.DONE): ("您已退订", "您将不再收到{brand}的营销{channel}。", ""),
    ("en", Page.DONE): (
        "You are unsubscribed",
        "You will no longer get marketing {channel} from {brand}.",
        "",
    ),
    ("zh", Page.EXPIRED): (
        "链接已过期",
        "这个退订链接已失效。请使用最近一条消息里的退订链接，或回复短信“T”退订。",
        "",
    ),
    ("en", Page.EXPIRED): (
        "This link has expired",
        "Please use the unsubscribe link in a recent message, or reply STOP to a text.",
        "",
    ),
    ("zh", Page.INVALID): ("链接无效", "这个退订链接无法识别，请检查是否完整复制。", ""),
    ("en", Page.INVALID): (
        "This link is not valid",
        "We could not read this unsubscribe link. Please check that it was copied in full.",
        "",
    ),
}
STYLE = (
    "body{font:17px/1.6 system-ui,-apple-system,'PingFang SC','Microsoft YaHei',sans-serif;"
    "max-width:34rem;margin:3rem auto;padding:0 1.25rem;color:#1b1b1b;background:#fff}"
    "h1{font-size:1.5rem;line-height:1.3}"
    "button{font:inherit;padding:.65rem 1.4rem;border:0;border-radius:.35rem;"
    "background:#1d4ed8;color:#fff;cursor:pointer}"
    "button:focus-visible{outline:3px solid #b45309;outline-offset:3px}"
    "section+section{margin-top:2.5rem;border-top:1px solid #ddd}"
)
LANG = {"zh": "zh-CN", "en": "en"}


def language(locale: str | None) -> str:
    return "zh" if (locale or "zh-CN").lower().startswith("zh") else "en"


def _copy(lang: str, page: Page, *, channel: Channel | None, brand: str) -> tuple[str, ...]:
    names = {"brand": brand, "channel": CHANNEL[lang][channel] if channel else ""}
    return tuple(part.format(**names) for part in COPY[(lang, page)])


def _section(lang: str, copy: tuple[str, ...], *, heading: str) -> str:
    title, text, button = copy
    form = (
        '<form method="post">'
        '<input type="hidden" name="List-Unsubscribe" value="One-Click">'
        f'<button type="submit">{escape(button)}</button></form>'
        if button
        else ""
    )
    return (
        f'<section lang="{LANG[lang]}"><{heading}>{escape(title)}</{heading}>'
        f"<p>{escape(text)}</p>{form}</section>"
    )


def render(page: Page, *, lang: str | None, channel: Channel | None, brand: str) -> str:
    """The page; `lang` None renders both languages (for links we could not read)."""
    langs = [lang] if lang else ["zh", "en"]
    copies = [_copy(each, page, channel=channel, brand=brand) for each in langs]
    title = " / ".join(copy[0] for copy in copies)
    sections = "".join(
        _section(each, copy, heading="h1" if i == 0 else "h2")
        for i, (each, copy) in enumerate(zip(langs, copies, strict=True))
    )
    return (
        f'<!doctype html><html lang="{LANG[langs[0]]}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="robots" content="noindex"><title>{escape(title)}</title>'
        f"<style>{STYLE}</style></head><body><main>{sections}</main></body></html>"
    )
