"""Temporary staging tables, and loading a chunk into them the fastest way each database has:
COPY on PostgreSQL, one executemany on SQLite. Rows are encoded while the file is read."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    false,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from service.orders.importer.records import STAMPS, ImportOrder
from service.orders.models import OrderStatus
from service.orders.status import TIMESTAMP_FIELD, transitions

staging = MetaData()
TEMP: dict[str, Any] = {"prefixes": ["TEMPORARY"], "postgresql_on_commit": "DELETE ROWS"}
Stamp = DateTime(timezone=True)

import_orders = Table(
    "import_orders",
    staging,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("external_id", String(64), nullable=False),
    Column("member_external_id", String(128), nullable=False),
    Column("status", String(32), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("total", BigInteger, nullable=False),
    Column("discount_total", BigInteger, nullable=False),
    Column("refund_total", BigInteger, nullable=False),
    Column("source", String(32), nullable=False),
    Column("created_at", Stamp, nullable=False),
    *(Column(name, Stamp) for name in STAMPS),
    Column("repeated", Boolean, nullable=False),
    # Filled in by the database: whether the order is recorded already, and its member's id.
    Column("existing", Boolean, nullable=False, server_default=false()),
    Column("member_id", BigInteger().with_variant(Integer(), "sqlite")),
    **TEMP,
)
import_items = Table(
    "import_items",
    staging,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("order_seq", Integer, nullable=False),
    Column("sku", String(64), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("price", BigInteger, nullable=False),
    **TEMP,
)
import_members = Table(
    "import_members",
    staging,
    Column("external_id", String(128), primary_key=True),
    Column("phone", String(20)),
    Column("email", String(320)),
    Column("name", String(200)),
    **TEMP,
)
# The members whose stats the run recomputes at its end; kept across the chunks' commits.
noted = MetaData()
import_touched = Table(
    "import_touched",
    noted,
    Column(
        "member_id",
        BigInteger().with_variant(Integer(), "sqlite"),
        primary_key=True,
        autoincrement=False,
    ),
    prefixes=["TEMPORARY"],
)
ORDER_COLUMNS = [c.name for c in import_orders.c if c.name not in {"existing", "member_id"}]
ITEM_COLUMNS = [c.name for c in import_items.c]
MEMBER_COLUMNS = [c.name for c in import_members.c]
# The status times a new order gets stamped with `now` when the message lacks them.
NOW_STAMPED = {
    status: frozenset(TIMESTAMP_FIELD[entered] for entered in transitions(None, status))
    for status in OrderStatus
}


def sqlite_text(value: datetime) -> str:
    """The text SQLAlchemy stores for an instant on SQLite, which compares times as text."""
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


class TimeEncoder:
    """Times as each database takes them in a COPY or an executemany, cheaply: PostgreSQL
    reads ISO 8601 itself; for SQLite the UTC hour of each local hour is remembered, since
    most times of a file share their hour and offset with many others."""

    def __init__(self, dialect: str) -> None:
        self.dialect = dialect
        self.encode = self.sqlite if dialect == "sqlite" else self.postgresql
        self._hours: dict[str, str] = {}

    def sqlite(self, text: str) -> str:
        if len(text) == 20 and text[-1] == "Z":
            return f"{text[:10]} {text[11:19]}.000000"
        if len(text) != 25 or text[-2:] != "00":  # a fraction, or an offset of 5:30 or so
            return sqlite_text(datetime.fromisoformat(text))
        key = text[:13] + text[19:]  # the local hour and the offset
        hour = self._hours.get(key)
        if hour is None:
            if len(self._hours) > 100_000:
                self._hours.clear()
            at = datetime.fromisoformat(text[:13] + ":00:00" + text[19:])
            hour = self._hours[key] = sqlite_text(at)[:13]
        return hour + text[13:19] + ".000000"

    def postgresql(self, text: str) -> str:
        """PostgreSQL takes offsets up to 15 hours (Python up to 23): others go as UTC."""
        if text[-1] == "Z" or text[-5:-3] <= "14":
            return text
        return datetime.fromisoformat(text).astimezone(UTC).isoformat()


class Staged:
    """A chunk's staging rows, encoded for one dialect (built off the event loop)."""

    def __init__(self, times: TimeEncoder, orders: Sequence[ImportOrder], now: datetime) -> None:
        dialect, encode = times.dialect, times.encode
        first: dict[str, list[Any]] = {}
        self.repeats: list[tuple[int, int, ImportOrder]] = []  # (seq, seq of the first, order)
        order_rows: list[list[Any]] = []
        item_rows: list[tuple[int, int, str, int, int]] = []
        stamp = sqlite_text(now) if dialect == "sqlite" else now.isoformat()
        for seq, order in enumerate(orders):  # seq: the order's place in the chunk
            if (earlier := first.get(order.id)) is not None:
                self.repeats.append((seq, earlier[0], order))
                earlier[-1] = True  # repeated
                continue
            first[order.id] = row = _order_row(seq, order, encode, stamp)
            order_rows.append(row)
            base = len(item_rows)
            item_rows.extend((base + i, seq, *item) for i, item in enumerate(order.items))
        self.orders, self.items = order_rows, item_rows

        self.payloads = [
            (import_orders, ORDER_COLUMNS, encoded(dialect, order_rows)),
            (import_items, ITEM_COLUMNS, encoded(dialect, item_rows)),
        ]

    async def load(self, conn: AsyncConnection) -> None:
        await clear_staging(conn)
        for table, columns, payload in self.payloads:
            await load_encoded(conn, table, columns, payload)
        self.payloads = []  # the database has them now


