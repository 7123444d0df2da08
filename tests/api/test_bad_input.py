"""Every write endpoint, fed a table of malformed bodies: a 4xx naming the field, never a 500.

Each endpoint declares where in a body it accepts the malformation goes (a path into the JSON);
`None` where the endpoint has no such field. The native webhook is signed correctly each time,
so its body, not its signature, is what gets judged.
"""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tests.api.conftest import SharedApi
from tests.conftest import START
from tests.factories import order_payload, signed

pytestmark = pytest.mark.asyncio(loop_scope="module")

Path = tuple[str | int, ...]
RAW = "__raw__"  # a string replaced by raw JSON text after dumping (numbers json cannot write)
HUGE_LITERAL = "1" + "0" * 5000  # past Python's 4300-digit int parsing limit


@dataclass(frozen=True)
class Endpoint:
    method: str
    url: str
    valid: dict[str, Any]
    wrong_type: tuple[Path, Any]
    text: Path  # a string field
    missing: Path | None = None  # a required field
    negative: tuple[Path, Any] | None = None
    enum: tuple[Path, Any] | None = None
    too_big: tuple[Path, Any] | None = None
    number: Path | None = None  # where NaN goes
    number_loc: Path | None = None  # the field named, if not `number` itself (a JSON value)
    bad_url: tuple[str, list[str | int]] | None = None  # an unknown enum in the path
    signed: bool = False
    setup: tuple[tuple[str, str, dict[str, Any]], ...] = ()  # requests the valid body needs


ORDER = order_payload("o-bad", created_at=START)
WELCOME = {
    "key": "bad-input",
    "name": "Welcome",
    "trigger": {"event": "member.created"},
    "steps": [{"id": "hello", "send": {"template": "new_customer/thanks"}}],
}
ENDPOINTS = {
    "members PUT": Endpoint(
        "PUT",
        "/v1/members/m-bad",
        {
            "name": "王小明",
            "phone": "13812345678",
            "lunar_birthday": {"month": 6, "day": 25},
            "gender": "female",
            "tags": ["vip"],
            "attributes": {"skin": "dry"},
        },
        wrong_type=(("name",), 5),
        text=("city",),
        negative=(("lunar_birthday", "month"), -1),
        enum=(("gender",), "robot"),
        too_big=(("lunar_birthday", "day"), 10**30),
        number=("attributes", "score"),
        number_loc=("attributes",),
    ),
    "consent PUT": Endpoint(
        "PUT",
        "/v1/members/m-bad/consent/sms",
        {"granted": True, "source": "crm"},
        wrong_type=(("granted",), "maybe"),
        text=("source",),
        missing=("granted",),
        number=("granted",),
        bad_url=("/v1/members/m-bad/consent/fax", ["path", "channel"]),
    ),
    "products PUT": Endpoint(
        "PUT",
        "/v1/products/MASK-30",
        {"title": "补水面膜", "price": "109.50", "replenish_days": 30, "tags": ["mask"]},
        wrong_type=(("title",), 5),
        text=("title",),
        missing=("title",),
        negative=(("price",), "-1.00"),
        too_big=(("replenish_days",), 10**30),
        number=("price",),
    ),
    "keys POST": Endpoint(
        "POST",
        "/v1/keys",
        {"name": "importer", "scopes": ["ingest"]},
        wrong_type=(("name",), ["x"]),
        text=("name",),
        missing=("scopes",),
        enum=(("scopes", 0), "root"),
    ),
    "orders batch POST": Endpoint(
        "POST",
        "/v1/orders/batch",
        {"orders": [ORDER]},
        wrong_type=(("orders", 0, "total"), "a lot"),
        text=("orders", 0, "id"),
        missing=("orders", 0, "created_at"),
        negative=(("orders", 0, "total"), "-5.00"),
        enum=(("orders", 0, "status"), "lost"),
        too_big=(("orders", 0, "items", 0, "quantity"), 10**30),
        number=("orders", 0, "total"),
    ),
    "native webhook POST": Endpoint(
        "POST",
        "/v1/webhooks/orders",
        ORDER,
        wrong_type=(("total",), "a lot"),
        text=("member", "external_id"),
        missing=("created_at",),
        negative=(("items", 0, "price"), "-5.00"),
        enum=(("status",), "lost"),
        too_big=(("items", 0, "quantity"), 10**30),
        number=("total",),
        signed=True,
    ),
    "journey preview POST": Endpoint(
        "POST",
        "/v1/journeys/bad-input/preview",
        {"member": "m-bad", "locale": "en"},
        wrong_type=(("member",), 5),
        text=("member",),
        missing=("member",),
        negative=(("version",), -1),
        too_big=(("version",), 10**30),
        number=("version",),
        setup=(("POST", "/v1/journeys", WELCOME),),
    ),
    "test send POST": Endpoint(
        "POST",
        "/v1/messages/test",
        {"template": "test/hello", "to": "13812345678", "locale": "en"},
        wrong_type=(("to",), 5),
        text=("to",),
        missing=("to",),
        negative=(("version",), -1),
        enum=(("channel",), "fax"),
        too_big=(("version",), 10**30),
        number=("version",),
    ),
    "message-templates PUT": Endpoint(
        "PUT",
        "/v1/message-templates/custom/hello",
        {"channel": "sms", "locales": {"en": {"sms": "Hi {{ member.name or 'there' }}"}}},
        wrong_type=(("channel",), 5),
        text=("description",),
        missing=("channel",),
        enum=(("purpose",), "spam"),
    ),
}


