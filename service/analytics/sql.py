"""The few SQL spellings that differ between SQLite and PostgreSQL, as portable expressions."""

from __future__ import annotations

import calendar
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Float,
    Integer,
    Select,
    Table,
    and_,
    bindparam,
    case,
    cast,
    func,
    literal,
    select,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from service.db import JsonType

DAY_SECONDS = 86_400


class epoch_s(FunctionElement[int]):
    """Whole seconds since 1970 of a UtcDateTime column (floor), the same on both databases."""

    type = BigInteger()
    inherit_cache = True


@compiles(epoch_s)
def _epoch_sqlite(element: epoch_s, compiler: SQLCompiler, **kw: Any) -> str:
    (column,) = element.clauses
    sql = compiler.process(column, **kw)
    if (compiler.dialect.server_version_info or (0,)) >= (3, 38):
        return f"unixepoch({sql})"  # parses the text date three times faster than strftime
    return f"CAST(strftime('%s', {sql}) AS INTEGER)"


@compiles(epoch_s, "postgresql")
def _epoch_pg(element: epoch_s, compiler: SQLCompiler, **kw: Any) -> str:
    (column,) = element.clauses
    return f"CAST(floor(EXTRACT(EPOCH FROM {compiler.process(column, **kw)})) AS BIGINT)"


class json_pairs(FunctionElement[Any]):
    """A JSON object from alternating keys and values (jsonb on PostgreSQL)."""

    type = JsonType
    inherit_cache = True


@compiles(json_pairs)
def _json_sqlite(element: json_pairs, compiler: SQLCompiler, **kw: Any) -> str:
    return f"json_object({compiler.process(element.clauses, **kw)})"


@compiles(json_pairs, "postgresql")
def _json_pg(element: json_pairs, compiler: SQLCompiler, **kw: Any) -> str:
    return f"jsonb_build_object({compiler.process(element.clauses, **kw)})"


def whole_days_between(later: ColumnElement[int], earlier: ColumnElement[int]) -> Any:
    """Whole days from one epoch-seconds value to a later one; 0 if it is not later."""
    diff = later - earlier
    return case((diff < 0, 0), else_=diff // DAY_SECONDS)


def days_since(at: Any, now: datetime | ColumnElement[int]) -> Any:
    """Whole days from `at` to `now` (a bound instant or an epoch-seconds expression)."""
    now_s = literal(epoch_of(now), BigInteger) if isinstance(now, datetime) else now
    return whole_days_between(now_s, epoch_s(at))


def epoch_of(at: datetime) -> int:
    """What `epoch_s` computes, in Python: whole seconds since 1970, microseconds dropped."""
    return calendar.timegm(at.utctimetuple())


def epoch_param(name: str) -> Any:
    return bindparam(name, type_=BigInteger)


def grouped_median(
    dialect: str, source: Any, keys: Sequence[str], value: str
) -> Select[tuple[Any, ...]]:
    """Per group of `keys`: the median of `value` (mean of the two middle values) and the count.

    PostgreSQL has percentile_cont; SQLite has none, so there the middle rows are picked by
    ROW_NUMBER against COUNT and averaged. Integer values give exact .0/.5 medians on both.
    """
    group = [source.c[k] for k in keys]
    column = source.c[value]
    if dialect == "postgresql":
        return select(
            *group,
            func.percentile_cont(0.5).within_group(column).label("median"),
            func.count().label("n"),
        ).group_by(*group)
    ranked = select(
        *group,
        column.label("v"),
        func.row_number().over(partition_by=group or None, order_by=column).label("rn"),
        func.count().over(partition_by=group or None).label("n"),
    ).subquery()
    rn, n = ranked.c.rn, ranked.c.n
    middle = and_(rn >= (n + 1) // 2, rn <= n // 2 + 1)
    return (
        select(
            *(ranked.c[k] for k in keys),
            (func.sum(cast(ranked.c.v, Float)) / func.count()).label("median"),
            func.max(n).label("n"),
        )
        .where(middle)
        .group_by(*(ranked.c[k] for k in keys))
    )


def as_int(expression: Any) -> Any:
    return cast(expression, Integer)


def table(model: Any) -> Table:
    """A mapped class's Core table, for statements that bypass the ORM (INSERT … SELECT)."""
    found: Table = model.__table__
    return found


@asynccontextmanager
async def reading(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncConnection]:
    """A connection for long reads outside any transaction block: on SQLite it holds no write
    lock, on PostgreSQL no transaction id (each statement reads its own snapshot)."""
    async with sessions() as session:
        conn = await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        yield conn
