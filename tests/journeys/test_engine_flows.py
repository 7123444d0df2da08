"""Journeys end to end on the fake clock: orders come in by webhook, the engine's jobs run,
and the outbox shows which messages were queued when."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from service.clock import FakeClock
from service.journeys.schemas import EXAMPLE_RULE
from service.members.models import Member
from service.messaging.outbox import MessageStatus
from service.orders.models import Order
from tests.factories import order_payload
from tests.journeys.helpers import create_active, enrolments, outbox, post_order, tick


def nurture(**changes: Any) -> dict[str, Any]:
    rule = copy.deepcopy(EXAMPLE_RULE)
    rule.update({"holdout_percent": 0, **changes})
    return rule


async def templates_queued(app: FastAPI) -> list[tuple[str, str]]:
    return [(m.template, m.status.value) for m in await outbox(app)]


async def test_new_customer_nurture_on_the_clock(
    app: FastAPI, anon: httpx.AsyncClient, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    await create_active(client, nurture())
    # 09:00 in Shanghai: a first paid order of ¥99
    await post_order(anon, clock, order_payload("o-1", total="99.00", created_at=clock.now()), "w1")
    await tick(app)
    [enrolment] = await enrolments(app)
    assert enrolment.entry_key == "member"
    clock.advance(hours=24, minutes=59)  # 09:59 the next day: not yet
    await tick(app)
    assert await outbox(app) == []
    clock.advance(minutes=1)
    await tick(app)
    [thanks] = await outbox(app)
    assert (thanks.template, thanks.channel.value, thanks.status) == (
        "new_customer/thanks",
        "sms",
        MessageStatus.QUEUED,
    )
    assert thanks.idempotency_key == f"enrolment:{enrolment.id}:thanks"
    assert thanks.context["journey_key"] == EXAMPLE_RULE["key"]
    clock.advance(days=7)
    await tick(app)
    clock.advance(days=13)
    await tick(app)
    templates = [m.template for m in await outbox(app)]
    assert templates[:2] == ["new_customer/thanks", "new_customer/care"]
    assert templates[2] in {"new_customer/coupon_a", "new_customer/coupon_b"}
    [done] = await enrolments(app)
    assert done.state.value == "completed"
    await tick(app)  # nothing runs twice
    assert len(await outbox(app)) == 3


async def test_a_repurchase_exits_and_counts_as_the_goal(
    app: FastAPI, anon: httpx.AsyncClient, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    await create_active(client, nurture())
    await post_order(anon, clock, order_payload("o-1", created_at=clock.now()), "w1")
    await tick(app)
    clock.advance(days=2)
    await tick(app)  # the thank-you goes out
    clock.advance(days=1)
    await post_order(anon, clock, order_payload("o-2", created_at=clock.now()), "w2")
    await tick(app)
    [enrolment] = await enrolments(app)
    assert (enrolment.state.value, enrolment.exit_reason) == ("exited", "exit_when:order.paid")
    assert enrolment.goal_reached_at is not None
    clock.advance(days=30)
    await tick(app)
    assert [m.template for m in await outbox(app)] == ["new_customer/thanks"]


async def test_audience_and_trigger_condition_decide_who_enters(
    app: FastAPI, anon: httpx.AsyncClient, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    await create_active(client, nurture())
    now = clock.now()
    await post_order(
        anon, clock, order_payload("a", member="small", total="50.00", created_at=now), "1"
    )
    await post_order(
        anon, clock, order_payload("b", member="big", total="120.00", created_at=now), "2"
    )
    await tick(app)
    async with app.state.sessions() as session:
        ids = dict((await session.execute(select(Member.external_id, Member.id))).all())
    assert [e.member_id for e in await enrolments(app)] == [ids["big"]]


async def test_holdout_members_are_enrolled_and_never_messaged(
    app: FastAPI, anon: httpx.AsyncClient, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    await create_active(client, nurture(holdout_percent=50, steps=[EXAMPLE_RULE["steps"][0]]))
    for n in range(40):
        payload = order_payload(f"o-{n}", member=f"m-{n}", created_at=clock.now())
        await post_order(anon, clock, payload, f"w{n}")
    await tick(app)
    clock.advance(days=2)
    await tick(app)
    rows = await enrolments(app)
    control = {e.id for e in rows if e.is_control}
    assert 10 <= len(control) <= 30
    messages = await outbox(app)
    assert len(messages) == 40
    for message in messages:
        held = message.enrolment_id in control
        assert message.status == (MessageStatus.SUPPRESSED if held else MessageStatus.QUEUED)
        assert (message.status_reason == "holdout") == held


async def test_pause_keeps_each_place_and_resume_continues(
    app: FastAPI, anon: httpx.AsyncClient, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    key = EXAMPLE_RULE["key"]
    await create_active(client, nurture())
    await post_order(anon, clock, order_payload("o-1", created_at=clock.now()), "w1")
    await tick(app)
    await client.post(f"/v1/journeys/{key}/pause")
    clock.advance(days=3)
    await tick(app)
    assert await outbox(app) == []
    await client.post(f"/v1/journeys/{key}/activate")
    await tick(app)
    assert [m.template for m in await outbox(app)] == ["new_customer/thanks"]
    clock.advance(days=6, hours=23)
    await tick(app)
    assert len(await outbox(app)) == 1  # care waits 7 days from when thanks actually ran
    clock.advance(hours=1)
    await tick(app)
    assert len(await outbox(app)) == 2


async def test_archive_ends_enrolments_and_withdraws_queued_messages(
    app: FastAPI, anon: httpx.AsyncClient, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    await create_active(client, nurture())
    await post_order(anon, clock, order_payload("o-1", created_at=clock.now()), "w1")
    await tick(app)
    clock.advance(days=2)
    await tick(app)
    await client.post(f"/v1/journeys/{EXAMPLE_RULE['key']}/archive")
    [message] = await outbox(app)
    assert (message.status, message.status_reason) == (MessageStatus.SUPPRESSED, "journey_archived")
    [enrolment] = await enrolments(app)
    assert enrolment.exit_reason == "journey_archived"


UNPAID = {
    "key": "unpaid",
    "name": "催付 Unpaid-order reminder",
    "trigger": {"type": "unpaid_order", "after": "PT30M"},
    "entry": {"policy": "once_per_key"},
    "steps": [
        {"id": "remind", "send": {"template": "unpaid/reminder"}},
        {"id": "last", "wait": {"for": "PT12H"}, "send": {"template": "unpaid/last_call"}},
    ],
    "exit_when": [
        {"event": "order.paid", "same_order": True},
        {"event": "order.cancelled", "same_order": True},
    ],
}


async def test_each_unpaid_order_gets_its_reminder_and_its_payment_cancels_exactly_it(
    app: FastAPI, anon: httpx.AsyncClient, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    await create_active(client, UNPAID)
    t0 = clock.now()
    for order_id in ("A", "B"):
        payload = order_payload(order_id, status="created", created_at=t0)
        await post_order(anon, clock, payload, f"c-{order_id}")
    clock.advance(minutes=29)
    await tick(app)
    assert await enrolments(app) == []
    clock.advance(minutes=1)
    await tick(app)
    assert [m.template for m in await outbox(app)] == ["unpaid/reminder", "unpaid/reminder"]
    paid = order_payload("A", status="paid", created_at=t0)
    await post_order(anon, clock, paid, "p-A")
    await tick(app)
    clock.advance(hours=12)
    await tick(app)
    messages = await outbox(app)
    assert [m.template for m in messages] == ["unpaid/reminder"] * 2 + ["unpaid/last_call"]
    by_key = {e.entry_key: e for e in await enrolments(app)}
    assert set(by_key) == {
        f"order:{messages[0].context['order_id']}",
        f"order:{messages[1].context['order_id']}",
    }
    states = sorted((e.state.value, e.exit_reason) for e in by_key.values())
    assert states == [("completed", None), ("exited", "exit_when:order.paid")]
    await tick(app)
    assert len(await outbox(app)) == 3


REPLENISH = {
    "key": "replenish",
    "name": "补货提醒 Replenishment",
    "trigger": {"type": "replenishment", "before": "P3D", "basis": "delivered"},
    "steps": [
        {"id": "remind", "wait": {"at": "10:00"}, "send": {"template": "replenish/reminder"}}
    ],
    "exit_when": [{"event": "order.paid"}],
}


async def test_replenishment_fires_before_the_product_runs_out_unless_bought_again(
    app: FastAPI, anon: httpx.AsyncClient, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    await client.put("/v1/products/MASK-30", json={"title": "面膜 30 片", "replenish_days": 30})
    await create_active(client, REPLENISH)
    t0 = clock.now()
    items = [{"sku": "MASK-30", "quantity": 2, "price": "50.00"}]
    for member in ("keeps", "rebuys"):
        payload = order_payload(
            f"{member}-1", member=member, status="delivered", created_at=t0, items=items
        )
        await post_order(anon, clock, payload, f"d-{member}")
    clock.advance(days=20)
    again = order_payload("rebuys-2", member="rebuys", created_at=clock.now(), items=items[:1])
    await post_order(anon, clock, again, "again")
    await tick(app)
    clock.set(t0 + timedelta(days=57) - timedelta(minutes=1))  # 2 × 30 days − 3 days
    await tick(app)
    assert await enrolments(app) == []
    clock.set(t0 + timedelta(days=57))
    await tick(app)
    [enrolment] = await enrolments(app)
    assert enrolment.entry_key.startswith("item:")
    clock.set(datetime(2026, 8, 14, 2, 0, tzinfo=UTC))  # 10:00 in Shanghai that day
    await tick(app)
    [message] = await outbox(app)
    assert message.template == "replenish/reminder"
    assert message.context["item_id"] == enrolment.item_id


BIRTHDAY = {
    "key": "birthday",
    "name": "生日关怀 Birthday care",
    "trigger": {"type": "calendar", "occasion": {"kind": "birthday"}, "at": "10:00"},
    "entry": {"policy": "once_per_key"},
    "steps": [{"id": "greet", "send": {"template": "birthday/greeting"}}],
}


async def test_birthday_greeting_at_ten_in_the_members_time_zone(
    app: FastAPI, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    await client.put("/v1/members/sh", json={"birthday": "1990-06-19"})
    await client.put(
        "/v1/members/ny", json={"birthday": "1990-06-19", "timezone": "America/New_York"}
    )
    await client.put("/v1/members/other", json={"birthday": "1990-07-01"})
    await create_active(client, BIRTHDAY)
    clock.set(datetime(2026, 6, 19, 2, 0, tzinfo=UTC))  # 10:00 in Shanghai
    await tick(app)
    assert [(e.occasion_id, e.entry_key) for e in await enrolments(app)] == [
        ("birthday:2026", "occasion:birthday:2026")
    ]
    clock.set(datetime(2026, 6, 19, 14, 0, tzinfo=UTC))  # 10:00 in New York
    await tick(app)
    await tick(app)
    messages = await outbox(app)
    assert [m.template for m in messages] == ["birthday/greeting"] * 2
    assert messages[0].context["occasion_date"] == "2026-06-19"
    # the greeting expires at the end of the member's birthday
    assert messages[0].expires_at == datetime(2026, 6, 19, 16, 0, tzinfo=UTC)


async def test_inactivity_enrols_once_per_lapse(
    app: FastAPI, anon: httpx.AsyncClient, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    t0 = clock.now()
    await post_order(
        anon, clock, order_payload("old", member="sleepy", created_at=t0 - timedelta(days=89)), "1"
    )
    await post_order(
        anon, clock, order_payload("new", member="busy", created_at=t0 - timedelta(days=5)), "2"
    )
    rule = {
        "key": "winback",
        "name": "唤醒 Win-back",
        "trigger": {"type": "inactivity", "days": 90},
        "steps": [{"id": "gentle", "send": {"template": "winback/gentle"}}],
        "exit_when": {"event": "order.paid"},
    }
    await create_active(client, rule)
    clock.advance(days=1, minutes=5)
    await tick(app)
    [enrolment] = await enrolments(app)
    assert enrolment.entry_key.startswith("lapse:")
    clock.advance(days=1)
    await tick(app)
    assert len(await enrolments(app)) == 1


async def test_wait_for_an_event_branches_on_which_came_first(
    app: FastAPI, anon: httpx.AsyncClient, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    rule = {
        "key": "coupon-follow-up",
        "name": "Coupon follow-up",
        "trigger": {"event": "order.paid"},
        "entry": {"policy": "every_time"},
        "steps": [
            {"id": "coupon", "send": {"template": "new_customer/coupon_a"}},
            {
                "id": "used",
                "wait_for": {"event": "order.paid", "within": "P7D", "timeout": "nudge"},
            },
            {"id": "thanks", "send": {"template": "new_customer/thanks"}, "next": "done"},
            {"id": "nudge", "send": {"template": "winback/gentle"}},
            {"id": "done", "exit": {"reason": "done"}},
        ],
    }
    await create_active(client, rule)
    await post_order(anon, clock, order_payload("a", member="buyer", created_at=clock.now()), "1")
    await post_order(anon, clock, order_payload("b", member="idle", created_at=clock.now()), "2")
    await tick(app)
    clock.advance(days=2)
    await post_order(anon, clock, order_payload("c", member="buyer", created_at=clock.now()), "3")
    await tick(app)
    clock.advance(days=6)
    await tick(app)
    sent = [(m.member_id, m.template) for m in await outbox(app) if m.step_id != "coupon"]
    templates = sorted(t for _, t in sent)
    assert templates == ["new_customer/thanks", "winback/gentle"]


async def test_enrolments_api_shows_where_each_member_stands(
    app: FastAPI, anon: httpx.AsyncClient, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    await create_active(client, nurture())
    await post_order(anon, clock, order_payload("o-1", created_at=clock.now()), "w1")
    await tick(app)
    clock.advance(days=2)
    await tick(app)
    page = (await client.get(f"/v1/journeys/{EXAMPLE_RULE['key']}/enrolments")).json()
    [item] = page["items"]
    assert (item["member_external_id"], item["state"], item["step_id"]) == ("m-1", "active", "care")
    assert [s["outcome"] for s in item["steps"]] == ["sent"]
    assert page["next_cursor"] is None


async def test_no_one_enters_a_paused_journey(
    app: FastAPI, anon: httpx.AsyncClient, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    await create_active(client, UNPAID)
    await client.post("/v1/journeys/unpaid/pause")
    payload = order_payload("while-paused", status="created", created_at=clock.now())
    await post_order(anon, clock, payload, "c-1")
    clock.advance(hours=1)
    await tick(app)
    await client.post("/v1/journeys/unpaid/activate")
    later = order_payload("after", status="created", created_at=clock.now())
    await post_order(anon, clock, later, "c-2")
    clock.advance(hours=1)
    await tick(app)
    [enrolment] = await enrolments(app)
    [message] = await outbox(app)
    assert enrolment.order_id == message.context["order_id"]
    assert enrolment.entry_key == f"order:{enrolment.order_id}"
    async with app.state.sessions() as session:
        external = await session.scalar(
            select(Order.external_id).where(Order.id == enrolment.order_id)
        )
    assert external == "after"
