"""One chunk, one transaction: stage, create members, insert orders and items, merge the
orders already recorded, note the members whose stats the run recomputes, announce the chunk."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from service.events.service import append_event
from service.members.normalizer import ContactNormalizer
from service.orders.importer.apply import (
    insert_new,
    mark_recorded,
    merge_recorded,
    recorded_orders,
)
from service.orders.importer.members import (
    Contact,
    create_members,
    new_member_contacts,
    unknown_members,
)
from service.orders.importer.reader import Chunk, Position
from service.orders.importer.records import ImportOrder, Problem
from service.orders.importer.staging import Staged, import_items, import_orders
from service.orders.importer.stats import note_chunk


@dataclass
class Counts:
    orders_created: int = 0
    orders_updated: int = 0
    orders_unchanged: int = 0
    members_created: int = 0
    orders_rejected: int = 0

    def add(self, other: Counts) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    @property
    def changed(self) -> bool:
        return bool(self.orders_created or self.orders_updated or self.members_created)


@dataclass
class Applied:
    counts: Counts
    end: Position  # where the next chunk starts
    stopped: bool  # --strict met a bad order
    problems: list[Problem] = field(default_factory=list)


@dataclass(frozen=True)
class ChunkContext:
    source: str  # the file's name, for the event
    normalizer: ContactNormalizer
    contact_fields: tuple[str, str]  # how the file names a member's phone and email
    strict: bool

    def contacts(
        self, orders: list[ImportOrder], unknown: set[str]
    ) -> tuple[dict[str, Contact], dict[int, list[Problem]]]:
        return new_member_contacts(orders, unknown, self.normalizer, self.contact_fields)


async def apply_chunk(
    conn: AsyncConnection, chunk: Chunk, staged: Staged, context: ChunkContext, *, now: datetime
) -> Applied:
    """Apply the chunk, staged already, in the connection's open transaction."""
    unknown = await unknown_members(conn)
    orders = chunk.orders
    contacts, refused = context.contacts(orders, unknown)
    applied = Applied(Counts(orders_rejected=chunk.rejected), chunk.end, chunk.stopped)
    applied.problems.extend(chunk.problems)
    repeats = staged.repeats
    if refused and context.strict:
        cut = min(refused)  # stop there: nothing after it, not even the reader's complaints
        applied.problems, applied.counts.orders_rejected = refused[cut], 1
        applied.end, applied.stopped = chunk.starts[cut], True
        contacts, _ = context.contacts(orders[:cut], unknown)
        await _unstage(conn, seqs=None, from_seq=cut)
        repeats = [r for r in repeats if r[0] < cut]
    elif refused:
        repeats = _refuse(applied, refused, repeats, orders)
        await _unstage(conn, seqs=list(refused), from_seq=None)
    await _apply_staged(conn, applied.counts, contacts, repeats, orders, now=now)
    if applied.counts.changed:
        await _announce(conn, applied.counts, chunk, context.source, now=now)
    return applied


def _refuse(
    applied: Applied,
    refused: dict[int, list[Problem]],
    repeats: list[tuple[int, int, ImportOrder]],
    orders: list[ImportOrder],
) -> list[tuple[int, int, ImportOrder]]:
    """Drop refused orders and later lines of them; a line is never left out silently."""
    for problems in refused.values():
        applied.problems.extend(problems)
    kept = []
    for seq, first, order in repeats:
        if seq in refused:
            continue
        if first in refused:
            reason = f"not applied: line {orders[first].line} of this order was refused"
            applied.problems.append(Problem(order.line, "order_id", reason))
            refused[seq] = []
            continue
        kept.append((seq, first, order))
    applied.counts.orders_rejected += len(refused)
    return kept


async def _unstage(conn: AsyncConnection, *, seqs: list[int] | None, from_seq: int | None) -> None:
    for column in (import_orders.c.seq, import_items.c.order_seq):
        chosen = column.in_(seqs) if seqs is not None else column >= from_seq
        await conn.execute(delete(column.table).where(chosen))


async def _apply_staged(
    conn: AsyncConnection,
    counts: Counts,
    contacts: dict[str, Contact],
    repeats: list[tuple[int, int, ImportOrder]],
    orders: list[ImportOrder],
    *,
    now: datetime,
) -> None:
    counts.members_created = await create_members(conn, contacts, now=now)
    recorded = await recorded_orders(conn)
    if recorded:
        await mark_recorded(conn)
    counts.orders_created = await insert_new(conn, now=now)
    merged = await merge_recorded(conn, recorded, orders, repeats, now=now)
    counts.orders_updated, counts.orders_unchanged = merged.updated, merged.unchanged
    await note_chunk(conn, recorded=(member for _, member, _ in recorded.values()))


async def _announce(
    conn: AsyncConnection, counts: Counts, chunk: Chunk, source: str, *, now: datetime
) -> None:
    """One event per committed chunk: imported history appends no per-order events."""
    payload = {"file": source, "first_line": chunk.start.line + 1, "last_line": chunk.end.line}
    payload |= {f.name: getattr(counts, f.name) for f in fields(counts)}
    await append_event(
        AsyncSession(bind=conn),
        type="orders.imported",
        member_id=None,
        occurred_at=now,
        now=now,
        payload=payload,
    )
