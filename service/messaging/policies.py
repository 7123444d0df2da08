"""Send-time restraint, as pure decisions: consent, suppression, quiet hours, caps, expiry.

The dispatcher gathers the facts (the member's consent, the suppression list, recent sends)
and asks `decide`; nothing here reads a database or a clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo


class Purpose(StrEnum):
    MARKETING = "marketing"
    TRANSACTIONAL = "transactional"


class Verdict(StrEnum):
    SEND = "send"
    DEFER = "defer"
    SUPPRESS = "suppress"
    EXPIRE = "expire"


class ConsentModel(StrEnum):
    OPT_OUT = "opt_out"  # no recorded decision means yes: the CN shop norm (回T退订)
    OPT_IN = "opt_in"  # no recorded decision means no: GDPR-style


BLOCKING_SUPPRESSIONS = frozenset({"erased", "hard_bounce"})


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    reason: str | None = None
    until: datetime | None = None


SEND = Decision(Verdict.SEND)


@dataclass(frozen=True)
class QuietHours:
    """A daily window in local time, e.g. 21:00–08:00 (it may cross midnight)."""

    start: time
    end: time

    def contains(self, moment: time) -> bool:
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end

    @classmethod
    def parse(cls, text: str) -> QuietHours | None:
        """`21:00-08:00`, or None for an empty string (no quiet hours)."""
        if not text:
            return None
        start, end = text.split("-")
        return cls(time.fromisoformat(start), time.fromisoformat(end))


@dataclass(frozen=True)
class FrequencyCap:
    per_day: int
    per_week: int


@dataclass(frozen=True)
class PolicyConfig:
    quiet_hours: QuietHours | None = QuietHours(time(21), time(8))
    cap: FrequencyCap = FrequencyCap(per_day=1, per_week=3)
    consent_model: ConsentModel = ConsentModel.OPT_OUT
    quiet_hours_for_transactional: bool = False


@dataclass(frozen=True)
class Recipient:
    """What the dispatcher knows about the contact at send time."""

    has_contact: bool
    zone: ZoneInfo
    consent: bool | None = None  # the recorded marketing consent of this channel; None: none
    suppression: str | None = None  # the suppression list's reason for this contact, if listed
    erased: bool = False


@dataclass(frozen=True)
class Candidate:
    """The message being considered."""

    purpose: Purpose
    priority: int = 0
    expires_at: datetime | None = None
    cap: FrequencyCap | None = None  # a journey's override of the global cap


@dataclass(frozen=True)
class History:
    """Recent sends to this member on this channel, as the dispatcher counted them."""

    marketing_sent_at: Sequence[datetime] = ()  # marketing sends of the last 7 days
    pending_higher_priority: int = 0  # due marketing messages that outrank this one
    same_copy_sent_today: bool = False  # this exact text already went to this contact today


def decide(
    candidate: Candidate,
    recipient: Recipient,
    history: History,
    config: PolicyConfig,
    *,
    now: datetime,
) -> Decision:
    """Send, defer until an instant, suppress or expire, with the reason."""
    blocked = _blocked(candidate, recipient, config)
    if blocked is not None:
        return blocked
    if candidate.expires_at is not None and now >= candidate.expires_at:
        return Decision(Verdict.EXPIRE, "expired")
    if history.same_copy_sent_today:
        return Decision(Verdict.SUPPRESS, "duplicate_copy")
    quiet = config.quiet_hours
    if quiet and (candidate.purpose is Purpose.MARKETING or config.quiet_hours_for_transactional):
        resume = next_send_time(now, recipient.zone, quiet)
        if resume != now:
            return _defer(resume, "quiet_hours", candidate)
    if candidate.purpose is Purpose.MARKETING:
        capped_until = cap_release(now, recipient.zone, history, candidate.cap or config.cap, quiet)
        if capped_until is not None:
            return _defer(capped_until, "frequency_cap", candidate)
    return SEND


def _blocked(candidate: Candidate, recipient: Recipient, config: PolicyConfig) -> Decision | None:
    if not recipient.has_contact:
        return Decision(Verdict.SUPPRESS, "no_contact")
    if recipient.erased:
        return Decision(Verdict.SUPPRESS, "erased")
    if recipient.suppression in BLOCKING_SUPPRESSIONS:
        return Decision(Verdict.SUPPRESS, recipient.suppression)
    if candidate.purpose is Purpose.TRANSACTIONAL:
        return None
    if recipient.suppression is not None:
        return Decision(Verdict.SUPPRESS, "suppressed")
    if recipient.consent is False:
        return Decision(Verdict.SUPPRESS, "opted_out")
    if recipient.consent is None and config.consent_model is ConsentModel.OPT_IN:
        return Decision(Verdict.SUPPRESS, "no_consent")
    return None


def _defer(until: datetime, reason: str, candidate: Candidate) -> Decision:
    """Defer, but never past the message's expiry: there it is looked at once more and expires."""
    if candidate.expires_at is not None and until > candidate.expires_at:
        until = candidate.expires_at
    return Decision(Verdict.DEFER, reason, until)


def next_send_time(due_at: datetime, zone: ZoneInfo, quiet: QuietHours) -> datetime:
    """Earliest instant at or after due_at outside the member's quiet hours."""
    local = due_at.astimezone(zone)
    if not quiet.contains(local.time()):
        return due_at
    resume = datetime.combine(local.date(), quiet.end, tzinfo=zone)
    if resume <= local:  # the window crosses midnight, e.g. 21:00-08:00
        resume = datetime.combine(local.date() + timedelta(days=1), quiet.end, tzinfo=zone)
    return resume.astimezone(UTC)


def cap_release(
    now: datetime,
    zone: ZoneInfo,
    history: History,
    cap: FrequencyCap,
    quiet: QuietHours | None,
) -> datetime | None:
    """None if a marketing message may go now; else the first instant the caps allow it."""
    week_ago = now - timedelta(days=7)
    recent = sorted(t for t in history.marketing_sent_at if week_ago < t <= now)
    today = now.astimezone(zone).date()
    sent_today = sum(1 for t in recent if t.astimezone(zone).date() == today)
    ahead = history.pending_higher_priority  # higher priorities take the free slots first
    release: datetime | None = None
    if sent_today + ahead >= cap.per_day:
        release = datetime.combine(today + timedelta(days=1), time(0), tzinfo=zone)
    if len(recent) + ahead >= cap.per_week:
        # a slot frees when enough of the oldest sends leave the rolling 7-day window
        index = len(recent) + ahead - cap.per_week
        freed = (
            recent[index] + timedelta(days=7) if index < len(recent) else now + timedelta(days=1)
        )
        release = max(release, freed) if release else freed
    if release is None:
        return None
    release = release.astimezone(UTC)
    return next_send_time(release, zone, quiet) if quiet else release


def local_day(moment: datetime, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC bounds of the member's local calendar day around `moment` (for counting sends)."""
    day = moment.astimezone(zone).date()
    start = datetime.combine(day, time(0), tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def policy_config(
    *, quiet_hours: str, per_day: int, per_week: int, consent_model: str
) -> PolicyConfig:
    """The global policy from settings values (HUITOU_QUIET_HOURS, caps, consent model)."""
    return PolicyConfig(
        quiet_hours=QuietHours.parse(quiet_hours),
        cap=FrequencyCap(per_day=per_day, per_week=per_week),
        consent_model=ConsentModel(consent_model),
    )
