"""SQL constructs whose spelling differs between SQLite and PostgreSQL, for compiled conditions.

Every value a construct depends on is one of its clauses (a bound parameter), never an attribute
read at compile time, so SQLAlchemy's statement cache stays correct. Each construct returns NULL,
or a boolean, exactly where the Python evaluator returns None or that boolean; `json_read_*`
are the exception, meaningful only where the matching `json_is_*` holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import BigInteger, Boolean, ColumnElement, Numeric, String, literal
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement


def _parts(element: FunctionElement[Any], compiler: SQLCompiler, **kw: Any) -> list[str]:
    return [compiler.process(clause, **kw) for clause in element.clauses]


class _JsonAt(FunctionElement[Any]):
    """The value at one key of a JSON object column; clauses: document, SQLite path, key."""

    inherit_cache = True

    def __init__(self, document: ColumnElement[Any], key: str) -> None:
        super().__init__(document, literal(f'$."{key}"', String()), literal(key, String()))


class json_number(_JsonAt):
    """The number at a key (exact numeric on PostgreSQL), NULL when it holds anything else."""

    type = Numeric()
    inherit_cache = True


class json_text(_JsonAt):
    type = String()
    inherit_cache = True


class json_bool(_JsonAt):
    type = Boolean()
    inherit_cache = True


class json_is_null(_JsonAt):
    """True when the key is absent or holds JSON null."""

    type = Boolean()
    inherit_cache = True


class json_is_number(_JsonAt):
    """Never NULL: whether the key holds a JSON number (not a bool)."""

    type = Boolean()
    inherit_cache = True


class json_is_text(_JsonAt):
    type = Boolean()
    inherit_cache = True


class json_is_bool(_JsonAt):
    type = Boolean()
    inherit_cache = True


class json_read_number(_JsonAt):
    """The key read as a number, meaningful only where json_is_number holds: on SQLite a bare
    json_extract (one JSON parse per row, so it is cheap to test before the type)."""

    type = Numeric()
    inherit_cache = True


class json_read_text(_JsonAt):
    type = String()
    inherit_cache = True


class json_read_bool(_JsonAt):
    type = Boolean()
    inherit_cache = True


_SQLITE_JSON = {
    json_number: "CASE WHEN json_type({d}, {p}) IN ('integer', 'real')"
    " THEN json_extract({d}, {p}) END",
    json_text: "CASE WHEN json_type({d}, {p}) = 'text' THEN json_extract({d}, {p}) END",
    json_bool: "CASE json_type({d}, {p}) WHEN 'true' THEN 1 WHEN 'false' THEN 0 END",
    json_is_null: "(coalesce(json_type({d}, {p}), 'null') = 'null')",
    json_is_number: "coalesce(json_type({d}, {p}) IN ('integer', 'real'), 0)",
    json_is_text: "coalesce(json_type({d}, {p}) = 'text', 0)",
    json_is_bool: "coalesce(json_type({d}, {p}) IN ('true', 'false'), 0)",
    json_read_number: "json_extract({d}, {p})",
    json_read_text: "json_extract({d}, {p})",
    json_read_bool: "json_extract({d}, {p})",  # true and false read as 1 and 0
}
# CASE guarantees the cast only sees values of the right JSON type (AND does not order its terms).
_PG_JSON = {
    json_number: "CASE WHEN jsonb_typeof({d} -> {k}) = 'number'"
    " THEN CAST({d} ->> {k} AS NUMERIC) END",
    json_text: "CASE WHEN jsonb_typeof({d} -> {k}) = 'string' THEN {d} ->> {k} END",
    json_bool: "CASE WHEN jsonb_typeof({d} -> {k}) = 'boolean'"
    " THEN CAST({d} ->> {k} AS BOOLEAN) END",
    json_is_null: "(coalesce(jsonb_typeof({d} -> {k}), 'null') = 'null')",
    json_is_number: "coalesce(jsonb_typeof({d} -> {k}) = 'number', false)",
    json_is_text: "coalesce(jsonb_typeof({d} -> {k}) = 'string', false)",
    json_is_bool: "coalesce(jsonb_typeof({d} -> {k}) = 'boolean', false)",
    json_read_text: "({d} ->> {k})",
}
_PG_JSON[json_read_number] = _PG_JSON[json_number]
_PG_JSON[json_read_bool] = _PG_JSON[json_bool]


@compiles(_JsonAt, "sqlite")
def _sqlite_json(element: _JsonAt, compiler: SQLCompiler, **kw: Any) -> str:
    document, path, _ = _parts(element, compiler, **kw)
    return _SQLITE_JSON[type(element)].format(d=document, p=path)


@compiles(_JsonAt, "postgresql")
def _pg_json(element: _JsonAt, compiler: SQLCompiler, **kw: Any) -> str:
    document, _, key = _parts(element, compiler, **kw)
    return _PG_JSON[type(element)].format(d=document, k=f"CAST({key} AS TEXT)")


class ordered_text(FunctionElement[str]):
    """Text that orders by code point: PostgreSQL's collation may not, SQLite's BINARY does."""

    type = String()
    inherit_cache = True


@compiles(ordered_text)
def _ordered_text_default(element: ordered_text, compiler: SQLCompiler, **kw: Any) -> str:
    return _parts(element, compiler, **kw)[0]


@compiles(ordered_text, "postgresql")
def _ordered_text_pg(element: ordered_text, compiler: SQLCompiler, **kw: Any) -> str:
    return f'({_parts(element, compiler, **kw)[0]}) COLLATE "C"'


class text_contains(FunctionElement[bool]):
    """Substring test, case-sensitive on both dialects; NULL when the text is NULL."""

    type = Boolean()
    inherit_cache = True


@compiles(text_contains, "sqlite")
def _contains_sqlite(element: text_contains, compiler: SQLCompiler, **kw: Any) -> str:
    text, needle = _parts(element, compiler, **kw)
    return f"(instr({text}, {needle}) > 0)"


@compiles(text_contains, "postgresql")
def _contains_pg(element: text_contains, compiler: SQLCompiler, **kw: Any) -> str:
    text, needle = _parts(element, compiler, **kw)
    return f"(strpos({text}, {needle}) > 0)"


def floor_div(value: ColumnElement[int], divisor: int) -> ColumnElement[int]:
    """Floor division in integers on both dialects, whose / and % truncate toward zero."""
    rest = ((value % divisor) + divisor) % divisor
    # precedence=100: rendered like *, so the difference on its left is parenthesized.
    return (value - rest).op("/", precedence=100, return_type=BigInteger())(divisor)


class epoch_us(FunctionElement[int]):
    """Microseconds since 1970 of a UtcDateTime value, exactly (no floating point)."""

    type = BigInteger()
    inherit_cache = True


@compiles(epoch_us, "sqlite")
def _epoch_us_sqlite(element: epoch_us, compiler: SQLCompiler, **kw: Any) -> str:
    # UtcDateTime stores 'YYYY-MM-DD HH:MM:SS.ffffff': whole seconds, then the microseconds.
    value = _parts(element, compiler, **kw)[0]
    return (
        f"(CAST(strftime('%s', substr({value}, 1, 19)) AS INTEGER) * 1000000"
        f" + CAST(substr({value}, 21, 6) AS INTEGER))"
    )


@compiles(epoch_us, "postgresql")
def _epoch_us_pg(element: epoch_us, compiler: SQLCompiler, **kw: Any) -> str:
    # EXTRACT returns an exact numeric since PostgreSQL 14.
    return f"CAST(EXTRACT(EPOCH FROM {_parts(element, compiler, **kw)[0]}) * 1000000 AS BIGINT)"


class json_array_has_any(FunctionElement[bool]):
    """A JSON array column holds one of these strings; clauses: document, then the strings."""

    type = Boolean()
    inherit_cache = True

    def __init__(self, document: ColumnElement[Any], values: Sequence[str]) -> None:
        super().__init__(document, *(literal(v, String()) for v in values))


@compiles(json_array_has_any, "sqlite")
def _array_has_sqlite(element: json_array_has_any, compiler: SQLCompiler, **kw: Any) -> str:
    document, *values = _parts(element, compiler, **kw)
    return (
        f"EXISTS (SELECT 1 FROM json_each({document}) AS tag"
        f" WHERE tag.type = 'text' AND tag.value IN ({', '.join(values)}))"
    )


@compiles(json_array_has_any, "postgresql")
def _array_has_pg(element: json_array_has_any, compiler: SQLCompiler, **kw: Any) -> str:
    document, *values = _parts(element, compiler, **kw)
    # ?| matches string elements of a top-level array (and object keys, which tags never are).
    return f"({document} ?| CAST(ARRAY[{', '.join(values)}] AS TEXT[]))"
