"""Compliance decorations (pure): SMS signature and opt-out, segments and cost, email MIME."""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from email.message import EmailMessage
from email.utils import format_datetime

from service.messaging.policies import Purpose

OPT_OUT = {"zh": "回T退订", "en": "Reply STOP to opt out"}
OPT_OUT_PRESENT = re.compile(
    r"回\s*T\s*D?\s*退订|退订回\s*T|回复\s*T\s*D?\s*退订|reply\s+stop|text\s+stop|stop\s+to\s+(opt|unsub)",
    re.IGNORECASE,
)
UNSUBSCRIBE_LABEL = {"zh": "退订此类邮件", "en": "Unsubscribe"}
UNSUBSCRIBE_INTRO = {
    "zh": "不想再收到此类邮件？点此退订：",
    "en": "Don't want these emails? Unsubscribe here:",
}

# GSM 03.38: the basic set counts one septet, the extension table two (escape + char).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = frozenset("^{}\\[~]|€\f")


def _language(locale: str) -> str:
    return "zh" if locale.lower().startswith("zh") else "en"


def decorate_sms(text: str, *, brand: str, locale: str, purpose: Purpose) -> str:
    """Prefix 【brand】 when the copy lacks it; end marketing copy with the opt-out instruction."""
    body = text.strip()
    signature = f"【{brand}】"
    if not (body.startswith(signature) or body.endswith(signature)):
        body = signature + body
    if purpose is Purpose.MARKETING and not OPT_OUT_PRESENT.search(body):
        opt_out = OPT_OUT[_language(locale)]
        body = f"{body}{opt_out}" if _language(locale) == "zh" else f"{body} {opt_out}"
    return body


@dataclass(frozen=True)
class SmsSegments:
    encoding: str  # "GSM-7" or "UCS-2"
    units: int  # septets, or UTF-16 code units
    segments: int


def sms_segments(text: str) -> SmsSegments:
    """Segments a carrier bills: GSM-7 160 (153 when split), else UCS-2 70 (67 when split)."""
    if all(ch in GSM7_BASIC or ch in GSM7_EXTENDED for ch in text):
        units = sum(2 if ch in GSM7_EXTENDED else 1 for ch in text)
        single, multi, encoding = 160, 153, "GSM-7"
    else:
        units = len(text.encode("utf-16-le")) // 2
        single, multi, encoding = 70, 67, "UCS-2"
    if units <= single:
        return SmsSegments(encoding, units, 1 if units else 0)
    return SmsSegments(encoding, units, -(-units // multi))


def sms_cost(segments: int, price_per_segment: Decimal) -> Decimal:
    return (price_per_segment * segments).quantize(Decimal("0.0001"))


def message_id(idempotency_key: str, domain: str) -> str:
    """A stable Message-ID: a resend of the same message carries the same id."""
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]
    return f"<{digest}@{domain}>"


def email_headers(
    *,
    idempotency_key: str,
    sender: str,
    now: datetime,
    purpose: Purpose,
    unsubscribe_url: str | None,
    unsubscribe_mailto: str | None,
) -> dict[str, str]:
    """Message-ID, Date, and for marketing RFC 8058 one-click unsubscribe headers."""
    domain = sender.rsplit("@", 1)[-1].strip("> ") or "localhost"
    headers = {
        "Message-ID": message_id(idempotency_key, domain),
        "Date": format_datetime(now),
    }
    if purpose is Purpose.MARKETING and unsubscribe_url:
        targets = [f"<{unsubscribe_url}>"]
        if unsubscribe_mailto:
            targets.append(f"<mailto:{unsubscribe_mailto}?subject=unsubscribe>")
        headers["List-Unsubscribe"] = ", ".join(targets)
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    return headers


def add_unsubscribe_text(text: str, *, url: str, locale: str) -> str:
    """The plain-text part with a visible unsubscribe link, unless it already shows the URL."""
    if url in text:
        return text
    return f"{text.rstrip()}\n\n--\n{UNSUBSCRIBE_INTRO[_language(locale)]}\n{url}\n"


def add_unsubscribe_html(body: str, *, url: str, locale: str) -> str:
    """The HTML part with a visible unsubscribe link, before </body> when there is one."""
    escaped = html.escape(url, quote=True)
    if escaped in body or url in body:
        return body
    language = _language(locale)
    footer = (
        '<p style="color:#888;font-size:12px;margin-top:24px">'
        f"{html.escape(UNSUBSCRIBE_INTRO[language])} "
        f'<a href="{escaped}">{html.escape(UNSUBSCRIBE_LABEL[language])}</a></p>'
    )
    index = body.lower().rfind("</body>")
    return body[:index] + footer + body[index:] if index >= 0 else body + footer


def mime_message(
    *,
    sender: str,
    to: str,
    subject: str,
    text: str,
    html_body: str | None,
    headers: Mapping[str, str],
) -> EmailMessage:
    """multipart/alternative with the plain text first and HTML second (RFC 2046 order)."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    for name, value in headers.items():
        message[name] = value
    message.set_content(text)
    if html_body is not None:
        message.add_alternative(html_body, subtype="html")
    return message


def copy_fingerprint(contact_hash: str, text: str) -> str:
    """Keys 'the same copy to the same contact', for the once-a-day duplicate check."""
    return hashlib.sha256(f"{contact_hash}\n{text}".encode()).hexdigest()
