"""The members an import chunk needs: unknown ones are created, with normalized contacts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import exists, literal, select, true, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import ColumnElement

from service.db import dialect_insert
from service.members.models import Member
from service.members.normalizer import ContactNormalizer
from service.orders.importer.records import ImportOrder, Problem
from service.orders.importer.staging import MEMBER_COLUMNS, import_members, import_orders, load_rows

Contact = tuple[str | None, str | None, str | None]


async def find_members(conn: AsyncConnection) -> None:
    """On SQLite, set the staged orders' member ids where their members are in the database,
    so that the later statements find them without a join. (On PostgreSQL updating the
    staged rows costs more than the joins: they stay.)"""
    if conn.dialect.name != "sqlite":
        return
    s = import_orders.c
    found = select(Member.id).where(Member.external_id == s.member_external_id).scalar_subquery()
    await conn.execute(update(import_orders).values(member_id=found).where(s.member_id.is_(None)))


async def unknown_members(conn: AsyncConnection) -> set[str]:
    """External ids of the staged orders' members that are not in the database yet."""
    s = import_orders.c
    unknown: ColumnElement[bool] = s.member_id.is_(None)
    if conn.dialect.name == "sqlite":
        await find_members(conn)
    else:
        unknown = ~exists().where(Member.external_id == s.member_external_id)
    return set(await conn.scalars(select(s.member_external_id).distinct().where(unknown)))


def new_member_contacts(
    orders: Sequence[ImportOrder],
    unknown: set[str],
    normalizer: ContactNormalizer,
    fields: tuple[str, str],
) -> tuple[dict[str, Contact], dict[int, list[Problem]]]:
    """Contacts for the members this chunk creates, like the webhook's: the first order gives
    them, later ones fill what is missing; an order with a bad phone or email is refused."""
    contacts: dict[str, Contact] = {}
    refused: dict[int, list[Problem]] = {}
    for seq, order in enumerate(orders):
        if order.member not in unknown:
            continue
        phone, email, problems = _normalized(order, normalizer, fields)
        if problems:
            refused[seq] = problems
            continue
        had = contacts.get(order.member, (None, None, None))
        contacts[order.member] = (had[0] or phone, had[1] or email, had[2] or order.name)
    return contacts, refused


def _normalized(
    order: ImportOrder, normalizer: ContactNormalizer, fields: tuple[str, str]
) -> tuple[str | None, str | None, list[Problem]]:
    phone = email = None
    problems = []
    if order.phone:
        try:
            phone = normalizer.phone(order.phone)
        except ValueError as exc:
            problems.append(Problem(order.line, fields[0], str(exc)))
    if order.email:
        try:
            email = normalizer.email(order.email)
        except ValueError as exc:
            problems.append(Problem(order.line, fields[1], str(exc)))
    return phone, email, problems


def _defaults(now: datetime) -> dict[str, Any]:
    """What the Member model would fill in for a new row (its defaults live in Python)."""
    values: dict[str, Any] = {"created_at": now, "updated_at": now}
    for column in Member.__table__.c:
        default = column.default
        if column.name in values or default is None or not hasattr(default, "arg"):
            continue
        values[column.name] = default.arg(None) if default.is_callable else default.arg
    return values


async def create_members(
    conn: AsyncConnection, contacts: dict[str, Contact], *, now: datetime
) -> int:
    """Insert the members that no one has inserted meanwhile; returns how many."""
    if not contacts:
        return 0
    rows = [(external_id, *contact) for external_id, contact in contacts.items()]
    await load_rows(conn, import_members, MEMBER_COLUMNS, rows)
    defaults = {
        name: literal(value, Member.__table__.c[name].type)
        for name, value in _defaults(now).items()
    }
    chosen = select(*import_members.c, *defaults.values()).where(true())
    statement = (
        dialect_insert(conn.dialect.name, Member)
        .from_select([*MEMBER_COLUMNS, *defaults], chosen)
        .on_conflict_do_nothing(index_elements=["external_id"])
        .execution_options(preserve_rowcount=True)
    )
    created = (await conn.execute(statement)).rowcount
    await find_members(conn)
    return created
