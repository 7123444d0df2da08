"""Preview a journey's messages for one member, exactly as the dispatcher would make them.

Every send of the journey (each send step, each split variant) becomes the outbox row the engine
would write for this member (`advance.send_context`), and that row goes through the
dispatcher's own steps: its facts (`facts.load_facts`), its variables (`copydata`), the one
render-decorate-compose path (`drafts.finish`), and `policies.decide` with the member's real
consent, suppression, caps and quiet hours as of now. Nothing is written.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.calendar.occasions import BirthdayOccasion, occurrences_between
from service.errors import InvalidInput
from service.journeys import service as journey_service
from service.journeys.advance import send_context
from service.journeys.conditions import evaluate
from service.journeys.engine import is_control
from service.journeys.facts import load_facts as load_condition_facts
from service.journeys.models import Journey, JourneyVersion
from service.journeys.paths import MemberRoute, SendItem, member_route, send_items
from service.journeys.queries import parse_stored
from service.journeys.rule import (
    CalendarTrigger,
    EventTrigger,
    JourneyRule,
    ReplenishmentTrigger,
    UnpaidOrderTrigger,
)
from service.members import service as member_service
from service.members.models import Channel, Member
from service.messaging import service as template_service
from service.messaging.claims import Claimed
from service.messaging.context import MemberVars
from service.messaging.copydata import (
    BadContext,
    CopyData,
    journey_cap,
    load_copy_data,
    member_vars,
    message_context,
)
from service.messaging.decorations import sms_segments
from service.messaging.drafts import CopySettings, Draft, effective_purpose, finish, member_link
from service.messaging.facts import (
    BatchFacts,
    contact_of,
    copies_sent,
    history_of,
    load_facts,
    member_zone,
    recipient_of,
)
from service.messaging.policies import (
    Candidate,
    Decision,
    PolicyConfig,
    Purpose,
    Recipient,
    Verdict,
    decide,
)
from service.messaging.render import Renderer, RenderError, TemplateContent
from service.messaging.schemas import (
    EmailCopy,
    PolicyOut,
    PreviewIn,
    PreviewOut,
    SmsCopy,
    StepPreview,
)
from service.orders.models import Order, OrderItem
from service.orders.service import OrderNotFound
from service.products.models import Product
from service.products.service import ProductNotFound

COPY_WINDOW = timedelta(days=2)  # as far back as the dispatcher looks for the same copy
OCCASION_HORIZON = timedelta(days=400)


@dataclass(frozen=True)
class Subject:
    """Who and what the copy is about: the member, and the order, item and occasion it names."""

    member: Member
    order: Order | None
    item: OrderItem | None
    sku: str | None
    occasion_id: str | None
    entered_with: dict[str, Any]


@dataclass(frozen=True)
class Made:
    item: SendItem
    claimed: Claimed
    content: TemplateContent
    recipient: Recipient
    draft: Draft


async def preview_journey(
    session: AsyncSession,
    *,
    key: str,
    body: PreviewIn,
    copy: CopySettings,
    policy: PolicyConfig,
    renderer: Renderer,
    now: datetime,
) -> PreviewOut:
    """Every message of the journey for the member, decorated, with what policies would do now;
    NotFound for an unknown journey, version, member or order; InvalidInput naming the step,
    template and line whose copy cannot be made."""
    journey = await journey_service.get_journey(session, key=key)
    version = await _version(session, journey, body.version)
    rule = parse_stored(version.rule)
    subject = await _subject(session, rule, body, copy, now=now)
    member = subject.member
    route = await _route(session, rule, subject, now=now)
    items = send_items(rule)
    contents = {name: await _content(session, name) for name in {i.send.template for i in items}}
    claimed = [
        _claimed(journey, rule, item, contents[item.send.template], subject, now) for item in items
    ]
    facts = await load_facts(session, claimed, now=now, salt=copy.contact_salt)
    data = await load_copy_data(session, claimed)
    variables = member_vars(member, facts.tags.get(member.id, ()), copy.zone.key)
    if body.locale is not None:
        variables = replace(variables, locale=body.locale)
    made, errors = [], []
    for item, one in zip(items, claimed, strict=True):
        content = contents[item.send.template]
        try:
            made.append(
                _make(item, one, content, member, variables, data, facts, copy, renderer, now)
            )
        except _StepProblem as problem:
            errors.append(problem.detail)
    if errors:
        raise InvalidInput(errors)
    fingerprints = {m.draft.copy.copy_fingerprint for m in made}
    sent = await copies_sent(session, fingerprints, since=now - COPY_WINDOW)
    control = is_control(member.id, journey.id, rule.holdout_percent)
    steps = []
    for m in made:
        history = history_of(
            m.claimed,
            facts,
            sent_in_batch=(),  # the journey's messages go days apart, not together
            copy_times=sent.get(m.draft.copy.copy_fingerprint, ()),
            now=now,
            zone=m.recipient.zone,
        )
        if control:
            decision = Decision(Verdict.SUPPRESS, "holdout")
        else:
            candidate = Candidate(
                effective_purpose(m.claimed, m.content),
                m.claimed.priority,
                None,  # not queued yet: nothing to expire
                journey_cap(m.claimed),
            )
            decision = decide(candidate, m.recipient, history, policy, now=now)
        steps.append(_step(m, route, decision, member, copy, now))
    return PreviewOut(
        journey=journey.key,
        version=version.version,
        status=journey.status.value,
        member=member.external_id,
        at=now,
        control_group=control,
        order_id=subject.order.external_id if subject.order else None,
        sku=subject.sku,
        occasion=subject.occasion_id,
        steps=steps,
    )


async def _version(session: AsyncSession, journey: Journey, number: int | None) -> JourneyVersion:
    try:
        return await journey_service.get_version(session, journey, number)
    except journey_service.JourneyNotFound as exc:
        raise journey_service.JourneyNotFound(exc.msg, loc=["body", "version"]) from exc


def _carries_order(rule: JourneyRule) -> bool:
    trigger = rule.trigger
    if isinstance(trigger, EventTrigger):
        return trigger.event.is_order_event
    return isinstance(trigger, UnpaidOrderTrigger | ReplenishmentTrigger)


async def _subject(
    session: AsyncSession, rule: JourneyRule, body: PreviewIn, copy: CopySettings, *, now: datetime
) -> Subject:
    try:
        member = await member_service.get_member(session, external_id=body.member)
    except member_service.MemberNotFound as exc:
        raise member_service.MemberNotFound(exc.msg, loc=["body", "member"]) from exc
    order = await member_order(session, member, body.order_id, latest=_carries_order(rule))
    item, sku = await _item(session, order, body.sku, rule)
    occasion_id, entered_with = _occasion(rule, member, copy, now)
    return Subject(member, order, item, sku, occasion_id, entered_with)


async def member_order(
    session: AsyncSession, member: Member, order_id: str | None, *, latest: bool
) -> Order | None:
    """The member's order with this shop id (OrderNotFound if none), else the latest if asked."""
    query = select(Order).where(Order.member_id == member.id)
    if order_id is not None:
        order = await session.scalar(
            query.where(Order.external_id == order_id).order_by(Order.id).limit(1)
        )
        if order is None:
            raise OrderNotFound(
                f"member {member.external_id!r} has no order {order_id!r}", loc=["body", "order_id"]
            )
        return order
    if not latest:
        return None
    return await session.scalar(query.order_by(Order.created_at.desc(), Order.id.desc()).limit(1))


