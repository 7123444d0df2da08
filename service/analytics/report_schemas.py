"""What the reports return: an envelope with the range, and typed rows (JSON or CSV).

Ratios are exact fractions of the integer counts beside them, rounded half up to 4 decimal
places and given as decimal strings; a ratio with a zero denominator is null. Money is the net
amount (refunds deducted) in the shop's currency, to the cent.
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, Field

RATIO_PLACES = Decimal("0.0001")
CENT = Decimal("0.01")


def ratio(numerator: int, denominator: int) -> Decimal | None:
    if denominator == 0:
        return None
    return (Decimal(numerator) / Decimal(denominator)).quantize(RATIO_PLACES, ROUND_HALF_UP)


def money(cents: int) -> Decimal:
    return (Decimal(cents) / 100).quantize(CENT)


class FunnelRow(BaseModel):
    k: int = Field(description="Members with at least k paid orders in the range …")
    members: int
    repurchased: int = Field(description="… of whom this many have at least k + 1.")
    rate: Decimal | None


class ReturnRateRow(BaseModel):
    period_start: date
    period_end: date
    buyers: int
    returning: int = Field(description="Buyers whose first paid order came before the period.")
    rate: Decimal | None


class NewBuyersRow(BaseModel):
    """Rates whose window has not fully passed for every new buyer of the period are null,
    with complete false; the repurchases so far are still counted."""

    period_start: date
    period_end: date
    new_buyers: int
    repurchased_30d: int
    rate_30d: Decimal | None
    complete_30d: bool
    repurchased_60d: int
    rate_60d: Decimal | None
    complete_60d: bool
    repurchased_90d: int
    rate_90d: Decimal | None
    complete_90d: bool


class LifecycleRow(BaseModel):
    period_start: date
    period_end: date
    as_of: datetime = Field(description="The instant counted: the end of the period, or now.")
    source: Literal["snapshot", "derived"] = Field(
        description="snapshot: stored by that day's recompute; derived: from the orders, "
        "with the fixed thresholds"
    )
    new: int
    active: int
    sleeping: int
    at_risk: int
    churned: int


class ConcentrationRow(BaseModel):
    group: Literal["tier", "decile"]
    key: str = Field(description="high, medium, low; or decile 10 (highest AOV) … 1")
    buyers: int
    buyer_share: Decimal | None
    orders: int
    revenue: Decimal
    revenue_share: Decimal | None
    average_order_value: Decimal | None
    repeat_buyers: int = Field(description="Buyers with two or more paid orders in the range.")
    repeat_rate: Decimal | None


RowT = TypeVar("RowT", bound=BaseModel)


class Report(BaseModel, Generic[RowT]):
    report: str
    date_from: date = Field(serialization_alias="from")
    date_to: date = Field(serialization_alias="to")
    period: str | None = None
    timezone: str
    generated_at: datetime
    rows: list[RowT]


def to_csv(report: Report[Any]) -> str:
    """The rows as CSV with a header row; empty cells for nulls, values as in JSON."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    rows = [row.model_dump(mode="json") for row in report.rows]
    fields = list(type(report.rows[0]).model_fields) if report.rows else []
    writer.writerow(fields)
    for row in rows:
        writer.writerow(["" if row[f] is None else _cell(row[f]) for f in fields])
    return buffer.getvalue()


def _cell(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
