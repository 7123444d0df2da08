"""Message templates: loaded from disk at start, versioned by API, checked when saved."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from service import PROJECT_ROOT
from service.clock import FakeClock
from service.messaging import service as template_service
from service.messaging.files import TemplateFileError, read_template_files
from service.messaging.models import MessageTemplate
from service.messaging.render import Renderer

THANKS = {
    "channel": "sms",
    "purpose": "marketing",
    "description": "thanks, rewritten",
    "locales": {
        "zh-CN": {"sms": "{{ member.name or '亲' }}，谢谢您！"},
        "en": {"sms": "Thanks, {{ member.name or 'friend' }}!"},
    },
}


async def test_shipped_templates_are_loaded_at_start(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/message-templates")
    assert response.status_code == 200
    items = {item["name"]: item for item in response.json()["items"]}
    assert sorted(items) == [
        f.name for f in read_template_files(PROJECT_ROOT / "message_templates")
    ]
    assert items["shipping/shipped"]["purpose"] == "transactional"
    assert {item["source"] for item in items.values()} == {"file"}
    assert {item["version"] for item in items.values()} == {1}


async def test_get_a_template_whose_name_has_a_slash(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/message-templates/new_customer/care")
    assert response.status_code == 200
    body = response.json()
    assert body["channel"] == "email"
    assert set(body["locales"]["zh-CN"]) == {"subject", "text", "html"}


async def test_put_creates_a_new_version_that_becomes_the_newest(
    client: httpx.AsyncClient, clock: FakeClock
) -> None:
    response = await client.put("/v1/message-templates/new_customer/thanks", json=THANKS)
    assert response.status_code == 200
    assert response.json()["version"] == 2
    assert response.json()["source"] == "api"
    assert response.json()["author"] == "bootstrap-admin"
    newest = await client.get("/v1/message-templates/new_customer/thanks")
    assert newest.json()["description"] == "thanks, rewritten"
    first = await client.get("/v1/message-templates/new_customer/thanks?version=1")
    assert first.json()["source"] == "file"
    again = await client.put("/v1/message-templates/new_customer/thanks", json=THANKS)
    assert again.json()["version"] == 2  # the same content again is not a new version


async def test_put_a_new_name_is_created(client: httpx.AsyncClient) -> None:
    response = await client.put("/v1/message-templates/custom/double11", json=THANKS)
    assert response.status_code == 201
    assert response.json()["version"] == 1


@pytest.mark.parametrize(
    ("sms", "loc", "fragment"),
    [
        ("第一行\n{{ member.nmae }}", ["body", "locales", "zh-CN", "sms"], "line 2:"),
        ("{% for x in %}", ["body", "locales", "zh-CN", "sms"], "line 1: Expected an expression"),
        ("{{ ''.__class__.__mro__ }}", ["body", "locales", "zh-CN", "sms"], "unsafe"),
        ("{{ 'a' * 1000000 }}", ["body", "locales", "zh-CN", "sms"], "refused"),
    ],
)
async def test_a_broken_template_gets_422_with_the_line(
    client: httpx.AsyncClient, sms: str, loc: list[str], fragment: str
) -> None:
    body = {**THANKS, "locales": {**THANKS["locales"], "zh-CN": {"sms": sms}}}
    response = await client.put("/v1/message-templates/new_customer/thanks", json=body)
    assert response.status_code == 422
    [detail] = response.json()["detail"]
    assert detail["loc"] == loc
    assert fragment in detail["msg"]
    newest = await client.get("/v1/message-templates/new_customer/thanks")
    assert newest.json()["version"] == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**THANKS, "channel": "fax"}, "channel"),
        ({**THANKS, "locales": {"zh-CN": {"subject": "x"}}}, "exactly the parts"),
        ({**THANKS, "locales": {}}, "locales"),
        ({**THANKS, "locales": {"chinese": {"sms": "x"}}}, "locales"),
        ({**THANKS, "extra": 1}, "extra"),
    ],
)
async def test_bad_bodies_are_422_naming_the_field(
    client: httpx.AsyncClient, body: dict[str, object], field: str
) -> None:
    response = await client.put("/v1/message-templates/x/y", json=body)
    assert response.status_code == 422
    assert field in str(response.json()["detail"])


@pytest.mark.parametrize("name", ["Bad/Name", "a//b", "a/b/", "a b"])
async def test_bad_names_are_refused(client: httpx.AsyncClient, name: str) -> None:
    response = await client.put(f"/v1/message-templates/{name}", json=THANKS)
    assert response.status_code in (404, 422)
    assert response.status_code != 500


async def test_unknown_template_is_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/message-templates/no/such")
    assert response.status_code == 404
    assert response.json()["error"] == "template_not_found"


async def test_keys_need_the_marketer_scope(
    client: httpx.AsyncClient, anon: httpx.AsyncClient
) -> None:
    assert (await anon.get("/v1/message-templates")).status_code == 401
    created = await client.post("/v1/keys", json={"name": "shop", "scopes": ["ingest"]})
    ingest = {"Authorization": f"Bearer {created.json()['key']}"}
    assert (await anon.get("/v1/message-templates", headers=ingest)).status_code == 403
    created = await client.post("/v1/keys", json={"name": "mkt", "scopes": ["marketer"]})
    marketer = {"Authorization": f"Bearer {created.json()['key']}"}
    response = await anon.put("/v1/message-templates/a/b", json=THANKS, headers=marketer)
    assert response.status_code == 201
    assert response.json()["author"] == "mkt"


def copy_templates(tmp_path: Path, *names: str) -> Path:
    for name in names:
        target = tmp_path / f"{name}.toml"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(PROJECT_ROOT / "message_templates" / f"{name}.toml", target)
    return tmp_path


async def load(
    session: AsyncSession, directory: Path, clock: FakeClock
) -> template_service.LoadReport:
    return await template_service.load_from_disk(
        session, directory=directory, renderer=Renderer(), brand="回头", now=clock.now()
    )


async def versions(session: AsyncSession, name: str) -> int:
    count = await session.scalar(
        select(func.count()).select_from(MessageTemplate).where(MessageTemplate.name == name)
    )
    return int(count or 0)


async def test_loading_is_idempotent_and_picks_up_changed_files(
    session: AsyncSession, clock: FakeClock, tmp_path: Path
) -> None:
    directory = copy_templates(tmp_path, "winback/gentle", "shipping/shipped")
    first = await load(session, directory, clock)
    assert sorted(first.inserted) == ["shipping/shipped", "winback/gentle"]
    second = await load(session, directory, clock)
    assert second.inserted == []
    assert sorted(second.unchanged) == ["shipping/shipped", "winback/gentle"]
    path = directory / "winback/gentle.toml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("好久不见", "许久未见"), encoding="utf-8"
    )
    third = await load(session, directory, clock)
    assert third.inserted == ["winback/gentle"]
    assert await versions(session, "winback/gentle") == 2


async def test_a_file_never_replaces_a_version_saved_by_api(
    session: AsyncSession, clock: FakeClock, tmp_path: Path
) -> None:
    from service.messaging.schemas import TemplateIn

    directory = copy_templates(tmp_path, "winback/gentle")
    await load(session, directory, clock)
    await template_service.save_template(
        session, name="winback/gentle", data=TemplateIn.model_validate(THANKS),
        renderer=Renderer(), brand="回头", now=clock.now(), author="mkt",
    )  # fmt: skip
    path = directory / "winback/gentle.toml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("好久不见", "许久未见"), encoding="utf-8"
    )
    report = await load(session, directory, clock)
    assert report.kept_api_version == ["winback/gentle"]
    content = await template_service.get_content(session, name="winback/gentle")
    assert content.version == 2
    assert "谢谢您" in content.locales["zh-CN"]["sms"]


async def test_a_broken_file_stops_the_load_naming_the_file(
    session: AsyncSession, clock: FakeClock, tmp_path: Path
) -> None:
    path = tmp_path / "bad/copy.toml"
    path.parent.mkdir()
    path.write_text('channel = "sms"\n[locales.en]\nsms = "{{ nope }}"\n', encoding="utf-8")
    with pytest.raises(TemplateFileError, match=r"bad/copy.toml.*'nope' is undefined"):
        await load(session, tmp_path, clock)
