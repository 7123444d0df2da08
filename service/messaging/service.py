"""Store, version, look up and load message templates."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.db import dialect_insert, session_dialect
from service.errors import Conflict, InvalidInput, NotFound
from service.messaging.files import TemplateFileError, read_template_files
from service.messaging.models import MessageTemplate
from service.messaging.render import Renderer, TemplateContent
from service.messaging.schemas import TemplateIn
from service.settings import Settings

log = logging.getLogger("huitou.messaging")


class TemplateNotFound(NotFound):
    code = "template_not_found"


@dataclass
class LoadReport:
    inserted: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    kept_api_version: list[str] = field(default_factory=list)


def content_of(row: MessageTemplate) -> TemplateContent:
    """The stored version in the shape the renderer takes."""
    return TemplateContent(row.name, row.channel, row.purpose, row.locales, row.version)


async def newest(session: AsyncSession, *, name: str) -> MessageTemplate | None:
    return await session.scalar(
        select(MessageTemplate)
        .where(MessageTemplate.name == name)
        .order_by(MessageTemplate.version.desc())
        .limit(1)
    )


async def get_template(
    session: AsyncSession, *, name: str, version: int | None = None
) -> MessageTemplate:
    """The newest version of a template, or the given one; TemplateNotFound otherwise."""
    if version is None:
        row = await newest(session, name=name)
    else:
        row = await session.scalar(
            select(MessageTemplate).where(
                MessageTemplate.name == name, MessageTemplate.version == version
            )
        )
    if row is None:
        what = f"template {name!r}" + (f" version {version}" if version is not None else "")
        raise TemplateNotFound(f"no {what}", loc=["path", "name"])
    return row


async def get_content(session: AsyncSession, *, name: str) -> TemplateContent:
    """What the dispatcher renders: the newest version of `name`."""
    return content_of(await get_template(session, name=name))


async def list_templates(session: AsyncSession) -> list[MessageTemplate]:
    """The newest version of every template, by name."""
    newest_versions = (
        select(MessageTemplate.name, func.max(MessageTemplate.version).label("version"))
        .group_by(MessageTemplate.name)
        .subquery()
    )
    rows = await session.scalars(
        select(MessageTemplate)
        .join(
            newest_versions,
            (MessageTemplate.name == newest_versions.c.name)
            & (MessageTemplate.version == newest_versions.c.version),
        )
        .order_by(MessageTemplate.name)
    )
    return list(rows)


def check_template(renderer: Renderer, *, name: str, data: TemplateIn, brand: str) -> None:
    """Compile and test-render every part; one 422 naming each broken part and line."""
    content = TemplateContent(name, data.channel, data.purpose, data.locales)
    problems = renderer.check(content, brand=brand)
    if problems:
        raise InvalidInput(
            [
                {
                    "loc": ["body", "locales", p.locale, p.part],
                    "msg": (f"line {p.line}: " if p.line else "") + p.msg,
                    "type": "template",
                    "line": p.line,
                }
                for p in problems
            ]
        )


async def save_template(
    session: AsyncSession,
    *,
    name: str,
    data: TemplateIn,
    renderer: Renderer,
    brand: str,
    now: datetime,
    source: str = "api",
    author: str | None = None,
) -> tuple[MessageTemplate, bool]:
    """Check, then store as a new version; the same content as the newest is not stored twice."""
    check_template(renderer, name=name, data=data, brand=brand)
    current = await newest(session, name=name)
    checksum = data.checksum()
    if current is not None and current.checksum == checksum:
        return current, False  # a retried PUT must not pile up identical versions
    return await _insert_version(
        session,
        name=name,
        data=data,
        version=(current.version + 1) if current else 1,
        source=source,
        author=author,
        now=now,
    ), True


async def _insert_version(
    session: AsyncSession,
    *,
    name: str,
    data: TemplateIn,
    version: int,
    source: str,
    author: str | None,
    now: datetime,
) -> MessageTemplate:
    values = {
        "name": name,
        "version": version,
        "channel": data.channel,
        "purpose": data.purpose,
        "description": data.description,
        "locales": data.model_dump(mode="json")["locales"],
        "source": source,
        "checksum": data.checksum(),
        "author": author,
        "created_at": now,
    }
    new_id = await session.scalar(
        dialect_insert(session_dialect(session), MessageTemplate)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["name", "version"])
        .returning(MessageTemplate.id)
    )
    if new_id is None:
        raise Conflict(
            f"template {name!r} version {version} was saved concurrently; send it again",
            loc=["path", "name"],
        )
    row = await session.get_one(MessageTemplate, new_id)
    return row


async def load_from_disk(
    session: AsyncSession, *, directory: Path, renderer: Renderer, brand: str, now: datetime
) -> LoadReport:
    """Insert template files that are new or changed; never replace a version saved by API."""
    files = await asyncio.to_thread(read_template_files, directory)
    report = LoadReport()
    for file in files:
        current = await newest(session, name=file.name)
        if current is not None and current.source != "file":
            report.kept_api_version.append(file.name)
            continue
        if current is not None and current.checksum == file.content.checksum():
            report.unchanged.append(file.name)
            continue
        try:
            check_template(renderer, name=file.name, data=file.content, brand=brand)
        except InvalidInput as exc:
            raise TemplateFileError(f"{file.path}: {exc.msg}") from exc
        version = current.version + 1 if current else 1
        try:
            await _insert_version(
                session,
                name=file.name,
                data=file.content,
                version=version,
                source="file",
                author=None,
                now=now,
            )
        except Conflict:
            report.unchanged.append(file.name)  # another replica loaded it at the same moment
            continue
        report.inserted.append(file.name)
    log.info("message templates loaded", extra={"inserted": len(report.inserted)})
    return report


async def load_shipped_templates(
    sessions: async_sessionmaker[AsyncSession],
    *,
    renderer: Renderer,
    settings: Settings,
    now: datetime,
) -> LoadReport:
    """At start, in its own transaction: the files in HUITOU_TEMPLATES_DIR enter the database."""
    async with sessions() as session, session.begin():
        return await load_from_disk(
            session,
            directory=Path(settings.templates_dir),
            renderer=renderer,
            brand=settings.brand,
            now=now,
        )
