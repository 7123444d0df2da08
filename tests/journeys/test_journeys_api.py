"""The journeys API: save with precise errors, versions, life cycle, schema, dry runs."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from service.clock import FakeClock
from service.journeys.schemas import EXAMPLE_RULE
from tests.factories import order_payload
from tests.journeys.helpers import create_active, enrolments, post_order, tick


def example(**changes: Any) -> dict[str, Any]:
    rule = copy.deepcopy(EXAMPLE_RULE)
    rule.update(changes)
    return rule


async def test_create_read_and_version(client: httpx.AsyncClient) -> None:
    created = await client.post("/v1/journeys", json=EXAMPLE_RULE)
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["status"], body["version"], body["live_version"]) == ("draft", 1, None)
    # the channel of each send is written out from its template
    assert body["rule"]["steps"][1]["send"]["channel"] == "email"
    again = await client.post("/v1/journeys", json=EXAMPLE_RULE)
    assert again.status_code == 409
    edited = example(name="新客培养 v2")
    put = await client.put(f"/v1/journeys/{EXAMPLE_RULE['key']}", json=edited)
    assert put.json()["version"] == 2
    retried = await client.put(f"/v1/journeys/{EXAMPLE_RULE['key']}", json=edited)
    assert retried.json()["version"] == 2  # the same content adds no version
    first = await client.get(f"/v1/journeys/{EXAMPLE_RULE['key']}?version=1")
    assert (first.json()["version"], first.json()["rule"]["name"]) == (1, EXAMPLE_RULE["name"])
    listed = await client.get("/v1/journeys")
    assert [j["key"] for j in listed.json()["items"]] == [EXAMPLE_RULE["key"]]


def broken_rules() -> list[tuple[str, dict[str, Any], list[str], str]]:
    cases = []

    def case(name: str, mutate: Any, loc: list[str | int], fragment: str) -> None:
        rule = copy.deepcopy(EXAMPLE_RULE)
        mutate(rule)
        cases.append((name, rule, ["body", *loc], fragment))

    case(
        "duration",
        lambda r: r["steps"][2]["wait"].update({"for": "7 days"}),
        ["steps", 2, "wait", "for"],
        "not an ISO 8601 duration",
    )
    case(
        "channel window",
        lambda r: r.update({"attribution_windows": {"sms": "1 day"}}),
        ["attribution_windows", "sms"],
        "not an ISO 8601 duration",
    )
    case(
        "window channel",
        lambda r: r.update({"attribution_windows": {"fax": "P1D"}}),
        ["attribution_windows", "fax", "[key]"],
        "'sms' or 'email'",
    )
    case(
        "month",
        lambda r: r["steps"][1]["wait"].update({"for": "P1M"}),
        ["steps", 1, "wait", "for"],
        "months and years vary",
    )
    case(
        "template",
        lambda r: r["steps"][0]["send"].update({"template": "new_customer/nope"}),
        ["steps", 0, "send", "template"],
        "unknown template",
    )
    case(
        "channel",
        lambda r: r["steps"][0]["send"].update({"channel": "email"}),
        ["steps", 0, "send", "channel"],
        "is an sms template",
    )
    case(
        "duplicate",
        lambda r: r["steps"][1].update({"id": "thanks"}),
        ["steps", 1, "id"],
        "duplicate step id",
    )
    case(
        "unreachable",
        lambda r: r["steps"].insert(1, {"id": "stop", "exit": True}),
        ["steps", 2],
        "unreachable",
    )
    case(
        "jump",
        lambda r: r["steps"][0].update({"next": "nowhere"}),
        ["steps", 0, "next"],
        "no step with id",
    )
    case(
        "field",
        lambda r: r.update({"audience": {">=": [{"var": "member.paid_order"}, 1]}}),
        ["audience"],
        "member.paid_order",
    )
    case(
        "trigger",
        lambda r: r.update({"trigger": {"type": "sometimes"}}),
        ["trigger"],
        "trigger.type must be one of",
    )
    case(
        "step kind",
        lambda r: r["steps"][0].update({"exit": True}),
        ["steps", 0],
        "exactly one of",
    )
    case("holdout", lambda r: r.update({"holdout_percent": 90}), ["holdout_percent"], "50")
    return cases


@pytest.mark.parametrize(
    ("rule", "loc", "fragment"),
    [pytest.param(r, loc, f, id=name) for name, r, loc, f in broken_rules()],
)
async def test_errors_name_the_path_and_reason(
    client: httpx.AsyncClient, rule: dict[str, Any], loc: list[str | int], fragment: str
) -> None:
    response = await client.post("/v1/journeys", json=rule)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "validation_error"
    matching = [d for d in body["detail"] if d["loc"][: len(loc)] == loc]
    assert matching, body["detail"]
    assert any(fragment in d["msg"] for d in matching), matching


async def test_all_problems_come_back_at_once(client: httpx.AsyncClient) -> None:
    rule = copy.deepcopy(EXAMPLE_RULE)
    rule["steps"][0]["send"]["template"] = "x/nope"
    rule["steps"][1]["id"] = "thanks"
    detail = (await client.post("/v1/journeys", json=rule)).json()["detail"]
    assert {tuple(d["loc"]) for d in detail} >= {
        ("body", "steps", 0, "send", "template"),
        ("body", "steps", 1, "id"),
    }


async def test_schema_is_served_and_in_the_openapi_docs(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/v1/journeys/schema")).json()
    assert {"key", "trigger", "steps"} <= set(schema["properties"])
    openapi = (await client.get("/openapi.json")).json()
    body = openapi["paths"]["/v1/journeys"]["post"]["requestBody"]["content"]["application/json"]
    assert body["example"]["key"] == EXAMPLE_RULE["key"]
    ref = body["schema"]["$ref"].rsplit("/", 1)[-1]
    assert ref in openapi["components"]["schemas"]


async def test_life_cycle(client: httpx.AsyncClient) -> None:
    key = EXAMPLE_RULE["key"]
    await client.post("/v1/journeys", json=EXAMPLE_RULE)
    assert (await client.post(f"/v1/journeys/{key}/pause")).status_code == 409
    active = (await client.post(f"/v1/journeys/{key}/activate")).json()
    assert (active["status"], active["live_version"]) == ("active", 1)
    assert (await client.post(f"/v1/journeys/{key}/pause")).json()["status"] == "paused"
    assert (await client.post(f"/v1/journeys/{key}/activate")).json()["status"] == "active"
    assert (await client.post(f"/v1/journeys/{key}/archive")).json()["status"] == "archived"
    assert (await client.post(f"/v1/journeys/{key}/activate")).status_code == 409
    assert (await client.put(f"/v1/journeys/{key}", json=EXAMPLE_RULE)).status_code == 409
    assert (await client.get("/v1/journeys/nope")).status_code == 404


async def test_editing_an_active_journey_keeps_enrolled_members_on_their_version(
    app: FastAPI, anon: httpx.AsyncClient, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    key = EXAMPLE_RULE["key"]
    await create_active(client, EXAMPLE_RULE)
    await post_order(anon, clock, order_payload("o-1", member="m-1", created_at=clock.now()), "w1")
    await tick(app)
    edited = example(name="v2")
    edited["steps"][0]["send"]["template"] = "new_customer/coupon_a"
    assert (await client.put(f"/v1/journeys/{key}", json=edited)).json()["live_version"] == 2
    await post_order(anon, clock, order_payload("o-2", member="m-2", created_at=clock.now()), "w2")
    await tick(app)
    assert [(e.member_id, e.journey_version) for e in await enrolments(app)] == [(1, 1), (2, 2)]


async def test_dry_run_counts_members_in_sql(
    app: FastAPI, anon: httpx.AsyncClient, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    rule = example(holdout_percent=0)
    await client.post("/v1/journeys", json=rule)
    t0 = clock.now() - timedelta(days=3)
    for n, total in enumerate(("99.00", "50.00", "120.00")):
        payload = order_payload(f"o-{n}", member=f"m-{n}", total=total, created_at=t0)
        await post_order(anon, clock, payload, f"w{n}")
    repeat = order_payload("o-9", member="m-0", total="80.00", created_at=t0)
    await post_order(anon, clock, repeat, "w9")  # m-0's second order: not a first purchase
    run = (await client.post(f"/v1/journeys/{rule['key']}/dry-run", json={"sample": 5})).json()
    assert run["members"] == 1  # m-2: first paid order and total ≥ 70
    assert run["sample"] == ["m-2"]
    assert run["entry"]["policy"] == "once_per_member"
    assert run["already_entered"] == 0
    assert await enrolments(app) == []  # nothing written
