"""Every route under /v1 refuses a missing key (401) and a key without its scope (403).

The table is read from the app itself, so a route added later is checked without editing this
file: it must either declare its scopes with `require(...)` or be one of the signed exceptions.
"""

from __future__ import annotations

import re
from enum import Enum
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from service.api.deps import require
from service.app import create_app
from service.keys.models import Scope
from service.settings import Settings
from tests.api.conftest import SharedApi

pytestmark = pytest.mark.asyncio(loop_scope="module")

# Signed instead of keyed: order webhooks, gateway receipts and replies, unsubscribe links.
SIGNED_PREFIXES = ("/v1/webhooks/", "/v1/gateways/", "/u/")
KEYED = (Scope.MARKETER, Scope.INGEST, Scope.ADMIN)


def _scope_checks(dependant: Dependant) -> list[frozenset[Scope]]:
    """The scopes of every require() on the route; a key must pass each of them."""
    found = []
    for sub in dependant.dependencies:
        if isinstance(sub.call, require):
            found.append(frozenset(sub.call.scopes))
        found += _scope_checks(sub)
    return found


def _sample(annotation: Any, converter: str | None) -> str:
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return str(next(iter(annotation)).value)
    if annotation is int:
        return "987654"  # no such row: the table must not revoke the keys it tests with
    return "sample/name" if converter == "path" else "sample"


def _concrete(path: str, dependant: Dependant) -> str:
    samples = {p.name: p.field_info.annotation for p in dependant.path_params}

    def fill(match: re.Match[str]) -> str:
        return _sample(samples.get(match[1]), match[2])

    return re.sub(r"{(\w+)(?::(\w+))?}", fill, path)


def route_table(app: FastAPI) -> list[tuple[str, str, str, list[frozenset[Scope]]]]:
    """(method, path template, a concrete URL, scope checks) for every /v1 and /u route."""
    rows = []
    for route in iter_route_contexts(app.routes):
        path: str = route.path
        if isinstance(route.original_route, APIRoute) and path.startswith(("/v1/", "/u/")):
            url, checks = _concrete(path, route.dependant), _scope_checks(route.dependant)
            rows += [(method, path, url, checks) for method in sorted(route.methods or ())]
    return rows


ROUTES = route_table(create_app(Settings(database_url="sqlite+aiosqlite://")))


def passes(scope: Scope, checks: list[frozenset[Scope]]) -> bool:
    return all(scope == Scope.ADMIN or scope in check for check in checks)


async def test_the_table_sees_every_area() -> None:
    prefixes = {path.split("/")[2] for _, path, _, _ in ROUTES}
    assert {"keys", "members", "products", "orders", "webhooks"} <= prefixes
    assert {"calendar", "message-templates", "reports"} <= prefixes
    assert len(ROUTES) >= 18


@pytest.mark.parametrize(
    ("method", "template", "url", "checks"), ROUTES, ids=[f"{r[0]} {r[1]}" for r in ROUTES]
)
async def test_route_needs_a_key_with_its_scope(
    shared_api: SharedApi, method: str, template: str, url: str, checks: list[frozenset[Scope]]
) -> None:
    async with shared_api.client() as anon:
        response = await anon.request(method, url)
    if template.startswith(SIGNED_PREFIXES):
        assert response.status_code < 500, response.text
        assert response.status_code != 403, "a signed route does not look at API keys"
        return
    assert checks, f"{method} {template} has no require(...) scope check"
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["error"] == "unauthorized"

    for scope in KEYED:
        async with shared_api.client(shared_api.keys[scope]) as client:
            response = await client.request(method, url)
        if passes(scope, checks):
            assert response.status_code not in (401, 403), (scope, response.text)
            assert response.status_code < 500, (scope, response.text)
        else:
            assert response.status_code == 403, (scope, response.text)
            assert response.json()["detail"][0]["loc"] == ["header", "authorization"]


@pytest.mark.parametrize(
    ("scope", "method", "url"),
    [
        (Scope.INGEST, "GET", "/v1/calendar/occasions"),
        (Scope.INGEST, "GET", "/v1/message-templates"),
        (Scope.INGEST, "PUT", "/v1/message-templates/a/b"),
        (Scope.MARKETER, "GET", "/v1/keys"),
        (Scope.MARKETER, "POST", "/v1/keys"),
        (Scope.MARKETER, "POST", "/v1/orders/batch"),
        (Scope.INGEST, "DELETE", "/v1/keys/1"),
        (Scope.INGEST, "GET", "/v1/reports/journeys/winback?from=2026-01-01&to=2026-01-31"),
    ],
)
async def test_known_scope_refusals(
    shared_api: SharedApi, scope: Scope, method: str, url: str
) -> None:
    """Pinned by hand, so a mistake in how the table derives scopes cannot hide them."""
    async with shared_api.client(shared_api.keys[scope]) as client:
        response = await client.request(method, url, json={})
    assert response.status_code == 403, response.text
    assert response.json()["error"] == "forbidden"


async def test_an_unknown_bearer_token_is_401(shared_api: SharedApi) -> None:
    async with shared_api.client("hk_not-a-key") as client:
        response = await client.get("/v1/members")
    assert response.status_code == 401
    assert response.json()["detail"] == [
        {"loc": ["header", "authorization"], "msg": "unknown or revoked API key"}
    ]
