"""Every send of a rule with how it is reached, and which of them one member's walk gets (pure)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from service.journeys.conditions import evaluate
from service.journeys.engine import pick_variant
from service.journeys.paths import member_route, send_items
from service.journeys.rule import JourneyRule

NOW = datetime(2026, 6, 18, 2, tzinfo=UTC)
VIP = {"in": ["vip", {"var": "member.tags"}]}
RULE = JourneyRule.model_validate(
    {
        "key": "paths",
        "name": "Paths",
        "trigger": {"event": "order.paid"},
        "steps": [
            {"id": "hello", "send": {"template": "a/hello"}},
            {"id": "check", "branch": {"if": VIP, "then": "gift"}},
            {
                "id": "offer",
                "if": {"<": [{"var": "member.paid_orders"}, 2]},
                "split": [
                    {"name": "plain", "weight": 1, "template": "a/plain"},
                    {"name": "bold", "weight": 1, "template": "a/bold", "next": "bye"},
                    {"weight": 1, "next": "bye"},  # a control arm: no message
                ],
            },
            {"id": "gift", "send": {"template": "a/gift"}},
            {"id": "paid", "wait_for": {"event": "order.paid", "within": "P7D", "timeout": "bye"}},
            {"id": "thanks", "send": {"template": "a/thanks"}, "next": "done"},
            {"id": "bye", "send": {"template": "a/bye"}},
            {"id": "done", "exit": True},
        ],
    }
)


def test_every_send_is_listed_with_how_it_is_reached() -> None:
    items = [(i.step_id, i.variant, i.via, i.send.template) for i in send_items(RULE)]
    assert items == [
        ("hello", None, (), "a/hello"),
        ("offer", "plain", ("branch check: else",), "a/plain"),
        ("offer", "bold", ("branch check: else",), "a/bold"),
        ("gift", None, ("branch check: then",), "a/gift"),
        ("thanks", None, ("wait_for paid: event came",), "a/thanks"),
        (
            "bye",
            None,
            ("split offer: variant bold", "split offer: variant c", "wait_for paid: timeout"),
            "a/bye",
        ),
    ]


def facts(tags: list[str], paid_orders: int) -> dict[str, Any]:
    return {"member": {"tags": tags, "paid_orders": paid_orders}, "order": None}


def arm(member_id: int) -> str:
    index = pick_variant([1, 1, 1], journey_key="paths", step_id="offer", member_id=member_id)
    return ["plain", "bold", "c"][index]


def gets(member_id: int, known: dict[str, Any]) -> dict[tuple[str, str | None], bool | None]:
    route = member_route(
        RULE,
        member_id=member_id,
        facts=known,
        evaluate=lambda condition, values: evaluate(condition, values, now=NOW),
    )
    return {(i.step_id, i.variant): route.gets(i) for i in send_items(RULE)}


def test_a_vip_gets_the_gift_and_then_an_event_decides() -> None:
    assert gets(1, facts(["vip"], 1)) == {
        ("hello", None): True,
        ("offer", "plain"): False,
        ("offer", "bold"): False,
        ("gift", None): True,
        ("thanks", None): None,  # after the wait_for: the awaited order decides
        ("bye", None): None,
    }


@pytest.mark.parametrize("member_id", range(1, 13))
def test_others_get_their_own_arm_of_the_split(member_id: int) -> None:
    found = gets(member_id, facts([], 1))
    chosen = arm(member_id)
    assert found[("offer", "plain")] is (chosen == "plain")
    assert found[("offer", "bold")] is (chosen == "bold")
    # the plain arm continues with the gift step; the others jump to bye
    assert found[("gift", None)] is (chosen == "plain")
    assert found[("bye", None)] is (True if chosen != "plain" else None)
    assert found[("hello", None)] is True


def test_a_false_step_condition_skips_the_split() -> None:
    found = gets(3, facts([], 5))  # a repeat buyer: the offer's `if` is false
    assert found[("offer", "plain")] is False
    assert found[("offer", "bold")] is False
    assert found[("gift", None)] is True  # the next step after the skipped one


def test_the_route_sees_the_tags_the_walk_adds_and_removes() -> None:
    rule = JourneyRule.model_validate(
        {
            "key": "tagged",
            "name": "Tagged",
            "trigger": {"event": "order.paid"},
            "steps": [
                {"id": "mark", "tag": {"add": ["vip"], "remove": ["lapsed"]}},
                {"id": "later", "wait": {"for": "P1D"}, "if": VIP, "send": {"template": "a/vip"}},
                {
                    "id": "back",
                    "if": {"in": ["lapsed", {"var": "member.tags"}]},
                    "send": {"template": "a/back"},
                },
            ],
        }
    )
    route = member_route(
        rule,
        member_id=1,
        facts=facts(["lapsed"], 1),
        evaluate=lambda condition, values: evaluate(condition, values, now=NOW),
    )
    assert {i.step_id: route.gets(i) for i in send_items(rule)} == {"later": True, "back": False}
