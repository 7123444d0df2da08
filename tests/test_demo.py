"""The quick start's demo: journeys, members, products and orders, and messages flowing."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from service.__main__ import main
from service.db import make_sync_engine
from service.journeys.models import Enrolment, Journey, JourneyStatus
from service.members.models import Member
from service.messaging.outbox import Message, MessageStatus
from service.orders.models import Order
from service.products.models import Product


def counts(url: str) -> dict[str, int]:
    engine = make_sync_engine(url)
    with engine.connect() as conn:
        found = {
            model.__name__: conn.scalar(select(func.count()).select_from(model)) or 0
            for model in (Member, Product, Order, Journey, Enrolment)
        }
        found["active"] = (
            conn.scalar(select(func.count()).where(Journey.status == JourneyStatus.ACTIVE)) or 0
        )
        found["sent"] = (
            conn.scalar(select(func.count()).where(Message.status == MessageStatus.SENT)) or 0
        )
    engine.dispose()
    return found


def test_demo_data_seeds_once_and_the_journeys_send_through_the_local_gateway(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}"
    monkeypatch.setenv("HUITOU_DATABASE_URL", url)
    monkeypatch.setenv("HUITOU_OUTBOX_DIR", str(tmp_path / "outbox"))
    monkeypatch.setenv("HUITOU_QUIET_HOURS", "")  # whatever time of day the test runs
    assert main(["demo-data"]) == 0
    seeded = counts(url)
    assert seeded["Member"] == 121  # 120 with a year of history, one new today
    assert seeded["Product"] == 7
    assert seeded["Order"] > 200
    assert seeded["Journey"] == seeded["active"] == 7
    assert main(["demo-data"]) == 0  # a second run adds nothing
    assert "not added" in capsys.readouterr().out
    assert counts(url)["Order"] == seeded["Order"]

    assert main(["tick"]) == 0  # the journeys react to today's orders, not to the history
    after = counts(url)
    assert 4 <= after["Enrolment"] <= 8
    assert after["sent"] >= 2  # the shipment and delivery notices go at once
    [log] = (tmp_path / "outbox").glob("*.log")
    text = log.read_text(encoding="utf-8")
    assert "shipping/shipped" in text
    assert "shipping/delivered" in text
    assert "【Huitou】" in text
