"""An import run: the file is read and staged off the event loop while the previous chunk is
applied, each chunk commits on its own, and a checkpoint after each commit makes it resumable.
The members' stats are recomputed once at the end (see `stats`)."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncConnection

from service.clock import Clock
from service.db import make_engine
from service.members.normalizer import ContactNormalizer
from service.orders.importer import checkpoint
from service.orders.importer.chunk import ChunkContext, Counts, apply_chunk
from service.orders.importer.reader import Chunk, Position, read_chunks
from service.orders.importer.staging import Staged, TimeEncoder, create_staging
from service.orders.importer.stats import note_members, recompute_noted

SQLITE_CACHE_KIB = 65_536  # with two chunks in flight the importer stays under 300 MB
CONTACT_FIELDS = {
    "csv": ("member_phone", "member_email"),
    "jsonl": ("member.phone", "member.email"),
}


@dataclass(frozen=True)
class ImportOptions:
    kind: str  # "csv" or "jsonl"
    region: str  # phone numbers without a country code are read for this region
    chunk_size: int = 10_000  # two chunks in flight stay well under 300 MB
    strict: bool = False
    restart: bool = False  # ignore the checkpoint


@dataclass
class ImportReport:
    counts: Counts = field(default_factory=Counts)
    resumed_at: Position | None = None  # where this run started, if it resumed
    done: bool = False  # the whole file is in
    stopped: bool = False  # --strict stopped at a bad order
    already_done: bool = False  # an earlier run finished this file


@dataclass(frozen=True)
class Listener:
    problem: Callable[[str], None]  # one `file:line: field: reason`
    progress: Callable[[int], None]  # bytes of the file done


Prepared = tuple[Chunk, Staged, datetime] | None


async def import_file(
    url: str, path: Path, options: ImportOptions, *, clock: Clock, listener: Listener
) -> ImportReport:
    """Import the file's orders into the database at `url`, from its checkpoint if it has one."""
    identity = checkpoint.identify(path, url)
    saved = None if options.restart else checkpoint.load(path, identity)
    report = ImportReport(resumed_at=saved.position if saved else None)
    if saved and saved.done:
        report.done = report.already_done = True
        return report
    start = saved.position if saved else Position(0, 0)
    listener.progress(start.offset)
    engine = make_engine(url, pool_size=1)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_bulk_connection)
    run = _Run(path, identity, options, clock, listener, report)
    run.stats_from = saved.stats_from if saved and saved.stats_from else start
    try:
        async with engine.connect() as conn:
            async with conn.begin():
                await create_staging(conn)
            with _bulk_allocation():
                if run.stats_from != start:  # an earlier run stopped before their stats
                    await run.note_again(conn, until=start)
                end = await run.chunks(conn, start)
                await recompute_noted(conn)
            checkpoint.save(path, identity, end, done=report.done)
    finally:
        await engine.dispose()
    return report


@dataclass
class _Run:
    path: Path
    identity: checkpoint.Identity
    options: ImportOptions
    clock: Clock
    listener: Listener
    report: ImportReport

    def __post_init__(self) -> None:
        self.normalizer = ContactNormalizer(self.options.region)
        self.analyzed_at = 0  # orders created when the tables were last analyzed
        self.chunks_done = 0
        self.stats_from = Position(0, 0)  # where the chunks awaiting their stats begin

    async def note_again(self, conn: AsyncConnection, *, until: Position) -> None:
        """Note the members of the orders an interrupted run committed without their stats."""
        times = TimeEncoder(conn.dialect.name)
        with self.path.open("rb") as file:
            for chunk in read_chunks(
                file,
                kind=self.options.kind,
                start=self.stats_from,
                size=self.options.chunk_size,
                strict=False,
            ):
                if chunk.start.offset >= until.offset:
                    break
                async with conn.begin():
                    await Staged(times, chunk.orders, self.clock.now()).load(conn)
                    await note_members(conn)

    async def chunks(self, conn: AsyncConnection, start: Position) -> Position:
        """Apply the chunks from `start`; returns where the next would start."""
        options, times = self.options, TimeEncoder(conn.dialect.name)
        context = ChunkContext(
            source=self.path.name,
            normalizer=self.normalizer,
            contact_fields=CONTACT_FIELDS[options.kind],
            strict=options.strict,
        )
        with self.path.open("rb") as file, ThreadPoolExecutor(1) as reader:
            chunks = read_chunks(
                file, kind=options.kind, start=start, size=options.chunk_size, strict=options.strict
            )

            def prepare() -> Prepared:
                chunk = next(chunks, None)
                if chunk is None:
                    return None
                now = self.clock.now()
                return chunk, Staged(times, chunk.orders, now), now

            loop = asyncio.get_running_loop()
            pending, end = loop.run_in_executor(reader, prepare), start
            while (prepared := await pending) is not None:
                chunk, staged, now = prepared
                async with conn.begin():
                    await staged.load(conn)
                    if not chunk.stopped:  # read on while this chunk is applied
                        pending = loop.run_in_executor(reader, prepare)
                    applied = await apply_chunk(conn, chunk, staged, context, now=now)
                end = applied.end
                self.committed(applied.counts, applied.problems, end)
                await self.keep_plans_current(conn)
                if applied.stopped:
                    self.report.stopped = True
                    if not chunk.stopped:
                        await pending  # the chunk read ahead is not applied
                    return end
        self.report.done = True
        return end

    async def keep_plans_current(self, conn: AsyncConnection) -> None:
        """PostgreSQL plans by table statistics, which autovacuum refreshes only now and then:
        a table that grew tenfold during the import would be planned as the small one it was.
        Analyze after the first chunk and whenever the orders imported have doubled since."""
        created = self.report.counts.orders_created
        if conn.dialect.name != "postgresql" or created < 2 * self.analyzed_at or not created:
            return
        async with conn.begin():
            await conn.execute(text("ANALYZE members, orders, order_items"))
        self.analyzed_at = created

    def committed(self, counts: Counts, problems: list[Any], end: Position) -> None:
        checkpoint.save(self.path, self.identity, end, done=False, stats_from=self.stats_from)
        self.normalizer.forget()
        self.chunks_done += 1
        if self.chunks_done % 32 == 0:  # a chunk leaves a few hundred objects in cycles
            gc.collect()
        self.report.counts.add(counts)
        for problem in sorted(problems):
            self.listener.problem(problem.render(self.path.name))
        self.listener.progress(end.offset)


def _sqlite_bulk_connection(dbapi_connection: Any, _record: Any) -> None:
    """Staging in memory, a bigger page cache, and no foreign key checks: every row the import
    inserts references a member or an order that the same statement joined to, and SQLite lets
    no other writer in until the chunk commits."""
    cursor = dbapi_connection.cursor()
    for pragma in (
        "temp_store = MEMORY",
        f"cache_size = -{SQLITE_CACHE_KIB}",
        "foreign_keys = OFF",
    ):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


@contextmanager
def _bulk_allocation() -> Iterator[None]:
    """Collect garbage now and then between chunks rather than all the time: millions of
    short-lived tuples come and go, and automatic passes over the chunks in flight cost a third
    of the run. What was alive before the run is frozen, out of every pass."""
    enabled = gc.isenabled()
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        gc.unfreeze()
        if enabled:
            gc.enable()
