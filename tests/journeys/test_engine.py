"""The pure engine: a rule, a position and the facts in; the steps it runs and where it stops."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from service.journeys.conditions import evaluate
from service.journeys.engine import (
    Outcome,
    Position,
    advance,
    holdout_bucket,
    is_control,
    on_awaited_event,
    pick_variant,
)
from service.journeys.rule import JourneyRule

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 6, 18, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai


def truthy(condition: Any, facts: Any) -> bool:
    """Conditions in these tests are booleans: the engine only asks, it never looks inside."""
    return bool(condition)


def rule(*steps: dict[str, Any]) -> JourneyRule:
    return JourneyRule.model_validate(
        {"key": "j", "name": "J", "trigger": {"event": "order.paid"}, "steps": list(steps)}
    )


def walk(r: JourneyRule, at: datetime, position: Position | None = None, **kw: Any) -> Outcome:
    return advance(
        r,
        position or Position(0, T0),
        member_id=kw.pop("member_id", 7),
        facts={},
        evaluate=kw.pop("evaluate", truthy),
        zone=SH,
        now=at,
    )


def sent(outcome: Outcome) -> list[str]:
    return [run.step_id for run in outcome.runs if run.send is not None]


THANKS = {"id": "thanks", "wait": {"for": "P1D", "at": "10:00"}, "send": {"template": "t/a"}}
CARE = {"id": "care", "wait": {"for": "P7D"}, "send": {"template": "t/b"}}


def test_waits_until_ten_the_next_day_then_sends() -> None:
    r = rule(THANKS, CARE)
    early = walk(r, T0 + timedelta(hours=24, minutes=59))
    assert early.runs == []
    assert early.next_run_at == datetime(2026, 6, 19, 2, 0, tzinfo=UTC)
    due = walk(r, early.next_run_at)
    assert sent(due) == ["thanks"]
    assert due.position == Position(1, early.next_run_at)
    assert due.next_run_at == early.next_run_at + timedelta(days=7)


def test_a_late_run_sends_one_step_and_counts_the_next_wait_from_then() -> None:
    r = rule(THANKS, CARE)
    late = walk(r, T0 + timedelta(days=30))
    assert sent(late) == ["thanks"]
    assert late.next_run_at == T0 + timedelta(days=37)


def test_steps_without_waits_run_together_to_the_end() -> None:
    r = rule(
        {"id": "a", "send": {"template": "t/a"}},
        {"id": "tag", "tag": {"add": ["vip"], "remove": ["new"]}},
        {"id": "b", "send": {"template": "t/b"}},
    )
    out = walk(r, T0)
    assert sent(out) == ["a", "b"]
    assert (out.ended, out.tags_added, out.tags_removed) == ("completed", ["vip"], ["new"])
    assert out.next_run_at is None


def test_later_conditions_of_the_walk_see_the_tags_its_tag_steps_changed() -> None:
    r = rule(
        {"id": "tag", "tag": {"add": ["vip"], "remove": ["new"]}},
        {"id": "vip", "if": {"in": ["vip", {"var": "member.tags"}]}, "send": {"template": "t/a"}},
        {"id": "new", "if": {"in": ["new", {"var": "member.tags"}]}, "send": {"template": "t/b"}},
        {"id": "check", "branch": {"if": {"in": ["old", {"var": "member.tags"}]}, "then": "end"}},
        {"id": "other", "send": {"template": "t/c"}},
        {"id": "end", "exit": {"reason": "done"}},
    )
    out = advance(
        r,
        Position(0, T0),
        member_id=7,
        facts={"member": {"tags": ["new", "old"]}},
        evaluate=lambda condition, known: evaluate(condition, known, now=T0),
        zone=SH,
        now=T0,
    )
    assert sent(out) == ["vip"]  # tagged vip, no longer new, still old: the branch exits


def test_a_false_if_skips_the_step() -> None:
    r = rule(
        {"id": "a", "if": False, "send": {"template": "t/a"}},
        {"id": "b", "send": {"template": "t/b"}},
    )
    out = walk(r, T0)
    assert [(run.step_id, run.outcome) for run in out.runs] == [("a", "skipped"), ("b", "sent")]


def test_branch_jumps_forward() -> None:
    steps = (
        {"id": "check", "branch": {"if": True, "then": "vip"}},
        {"id": "normal", "send": {"template": "t/a"}, "next": "end"},
        {"id": "vip", "send": {"template": "t/b"}},
        {"id": "end", "exit": {"reason": "done"}},
    )
    assert sent(walk(rule(*steps), T0)) == ["vip"]
    no = walk(rule({**steps[0], "branch": {"if": False, "then": "vip"}}, *steps[1:]), T0)
    assert sent(no) == ["normal"]
    assert (no.ended, no.exit_reason) == ("exited", "done")


def test_split_is_deterministic_per_member_and_follows_weights() -> None:
    r = rule(
        {
            "id": "offer",
            "split": [
                {"weight": 80, "template": "t/a"},
                {"weight": 20, "name": "b", "template": "t/b"},
            ],
        }
    )
    first = walk(r, T0, member_id=42).runs[0]
    assert walk(r, T0, member_id=42).runs[0] == first
    counts = Counter(walk(r, T0, member_id=m).runs[0].variant for m in range(5000))
    assert set(counts) == {"a", "b"}
    assert 0.77 < counts["a"] / 5000 < 0.83


def test_wait_for_event_then_timeout() -> None:
    r = rule(
        {"id": "coupon", "send": {"template": "t/a"}},
        {"id": "paid", "wait_for": {"event": "order.paid", "within": "P7D", "timeout": "nudge"}},
        {"id": "thanks", "send": {"template": "t/b"}, "next": "end"},
        {"id": "nudge", "send": {"template": "t/c"}},
        {"id": "end", "exit": {}},
    )
    waiting = walk(r, T0)
    assert sent(waiting) == ["coupon"]
    assert waiting.position == Position(1, T0, T0)
    assert waiting.next_run_at == T0 + timedelta(days=7)
    assert walk(r, T0 + timedelta(days=6), waiting.position).runs == []
    timed_out = walk(r, T0 + timedelta(days=7), waiting.position)
    assert [run.outcome for run in timed_out.runs] == ["timed_out", "sent", "exited"]
    assert sent(timed_out) == ["nudge"]
    came = on_awaited_event(r, waiting.position, now=T0 + timedelta(days=2))
    assert sent(walk(r, T0 + timedelta(days=2), came)) == ["thanks"]


def test_an_exit_step_ends_the_enrolment() -> None:
    out = walk(
        rule(
            {"id": "bye", "exit": {"reason": "not_for_you"}},
            {"id": "x", "send": {"template": "t/a"}, "if": True},
        ),
        T0,
    )
    assert (out.ended, out.exit_reason, sent(out)) == ("exited", "not_for_you", [])


@pytest.mark.parametrize("percent", [0, 10, 25, 50])
def test_holdout_is_deterministic_and_about_the_given_share(percent: float) -> None:
    control = sum(is_control(m, 3, percent) for m in range(1, 20_001))
    assert abs(control / 20_000 - percent / 100) < 0.01
    assert [is_control(m, 3, percent) for m in range(50)] == [
        is_control(m, 3, percent) for m in range(50)
    ]


def test_holdout_differs_between_journeys() -> None:
    assert [holdout_bucket(m, 1) for m in range(20)] != [holdout_bucket(m, 2) for m in range(20)]


def test_pick_variant_covers_every_arm() -> None:
    seen = {pick_variant([1, 1, 1], journey_key="j", step_id="s", member_id=m) for m in range(100)}
    assert seen == {0, 1, 2}