async def _item(
    session: AsyncSession, order: Order | None, sku: str | None, rule: JourneyRule
) -> tuple[OrderItem | None, str | None]:
    """The order item a replenishment copy is about (or the one with `sku`), and the sku."""
    known = select(Product.id).where(Product.sku == sku)
    if sku is not None and await session.scalar(known) is None:
        raise ProductNotFound(f"no product with sku {sku!r}", loc=["body", "sku"])
    if order is None or not (sku is not None or isinstance(rule.trigger, ReplenishmentTrigger)):
        return None, sku
    query = select(OrderItem).where(OrderItem.order_id == order.id)
    if sku is not None:
        query = query.where(OrderItem.sku == sku)
    item = await session.scalar(query.order_by(OrderItem.id).limit(1))
    return item, sku or (item.sku if item else None)


def _occasion(
    rule: JourneyRule, member: Member, copy: CopySettings, now: datetime
) -> tuple[str | None, dict[str, Any]]:
    """A calendar journey's next occurrence, with the names the copy reads (as enrolling does)."""
    trigger = rule.trigger
    if not isinstance(trigger, CalendarTrigger):
        return None, {}
    if isinstance(trigger.occasion, BirthdayOccasion):
        return None, {"occasion": {"name_zh": "生日", "name_en": "Birthday"}}
    today = now.astimezone(member_zone(member, copy.zone)).date()
    found = occurrences_between(
        trigger.occasion, country=copy.country, first=today, last=today + OCCASION_HORIZON
    )
    if not found:
        return None, {}
    occurrence = found[0]
    return occurrence.occasion_id, {
        "occasion": {"name_zh": occurrence.name_zh, "name_en": occurrence.name_en},
        "occasion_date": occurrence.local_date.isoformat(),
        "occasion_kind": occurrence.kind.value,
    }