def with_value(body: dict[str, Any], path: Path, value: Any) -> dict[str, Any]:
    body = copy.deepcopy(body)
    target: Any = body
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return body


def without(body: dict[str, Any], path: Path) -> dict[str, Any]:
    body = copy.deepcopy(body)
    target: Any = body
    for part in path[:-1]:
        target = target[part]
    del target[path[-1]]
    return body


def dump(body: Any, raw: str = "") -> bytes:
    return json.dumps(body, ensure_ascii=False).replace(f'"{RAW}"', raw).encode()


@dataclass(frozen=True)
class Bad:
    """A malformed request: its body, the status, and the loc one detail must carry."""

    body: bytes
    loc: list[str | int]
    status: int = 422
    url: str | None = None


Case = Callable[[Endpoint], Bad | None]


def field_case(e: Endpoint, where: tuple[Path, Any] | None) -> Bad | None:
    if where is None:
        return None
    path, value = where
    return Bad(dump(with_value(e.valid, path, value)), ["body", *path])


CASES: dict[str, Case] = {
    "wrong type": lambda e: field_case(e, e.wrong_type),
    "missing field": lambda e: (
        Bad(dump(without(e.valid, e.missing)), ["body", *e.missing]) if e.missing else None
    ),
    "negative amount": lambda e: field_case(e, e.negative),
    "unknown enum": lambda e: field_case(e, e.enum),
    "too big a number": lambda e: field_case(e, e.too_big),
    "unknown enum in the path": lambda e: (
        Bad(dump(e.valid), e.bad_url[1], url=e.bad_url[0]) if e.bad_url else None
    ),
    "extra field": lambda e: Bad(dump(e.valid | {"surprise": 1}), ["body", "surprise"]),
    "NUL in text": lambda e: Bad(dump(with_value(e.valid, e.text, "a\x00b")), ["body", *e.text]),
    "NaN": lambda e: (
        Bad(dump(with_value(e.valid, e.number, RAW), "NaN"), ["body", *(e.number_loc or e.number)])
        if e.number
        else None
    ),
    "5000-digit number": lambda e: Bad(
        dump(with_value(e.valid, e.text, RAW), HUGE_LITERAL), ["body"]
    ),
    "bad JSON": lambda e: Bad(dump(e.valid)[:-3], ["body"]),
    "invalid UTF-8": lambda _: Bad(b'{"name": "\xff\xfe"}', ["body"]),
    "lone surrogate": lambda e: Bad(dump(with_value(e.valid, e.text, RAW), r'"\ud800"'), ["body"]),
    "deep nesting": lambda e: Bad(
        dump(with_value(e.valid, e.text, RAW), "[" * 30_000 + "]" * 30_000), ["body"]
    ),
    "not an object": lambda _: Bad(b"[]", ["body"]),
    "empty body": lambda _: Bad(b"", ["body"]),
    "too large": lambda e: Bad(dump(e.valid) + b" " * 64_001, ["body"], status=413),
}


async def send(api: SharedApi, e: Endpoint, body: bytes, url: str | None = None) -> Any:
    headers = {"content-type": "application/json"}
    if e.signed:
        body, headers = signed(body, now=api.clock.now(), msg_id=f"bad-{hash(body)}")
    async with api.client(api.keys["admin"]) as client:
        return await client.request(e.method, url or e.url, content=body, headers=headers)


