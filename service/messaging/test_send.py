"""Test sends: a template rendered like a real message and sent to the marketer's own contact.

The copy is made by the dispatcher's path (`drafts.finish`) for a sample member, a real one or
the built-in one, with `[测试] ` / `[TEST] ` in front of the SMS text or email subject. The
message is written to the outbox (`is_test`) and handed to the channel's configured gateway in
the same request, and what happened is recorded on the row: `sent`, or `failed` with a reason.

A destination on the suppression list, or the contact of a member who opted out on the
channel, is refused before anything is written. Test sends skip frequency caps and quiet hours
and count toward no member's caps; the dispatcher never claims them. With an `Idempotency-Key`
a retried request answers with the first message: a sent one is never sent again, and one
whose gateway was unavailable (nothing delivered) is tried again under the same key.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from service.db import dialect_insert, session_dialect, table_of
from service.errors import Conflict, InvalidInput
from service.members import service as member_service
from service.members.contacts import contact_hash, normalize_email, normalize_phone
from service.members.models import Channel, Member, MemberConsent, MemberTag, Suppression
from service.messaging import outcomes
from service.messaging import service as template_service
from service.messaging.claims import COLUMNS, Claimed
from service.messaging.context import sample_context
from service.messaging.copydata import BadContext, load_copy_data, member_vars, message_context
from service.messaging.drafts import CopySettings, Draft, finish, member_link
from service.messaging.gateways import Gateways
from service.messaging.gateways.base import PermanentError, RetryableError, UnknownOutcomeError
from service.messaging.outbox import Message, MessageStatus
from service.messaging.outcomes import Outcome
from service.messaging.preview import member_order
from service.messaging.render import Renderer, RenderError, TemplateContent
from service.messaging.schemas import SendTestIn

log = logging.getLogger("huitou.messaging")
TEST_LABEL = {"zh": "[测试] ", "en": "[TEST] "}
SAMPLE_LOCALE = "zh-CN"
UNAVAILABLE = "gateway_unavailable"  # nothing was delivered: the same key may try again
NO_MEMBER = 0  # the unsubscribe link of a test names no member: following it changes nothing


class DestinationRefused(Conflict):
    code = "destination_refused"


class IdempotencyKeyReused(Conflict):
    code = "idempotency_key_reused"


@dataclass(frozen=True)
class Hold:
    """This request's lease on its message while the gateway answers (outcomes are fenced on
    it, as the dispatcher's are)."""

    worker: str
    until: datetime


@dataclass(frozen=True)
class SendTestResult:
    message: Message
    member: str | None  # the sample member's external id
    to: str
    replayed: bool

    @property
    def outcome(self) -> str:
        sent = self.message.status in (MessageStatus.SENT, MessageStatus.DELIVERED)
        return "sent" if sent else "failed"


def normalize_destination(to: str, channel: Channel, *, region: str) -> str:
    """The destination in the form members' contacts are stored in; a 422 at body.to if bad."""
    try:
        return normalize_phone(to, region=region) if channel is Channel.SMS else normalize_email(to)
    except ValueError as exc:
        kind = "phone" if channel is Channel.SMS else "email"
        raise InvalidInput([{"loc": ["body", "to"], "msg": str(exc), "type": kind}]) from exc


async def refusal(session: AsyncSession, *, to: str, channel: Channel, salt: bytes) -> str | None:
    """Why this contact must not get a test: on the suppression list, or a member with it
    opted out of the channel; None when it may."""
    reason = await session.scalar(
        select(Suppression.reason).where(
            Suppression.contact_hash == contact_hash(salt, channel, to),
            Suppression.channel == channel,
        )
    )
    if reason is not None:
        return f"on the suppression list ({reason})"
    column = Member.phone if channel is Channel.SMS else Member.email
    opted_out = await session.scalar(
        select(MemberConsent.member_id)
        .join(Member, Member.id == MemberConsent.member_id)
        .where(
            column.in_(sorted({to, to.lower()})),
            MemberConsent.channel == channel,
            MemberConsent.purpose == "marketing",
            MemberConsent.granted.is_(False),
        )
        .limit(1)
    )
    return "opted out by a member with this contact" if opted_out is not None else None


def message_key(principal: str, idempotency_key: str | None) -> str:
    """The outbox key: the caller's Idempotency-Key (scoped to its API key), else a fresh one."""
    if idempotency_key is None:
        return f"test:{uuid.uuid4().hex}"
    scoped = hashlib.sha256(f"{principal}\n{idempotency_key}".encode()).hexdigest()[:40]
    return f"test:{scoped}"


