"""`huitou import orders` as a user runs it: exit codes, messages, and a crash mid-import."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from service.orders.importer.checkpoint import checkpoint_path
from tests.conftest import truncate_all
from tests.importer.helpers import events, snapshot, write_csv
from tests.importer.test_import import history

STAMPS = {
    "created": [],
    "paid": ["paid_at"],
    "shipped": ["paid_at", "shipped_at"],
    "delivered": ["paid_at", "shipped_at", "delivered_at"],
    "refunded": ["paid_at", "refunded_at"],
    "cancelled": ["cancelled_at"],
}


def many_orders(count: int) -> list[dict[str, Any]]:
    statuses = ["paid", "delivered", "delivered", "refunded", "cancelled", "created", "shipped"]
    orders = []
    for n in range(count):
        status, day = statuses[n % len(statuses)], f"2025-{n % 12 + 1:02d}-{n % 28 + 1:02d}"
        order: dict[str, Any] = {
            "id": str(9_000_000_000_000_000_000 + n),
            "member": {"external_id": f"m-{n % 37}", "phone": f"1381234{n % 37:04d}"},
            "status": status,
            "total": f"{n % 90 + 10}.50",
            "created_at": f"{day}T10:00:00+08:00",
            "items": [{"sku": f"SKU-{n % 5}", "quantity": 1, "price": f"{n % 90 + 10}.50"}],
        }
        orders.append(order | dict.fromkeys(STAMPS[status], f"{day}T11:00:00+08:00"))
    return orders


def huitou(url: str, *args: str, **kwargs: Any) -> subprocess.Popen[str]:
    env = {**os.environ, "HUITOU_DATABASE_URL": url}
    return subprocess.Popen(
        [sys.executable, "-m", "service", "import", "orders", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def finished(process: subprocess.Popen[str]) -> tuple[int, str]:
    _, err = process.communicate(timeout=120)
    return process.returncode, err


async def test_a_clean_run_reports_and_exits_zero(
    database_url: str, engine: AsyncEngine, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "h.csv", history())
    code, err = finished(huitou(database_url, str(path)))
    assert code == 0, err
    assert err.splitlines()[-1] == (
        "h.csv: 6 orders created, 0 updated, 0 unchanged, 3 members created, 0 orders rejected"
    )
    code, err = finished(huitou(database_url, str(path)))
    assert (code, err.splitlines()[-1]) == (
        0,
        "h.csv: already imported (h.csv.checkpoint; --restart reads it again)",
    )


async def test_rejected_orders_make_the_exit_code_non_zero(
    database_url: str, engine: AsyncEngine, tmp_path: Path
) -> None:
    orders = history()
    orders[2]["created_at"] = "2026-01-05T01:00:00"  # no offset
    code, err = finished(huitou(database_url, str(write_csv(tmp_path / "h.csv", orders))))
    assert code == 1
    assert "h.csv:5: created_at: Input should have timezone info" in err.splitlines()
    assert err.splitlines()[-1].endswith(
        "5 orders created, 0 updated, 0 unchanged, 3 members created, 1 orders rejected"
    )


async def test_a_header_that_is_not_ours_is_refused(
    database_url: str, engine: AsyncEngine, tmp_path: Path
) -> None:
    path = tmp_path / "other.csv"
    path.write_text("id,customer,amount\n1,a,2\n")
    code, err = finished(huitou(database_url, str(path)))
    assert code == 2
    assert err.startswith("other.csv:1: header: needs the columns order_id, member_external_id")


async def test_killed_mid_import_then_rerun_gives_exactly_the_clean_result(
    database_url: str,
    engine: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
    tmp_path: Path,
) -> None:
    path = write_csv(tmp_path / "many.csv", many_orders(600))
    code, err = finished(huitou(database_url, str(path), "--chunk-size", "200"))
    assert code == 0, err
    clean = await snapshot(sessions)
    await truncate_all(engine)
    checkpoint_path(path).unlink()

    process = huitou(database_url, str(path), "--chunk-size", "5")
    assert process.stderr is not None
    line = process.stderr.readline()  # without a terminal: one line per committed chunk
    assert "bytes" in line, line
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=60)  # reaps it and closes the pipes
    assert process.returncode == -signal.SIGKILL
    partial = await snapshot(sessions)
    assert 0 < len(partial["orders"]) < 600

    code, err = finished(huitou(database_url, str(path), "--chunk-size", "5"))
    assert code == 0, err
    assert "resumed at line" in err.splitlines()[-1]
    assert await snapshot(sessions) == clean
    announced = [payload for kind, payload in await events(sessions)]
    assert sum(p["orders_created"] for p in announced) == 600
