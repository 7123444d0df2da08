"""Fixtures: every database test runs on SQLite and PostgreSQL, on a schema built by Alembic."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from service.app import create_app
from service.clock import FakeClock
from service.db import Base, make_engine, make_sessionmaker
from service.migrate import upgrade_to_head
from service.settings import Settings
from tests.factories import ADMIN_KEY, WEBHOOK_SECRET

PG_SERVER = os.environ.get("HUITOU_TEST_PG", "postgresql://postgres@127.0.0.1:5432")
START = datetime(2026, 6, 18, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai


def _pg_database() -> str:
    """`test`, or one database per xdist worker (and per checkout, via HUITOU_TEST_PG_DB)."""
    base = os.environ.get("HUITOU_TEST_PG_DB", "test")
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    return f"{base}_{worker}" if worker else base


def postgres_url() -> str:
    """A migrated-from-blank PostgreSQL database for this test worker, or skip (fail under CI)."""
    name = _pg_database()
    try:
        with psycopg.connect(f"{PG_SERVER}/test", autocommit=True, connect_timeout=3) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
                conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required under CI and unreachable: {exc}")
        pytest.skip(f"PostgreSQL unreachable: {exc}")
    with psycopg.connect(f"{PG_SERVER}/{name}", autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    return f"{PG_SERVER.replace('postgresql://', 'postgresql+psycopg://')}/{name}"


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'huitou.db'}"
    else:
        url = postgres_url()
    upgrade_to_head(url)  # the real migrations build the test schema
    return url


async def truncate_all(engine: AsyncEngine) -> None:
    tables = [t.name for t in Base.metadata.sorted_tables]
    async with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            await conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(tables):
                await conn.execute(text(f"DELETE FROM {table}"))


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(database_url)
    yield engine
    await truncate_all(engine)
    await engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return make_sessionmaker(engine)


@pytest.fixture
async def session(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A session in one transaction, committed when the test ends (the tables are then emptied)."""
    async with sessions() as session, session.begin():
        yield session


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        admin_api_key=ADMIN_KEY,
        webhook_secrets=WEBHOOK_SECRET,
        shopify_secret="shpss_test_secret_0123456789",
        woocommerce_secret="wc_test_secret_0123456789",
        scheduler_enabled=False,
        max_body_bytes=64_000,
        outbox_dir=str(tmp_path / "outbox"),  # what the local gateways "send" stays in the test
    )


@pytest.fixture
async def app(settings: Settings, clock: FakeClock, engine: AsyncEngine) -> AsyncIterator[FastAPI]:
    app = create_app(settings, clock, migrate=False)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://test",
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
    ) as client:
        yield client


@pytest.fixture
async def anon(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client without credentials (webhooks, callbacks, the unauthenticated)."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


_skipped_postgres: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped and "postgresql" in report.nodeid:
        _skipped_postgres.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Under CI a skipped PostgreSQL test is a failure: both databases are the bar."""
    if os.environ.get("CI") == "true" and _skipped_postgres:
        print(f"\n{len(_skipped_postgres)} PostgreSQL tests were skipped under CI=true")  # noqa: T201
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
