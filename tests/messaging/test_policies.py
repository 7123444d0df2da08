"""Send-time policies as a table: each row is one situation and the decision it must get."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from service.messaging.policies import (
    Candidate,
    ConsentModel,
    Decision,
    FrequencyCap,
    History,
    PolicyConfig,
    Purpose,
    QuietHours,
    Recipient,
    Verdict,
    cap_release,
    decide,
    local_day,
    next_send_time,
)

SH = ZoneInfo("Asia/Shanghai")
NY = ZoneInfo("America/New_York")
NIGHT = QuietHours(start=time(21), end=time(8))
M, T = Purpose.MARKETING, Purpose.TRANSACTIONAL


def sh(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=SH)


NOON = sh(10, 12)
OK = Recipient(has_contact=True, zone=SH)
CONFIG = PolicyConfig()
OPT_IN = PolicyConfig(consent_model=ConsentModel.OPT_IN)

CASES: list[tuple[str, Candidate, Recipient, History, PolicyConfig, datetime, Decision]] = [
    ("plain send", Candidate(M), OK, History(), CONFIG, NOON, Decision(Verdict.SEND)),
    ("no contact", Candidate(T), Recipient(False, SH), History(), CONFIG, NOON,
     Decision(Verdict.SUPPRESS, "no_contact")),
    ("erased, even transactional", Candidate(T), Recipient(True, SH, erased=True), History(),
     CONFIG, NOON, Decision(Verdict.SUPPRESS, "erased")),
    ("hard bounce, even transactional", Candidate(T),
     Recipient(True, SH, suppression="hard_bounce"), History(), CONFIG, NOON,
     Decision(Verdict.SUPPRESS, "hard_bounce")),
    ("opted out: marketing stops", Candidate(M), Recipient(True, SH, consent=False), History(),
     CONFIG, NOON, Decision(Verdict.SUPPRESS, "opted_out")),
    ("opted out: transactional goes", Candidate(T), Recipient(True, SH, consent=False), History(),
     CONFIG, NOON, Decision(Verdict.SEND)),
    ("on the suppression list for an opt-out", Candidate(M),
     Recipient(True, SH, suppression="unsubscribed"), History(), CONFIG, NOON,
     Decision(Verdict.SUPPRESS, "suppressed")),
    ("no record, opt-out model (CN norm)", Candidate(M), OK, History(), CONFIG, NOON,
     Decision(Verdict.SEND)),
    ("no record, opt-in model", Candidate(M), OK, History(), OPT_IN, NOON,
     Decision(Verdict.SUPPRESS, "no_consent")),
    ("granted, opt-in model", Candidate(M), Recipient(True, SH, consent=True), History(), OPT_IN,
     NOON, Decision(Verdict.SEND)),
    ("expired", Candidate(M, expires_at=sh(10, 11)), OK, History(), CONFIG, NOON,
     Decision(Verdict.EXPIRE, "expired")),
    ("expires exactly now", Candidate(T, expires_at=NOON), OK, History(), CONFIG, NOON,
     Decision(Verdict.EXPIRE, "expired")),
    ("same copy twice today", Candidate(T), OK, History(same_copy_sent_today=True), CONFIG, NOON,
     Decision(Verdict.SUPPRESS, "duplicate_copy")),
    ("late evening waits for 08:00", Candidate(M), OK, History(), CONFIG, sh(10, 22),
     Decision(Verdict.DEFER, "quiet_hours", sh(11, 8))),
    ("small hours wait for 08:00 same day", Candidate(M), OK, History(), CONFIG, sh(10, 2),
     Decision(Verdict.DEFER, "quiet_hours", sh(10, 8))),
    ("20:59 is fine", Candidate(M), OK, History(), CONFIG, sh(10, 20, 59), Decision(Verdict.SEND)),
    ("08:00 is fine", Candidate(M), OK, History(), CONFIG, sh(10, 8), Decision(Verdict.SEND)),
    ("quiet hours in the member's zone, not the shop's", Candidate(M), Recipient(True, NY),
     History(), CONFIG, datetime(2026, 3, 10, 12, tzinfo=NY), Decision(Verdict.SEND)),
    ("transactional ignores quiet hours", Candidate(T), OK, History(), CONFIG, sh(10, 23),
     Decision(Verdict.SEND)),
    ("transactional quiet hours when configured", Candidate(T), OK, History(),
     PolicyConfig(quiet_hours_for_transactional=True), sh(10, 23),
     Decision(Verdict.DEFER, "quiet_hours", sh(11, 8))),
    ("no quiet hours configured", Candidate(M), OK, History(), PolicyConfig(quiet_hours=None),
     sh(10, 23), Decision(Verdict.SEND)),
    ("quiet-hours deferral stops at expiry", Candidate(M, expires_at=sh(10, 23, 59)), OK,
     History(), CONFIG, sh(10, 22), Decision(Verdict.DEFER, "quiet_hours", sh(10, 23, 59))),
    ("daily cap reached: tomorrow 08:00", Candidate(M), OK, History(marketing_sent_at=[sh(10, 9)]),
     CONFIG, NOON, Decision(Verdict.DEFER, "frequency_cap", sh(11, 8))),
    ("yesterday's send does not count today", Candidate(M), OK,
     History(marketing_sent_at=[sh(9, 20)]), CONFIG, NOON, Decision(Verdict.SEND)),
    ("weekly cap: waits until the oldest send leaves the 7-day window", Candidate(M), OK,
     History(marketing_sent_at=[sh(4, 13), sh(6, 10), sh(8, 10)]), CONFIG, NOON,
     Decision(Verdict.DEFER, "frequency_cap", sh(11, 13))),
    ("weekly cap release in quiet hours moves to 08:00", Candidate(M), OK,
     History(marketing_sent_at=[sh(4, 22), sh(6, 10), sh(8, 10)]), CONFIG, NOON,
     Decision(Verdict.DEFER, "frequency_cap", sh(12, 8))),
    ("a higher-priority message takes today's slot", Candidate(M, priority=1), OK,
     History(pending_higher_priority=1), CONFIG, NOON,
     Decision(Verdict.DEFER, "frequency_cap", sh(11, 8))),
    ("journey override allows two a day", Candidate(M, cap=FrequencyCap(2, 5)), OK,
     History(marketing_sent_at=[sh(10, 9)]), CONFIG, NOON, Decision(Verdict.SEND)),
    ("cap deferral stops at expiry, then expires", Candidate(M, expires_at=sh(10, 18)), OK,
     History(marketing_sent_at=[sh(10, 9)]), CONFIG, NOON,
     Decision(Verdict.DEFER, "frequency_cap", sh(10, 18))),
    ("transactional is exempt from caps", Candidate(T), OK,
     History(marketing_sent_at=[sh(10, 9), sh(10, 10), sh(10, 11)]), CONFIG, NOON,
     Decision(Verdict.SEND)),
]  # fmt: skip


@pytest.mark.parametrize(
    ("candidate", "recipient", "history", "config", "now", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_decide(
    candidate: Candidate,
    recipient: Recipient,
    history: History,
    config: PolicyConfig,
    now: datetime,
    expected: Decision,
) -> None:
    decision = decide(candidate, recipient, history, config, now=now)
    assert decision == expected
    if decision.until is not None:
        assert decision.until.tzinfo is not None
        assert decision.until > now


@pytest.mark.parametrize(
    ("due", "expected"),
    [
        (sh(1, 20, 59), sh(1, 20, 59)),
        (sh(1, 23), sh(2, 8)),
        (sh(2, 2), sh(2, 8)),
        (sh(2, 8), sh(2, 8)),
        (sh(2, 21), sh(3, 8)),
    ],
)
def test_next_send_time_skips_quiet_hours(due: datetime, expected: datetime) -> None:
    assert next_send_time(due, SH, NIGHT) == expected


@pytest.mark.parametrize(
    ("window", "moment", "inside"),
    [("21:00-08:00", time(23), True), ("21:00-08:00", time(12), False),
     ("12:00-14:00", time(13), True), ("12:00-14:00", time(14), False), ("", time(3), False)],
)  # fmt: skip
def test_quiet_hours_parse_and_contain(window: str, moment: time, inside: bool) -> None:
    quiet = QuietHours.parse(window)
    assert (quiet is not None and quiet.contains(moment)) is inside


def test_cap_release_is_none_under_the_cap() -> None:
    assert cap_release(NOON, SH, History(), FrequencyCap(1, 3), NIGHT) is None


def test_local_day_bounds_follow_the_member_zone() -> None:
    start, end = local_day(sh(10, 1), SH)
    assert start == datetime(2026, 3, 9, 16, tzinfo=UTC)
    assert end - start == timedelta(days=1)