def fingerprint(body: SendTestIn, to: str) -> str:
    """Identifies the request, so an Idempotency-Key reused for another one is refused."""
    canonical = json.dumps({**body.model_dump(mode="json"), "to": to}, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def send_test(
    session: AsyncSession,
    *,
    body: SendTestIn,
    principal: str,
    idempotency_key: str | None,
    gateways: Gateways,
    copy: CopySettings,
    renderer: Renderer,
    region: str,
    lease: timedelta,
    now: datetime,
) -> SendTestResult:
    """Render, record and send one test message (or answer a retry with the first one)."""
    content = await _template(session, body)
    channel = body.channel or content.channel
    if channel is not content.channel:
        msg = f"template {content.name!r} is a {content.channel.value} template"
        raise InvalidInput([{"loc": ["body", "channel"], "msg": msg, "type": "channel"}])
    to = normalize_destination(body.to, channel, region=region)
    key, request = message_key(principal, idempotency_key), fingerprint(body, to)
    existing = await _existing(session, key)
    if existing is not None:
        if existing.context.get("request") != request:
            raise IdempotencyKeyReused(
                "this Idempotency-Key was used for another test send; use a new key",
                loc=["header", "idempotency-key"],
            )
        if existing.status_reason != UNAVAILABLE:
            return SendTestResult(existing, existing.context.get("member"), to, replayed=True)
    why = await refusal(session, to=to, channel=channel, salt=copy.contact_salt)
    if why is not None:
        raise DestinationRefused(f"{to} is {why}: nothing was sent", loc=["body", "to"])
    member = await _member(session, body)
    worker = f"test-send:{secrets.token_hex(6)}"
    draft = await _draft(session, body, content, member, key, to, copy, renderer, now)
    if existing is None:
        held = Hold(worker, now + lease)
        claimed = await _insert(session, body, content, member, draft, key, request, held, now)
    else:
        claimed = await _retake(session, existing, Hold(worker, now + lease), now)
    if claimed is None:  # a concurrent request with the same key recorded it first
        found = await _existing(session, key)
        assert found is not None
        return SendTestResult(found, found.context.get("member"), to, replayed=True)
    outcome = await _attempt(gateways, claimed, draft, now)
    await outcomes.record(session, [outcome], worker=worker)
    row = await session.get_one(Message, claimed.id, populate_existing=True)
    return SendTestResult(row, row.context.get("member"), to, replayed=existing is not None)


async def _template(session: AsyncSession, body: SendTestIn) -> TemplateContent:
    try:
        row = await template_service.get_template(session, name=body.template, version=body.version)
    except template_service.TemplateNotFound as exc:
        raise template_service.TemplateNotFound(exc.msg, loc=["body", "template"]) from exc
    return template_service.content_of(row)


async def _existing(session: AsyncSession, key: str) -> Message | None:
    return await session.scalar(
        select(Message)
        .where(Message.idempotency_key == key)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


async def _member(session: AsyncSession, body: SendTestIn) -> Member | None:
    if body.member is None:
        if body.order_id is not None:
            msg = "an order belongs to a member: name the member too"
            raise InvalidInput([{"loc": ["body", "order_id"], "msg": msg, "type": "order"}])
        return None
    try:
        return await member_service.get_member(session, external_id=body.member)
    except member_service.MemberNotFound as exc:
        raise member_service.MemberNotFound(exc.msg, loc=["body", "member"]) from exc


def _claim_of(
    key: str,
    content: TemplateContent,
    member: Member | None,
    context: dict[str, Any],
    now: datetime,
) -> Claimed:
    """The message as the copy path reads it (before it is written)."""
    return Claimed.unsent(
        idempotency_key=key,
        member_id=member.id if member else NO_MEMBER,
        journey_id=None,
        channel=content.channel,
        template=content.name,
        purpose=content.purpose,
        priority=100,
        context=context,
        now=now,
    )


async def _draft(
    session: AsyncSession,
    body: SendTestIn,
    content: TemplateContent,
    member: Member | None,
    key: str,
    to: str,
    copy: CopySettings,
    renderer: Renderer,
    now: datetime,
) -> Draft:
    """The copy for the sample member, marked as a test; 422 naming the part and line."""
    link = member_link(copy, member_id=NO_MEMBER, channel=content.channel, now=now)
    order = await member_order(session, member, body.order_id, latest=True) if member else None
    context: dict[str, Any] = {"order_id": order.id if order else None}
    if body.coupon_code is not None:
        context["coupon_code"] = body.coupon_code
    claimed = _claim_of(key, content, member, context, now)
    try:
        if member is None:
            locale = body.locale or SAMPLE_LOCALE
            sample = sample_context(locale=locale, brand=copy.sender.brand)
            variables = replace(sample, unsubscribe_url=link, shop_url=copy.shop_url)
            if body.coupon_code is not None:
                variables = replace(variables, coupon_code=body.coupon_code)
        else:
            tags = await session.scalars(
                select(MemberTag.tag)
                .where(MemberTag.member_id == member.id)
                .order_by(MemberTag.tag)
            )
            member_values = member_vars(member, list(tags), copy.zone.key)
            if body.locale is not None:
                member_values = replace(member_values, locale=body.locale)
            data = await load_copy_data(session, [claimed])
            variables = message_context(
                claimed,
                member_values,
                data,
                brand=copy.sender.brand,
                unsubscribe_url=link,
                shop_url=copy.shop_url,
                country=copy.country,
            )
        return finish(
            claimed,
            content,
            variables,
            to=to,
            link=link,
            digest=contact_hash(copy.contact_salt, content.channel, to),
            settings=copy,
            renderer=renderer,
            now=now,
            label=TEST_LABEL,
        )
    except RenderError as exc:
        line = f" line {exc.line}" if exc.line else ""
        msg = f"locales.{exc.locale}.{exc.part}{line}: {exc.msg}"
        raise InvalidInput(
            [{"loc": ["body", "template"], "msg": msg, "type": "render_error", "line": exc.line}]
        ) from exc
    except (BadContext, ValueError) as exc:
        raise InvalidInput(
            [{"loc": ["body", "member"], "msg": str(exc), "type": "bad_context"}]
        ) from exc


async def _insert(
    session: AsyncSession,
    body: SendTestIn,
    content: TemplateContent,
    member: Member | None,
    draft: Draft,
    key: str,
    request: str,
    held: Hold,
    now: datetime,
) -> Claimed | None:
    """The outbox row, held by this request until its outcome is recorded; None if the key
    was taken meanwhile."""
    context = {
        "request": request,
        "member": member.external_id if member else None,
        "coupon_code": body.coupon_code,
    }
    values = {
        "idempotency_key": key,
        "member_id": member.id if member else None,
        "channel": content.channel,
        "template": content.name,
        "purpose": content.purpose,
        "priority": 100,
        "status": MessageStatus.SENDING,
        "context": context,
        "send_after_at": now,
        "expires_at": None,
        "leased_by": held.worker,
        "leased_until": held.until,
        "is_test": True,
        "created_at": now,
        "updated_at": now,
        **draft.copy.columns(),
    }
    table = table_of(Message)
    new_id = await session.scalar(
        dialect_insert(session_dialect(session), table)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
        .returning(table.c.id)
    )
    if new_id is None:
        return None
    return await _claimed(session, new_id)


async def _retake(
    session: AsyncSession, existing: Message, held: Hold, now: datetime
) -> Claimed | None:
    """A test whose gateway was unavailable, taken again for one more try under its key."""
    taken = await session.scalar(
        update(Message)
        .where(
            Message.id == existing.id,
            Message.status == MessageStatus.FAILED,
            Message.status_reason == UNAVAILABLE,
        )
        .values(
            status=MessageStatus.SENDING,
            leased_by=held.worker,
            leased_until=held.until,
            updated_at=now,
        )
        .returning(Message.id)
        .execution_options(synchronize_session=False)
    )
    return await _claimed(session, taken) if taken is not None else None


async def _claimed(session: AsyncSession, message_id: int) -> Claimed:
    row = (await session.execute(select(*COLUMNS).where(Message.id == message_id))).one()
    return Claimed(**row._mapping)


async def _attempt(gateways: Gateways, claimed: Claimed, draft: Draft, now: datetime) -> Outcome:
    """One try through the channel's gateway. Nothing is retried later: what happened is final,
    except that a gateway found unavailable may be tried again by the same Idempotency-Key."""
    gateway = gateways.for_channel(claimed.channel)
    try:
        receipt = await gateway.send(draft.message)
    except RetryableError as exc:
        return _failed(claimed, UNAVAILABLE, str(exc), gateway.name, now)
    except PermanentError as exc:
        return _failed(claimed, "rejected", str(exc), gateway.name, now)
    except UnknownOutcomeError as exc:
        return _failed(claimed, "unknown_outcome", str(exc), gateway.name, now)
    except Exception as exc:  # a bug or an unexpected library error: record it, never re-send
        log.exception("gateway %s raised on test message %s", gateway.name, claimed.id)
        reason = UNAVAILABLE if gateway.honours_idempotency else "unknown_outcome"
        return _failed(claimed, reason, f"{type(exc).__name__}: {exc}", gateway.name, now)
    return outcomes.sent(
        claimed, now=now, gateway=receipt.gateway, provider_id=receipt.provider_id, copy=draft.copy
    )


def _failed(claimed: Claimed, reason: str, error: str, gateway: str, now: datetime) -> Outcome:
    log.info("test message %s failed: %s %s", claimed.id, reason, error)
    return outcomes.failed(claimed, now=now, reason=reason, error=error, gateway=gateway)
