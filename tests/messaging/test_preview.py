"""POST /v1/journeys/{key}/preview: every send of a journey, as one member would get it now."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
from fastapi import FastAPI

from service.clock import FakeClock
from service.keys.models import Scope
from tests.factories import order_payload
from tests.journeys.helpers import app_dispatcher, outbox, post_order, tick
from tests.journeys.templates.support import at

PREVIEW = "/v1/journeys/new-customer-nurture/preview"


def with_branch(rule: dict[str, Any]) -> dict[str, Any]:
    """The nurture journey with a branch: VIPs get a gift instead of the A/B offer."""
    thanks, care, offer = rule["steps"]
    check = {
        "id": "check",
        "branch": {"if": {"in": ["vip", {"var": "member.tags"}]}, "then": "vip-gift"},
    }
    gift = {"id": "vip-gift", "send": {"template": "winback/offer", "coupon_code": "VIP50"}}
    # the branch's else is the next step (the offer), which then jumps past the gift
    return {
        **rule,
        "steps": [thanks, care, check, {**offer, "next": "end"}, gift, {"id": "end", "exit": True}],
    }


async def nurture_with_branch(client: httpx.AsyncClient) -> None:
    body = {"template": "new_customer_nurture", "params": {"coupon_code": "SECOND10"}}
    created = await client.post("/v1/journeys/from-template", json=body)
    assert created.status_code == 201, created.text
    edited = await client.put(
        "/v1/journeys/new-customer-nurture", json=with_branch(created.json()["rule"])
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["version"] == 2
    assert edited.json()["status"] == "draft"


async def members(
    anon: httpx.AsyncClient, client: httpx.AsyncClient, clock: FakeClock, *, orders: bool = True
) -> None:
    zh = {"name": "王小明", "phone": "13812345678", "email": "xm@example.com", "locale": "zh-CN"}
    en = {
        "name": "Alex",
        "phone": "+14155550123",
        "email": "alex@example.com",
        "locale": "en",
        "timezone": "Asia/Shanghai",
        "tags": ["vip"],
    }
    for external_id, profile in (("m-zh", zh), ("m-en", en)):
        saved = await client.put(f"/v1/members/{external_id}", json=profile)
        assert saved.status_code in (200, 201), saved.text
        if orders:
            payload = order_payload(f"o-{external_id}", member=external_id, created_at=clock.now())
            await post_order(anon, clock, payload, f"w-{external_id}")


def by_step(body: dict[str, Any]) -> dict[tuple[str, str | None], dict[str, Any]]:
    return {(s["step_id"], s["variant"]): s for s in body["steps"]}


async def test_every_send_of_a_branching_journey_with_decorations_in_zh_and_en(
    anon: httpx.AsyncClient, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    await members(anon, client, clock)
    await nurture_with_branch(client)

    zh = await client.post(PREVIEW, json={"member": "m-zh"})
    assert zh.status_code == 200, zh.text
    body = zh.json()
    assert (body["journey"], body["version"], body["status"]) == (
        "new-customer-nurture",
        2,
        "draft",
    )
    assert body["order_id"] == "o-m-zh"  # the trigger comes with an order: the latest one
    steps = by_step(body)
    assert list(steps) == [
        ("thanks", None),
        ("care", None),
        ("offer", "a"),
        ("offer", "b"),
        ("vip-gift", None),
    ]
    assert steps[("offer", "a")]["via"] == ["branch check: else"]
    assert steps[("vip-gift", None)]["via"] == ["branch check: then"]
    assert steps[("offer", "a")]["condition"] == {"<": [{"var": "member.paid_orders"}, 2]}

    thanks = steps[("thanks", None)]
    assert (thanks["channel"], thanks["locale"], thanks["to"]) == ("sms", "zh-CN", "+8613812345678")
    sms = thanks["sms"]
    assert sms["text"].startswith("【Huitou】王小明，感谢您第一次光临Huitou")
    assert sms["text"].endswith("回T退订")
    assert sms["encoding"] == "UCS-2"
    assert sms["units"] == len(sms["text"])
    assert sms["segments"] == (1 if sms["units"] <= 70 else -(-sms["units"] // 67))
    assert Decimal(sms["cost"]) == Decimal("0.045") * sms["segments"]
    coupon = steps[("offer", "a")]["sms"]["text"]
    assert "SECOND10" in coupon
    assert coupon.endswith("回T退订")

    care = steps[("care", None)]
    email = care["email"]
    assert care["channel"] == "email"
    assert care["sms"] is None
    assert email["subject"] == "王小明，宝贝用得还顺手吗？"
    assert "o-m-zh" in email["text"]  # the order fills the copy
    link = email["headers"]["List-Unsubscribe"].strip("<>")
    assert link.startswith("http://127.0.0.1:8000/u/")
    assert email["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "退订此类邮件" in email["html"]
    assert link in email["text"]

    # what this member would get: the thanks, the care email, one offer arm, not the VIP gift
    gets = {key: step["member_gets"] for key, step in steps.items()}
    assert gets[("thanks", None)]
    assert gets[("care", None)]
    assert not gets[("vip-gift", None)]
    assert sorted([gets[("offer", "a")], gets[("offer", "b")]]) == [False, True]
    assert {s["policy"]["verdict"] for s in body["steps"]} == {"send"}

    en = await client.post(PREVIEW, json={"member": "m-en"})
    assert en.status_code == 200, en.text
    steps = by_step(en.json())
    thanks = steps[("thanks", None)]
    assert thanks["locale"] == "en"
    assert thanks["sms"]["text"].startswith("【Huitou】Hi Alex, thank you for your first order")
    assert thanks["sms"]["text"].endswith(" Reply STOP to opt out")
    assert thanks["sms"]["encoding"] == "UCS-2"  # 【】 are not GSM-7
    care = steps[("care", None)]["email"]
    assert care["subject"] == "Alex, how are you getting on?"
    assert "Unsubscribe" in care["html"]
    assert "List-Unsubscribe" in care["headers"]
    gets = {key: step["member_gets"] for key, step in steps.items()}
    assert gets[("vip-gift", None)] is True
    assert gets[("offer", "a")] is False
    assert gets[("offer", "b")] is False
    gift = steps[("vip-gift", None)]["sms"]["text"]
    assert "VIP50" in gift

    # the same member previewed in another locale
    other = await client.post(PREVIEW, json={"member": "m-zh", "locale": "en"})
    assert by_step(other.json())[("thanks", None)]["sms"]["text"].startswith("【Huitou】Hi 王小明")


async def test_the_preview_is_what_the_dispatcher_sends(
    app: FastAPI, anon: httpx.AsyncClient, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    await members(anon, client, clock, orders=False)
    await nurture_with_branch(client)
    assert (await client.post("/v1/journeys/new-customer-nurture/activate")).status_code == 200
    clock.advance(minutes=1)
    order = order_payload("o-1", member="m-zh", created_at=clock.now())
    await post_order(anon, clock, order, "w-first")
    await tick(app)
    clock.set(at(2026, 6, 19, 10))  # the thank-you's moment
    preview = await client.post(PREVIEW, json={"member": "m-zh"})
    expected = by_step(preview.json())[("thanks", None)]["sms"]["text"]
    await tick(app)
    dispatcher = app_dispatcher(app)
    assert (await dispatcher.run()).get("sent") == 1
    [message] = [m for m in await outbox(app) if m.template == "new_customer/thanks"]
    assert message.body == expected


async def test_policies_are_reported_not_raised(
    anon: httpx.AsyncClient, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    await members(anon, client, clock)
    await nurture_with_branch(client)
    consent = await client.put("/v1/members/m-zh/consent/sms", json={"granted": False})
    assert consent.status_code == 200, consent.text
    await client.put("/v1/members/m-en", json={"email": None})

    response = await client.post(PREVIEW, json={"member": "m-zh"})
    assert response.status_code == 200, response.text
    steps = by_step(response.json())
    thanks = steps[("thanks", None)]["policy"]
    assert (thanks["verdict"], thanks["reason"], thanks["send_at"]) == (
        "suppress",
        "opted_out",
        None,
    )
    assert "opted out" in thanks["explanation"]
    assert steps[("care", None)]["policy"]["verdict"] == "send"  # email consent stands

    care = by_step((await client.post(PREVIEW, json={"member": "m-en"})).json())[("care", None)]
    assert (care["to"], care["policy"]["reason"]) == (None, "no_contact")

    clock.set(at(2026, 6, 18, 22, 30))  # quiet hours in Shanghai
    late = by_step((await client.post(PREVIEW, json={"member": "m-en"})).json())
    policy = late[("thanks", None)]["policy"]
    assert (policy["verdict"], policy["reason"]) == ("defer", "quiet_hours")
    assert policy["send_at"] == "2026-06-19T08:00:00+08:00"
    assert "2026-06-19 08:00" in policy["explanation"]


async def test_unknown_journey_member_or_order_is_a_404(
    anon: httpx.AsyncClient, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    await members(anon, client, clock)
    await nurture_with_branch(client)
    cases = [
        ("/v1/journeys/nope/preview", {"member": "m-zh"}, "journey_not_found", ["path", "key"]),
        (PREVIEW, {"member": "ghost"}, "member_not_found", ["body", "member"]),
        (PREVIEW, {"member": "m-zh", "version": 9}, "journey_not_found", ["body", "version"]),
        (
            PREVIEW,
            {"member": "m-zh", "order_id": "o-m-en"},
            "order_not_found",
            ["body", "order_id"],
        ),
        (PREVIEW, {"member": "m-zh", "sku": "NOPE"}, "product_not_found", ["body", "sku"]),
    ]
    for url, body, error, loc in cases:
        response = await client.post(url, json=body)
        assert response.status_code == 404, (body, response.text)
        assert response.json()["error"] == error
        assert response.json()["detail"][0]["loc"] == loc
        assert response.json()["detail"][0]["msg"]
    bad = await client.post(PREVIEW, json={"member": "m-zh", "version": "latest"})
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["body", "version"]


async def test_copy_that_fails_on_the_member_is_a_422_naming_step_and_line(
    client: httpx.AsyncClient, clock: FakeClock
) -> None:
    template = {
        "channel": "sms",
        "locales": {"zh-CN": {"sms": "您好\n{{ order.items[0].title }}到了"}},
    }
    saved = await client.put("/v1/message-templates/custom/needs_order", json=template)
    assert saved.status_code == 201, saved.text  # the sample member has an order
    rule = {
        "key": "welcome",
        "name": "Welcome",
        "trigger": {"event": "member.created"},
        "steps": [
            {"id": "hello", "send": {"template": "new_customer/thanks"}},
            {"id": "item", "wait": {"for": "P1D"}, "send": {"template": "custom/needs_order"}},
        ],
    }
    assert (await client.post("/v1/journeys", json=rule)).status_code == 201
    await client.put("/v1/members/m-1", json={"name": "王小明", "phone": "13812345678"})
    response = await client.post("/v1/journeys/welcome/preview", json={"member": "m-1"})
    assert response.status_code == 422, response.text
    [detail] = response.json()["detail"]
    assert detail["loc"] == ["steps", "item", "template", "custom/needs_order"]
    assert (detail["type"], detail["step"], detail["line"]) == ("render_error", "item", 2)
    assert "step item" in detail["msg"]
    assert "zh-CN sms line 2" in detail["msg"]


async def test_only_marketers_preview(
    anon: httpx.AsyncClient, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    await members(anon, client, clock)
    await nurture_with_branch(client)
    keys = {}
    for scope in (Scope.MARKETER, Scope.INGEST):
        created = await client.post("/v1/keys", json={"name": scope, "scopes": [scope]})
        keys[scope] = created.json()["key"]
    assert (await anon.post(PREVIEW, json={"member": "m-zh"})).status_code == 401
    for scope, status in ((Scope.MARKETER, 200), (Scope.INGEST, 403)):
        headers = {"Authorization": f"Bearer {keys[scope]}"}
        response = await anon.post(PREVIEW, json={"member": "m-zh"}, headers=headers)
        assert response.status_code == status, response.text