async def _route(
    session: AsyncSession, rule: JourneyRule, subject: Subject, *, now: datetime
) -> MemberRoute:
    member_id = subject.member.id
    order_id = subject.order.id if subject.order else None
    item_id = subject.item.id if subject.item else None
    book = await load_condition_facts(
        session,
        member_ids={member_id},
        order_ids={order_id} if order_id is not None else set(),
        item_ids={item_id} if item_id is not None else set(),
    )
    facts = book.facts(member_id, order_id=order_id, item_id=item_id)
    return member_route(
        rule,
        member_id=member_id,
        facts=facts,
        evaluate=lambda condition, known: evaluate(condition, known, now=now),
    )


async def _content(session: AsyncSession, name: str) -> TemplateContent | None:
    try:
        return await template_service.get_content(session, name=name)
    except template_service.TemplateNotFound:
        return None


def _claimed(
    journey: Journey,
    rule: JourneyRule,
    item: SendItem,
    content: TemplateContent | None,
    subject: Subject,
    now: datetime,
) -> Claimed:
    """The outbox row the engine would write for this send, as the dispatcher would claim it."""
    key = f"preview:{journey.id}:{subject.member.id}:{item.step_id}"
    channel = item.send.channel or (content.channel if content else Channel.SMS)
    return Claimed.unsent(
        idempotency_key=key + (f":{item.variant}" if item.variant else ""),
        member_id=subject.member.id,
        journey_id=journey.id,
        channel=channel,
        template=item.send.template,
        purpose=content.purpose if content else Purpose.MARKETING,
        priority=item.send.priority if item.send.priority is not None else rule.priority,
        context=send_context(
            rule,
            item.send,
            order_id=subject.order.id if subject.order else None,
            item_id=subject.item.id if subject.item else None,
            occasion_id=subject.occasion_id,
            entered_with=subject.entered_with,
            sku=subject.sku,
        ),
        now=now,
    )


class _StepProblem(Exception):
    def __init__(self, detail: dict[str, Any]) -> None:
        super().__init__(detail["msg"])
        self.detail = detail


def _where(item: SendItem) -> list[str | int]:
    return ["steps", item.step_id, *(["variants", item.variant] if item.variant else [])]


def _problem(item: SendItem, kind: str, msg: str, *, line: int | None = None) -> _StepProblem:
    arm = f" (variant {item.variant})" if item.variant else ""
    return _StepProblem(
        {
            "loc": [*_where(item), "template", item.send.template],
            "msg": f"step {item.step_id}{arm}, template {item.send.template}: {msg}",
            "type": kind,
            "step": item.step_id,
            "template": item.send.template,
            "line": line,
        }
    )


