"""Receipt transitions: a table of (status, receipt) -> change, and order independence."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest

from service.messaging.callbacks.transitions import (
    Bounce,
    Change,
    DeliveryReport,
    ReportOutcome,
    receipt_change,
)
from service.messaging.outbox import MessageStatus as S

AT = datetime(2026, 6, 18, 2, 0, tzinfo=UTC)
DELIVERED = DeliveryReport(ReportOutcome.DELIVERED, AT)
FAILED = DeliveryReport(ReportOutcome.FAILED, AT, reason="IS_CLOSE")
SOFT = DeliveryReport(ReportOutcome.BOUNCED, AT, bounce=Bounce.SOFT, reason="mailbox full")
HARD = DeliveryReport(ReportOutcome.BOUNCED, AT, bounce=Bounce.HARD, reason="user unknown")
TO_DELIVERED = Change(S.DELIVERED, None)
TO_FAILED = Change(S.FAILED, "failed: IS_CLOSE")
TO_SOFT = Change(S.FAILED, "soft_bounce: mailbox full")
TO_HARD = Change(S.FAILED, "hard_bounce: user unknown", suppress=True)


@pytest.mark.parametrize(("status", "reason", "report", "expected"), [
    (S.SENT, None, DELIVERED, TO_DELIVERED),
    (S.SENT, None, FAILED, TO_FAILED),
    (S.SENT, None, SOFT, TO_SOFT),
    (S.SENT, None, HARD, TO_HARD),
    (S.UNKNOWN, "timeout after sending", DELIVERED, TO_DELIVERED),  # resolves the unknown
    (S.UNKNOWN, "timeout after sending", FAILED, TO_FAILED),
    (S.UNKNOWN, None, HARD, TO_HARD),
    (S.DELIVERED, None, DELIVERED, None),  # a repeat
    (S.DELIVERED, None, FAILED, None),  # stale: the delivery stands
    (S.DELIVERED, None, SOFT, None),
    (S.DELIVERED, None, HARD, TO_HARD),  # an email that bounced after it was accepted
    (S.FAILED, "failed: IS_CLOSE", DELIVERED, TO_DELIVERED),  # the carrier retried
    (S.FAILED, "failed: IS_CLOSE", FAILED, None),
    (S.FAILED, "failed: IS_CLOSE", HARD, TO_HARD),
    (S.FAILED, "rejected by the gateway", HARD, TO_HARD),  # a send-time failure, then a bounce
    (S.FAILED, "hard_bounce: user unknown", DELIVERED, None),  # the bounce stands
    (S.FAILED, "hard_bounce: user unknown", HARD, None),  # a repeat
    (S.QUEUED, None, DELIVERED, None),
    (S.SENDING, None, DELIVERED, None),  # the dispatcher has not recorded the send yet
    (S.SENDING, None, HARD, None),
    (S.SUPPRESSED, "opted_out", DELIVERED, None),
    (S.EXPIRED, "expired", FAILED, None),
])  # fmt: skip
def test_receipt_change(
    status: S, reason: str | None, report: DeliveryReport, expected: Change | None
) -> None:
    assert receipt_change(status, reason, report) == expected


def test_reasons_are_capped_and_bare_outcomes_have_a_label() -> None:
    long = DeliveryReport(ReportOutcome.FAILED, AT, reason="x" * 600)
    change = receipt_change(S.SENT, None, long)
    assert change is not None
    assert change.reason is not None
    assert len(change.reason) == 200
    assert receipt_change(S.SENT, None, DeliveryReport(ReportOutcome.FAILED, AT)) == Change(
        S.FAILED, "failed"
    )


def _final(start: S, reports: tuple[DeliveryReport, ...]) -> tuple[S, bool, bool]:
    """Status, hard-bounced, suppressed (two soft failures keep whichever reason came first)."""
    status, reason, suppressed = start, None, False
    for report in reports:
        change = receipt_change(status, reason, report)
        if change is not None:
            status, reason = change.status, change.reason
            suppressed |= change.suppress
    return status, (reason or "").startswith("hard_bounce"), suppressed


@pytest.mark.parametrize("size", [1, 2, 3, 4])
def test_any_order_and_any_repeats_end_in_the_same_state(size: int) -> None:
    for chosen in itertools.combinations([DELIVERED, FAILED, SOFT, HARD], size):
        with_repeats = chosen + chosen
        outcomes = {_final(S.SENT, order) for order in itertools.permutations(with_repeats)}
        assert len(outcomes) == 1, chosen
