from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from fastapi import Path as PathParam

from service.analytics import reports
from service.analytics.config import AnalyticsConfig
from service.analytics.journey_report import journey_report
from service.analytics.journey_schemas import JourneyReport, journey_csv
from service.analytics.periods import Period
from service.analytics.report_schemas import (
    ConcentrationRow,
    FunnelRow,
    LifecycleRow,
    NewBuyersRow,
    Report,
    ReturnRateRow,
    to_csv,
)
from service.api.deps import ClockDep, DbSession, Marketer, SettingsDep

router = APIRouter(prefix="/reports", tags=["reports"], dependencies=[Marketer])

From = Annotated[date, Query(alias="from", description="First local date, in the shop's zone.")]
To = Annotated[date, Query(alias="to", description="Last local date, included.")]
Format = Annotated[Literal["json", "csv"], Query(alias="format")]
PeriodQuery = Annotated[Period, Query(description="day, week (ISO, from Monday) or month")]
CSV: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {}}, "description": "JSON, or CSV with ?format=csv"}
}
JourneyKey = Annotated[str, PathParam(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$", examples=["winback"])]


@dataclass(frozen=True)
class ReportRange:
    """What every report takes besides its own options: the local dates, the shop's analytics
    settings and now."""

    first: date
    last: date
    config: AnalyticsConfig
    now: datetime

    def args(self) -> dict[str, Any]:
        return {"first": self.first, "last": self.last, "config": self.config, "now": self.now}


def _report_range(clock: ClockDep, settings: SettingsDep, first: From, last: To) -> ReportRange:
    return ReportRange(first, last, AnalyticsConfig.from_settings(settings), clock.now())


Range = Annotated[ReportRange, Depends(_report_range)]


def _respond(report: Report[Any], fmt: str, name: str | None = None) -> Any:
    if fmt != "csv":
        return report
    name = name or f"{report.report}_{report.date_from}_{report.date_to}.csv"
    body = journey_csv(report) if isinstance(report, JourneyReport) else to_csv(report)
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/repurchase-funnel", response_model=Report[FunnelRow], responses=CSV)
async def repurchase_funnel(session: DbSession, scope: Range, fmt: Format = "json") -> Any:
    """Members with at least k paid orders in the range and the share who went on to k + 1."""
    report = await reports.repurchase_funnel(session, **scope.args())
    return _respond(report, fmt)


@router.get("/return-rate", response_model=Report[ReturnRateRow], responses=CSV)
async def return_rate(
    session: DbSession,
    scope: Range,
    period: PeriodQuery = Period.MONTH,
    fmt: Format = "json",
) -> Any:
    """Per period, the share of its buyers who had bought before it (回头率)."""
    report = await reports.return_rate(session, period=period, **scope.args())
    return _respond(report, fmt)


@router.get("/new-buyers", response_model=Report[NewBuyersRow], responses=CSV)
async def new_buyers(
    session: DbSession,
    scope: Range,
    period: PeriodQuery = Period.MONTH,
    fmt: Format = "json",
) -> Any:
    """New buyers per period and their 30/60/90-day repurchase rates."""
    report = await reports.new_buyers(session, period=period, **scope.args())
    return _respond(report, fmt)


@router.get("/lifecycle", response_model=Report[LifecycleRow], responses=CSV)
async def lifecycle(
    session: DbSession,
    scope: Range,
    period: PeriodQuery = Period.MONTH,
    fmt: Format = "json",
) -> Any:
    """Members per life-cycle stage at the end of each period."""
    report = await reports.lifecycle(session, period=period, **scope.args())
    return _respond(report, fmt)


@router.get("/value-concentration", response_model=Report[ConcentrationRow], responses=CSV)
async def value_concentration(session: DbSession, scope: Range, fmt: Format = "json") -> Any:
    """Share of buyers against share of revenue, by AOV tier and by AOV decile."""
    report = await reports.value_concentration(session, **scope.args())
    return _respond(report, fmt)


@router.get(
    "/journeys/{key}",
    response_model=JourneyReport,
    responses=CSV | {404: {"description": "No journey with this key"}},
)
async def journey(key: JourneyKey, session: DbSession, scope: Range, fmt: Format = "json") -> Any:
    """Per step, variant and channel: messages, opt-outs, conversions, attributed orders and
    revenue, cost and ROI; and the holdout's uplift with 95% confidence intervals. The CSV is
    one table: the step rows, then the holdout row (column `section`)."""
    report = await journey_report(session, key=key, **scope.args())
    return _respond(report, fmt, f"journey_{key}_{scope.first}_{scope.last}.csv")
