"""Alembic environment: the URL comes from Settings (or the caller), batch mode for SQLite."""

from typing import Any

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import JSON, Connection
from sqlalchemy.sql.type_api import TypeEngine

import service.models  # noqa: F401  (registers every table on Base.metadata)
from service.db import Base, Money, UtcDateTime, make_sync_engine
from service.settings import Settings

config = context.config


def render_item(kind: str, obj: Any, autogen: AutogenContext) -> str | bool:
    """Write plain SQL types into migrations, so old revisions never depend on today's code."""
    if kind != "type" or not isinstance(obj, TypeEngine):
        return False
    if isinstance(obj, UtcDateTime):
        return "sa.DateTime(timezone=True)"
    if isinstance(obj, Money):
        return "sa.BigInteger()"
    if isinstance(obj, JSON):
        autogen.imports.add("from sqlalchemy.dialects import postgresql")
        return "sa.JSON().with_variant(postgresql.JSONB(), 'postgresql')"
    return False


def run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=True,
        compare_type=True,
        compare_server_default=False,
        render_item=render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    run(connection)
else:
    url = config.attributes.get("url") or Settings().database_url
    engine = make_sync_engine(url)
    with engine.connect() as conn:
        run(conn)
    engine.dispose()
