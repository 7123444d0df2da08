"""Declarative base, column types that behave the same on SQLite and PostgreSQL, engines."""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    ColumnElement,
    DateTime,
    Enum,
    Float,
    Integer,
    MetaData,
    Table,
    all_,
    any_,
    bindparam,
    create_engine,
    event,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine as _create_async_engine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase, QueryableAttribute
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
CENT = Decimal("0.01")


class UtcDateTime(TypeDecorator[datetime]):
    """Refuses naive datetimes; gives back aware UTC values on every dialect."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass an aware UTC value")
        value = value.astimezone(UTC)
        # SQLite compares the stored text, so every value is stored in one naive-UTC form.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Money(TypeDecorator[Decimal]):
    """A Decimal amount stored as an integer of its smallest unit: exact on SQLite, which has no
    decimal type. Cents by default; `Money(places=4)` for prices that are fractions of a cent."""

    impl = BigInteger
    cache_ok = True

    def __init__(self, places: int = 2) -> None:
        super().__init__()
        self.places = places
        self._unit = Decimal(10) ** places
        self._quantum = Decimal(1).scaleb(-places)

    def process_bind_param(self, value: Decimal | int | str | None, dialect: Dialect) -> int | None:
        if value is None:
            return None
        units = Decimal(value) * self._unit
        if units != units.to_integral_value():
            raise ValueError(f"amount {value} has more than {self.places} decimal places")
        return int(units)

    def process_result_value(self, value: int | None, dialect: Dialect) -> Decimal | None:
        return None if value is None else (Decimal(value) / self._unit).quantize(self._quantum)


IdType = BigInteger().with_variant(Integer(), "sqlite")  # SQLite rowids only for INTEGER
JsonType = JSON().with_variant(JSONB(), "postgresql")


def enum_type(enum_class: type[enum.Enum]) -> Enum:
    """Store a StrEnum by value as VARCHAR, so one migration fits both dialects."""
    return Enum(
        enum_class,
        native_enum=False,
        create_constraint=False,
        length=32,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {  # noqa: RUF012  (SQLAlchemy reads this class attribute)
        datetime: UtcDateTime(),
        Decimal: Money(),
        dict[str, Any]: JsonType,
        list[str]: JsonType,
    }


class epoch_seconds(FunctionElement[float]):
    """Seconds since 1970 of a UtcDateTime column, on both dialects (for date arithmetic)."""

    type = Float()
    inherit_cache = True


@compiles(epoch_seconds)
def _compile_epoch_sqlite(element: epoch_seconds, compiler: SQLCompiler, **kw: Any) -> str:
    (column,) = element.clauses
    return f"((julianday({compiler.process(column, **kw)}) - 2440587.5) * 86400.0)"


@compiles(epoch_seconds, "postgresql")
def _compile_epoch_pg(element: epoch_seconds, compiler: SQLCompiler, **kw: Any) -> str:
    (column,) = element.clauses
    return f"EXTRACT(EPOCH FROM {compiler.process(column, **kw)})"


def sync_url(url: str) -> str:
    """The same database through a synchronous driver (alembic, the importer, benchmarks)."""
    return url.replace("sqlite+aiosqlite", "sqlite").replace(
        "postgresql+asyncpg", "postgresql+psycopg"
    )


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def _tune_sqlite(engine: Engine) -> None:
    """WAL, foreign keys, a busy timeout, and BEGIN IMMEDIATE: writers queue instead of failing."""

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves, below
        cursor = dbapi_connection.cursor()
        for pragma in (
            "journal_mode=WAL",
            "foreign_keys=ON",
            "synchronous=NORMAL",
            "busy_timeout=30000",
        ):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection: Any) -> None:
        # A reader that asked for AUTOCOMMIT reads a WAL snapshot and must not hold up writers.
        if connection.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
            connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    if is_sqlite(url):
        # Every transaction takes SQLite's write lock (BEGIN IMMEDIATE), so a process runs one at
        # a time whatever the pool holds. With one connection the others wait in the pool's
        # queue, first come first served, and start the moment it is returned; with more, they
        # wait in SQLite's busy handler, which polls with sleeps of up to 100 ms.
        engine = _create_async_engine(
            url, connect_args={"timeout": 30}, pool_size=1, max_overflow=0, pool_timeout=30
        )
        _tune_sqlite(engine.sync_engine)
        return engine
    return _create_async_engine(
        url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True
    )


def make_sync_engine(url: str) -> Engine:
    url = sync_url(url)
    if is_sqlite(url):
        engine = create_engine(url, connect_args={"timeout": 30})
        _tune_sqlite(engine)
        return engine
    return create_engine(url, pool_pre_ping=True)


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


SessionFactory = Callable[[], AsyncSession]
Column = ColumnElement[Any] | QueryableAttribute[Any]


def dialect_insert(dialect_name: str, table: Any) -> Any:
    """INSERT with ON CONFLICT for the dialect at hand (both spell it the same way)."""
    from sqlalchemy.dialects.postgresql import insert as pg_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return pg_insert(table) if dialect_name == "postgresql" else sqlite_insert(table)


def session_dialect(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


def in_list(column: Column, values: Iterable[Any], *, dialect: str) -> ColumnElement[bool]:
    """`column IN (…)`; on PostgreSQL `column = ANY(array)`: one parameter however many values,
    so batch-sized lists neither bloat the statement nor miss the driver's statement cache."""
    items = list(values)
    if dialect == "postgresql":
        return column == any_(bindparam(None, items, type_=ARRAY(column.type)))
    return column.in_(items)


def not_in_list(column: Column, values: Iterable[Any], *, dialect: str) -> ColumnElement[bool]:
    items = list(values)
    if dialect == "postgresql":
        return column != all_(bindparam(None, items, type_=ARRAY(column.type)))
    return column.not_in(items)


DIALECTS = ("sqlite", "postgresql")


def table_of(model: type[Base]) -> Table:
    """A model's Core table: hot-path statements on it skip the ORM's persistence machinery."""
    table = model.__table__
    assert isinstance(table, Table)
    return table
