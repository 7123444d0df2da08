"""One message's copy: its variables, rendered in the member's locale, composed, fingerprinted."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from zoneinfo import ZoneInfo

from service.members.models import Channel, Member
from service.messaging.budget import RenderTimeExceeded
from service.messaging.claims import Claimed
from service.messaging.compose import Composed, Sender, compose
from service.messaging.context import MessageContext
from service.messaging.copydata import CopyData, member_vars, message_context
from service.messaging.decorations import copy_fingerprint
from service.messaging.gateways.base import OutgoingMessage
from service.messaging.outcomes import Copy
from service.messaging.policies import Purpose
from service.messaging.render import RenderedMessage, Renderer, RenderError, TemplateContent
from service.messaging.tokens import make_token, unsubscribe_url

RENDER_TRIES = 3


@dataclass(frozen=True)
class CopySettings:
    """What rendering and composing need beyond the message: brand, links, keys, zone."""

    sender: Sender
    public_url: str
    token_key: bytes
    contact_salt: bytes
    zone: ZoneInfo
    country: str = "CN"  # names occasions from its calendar
    shop_url: str | None = None


@dataclass(frozen=True)
class Draft:
    message: OutgoingMessage
    copy: Copy


def draft(
    claimed: Claimed,
    content: TemplateContent,
    *,
    member: Member,
    tags: Sequence[str],
    data: CopyData,
    digest: str,
    settings: CopySettings,
    renderer: Renderer,
    now: datetime,
) -> Draft:
    """The message ready for its gateway; BadContext or RenderError when it cannot be made."""
    link = member_link(settings, member_id=member.id, channel=claimed.channel, now=now)
    context = message_context(
        claimed,
        member_vars(member, tags, settings.zone.key),
        data,
        brand=settings.sender.brand,
        unsubscribe_url=link,
        shop_url=settings.shop_url,
        country=settings.country,
    )
    to = member.phone if claimed.channel is Channel.SMS else member.email
    assert to is not None  # screened: the member has a contact on this channel
    return finish(
        claimed, content, context, to=to, link=link, digest=digest,
        settings=settings, renderer=renderer, now=now,
    )  # fmt: skip


def member_link(settings: CopySettings, *, member_id: int, channel: Channel, now: datetime) -> str:
    """The signed unsubscribe link of a member and channel, issued `now`."""
    token = make_token(settings.token_key, member_id=member_id, channel=channel, issued_at=now)
    return unsubscribe_url(settings.public_url, token)


def finish(
    claimed: Claimed,
    content: TemplateContent,
    context: MessageContext,
    *,
    to: str,
    link: str,
    digest: str,
    settings: CopySettings,
    renderer: Renderer,
    now: datetime,
    label: Mapping[str, str] | None = None,
) -> Draft:
    """Render the copy for `context`, decorate and compose it for `to`: the one path every
    message takes, whether it is sent, previewed or test-sent. `label` (by language, `zh`/`en`)
    goes in front of the subject or SMS text before decorating, to mark a test."""
    rendered = render_patiently(renderer, content, context, now)
    rendered = replace(rendered, purpose=effective_purpose(claimed, content))
    if label is not None:
        rendered = labelled(rendered, label)
    composed = compose(
        rendered,
        to=to,
        idempotency_key=claimed.idempotency_key,
        sender=settings.sender,
        unsubscribe_url=link,
        now=now,
    )
    return Draft(composed.message, _copy(composed, digest, link))


def labelled(rendered: RenderedMessage, label: Mapping[str, str]) -> RenderedMessage:
    """The subject (email) or the text (SMS) with the label in the copy's language in front."""
    mark = label["zh" if rendered.locale.lower().startswith("zh") else "en"]
    part = "sms" if rendered.channel is Channel.SMS else "subject"
    return replace(rendered, parts={**rendered.parts, part: mark + rendered.parts[part]})


def effective_purpose(claimed: Claimed, content: TemplateContent | None) -> Purpose:
    """Marketing when the message or its template says so: a transactional label on marketing
    copy must not slip it past consent and caps."""
    purposes = (claimed.purpose, content.purpose if content else claimed.purpose)
    return Purpose.MARKETING if Purpose.MARKETING in purposes else Purpose.TRANSACTIONAL


def _copy(composed: Composed, digest: str, link: str) -> Copy:
    message = composed.message
    text = f"{message.subject}\n{message.text}" if message.subject else message.text
    # the link's token carries the instant it was issued: the same copy must still match
    text = text.replace(link, "{unsubscribe_url}")
    return Copy(
        subject=message.subject,
        body=message.text,
        segments=composed.segments,
        cost=composed.cost,
        recipient_hash=digest,
        copy_fingerprint=copy_fingerprint(digest, text),
    )


def render_patiently(
    renderer: Renderer, content: TemplateContent, context: MessageContext, now: datetime
) -> RenderedMessage:
    """Render; a time budget blown by a stalled machine (not the template) gets more tries."""
    for attempt in range(RENDER_TRIES):
        try:
            return renderer.render(content, context=context, now=now)
        except RenderError as exc:
            if attempt + 1 == RENDER_TRIES or not isinstance(exc.__cause__, RenderTimeExceeded):
                raise
    raise AssertionError("unreachable")
