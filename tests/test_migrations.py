"""The migrations build exactly the schema the models declare, and they run both ways."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from service.db import Base, make_sync_engine
from service.migrate import alembic_config


def test_models_and_migrations_agree(database_url: str) -> None:
    engine = make_sync_engine(database_url)
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "render_as_batch": True}
        )
        diff = compare_metadata(context, Base.metadata)
    engine.dispose()
    assert diff == []


def test_migrations_downgrade_to_base_and_back(database_url: str) -> None:
    engine = make_sync_engine(database_url)
    try:
        for target in ("base", "head"):
            with engine.begin() as conn:
                config = alembic_config(database_url)
                config.attributes["connection"] = conn
                (command.downgrade if target == "base" else command.upgrade)(config, target)
    finally:
        engine.dispose()