@pytest.mark.parametrize("name", ENDPOINTS)
async def test_the_valid_body_is_accepted(shared_api: SharedApi, name: str) -> None:
    """So each refusal below is about its malformation, not a body that was never good."""
    endpoint = ENDPOINTS[name]
    async with shared_api.client(shared_api.keys["admin"]) as client:
        await client.put("/v1/members/m-bad", json={})
        for method, url, body in endpoint.setup:
            done = await client.request(method, url, json=body)
            assert done.status_code in (200, 201, 409), done.text  # 409: made by an earlier run
    response = await send(shared_api, endpoint, dump(endpoint.valid))
    assert response.status_code in (200, 201), response.text


TABLE = [
    pytest.param(ENDPOINTS[name], bad, id=f"{name}-{case}")
    for name in ENDPOINTS
    for case in CASES
    if (bad := CASES[case](ENDPOINTS[name])) is not None  # None: the endpoint has no such field
]


@pytest.mark.parametrize(("endpoint", "bad"), TABLE)
async def test_malformed_input_is_a_4xx_naming_the_field(
    shared_api: SharedApi, endpoint: Endpoint, bad: Bad
) -> None:
    response = await send(shared_api, endpoint, bad.body, bad.url)
    assert response.status_code == bad.status, response.text
    body = response.json()
    assert set(body) == {"error", "detail"}
    assert body["detail"], body
    for detail in body["detail"]:
        assert isinstance(detail["loc"], list)
        assert isinstance(detail["msg"], str)
        assert detail["msg"]
    locs = [detail["loc"] for detail in body["detail"]]
    assert bad.loc in locs or (bad.loc == ["body"] and locs[0][:1] == ["body"]), locs


@pytest.mark.parametrize(
    ("method", "url", "loc"),
    [
        ("GET", "/v1/members/m%00x", ["path"]),
        ("PUT", "/v1/products/s%00", ["path"]),
        ("GET", "/v1/orders/%00", ["path"]),
        ("GET", "/v1/members?tag=%00", ["query", "tag"]),
        ("GET", "/v1/members?city=a%00b&limit=2", ["query", "city"]),
        ("GET", "/v1/reports/journeys/a%00b?from=2026-01-01&to=2026-01-31", ["path"]),
        ("GET", "/v1/reports/journeys/winback?from=2026-01-01&to=2026-01%00", ["query", "to"]),
    ],
)
async def test_a_nul_in_the_url_is_a_422(
    shared_api: SharedApi, method: str, url: str, loc: list[str]
) -> None:
    async with shared_api.client(shared_api.keys["admin"]) as client:
        response = await client.request(method, url, json={"title": "x"})
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == loc


@pytest.mark.parametrize(
    ("url", "loc"),
    [
        ("/v1/reports/journeys/No_Such?from=2026-01-01&to=2026-01-31", ["path", "key"]),
        ("/v1/reports/journeys/winback?from=2026-01-01&to=2026-02-30", ["query", "to"]),
        ("/v1/reports/journeys/winback?to=2026-01-31", ["query", "from"]),
        (
            "/v1/reports/journeys/winback?from=2026-01-01&to=2026-01-31&format=xls",
            ["query", "format"],
        ),
    ],
)
async def test_a_bad_report_query_is_a_422_naming_it(
    shared_api: SharedApi, url: str, loc: list[str]
) -> None:
    async with shared_api.client(shared_api.keys["admin"]) as client:
        response = await client.get(url)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == loc


async def test_a_webhook_id_longer_than_the_column_is_a_422(shared_api: SharedApi) -> None:
    body, headers = signed(ORDER, now=shared_api.clock.now(), msg_id="w" * 201)
    async with shared_api.client() as client:
        response = await client.post("/v1/webhooks/orders", content=body, headers=headers)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["header", "webhook-id"]


async def test_a_chunked_body_past_the_limit_is_413(shared_api: SharedApi) -> None:
    """No Content-Length: the limit is enforced while reading, for parsed and raw bodies alike."""

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(70):
            yield b" " * 1000

    for method, url in (("PUT", "/v1/members/m-big"), ("POST", "/v1/webhooks/orders")):
        async with shared_api.client(shared_api.keys["admin"]) as client:
            response = await client.request(method, url, content=chunks())
        assert response.status_code == 413, (url, response.text)
        assert response.json()["detail"][0]["loc"] == ["body"]
