"""Order files in both formats, and a comparable picture of what the database holds."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.orders.importer.records import COLUMNS


def write_jsonl(path: Path, orders: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(order, ensure_ascii=False) + "\n" for order in orders))
    return path


def csv_rows(order: dict[str, Any]) -> list[list[str]]:
    member = order["member"]
    head = {
        "order_id": str(order["id"]),
        "member_external_id": str(member["external_id"]),
        "member_phone": member.get("phone") or "",
        "member_email": member.get("email") or "",
        "member_name": member.get("name") or "",
    }
    head |= {
        k: str(v) for k, v in order.items() if k not in {"id", "member", "items"} and v is not None
    }
    items = order.get("items") or [{}]
    return [[str((head | item).get(c, "")) for c in COLUMNS] for item in items]


def write_csv(path: Path, orders: list[dict[str, Any]]) -> Path:
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(COLUMNS)
        for order in orders:
            writer.writerows(csv_rows(order))
    return path


SNAPSHOT = {
    "orders": """
        SELECT o.platform, o.external_id, m.external_id, o.status, o.currency, o.total,
               o.discount_total, o.refund_total, o.source, CAST(o.created_at AS TEXT),
               CAST(o.paid_at AS TEXT), CAST(o.shipped_at AS TEXT), CAST(o.delivered_at AS TEXT),
               CAST(o.cancelled_at AS TEXT), CAST(o.refunded_at AS TEXT)
        FROM orders o JOIN members m ON m.id = o.member_id ORDER BY o.external_id""",
    "items": """
        SELECT o.external_id, i.sku, i.quantity, i.price, i.member_id = o.member_id
        FROM order_items i JOIN orders o ON o.id = i.order_id ORDER BY o.external_id, i.id""",
    "members": """
        SELECT external_id, phone, email, name, gender, locale, CAST(attributes AS TEXT),
               paid_orders, total_spent, average_order_value, CAST(first_paid_at AS TEXT),
               CAST(last_paid_at AS TEXT)
        FROM members ORDER BY external_id""",
}


async def snapshot(sessions: async_sessionmaker[AsyncSession]) -> dict[str, list[tuple[Any, ...]]]:
    """Orders, items and members as stored (times as the database's text), ids left out."""
    async with sessions() as session:
        return {
            name: [tuple(row) for row in await session.execute(text(query))]
            for name, query in SNAPSHOT.items()
        }


async def events(sessions: async_sessionmaker[AsyncSession]) -> list[tuple[str, dict[str, Any]]]:
    async with sessions() as session:
        rows = await session.execute(text("SELECT type, payload FROM events ORDER BY id"))
        return [
            (kind, payload if isinstance(payload, dict) else json.loads(payload))
            for kind, payload in rows
        ]
