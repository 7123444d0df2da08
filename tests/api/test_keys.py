"""API keys by API and by CLI: shown once, stored as a hash, refused once revoked."""

from __future__ import annotations

import asyncio
import hashlib

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.__main__ import main
from service.keys.models import ApiKey


async def stored_keys(sessions: async_sessionmaker[AsyncSession]) -> list[ApiKey]:
    async with sessions() as session:
        return list(await session.scalars(select(ApiKey).order_by(ApiKey.id)))


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_create_list_revoke_by_api(
    client: httpx.AsyncClient, anon: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    created = await client.post(
        "/v1/keys", json={"name": "shop backend", "scopes": ["ingest", "marketer", "ingest"]}
    )
    assert created.status_code == 201, created.text
    body = created.json()
    key = body["key"]
    assert key.startswith("hk_")
    assert body["prefix"] == key[:10]
    assert body["scopes"] == ["ingest", "marketer"]
    assert body["revoked_at"] is None

    listed = (await client.get("/v1/keys")).json()
    assert [k["name"] for k in listed] == ["shop backend"]
    assert "key" not in listed[0]  # the plaintext is shown once, at creation

    assert (await anon.get("/v1/members", headers=bearer(key))).status_code == 200
    revoked = await client.delete(f"/v1/keys/{body['id']}")
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    refused = await anon.get("/v1/members", headers=bearer(key))
    assert refused.status_code == 401
    assert refused.json()["detail"][0]["msg"] == "unknown or revoked API key"
    again = await client.delete(f"/v1/keys/{body['id']}")
    assert again.json()["revoked_at"] == revoked.json()["revoked_at"]

    [row] = await stored_keys(sessions)
    assert row.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert key not in repr([getattr(row, column.key) for column in ApiKey.__table__.columns])


async def test_revoking_an_unknown_key_is_404(client: httpx.AsyncClient) -> None:
    response = await client.delete("/v1/keys/4242")
    assert response.status_code == 404
    assert response.json()["detail"] == [
        {"loc": ["path", "key_id"], "msg": "no API key with id 4242"}
    ]


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"name": "x", "scopes": []}, ["body", "scopes"]),
        ({"name": "x", "scopes": ["root"]}, ["body", "scopes", 0]),
        ({"name": "", "scopes": ["admin"]}, ["body", "name"]),
        ({"scopes": ["admin"]}, ["body", "name"]),
        ({"name": "x", "scopes": ["admin"], "expires": "never"}, ["body", "expires"]),
    ],
)
async def test_bad_key_requests_name_the_field(
    client: httpx.AsyncClient, body: dict[str, object], loc: list[object]
) -> None:
    response = await client.post("/v1/keys", json=body)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == loc


async def test_keys_by_cli_work_on_the_api_until_revoked(
    anon: httpx.AsyncClient,
    database_url: str,
    sessions: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("HUITOU_DATABASE_URL", database_url)

    async def cli(*argv: str) -> tuple[int, str, str]:
        code = await asyncio.to_thread(main, list(argv))  # the CLI runs its own event loop
        out, err = capsys.readouterr()
        return code, out.strip(), err.strip()

    code, key, _ = await cli("keys", "create", "--name", "importer", "--scope", "ingest")
    assert code == 0
    assert key.startswith("hk_")
    [row] = await stored_keys(sessions)
    assert row.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert key not in (row.name, row.prefix, row.key_hash)

    code, listing, _ = await cli("keys", "list")
    assert listing == f"{row.id}\t{key[:10]}…\timporter\tingest\tactive"
    assert (await anon.get("/v1/members", headers=bearer(key))).status_code == 200
    assert (await anon.get("/v1/calendar/occasions", headers=bearer(key))).status_code == 403

    code, out, _ = await cli("keys", "revoke", str(row.id))
    assert (code, out) == (0, f"key {row.id} revoked")
    assert (await anon.get("/v1/members", headers=bearer(key))).status_code == 401
    code, listing, _ = await cli("keys", "list")
    assert "\trevoked 20" in listing

    code, _, err = await cli("keys", "revoke", "999")
    assert (code, err) == (1, "no API key with id 999")


async def test_cli_with_no_keys_says_so(
    database_url: str,
    engine: object,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("HUITOU_DATABASE_URL", database_url)
    assert await asyncio.to_thread(main, ["keys", "list"]) == 0
    assert capsys.readouterr().out == "no keys\n"
