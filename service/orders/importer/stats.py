"""Member stats after an import: each member's recomputed once, at the end of the run.

Recomputing per chunk re-wrote a member's row for every chunk holding one of their orders, close
to once per order, and that row update was the costliest statement of a chunk. Instead each
chunk notes its orders' members in a temporary table, and the run recomputes them at its end in
short transactions. A crash loses the table, so the checkpoint keeps where the chunks awaiting
their stats begin; the resumed run notes their members again from the file (`note_range`).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import and_, delete, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from service.db import dialect_insert
from service.members.stats import recompute_stats
from service.orders.importer.apply import PLATFORM
from service.orders.importer.staging import import_orders, import_touched
from service.orders.models import Order

BATCH = 20_000  # members per transaction: about as long as a chunk's (a second or so)


async def note_chunk(conn: AsyncConnection, *, recorded: Iterable[int]) -> None:
    """Note the members of the chunk's new orders and of the orders it found `recorded`, merged
    or unchanged (so importing a file again also brings its members' stats in line).
    PostgreSQL noted the new orders' members as it inserted them."""
    s = import_orders.c
    insert = dialect_insert(conn.dialect.name, import_touched).on_conflict_do_nothing(
        index_elements=["member_id"]
    )
    if conn.dialect.name == "sqlite":
        new = select(s.member_id).distinct().where(~s.existing)
        await conn.execute(insert.from_select(["member_id"], new))
    if members := sorted(set(recorded)):
        await conn.execute(insert, [{"member_id": member} for member in members])


async def note_members(conn: AsyncConnection) -> None:
    """Note the members of the staged orders as recorded now (for chunks read again)."""
    s = import_orders.c
    chosen = (
        select(Order.member_id)
        .distinct()
        .join_from(
            import_orders,
            Order,
            and_(Order.platform == PLATFORM, Order.external_id == s.external_id),
        )
    )
    await conn.execute(
        dialect_insert(conn.dialect.name, import_touched)
        .from_select(["member_id"], chosen)
        .on_conflict_do_nothing(index_elements=["member_id"])
    )


async def recompute_noted(conn: AsyncConnection) -> None:
    """Recompute the noted members' stats, a batch of them per transaction."""
    member = import_touched.c.member_id
    last = 0
    while True:
        async with conn.begin():
            batch = select(member).where(member > last).order_by(member).limit(BATCH).subquery()
            high = await conn.scalar(select(func.max(batch.c.member_id)))
            if high is None:
                await conn.execute(delete(import_touched))
                return
            # A range of the table rather than a list of parameters (SQLite takes only so many).
            chosen = select(member).where(member > last, member <= high)
            await recompute_stats(AsyncSession(bind=conn), member_ids=chosen)
        last = high