def _order_row(seq: int, order: ImportOrder, encode: Any, now: Any) -> list[Any]:
    stamped = NOW_STAMPED[order.status]
    stamps = [  # ImportOrder holds the status times at 13 to 17, in the order of STAMPS
        encode(at) if (at := order[13 + i]) is not None else (now if name in stamped else None)
        for i, name in enumerate(STAMPS)
    ]
    refund = order.refund_total
    if refund is None:
        refund = order.total if order.status == "refunded" else 0
    return [
        seq,
        order.id,
        order.member,
        order.status.value,
        order.currency,
        order.total,
        order.discount_total,
        refund,
        order.source,
        encode(order.created_at),
        *stamps,
        False,
    ]


def encoded(dialect: str, rows: Sequence[Sequence[Any]]) -> str | Sequence[Sequence[Any]]:
    """Rows as COPY's CSV for PostgreSQL; SQLite binds them as they are."""
    if dialect == "sqlite":
        return rows
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


async def load_encoded(
    conn: AsyncConnection,
    table: Table,
    columns: list[str],
    payload: str | Sequence[Sequence[Any]],
) -> None:
    """One COPY, or one executemany (so no other thread should hold the GIL meanwhile)."""
    if not payload:
        return
    raw = await conn.get_raw_connection()
    driver: Any = raw.driver_connection
    names = ", ".join(columns)
    if isinstance(payload, str):
        statement = f"COPY {table.name} ({names}) FROM STDIN (FORMAT csv)"
        async with driver.cursor() as cursor, cursor.copy(statement) as copy:
            await copy.write(payload)
        return
    marks = ", ".join("?" * len(columns))
    await driver.executemany(f"INSERT INTO {table.name} ({names}) VALUES ({marks})", payload)


async def load_rows(
    conn: AsyncConnection, table: Table, columns: list[str], rows: Sequence[Sequence[Any]]
) -> None:
    await load_encoded(conn, table, columns, encoded(conn.dialect.name, rows))


async def create_staging(conn: AsyncConnection) -> None:
    await conn.run_sync(staging.create_all)
    await conn.run_sync(noted.create_all)


async def clear_staging(conn: AsyncConnection) -> None:
    """PostgreSQL empties them at commit; SQLite keeps temporary rows for the connection."""
    if conn.dialect.name == "sqlite":
        for table in staging.sorted_tables:
            await conn.execute(table.delete())