def _make(
    item: SendItem,
    claimed: Claimed,
    content: TemplateContent | None,
    member: Member,
    variables: MemberVars,
    data: CopyData,
    facts: BatchFacts,
    copy: CopySettings,
    renderer: Renderer,
    now: datetime,
) -> Made:
    """The member's copy of one send, by the dispatcher's path; a _StepProblem if it fails."""
    if content is None:
        raise _problem(item, "template_not_found", "no such template")
    if content.channel is not claimed.channel:
        raise _problem(
            item,
            "template_channel_mismatch",
            f"the step sends by {claimed.channel.value}, the template is {content.channel.value}",
        )
    recipient, digest = recipient_of(claimed, facts, salt=copy.contact_salt, zone=copy.zone)
    link = member_link(copy, member_id=member.id, channel=claimed.channel, now=now)
    try:
        context = message_context(
            claimed,
            variables,
            data,
            brand=copy.sender.brand,
            unsubscribe_url=link,
            shop_url=copy.shop_url,
            country=copy.country,
        )
        draft = finish(
            claimed,
            content,
            context,
            to=contact_of(member, claimed.channel) or "",
            link=link,
            digest=digest or "",
            settings=copy,
            renderer=renderer,
            now=now,
        )
    except RenderError as exc:
        where = f"{exc.locale} {exc.part}" + (f" line {exc.line}" if exc.line else "")
        raise _problem(item, "render_error", f"{where}: {exc.msg}", line=exc.line) from exc
    except (BadContext, ValueError) as exc:
        raise _problem(item, "bad_context", str(exc)) from exc
    return Made(item, claimed, content, recipient, draft)


EXPLAIN = {
    "opted_out": "the member opted out of marketing on this channel: it would not be sent",
    "no_consent": "no recorded consent and HUITOU_CONSENT_MODEL is opt_in: it would not be sent",
    "suppressed": "the contact is on the suppression list: it would not be sent",
    "hard_bounce": "the contact hard-bounced: it would not be sent",
    "erased": "the member was erased: it would not be sent",
    "no_contact": "the member has no contact on this channel: it would not be sent",
    "duplicate_copy": "the same copy already went to this contact today: it would not be sent",
    "holdout": "the member is in the journey's control group: recorded, never sent",
    "expired": "it would expire before it could be sent",
}


def _policy(decision: Decision, recipient: Recipient, now: datetime) -> PolicyOut:
    if decision.verdict is Verdict.SEND:
        at = now.astimezone(recipient.zone)
        return PolicyOut(verdict="send", reason=None, send_at=at, explanation="it would go out now")
    if decision.verdict is Verdict.DEFER:
        assert decision.until is not None
        at = decision.until.astimezone(recipient.zone)
        why = {"quiet_hours": "quiet hours", "frequency_cap": "the frequency cap"}.get(
            decision.reason or "", decision.reason or "a policy"
        )
        local = at.strftime("%Y-%m-%d %H:%M")
        return PolicyOut(
            verdict="defer",
            reason=decision.reason,
            send_at=at,
            explanation=f"held by {why}: it would go at {local} ({recipient.zone.key})",
        )
    reason = decision.reason or decision.verdict.value
    return PolicyOut(
        verdict=decision.verdict.value,
        reason=reason,
        send_at=None,
        explanation=EXPLAIN.get(reason, f"stopped: {reason}"),
    )


def _step(
    made: Made,
    route: MemberRoute,
    decision: Decision,
    member: Member,
    copy: CopySettings,
    now: datetime,
) -> StepPreview:
    item, message = made.item, made.draft.message
    sms = email = None
    if message.channel is Channel.SMS:
        counted = sms_segments(message.text)
        sms = SmsCopy(
            text=message.text,
            encoding=counted.encoding,
            units=counted.units,
            segments=counted.segments,
            cost=made.draft.copy.cost,
        )
    else:
        email = EmailCopy(
            sender=copy.sender.email_from,
            subject=message.subject or "",
            text=message.text,
            html=message.html or "",
            headers=dict(message.headers),
        )
    return StepPreview(
        step_id=item.step_id,
        variant=item.variant,
        via=list(item.via),
        condition=item.condition,
        member_gets=route.gets(item),
        channel=message.channel,
        template=made.content.name,
        template_version=made.content.version,
        purpose=message.purpose,
        locale=message.locale,
        to=contact_of(member, message.channel),
        sms=sms,
        email=email,
        policy=_policy(decision, made.recipient, now),
    )
