"""From a claimed batch to messages ready to send, and the outcomes decided without sending.

Runs inside the claim's transaction, before any I/O: the batch's facts are loaded in a few
queries, each message is rendered in the member's locale and composed, and `policies.decide`
rules on it with what was sent before and what this batch already lets through.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from service.members.models import Channel
from service.messaging import outcomes
from service.messaging import service as template_service
from service.messaging.claims import Claimed
from service.messaging.copydata import (
    BadContext,
    CopyData,
    journey_cap,
    load_copy_data,
)
from service.messaging.drafts import CopySettings, draft, effective_purpose
from service.messaging.facts import BatchFacts, copies_sent, history_of, load_facts, recipient_of
from service.messaging.gateways import Gateways
from service.messaging.gateways.base import Gateway, OutgoingMessage
from service.messaging.outbox import MessageStatus
from service.messaging.outcomes import Copy, Outcome
from service.messaging.policies import (
    Candidate,
    Decision,
    History,
    PolicyConfig,
    Purpose,
    Recipient,
    Verdict,
    decide,
)
from service.messaging.render import Renderer, RenderError, TemplateContent

log = logging.getLogger("huitou.dispatcher")


@dataclass(frozen=True)
class Prepared:
    claimed: Claimed
    message: OutgoingMessage
    copy: Copy
    gateway: Gateway


@dataclass
class Prepping:
    """One message on its way through the batch: the facts, then the copy."""

    claimed: Claimed
    candidate: Candidate
    recipient: Recipient
    digest: str | None
    prepared: Prepared | None = None


@dataclass
class Batch:
    to_send: list[Prepared] = field(default_factory=list)
    decided: list[Outcome] = field(default_factory=list)  # stopped, deferred, failed to render


class Preparer:
    def __init__(
        self,
        *,
        gateways: Gateways,
        renderer: Renderer,
        policy: PolicyConfig,
        copy: CopySettings,
        unknown_check: timedelta,
    ) -> None:
        self.gateways, self.renderer, self.policy, self.copy = gateways, renderer, policy, copy
        self.unknown_check = unknown_check

    async def prepare(
        self, session: AsyncSession, batch: Sequence[Claimed], *, now: datetime
    ) -> Batch:
        facts = await load_facts(session, batch, now=now, salt=self.copy.contact_salt)
        data = await load_copy_data(session, batch)
        templates = await _templates(session, {c.template for c in batch})
        result = Batch()
        ready: list[Prepping] = []
        for claimed in sorted(batch, key=lambda c: (-c.priority, c.id)):
            item = self._screen(claimed, templates.get(claimed.template), facts, result, now)
            if item is not None and self._render(item, facts, data, templates, result, now):
                ready.append(item)
        fingerprints = {p.prepared.copy.copy_fingerprint for p in ready if p.prepared}
        sent = await copies_sent(session, fingerprints, since=now - timedelta(days=2))
        self._rule(ready, facts, sent, result, now)
        return result

    def _screen(
        self,
        claimed: Claimed,
        content: TemplateContent | None,
        facts: BatchFacts,
        result: Batch,
        now: datetime,
    ) -> Prepping | None:
        """Stop early what no copy could change: no contact, opted out, expired, quiet hours."""
        recipient, digest = recipient_of(
            claimed, facts, salt=self.copy.contact_salt, zone=self.copy.zone
        )
        try:
            cap = journey_cap(claimed)
        except BadContext as exc:
            result.decided.append(_failed(claimed, "bad_context", str(exc), now))
            return None
        purpose = effective_purpose(claimed, content)
        candidate = Candidate(purpose, claimed.priority, claimed.expires_at, cap)
        decision = decide(candidate, recipient, History(), self.policy, now=now)
        if decision.verdict is not Verdict.SEND:
            result.decided.append(_decided(claimed, decision, now))
            return None
        return Prepping(claimed, candidate, recipient, digest)

    def _render(
        self,
        item: Prepping,
        facts: BatchFacts,
        data: CopyData,
        templates: Mapping[str, TemplateContent | None],
        result: Batch,
        now: datetime,
    ) -> bool:
        claimed = item.claimed
        content = templates.get(claimed.template)
        problem = _template_problem(claimed, content)
        if problem is not None:
            result.decided.append(_failed(claimed, problem, None, now))
            return False
        assert content is not None
        assert item.digest is not None  # screened: the member has a contact on this channel
        member = facts.members[claimed.member_id]
        try:
            made = draft(
                claimed,
                content,
                member=member,
                tags=facts.tags.get(member.id, ()),
                data=data,
                digest=item.digest,
                settings=self.copy,
                renderer=self.renderer,
                now=now,
            )
        except (BadContext, ValueError) as exc:
            result.decided.append(_failed(claimed, "bad_context", str(exc), now))
            return False
        except RenderError as exc:
            detail = f"{'.'.join(str(p) for p in exc.loc)}: {exc.msg}"
            result.decided.append(_failed(claimed, "render_error", detail, now))
            return False
        gateway = self.gateways.for_channel(claimed.channel)
        item.prepared = Prepared(claimed, made.message, made.copy, gateway)
        return True

    def _rule(
        self,
        ready: Sequence[Prepping],
        facts: BatchFacts,
        sent: Mapping[str, list[datetime]],
        result: Batch,
        now: datetime,
    ) -> None:
        """The final decision with the full history, in priority order within the batch."""
        let_through: dict[tuple[int, Channel], list[datetime]] = defaultdict(list)
        copies: dict[str, list[datetime]] = {k: list(v) for k, v in sent.items()}
        for item in ready:
            assert item.prepared is not None
            claimed, fingerprint = item.claimed, item.prepared.copy.copy_fingerprint
            key = (claimed.member_id, claimed.channel)
            history = history_of(
                claimed,
                facts,
                sent_in_batch=let_through[key],
                copy_times=copies.get(fingerprint, ()),
                now=now,
                zone=item.recipient.zone,
            )
            decision = decide(item.candidate, item.recipient, history, self.policy, now=now)
            if decision.verdict is not Verdict.SEND:
                result.decided.append(_decided(claimed, decision, now))
                continue
            if item.candidate.purpose is Purpose.MARKETING:
                let_through[key].append(now)
            copies.setdefault(fingerprint, []).append(now)
            self._hand_over(item.prepared, result, now)

    def _hand_over(self, prepared: Prepared, result: Batch, now: datetime) -> None:
        """To the senders; but a reaped send to a gateway that does not dedupe is not repeated."""
        claimed, gateway = prepared.claimed, prepared.gateway
        if claimed.was_reaped and not gateway.honours_idempotency:
            possibly_at = claimed.last_attempt_at or now
            result.decided.append(
                outcomes.unknown(
                    claimed,
                    now=now,
                    check_at=max(now, possibly_at + self.unknown_check),
                    gateway=gateway.name,
                    error="the dispatcher stopped during the send; outcome unknown",
                    copy=prepared.copy,
                    attempted=False,
                )
            )
            return
        result.to_send.append(prepared)


async def _templates(session: AsyncSession, names: set[str]) -> dict[str, TemplateContent | None]:
    found: dict[str, TemplateContent | None] = {}
    for name in sorted(names):
        try:
            found[name] = await template_service.get_content(session, name=name)
        except template_service.TemplateNotFound:
            found[name] = None
    return found


def _template_problem(claimed: Claimed, content: TemplateContent | None) -> str | None:
    if content is None:
        return "template_not_found"
    if content.channel is not claimed.channel:
        return "template_channel_mismatch"
    return None


def _failed(claimed: Claimed, reason: str, error: str | None, now: datetime) -> Outcome:
    log.warning("message %s failed before sending: %s %s", claimed.id, reason, error or "")
    return outcomes.failed(claimed, now=now, reason=reason, error=error)


def _decided(claimed: Claimed, decision: Decision, now: datetime) -> Outcome:
    reason = decision.reason or decision.verdict.value
    if decision.verdict is Verdict.DEFER:
        assert decision.until is not None
        return outcomes.deferred(claimed, now=now, until=decision.until, reason=reason)
    status = (
        MessageStatus.EXPIRED if decision.verdict is Verdict.EXPIRE else MessageStatus.SUPPRESSED
    )
    return outcomes.stopped(claimed, now=now, status=status, reason=reason)
