"""From a rendered template to the message a gateway sends: decorations, segments and cost."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from service.members.models import Channel
from service.messaging.decorations import (
    add_unsubscribe_html,
    add_unsubscribe_text,
    decorate_sms,
    email_headers,
    sms_cost,
    sms_segments,
)
from service.messaging.gateways.base import OutgoingMessage
from service.messaging.policies import Purpose
from service.messaging.render import RenderedMessage


@dataclass(frozen=True)
class Composed:
    message: OutgoingMessage
    segments: int  # SMS segments billed; 0 for email
    cost: Decimal


@dataclass(frozen=True)
class Sender:
    """Who the messages come from: the brand of SMS signatures and the email From."""

    brand: str
    email_from: str
    unsubscribe_mailto: str | None = None
    price_per_segment: Decimal = Decimal("0.045")


def compose(
    rendered: RenderedMessage,
    *,
    to: str,
    idempotency_key: str,
    sender: Sender,
    unsubscribe_url: str,
    now: datetime,
    params: Mapping[str, str] | None = None,
) -> Composed:
    """The decorated message, ready for `Gateway.send`, with its segments and cost."""
    if rendered.channel is Channel.SMS:
        text = decorate_sms(
            rendered.sms, brand=sender.brand, locale=rendered.locale, purpose=rendered.purpose
        )
        segments = sms_segments(text).segments
        message = _message(rendered, to, idempotency_key, text, params)
        return Composed(message, segments, sms_cost(segments, sender.price_per_segment))
    marketing = rendered.purpose is Purpose.MARKETING
    text, html = rendered.parts["text"], rendered.parts["html"]
    if marketing:
        text = add_unsubscribe_text(text, url=unsubscribe_url, locale=rendered.locale)
        html = add_unsubscribe_html(html, url=unsubscribe_url, locale=rendered.locale)
    headers = email_headers(
        idempotency_key=idempotency_key,
        sender=sender.email_from,
        now=now,
        purpose=rendered.purpose,
        unsubscribe_url=unsubscribe_url,
        unsubscribe_mailto=sender.unsubscribe_mailto,
    )
    message = _message(rendered, to, idempotency_key, text, params)
    email = replace(message, subject=rendered.parts["subject"], html=html, headers=headers)
    return Composed(email, 0, Decimal(0))


def _message(
    rendered: RenderedMessage,
    to: str,
    key: str,
    text: str,
    params: Mapping[str, str] | None,
) -> OutgoingMessage:
    return OutgoingMessage(
        idempotency_key=key,
        channel=rendered.channel,
        to=to,
        text=text,
        purpose=rendered.purpose,
        template=rendered.template,
        locale=rendered.locale,
        params=dict(params or {}),
    )
