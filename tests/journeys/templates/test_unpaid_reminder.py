"""催付提醒: an order still unpaid 30 minutes after it was placed gets a reminder, and a last
call 12 hours later if still unpaid; each order its own, ended by its own payment or
cancellation; a service notice (transactional) that expires within hours."""

from __future__ import annotations

from datetime import timedelta

import httpx
from fastapi import FastAPI

from service.clock import FakeClock
from tests.factories import order_payload
from tests.journeys.templates.support import at, exits, from_template, post_at, sent, tick_at


def placed(order: str, member: str, total: str, when: object) -> dict[str, object]:
    return order_payload(order, member=member, status="created", total=total, created_at=when)


async def test_each_unpaid_order_has_its_own_reminders(
    app: FastAPI, anon: httpx.AsyncClient, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    journey = await from_template(client, "unpaid_reminder")
    evening = at(2026, 6, 18, 20)
    for order, total, minutes in (("A", "199.00", 0), ("B", "59.00", 10)):
        when = evening + timedelta(minutes=minutes)
        await post_at(app, anon, clock, when, placed(order, "qian", total, when))
    await tick_at(app, clock, evening + timedelta(minutes=29))
    assert await sent(app) == []
    await tick_at(app, clock, evening + timedelta(minutes=30), evening + timedelta(minutes=40))
    nine = at(2026, 6, 18, 21)
    await post_at(app, anon, clock, nine, placed("C", "sun", "88.00", nine))
    await post_at(app, anon, clock, nine, placed("D", "zhou", "120.00", nine))
    # qian pays order A at 21:00: that ends A's reminders, and only A's
    paid_a = order_payload(
        "A", member="qian", total="199.00", created_at=evening, paid_after=timedelta(hours=1)
    )
    await post_at(app, anon, clock, nine, paid_a)
    # zhou pays within minutes: she is never reminded
    paid = order_payload("D", member="zhou", total="120.00", created_at=nine)
    await post_at(app, anon, clock, nine + timedelta(minutes=5), paid)
    await tick_at(app, clock, nine + timedelta(minutes=30))
    # sun cancels order C at 22:00
    cancelled = order_payload("C", member="sun", status="cancelled", total="88.00", created_at=nine)
    await post_at(app, anon, clock, at(2026, 6, 18, 22), cancelled)
    await tick_at(app, clock, at(2026, 6, 19, 8, 39), at(2026, 6, 19, 8, 40))
    await tick_at(app, clock, at(2026, 6, 19, 9, 30), at(2026, 6, 20, 12))
    messages = await sent(app)
    assert [(m.order, m.template, m.local) for m in messages] == [
        ("A", "unpaid/reminder", "2026-06-18 20:30"),
        ("B", "unpaid/reminder", "2026-06-18 20:40"),
        ("C", "unpaid/reminder", "2026-06-18 21:30"),
        ("B", "unpaid/last_call", "2026-06-19 08:40"),
    ]
    assert {(m.channel, m.message.purpose.value, m.status) for m in messages} == {
        ("sms", "transactional", "queued")
    }
    assert [m.message.expires_at - m.message.created_at for m in messages] == [
        timedelta(hours=6)
    ] * 4
    assert {m.message.priority for m in messages} == {journey["rule"]["priority"]} == {80}
    page = (await client.get(f"/v1/journeys/{journey['key']}/enrolments")).json()
    by_order = {item["entry_key"]: (item["state"], item["exit_reason"]) for item in page["items"]}
    order_of = {m.message.context["order_id"]: m.order for m in messages}
    assert {order_of[int(k.split(":")[1])]: v for k, v in by_order.items()} == {
        "A": ("exited", "exit_when:order.paid"),
        "B": ("completed", None),
        "C": ("exited", "exit_when:order.cancelled"),
    }


async def test_no_last_call_and_a_minimum_total(
    app: FastAPI, anon: httpx.AsyncClient, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    await from_template(
        client, "unpaid_reminder", after="PT1H", last_call=False, min_order_total=100
    )
    noon = at(2026, 6, 18, 12)
    await post_at(app, anon, clock, noon, placed("big", "wu", "299.00", noon))
    await post_at(app, anon, clock, noon, placed("small", "wu", "19.90", noon))
    await tick_at(app, clock, noon + timedelta(minutes=59), noon + timedelta(hours=1))
    await tick_at(app, clock, noon + timedelta(hours=13), noon + timedelta(days=2))
    assert [(m.order, m.template, m.local) for m in await sent(app)] == [
        ("big", "unpaid/reminder", "2026-06-18 13:00")
    ]
    assert await exits(app) == {"wu": ("completed", None)}
