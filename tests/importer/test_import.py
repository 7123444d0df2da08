"""Importing order history: the same result as the webhook, set-based, idempotent, resumable."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from service.clock import FakeClock
from service.members.models import Member
from service.orders.importer import stats
from service.orders.importer.checkpoint import checkpoint_path
from service.orders.importer.reader import Position
from service.orders.importer.run import ImportOptions, ImportReport, Listener, import_file
from service.orders.schemas import OrderIn
from service.orders.service import ingest_order
from tests.conftest import truncate_all
from tests.importer.helpers import events, snapshot, write_csv, write_jsonl

SH = "+08:00"


def history() -> list[dict[str, Any]]:
    """Orders of three members in every status, with the awkward cases of real exports."""
    return [
        {
            "id": 1234567890123456789,  # a bare integer id must survive exactly
            "member": {"external_id": "m-1", "phone": "13812345678", "email": "Wang@Example.COM"},
            "status": "delivered",
            "total": "199.90",
            "discount_total": "20.00",
            "source": "flash_sale",
            "created_at": f"2025-11-11T00:05:00{SH}",
            "paid_at": f"2025-11-11T00:06:10{SH}",
            "shipped_at": "2025-11-11T10:00:00Z",
            "delivered_at": f"2025-11-13T09:30:00.250{SH}",
            "items": [
                {"sku": "MASK-30", "quantity": 1, "price": "109.90"},
                {"sku": "SERUM-50", "quantity": 1, "price": "110.00"},
            ],
        },
        {
            "id": "o-2",
            "member": {"external_id": "m-1", "name": "王小明", "phone": "+86 139 0000 0000"},
            "status": "refunded",
            "total": "50.00",
            "created_at": f"2025-12-01T08:00:00{SH}",
            "paid_at": f"2025-12-01T08:01:00{SH}",
            "refunded_at": f"2025-12-03T08:00:00{SH}",
            "items": [{"sku": "TEE", "quantity": 2, "price": "25.00"}],
        },
        {
            "id": "o-3",
            "member": {"external_id": "m-2", "phone": "138 0013 8000", "name": "李娜"},
            "status": "delivered",
            "total": "300.00",
            "refund_total": "100.00",
            "created_at": "2026-01-05T01:00:00-05:00",
            "paid_at": "2026-01-05T01:10:00-05:00",
            "items": [{"sku": "COAT", "quantity": 1, "price": "300.00"}],
        },
        {
            "id": "o-4",
            "member": {"external_id": "m-2"},
            "status": "cancelled",
            "total": "80.00",
            "created_at": f"2026-02-01T12:00:00{SH}",
            "cancelled_at": f"2026-02-01T13:00:00{SH}",
            "items": [{"sku": "MASK-30", "quantity": 1, "price": "80.00"}],
        },
        {
            "id": "o-5",
            "member": {"external_id": "m-3", "email": "li@shop.cn"},
            "status": "created",
            "currency": "USD",
            "total": "12.50",
            "created_at": f"2026-03-01T12:00:00{SH}",
        },
        {
            "id": "o-6",
            "member": {"external_id": "m-3"},
            "status": "shipped",  # no paid_at or shipped_at: stamped with the import time
            "total": "15",
            "created_at": f"2026-03-02T12:00:00{SH}",
            "items": [{"sku": "SOAP", "quantity": 3, "price": "5"}],
        },
    ]


def collecting() -> tuple[Listener, list[str]]:
    problems: list[str] = []
    return Listener(problem=problems.append, progress=lambda _: None), problems


async def run_import(
    url: str, path: Path, clock: FakeClock, **options: Any
) -> tuple[ImportReport, list[str]]:
    listener, problems = collecting()
    kind = "csv" if path.suffix == ".csv" else "jsonl"
    report = await import_file(
        url, path, ImportOptions(kind=kind, region="CN", **options), clock=clock, listener=listener
    )
    return report, problems


async def through_webhook(
    sessions: async_sessionmaker[AsyncSession], orders: list[dict[str, Any]], clock: FakeClock
) -> None:
    async with sessions() as session, session.begin():
        for order in orders:
            payload = OrderIn.model_validate(order)
            await ingest_order(session, payload, platform="native", now=clock.now(), region="CN")


@pytest.mark.parametrize("kind", ["jsonl", "csv"])
async def test_import_stores_what_the_webhook_would(
    database_url: str,
    engine: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
    clock: FakeClock,
    tmp_path: Path,
    kind: str,
) -> None:
    await through_webhook(sessions, history(), clock)
    expected = await snapshot(sessions)
    await truncate_all(engine)

    write = write_csv if kind == "csv" else write_jsonl
    report, problems = await run_import(
        database_url, write(tmp_path / f"h.{kind}", history()), clock
    )

    assert problems == []
    assert (report.done, report.counts.orders_created, report.counts.members_created) == (
        True,
        6,
        3,
    )
    assert await snapshot(sessions) == expected
    [(kind_, payload)] = await events(sessions)  # one per chunk, none per order or member
    assert kind_ == "orders.imported"
    assert payload["orders_created"] == 6


async def test_stats_recomputed_in_several_batches_match_the_webhooks(
    database_url: str,
    engine: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
    clock: FakeClock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await through_webhook(sessions, history(), clock)
    expected = await snapshot(sessions)
    await truncate_all(engine)

    monkeypatch.setattr(stats, "BATCH", 2)  # three members: two batches
    await run_import(database_url, write_csv(tmp_path / "h.csv", history()), clock)
    assert await snapshot(sessions) == expected


async def test_orders_already_recorded_merge_like_the_webhook(
    database_url: str,
    engine: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
    clock: FakeClock,
    tmp_path: Path,
) -> None:
    first = history()
    first[0] |= {"status": "paid", "shipped_at": None, "delivered_at": None}
    later = history()
    later[2] |= {"refund_total": "150.00"}  # a further refund
    later[3] |= {"status": "paid"}  # stale: cancelled stays cancelled
    later[4] |= {"status": "paid"}  # moves on, paid now
    later.append(dict(later[0], status="created"))  # a stale line later in the same file
    clock_later = FakeClock(clock.now())
    clock_later.advance(days=3)

    await through_webhook(sessions, first, clock)
    await through_webhook(sessions, later, clock_later)
    expected = await snapshot(sessions)
    await truncate_all(engine)

    await through_webhook(sessions, first, clock)
    report, problems = await run_import(
        database_url, write_jsonl(tmp_path / "later.jsonl", later), clock_later
    )
    assert problems == []
    counts = report.counts
    assert (counts.orders_created, counts.orders_updated, counts.orders_unchanged) == (0, 3, 3)
    assert await snapshot(sessions) == expected


@pytest.mark.parametrize("chunk_size", [2, 100])
async def test_an_order_reported_again_later_in_the_file_merges_like_the_webhook(
    database_url: str,
    engine: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
    clock: FakeClock,
    tmp_path: Path,
    chunk_size: int,
) -> None:
    """New orders whose later lines come in the same chunk, or in the next one. (The contacts
    of a member an earlier chunk created are not filled in, as documented: none are given.)"""
    orders = history()
    orders[1]["member"] = {"external_id": "m-1"}
    first = dict(orders[0], status="paid", shipped_at=None, delivered_at=None)
    messages = [
        first,
        orders[4],
        orders[1],
        dict(orders[4], status="paid", paid_at=f"2026-03-01T12:30:00{SH}"),
        orders[0],  # delivered now, with new items
        dict(first, status="created"),  # stale: stays delivered
        orders[2],
    ]
    await through_webhook(sessions, messages, clock)
    expected = await snapshot(sessions)
    await truncate_all(engine)

    path = write_jsonl(tmp_path / "again.jsonl", messages)
    report, problems = await run_import(database_url, path, clock, chunk_size=chunk_size)
    assert problems == []
    assert report.counts.orders_created == 4
    assert await snapshot(sessions) == expected


async def test_importing_again_changes_nothing(
    database_url: str, sessions: async_sessionmaker[AsyncSession], clock: FakeClock, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "h.csv", history())
    await run_import(database_url, path, clock, chunk_size=2)
    before, announced = await snapshot(sessions), await events(sessions)

    clock.advance(days=1)
    again, problems = await run_import(database_url, path, clock)
    assert again.already_done  # the checkpoint says the whole file is in
    restarted, problems = await run_import(database_url, path, clock, restart=True)
    assert problems == []
    counts = restarted.counts
    assert (counts.orders_created, counts.orders_updated, counts.orders_unchanged) == (0, 0, 6)
    assert await snapshot(sessions) == before
    assert await events(sessions) == announced
    assert len(announced) == 3  # one per committed chunk of two orders


async def test_resume_starts_at_the_checkpoint_and_redoing_a_chunk_is_harmless(
    database_url: str, sessions: async_sessionmaker[AsyncSession], clock: FakeClock, tmp_path: Path
) -> None:
    path = write_jsonl(tmp_path / "h.jsonl", history())
    await run_import(database_url, path, clock, chunk_size=2)
    complete = await snapshot(sessions)
    saved = checkpoint_path(path).read_text()

    # as if the run died after committing chunk three but before writing its checkpoint
    lines = path.read_bytes().splitlines(keepends=True)
    offset = sum(len(line) for line in lines[:2])
    checkpoint_path(path).write_text(
        saved.replace('"done": true', '"done": false').replace(
            f'"offset": {path.stat().st_size}, "line": 6', f'"offset": {offset}, "line": 2'
        )
    )
    report, _ = await run_import(database_url, path, clock, chunk_size=2)
    assert report.resumed_at is not None
    assert report.resumed_at.line == 2
    assert (report.counts.orders_created, report.counts.orders_unchanged) == (0, 4)
    assert await snapshot(sessions) == complete


async def test_a_resumed_run_recomputes_the_stats_an_interrupted_one_left_pending(
    database_url: str, sessions: async_sessionmaker[AsyncSession], clock: FakeClock, tmp_path: Path
) -> None:
    path = write_jsonl(tmp_path / "h.jsonl", history())
    await run_import(database_url, path, clock, chunk_size=2)
    complete = await snapshot(sessions)

    # as if the run died after committing two chunks, before it recomputed any stats: m-1's
    # orders are all on the first two lines, before where the rerun starts reading
    lines = path.read_bytes().splitlines(keepends=True)
    offset = sum(len(line) for line in lines[:4])
    saved = json.loads(checkpoint_path(path).read_text())
    saved |= {"offset": offset, "line": 4, "done": False, "stats_from": [0, 0]}
    checkpoint_path(path).write_text(json.dumps(saved))
    async with sessions() as session, session.begin():
        await session.execute(
            update(Member).values(
                paid_orders=0,
                total_spent=0,
                average_order_value=0,
                first_paid_at=None,
                last_paid_at=None,
            )
        )

    report, _ = await run_import(database_url, path, clock, chunk_size=2)
    assert report.resumed_at == Position(offset, 4)
    assert report.done
    assert await snapshot(sessions) == complete
    assert json.loads(checkpoint_path(path).read_text())["stats_from"] is None


async def test_another_file_under_the_same_name_is_not_resumed(
    database_url: str, sessions: async_sessionmaker[AsyncSession], clock: FakeClock, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "h.csv", history()[:3])
    await run_import(database_url, path, clock)
    write_csv(path, history())
    report, _ = await run_import(database_url, path, clock)
    assert report.resumed_at is None
    assert (report.counts.orders_created, report.counts.orders_unchanged) == (3, 3)


def bad_lines(tmp_path: Path) -> Path:
    orders = history()
    orders[1]["total"] = "12.345"
    orders[3]["status"] = "returned"
    orders[4]["member"] = {"external_id": "m-9", "phone": "12"}  # a new member's bad phone
    orders[5]["items"] = [{"sku": "SOAP", "quantity": 0, "price": "5"}]
    path = write_jsonl(tmp_path / "bad.jsonl", orders)
    with path.open("a") as file:
        file.write("{not json\n")
    return path


async def test_bad_orders_are_reported_and_the_rest_imported(
    database_url: str, sessions: async_sessionmaker[AsyncSession], clock: FakeClock, tmp_path: Path
) -> None:
    report, problems = await run_import(database_url, bad_lines(tmp_path), clock, chunk_size=3)
    assert problems == [
        "bad.jsonl:2: total: Decimal input should have no more than 2 decimal places",
        "bad.jsonl:4: status: Input should be 'created', 'paid', 'shipped', 'delivered', "
        "'refunded' or 'cancelled'",
        "bad.jsonl:5: member.phone: not a valid phone number (default region CN)",
        "bad.jsonl:6: items[0].quantity: Input should be greater than 0",
        "bad.jsonl:7: line: not a JSON order: Expecting property name enclosed in double "
        "quotes: line 1 column 2 (char 1)",
    ]
    assert (report.counts.orders_created, report.counts.orders_rejected) == (2, 5)
    assert report.done
    stored = await snapshot(sessions)
    assert [o[1] for o in stored["orders"]] == ["1234567890123456789", "o-3"]
    assert "m-9" not in [m[0] for m in stored["members"]]


async def test_strict_stops_at_the_first_bad_order(
    database_url: str, sessions: async_sessionmaker[AsyncSession], clock: FakeClock, tmp_path: Path
) -> None:
    orders = history()
    orders[4]["member"] = {"external_id": "m-9", "email": "not an address"}
    path = write_csv(tmp_path / "h.csv", orders)
    report, problems = await run_import(database_url, path, clock, strict=True)
    assert report.stopped
    assert not report.done
    assert len(problems) == 1
    assert problems[0].startswith("h.csv:7: member_email: ")
    assert [o[1] for o in (await snapshot(sessions))["orders"]] == [
        "1234567890123456789",
        "o-2",
        "o-3",
        "o-4",
    ]
    again, problems = await run_import(database_url, path, clock, strict=True)
    assert again.resumed_at is not None
    assert again.resumed_at.line == 6  # the bad order's first line is line 7
    assert again.counts.orders_created == 0
