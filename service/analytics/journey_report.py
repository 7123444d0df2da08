"""The journey report: per step, variant and channel what was sent and what it earned, and
the holdout comparison with its confidence intervals.

The range is local dates of the shop's zone. Step rows count the messages the journey decided
in the range, and the orders and opt-outs of the range that last-touch attribution gives them
(see `attribution`). The holdout compares the members whose send step (treatment) or unsent
control step ran in the range, each with the net revenue of the orders they paid within the
attribution window after it, wherever attribution gave those orders: both arms are measured
the same way, so other journeys' messages weigh on both alike.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.analytics import uplift
from service.analytics.attribution import epoch_micros, load_windows, window_of
from service.analytics.config import AnalyticsConfig
from service.analytics.journey_queries import (
    Arm,
    Holdout,
    RowKey,
    Span,
    StepCounts,
    add_attributed,
    holdout_arms,
    message_counts,
)
from service.analytics.journey_schemas import HoldoutSummary, JourneyReport, JourneyStepRow
from service.analytics.periods import check_range, local_midnight
from service.analytics.report_schemas import money, ratio
from service.journeys.durations import format_duration
from service.journeys.models import JourneyVersion
from service.journeys.service import get_journey

RATIO_PLACES, CENT_PLACES, COST_PLACES = 4, 2, 4


def round_half_up(value: Fraction, places: int) -> Decimal:
    """An exact fraction rounded half away from zero to `places` decimals."""
    scale = 10**places
    units = (2 * abs(value.numerator) * scale + value.denominator) // (2 * value.denominator)
    return Decimal(-units if value < 0 else units).scaleb(-places)


def _bound(
    interval: uplift.Interval | None, end: str, places: int, *, scale: int = 1
) -> Decimal | None:
    """One end of an interval, divided by `scale` (cents to money) and rounded half up."""
    if interval is None:
        return None
    value = interval.low if end == "low" else interval.high
    return round_half_up(Fraction(value) / scale, places)


def _roi(revenue_units: Fraction, cost_units: int) -> Decimal | None:
    if cost_units == 0:
        return None
    return round_half_up((revenue_units - cost_units) / cost_units, RATIO_PLACES)


def step_row(key: RowKey, c: StepCounts) -> JourneyStepRow:
    step_id, variant, channel = key
    return JourneyStepRow(
        step_id=step_id,
        variant=variant,
        channel=channel,
        queued=c.queued,
        sent=c.sent,
        delivered=c.delivered,
        failed=c.failed,
        suppressed=c.suppressed,
        expired=c.expired,
        held_out=c.held_out,
        opt_outs=c.opt_outs,
        conversions=c.conversions,
        attributed_orders=c.orders,
        attributed_revenue=money(c.revenue_cents),
        cost=round_half_up(Fraction(c.cost_units, 10**COST_PLACES), COST_PLACES),
        roi=_roi(Fraction(c.revenue_cents * 100), c.cost_units),
    )


CONVERSION_FIELDS = (
    "treatment_conversions",
    "control_conversions",
    "treatment_conversion_rate",
    "control_conversion_rate",
    "conversion_uplift",
    "conversion_uplift_low",
    "conversion_uplift_high",
    "conversion_relative_uplift",
    "conversion_relative_low",
    "conversion_relative_high",
)


def _conversion(treated: Arm, control: Arm, has_goal: bool) -> dict[str, Any]:
    out: dict[str, Any] = dict.fromkeys(CONVERSION_FIELDS)
    if not has_goal:
        return out
    x1, n1, x2, n2 = treated.conversions, treated.members, control.conversions, control.members
    out |= {
        "treatment_conversions": x1,
        "control_conversions": x2,
        "treatment_conversion_rate": ratio(x1, n1),
        "control_conversion_rate": ratio(x2, n2),
    }
    if n1 and n2:
        p1, p2 = Fraction(x1, n1), Fraction(x2, n2)
        out["conversion_uplift"] = round_half_up(p1 - p2, RATIO_PLACES)
        if x2:
            out["conversion_relative_uplift"] = round_half_up(p1 / p2 - 1, RATIO_PLACES)
    for name, interval in (
        ("conversion_uplift", uplift.rate_difference(x1, n1, x2, n2)),
        ("conversion_relative", uplift.relative_rate_uplift(x1, n1, x2, n2)),
    ):
        out[f"{name}_low"] = _bound(interval, "low", RATIO_PLACES)
        out[f"{name}_high"] = _bound(interval, "high", RATIO_PLACES)
    return out


def _revenue(treated: Arm, control: Arm, cost_units: int) -> dict[str, Any]:
    t = uplift.Sample(treated.members, treated.revenue_cents, treated.squares)
    c = uplift.Sample(control.members, control.revenue_cents, control.squares)
    cents = Fraction(1, 100)
    out: dict[str, Any] = {
        "treatment_revenue": money(t.total),
        "control_revenue": money(c.total),
        "treatment_revenue_per_member": round_half_up(t.mean * cents, 2) if t.n else None,
        "control_revenue_per_member": round_half_up(c.mean * cents, 2) if c.n else None,
        "revenue_uplift": None,
        "revenue_relative_uplift": None,
        "incremental_revenue": None,
        "incremental_roi": None,
    }
    if t.n and c.n:
        per_member = t.mean - c.mean
        incremental = per_member * t.n  # cents
        out["revenue_uplift"] = round_half_up(per_member * cents, CENT_PLACES)
        out["incremental_revenue"] = round_half_up(incremental * cents, CENT_PLACES)
        out["incremental_roi"] = _roi(incremental * 100, cost_units)
        if c.total > 0:
            out["revenue_relative_uplift"] = round_half_up(t.mean / c.mean - 1, RATIO_PLACES)
    difference = uplift.mean_difference(t, c)
    relative = uplift.relative_mean_uplift(t, c)
    out["revenue_uplift_low"] = _bound(difference, "low", CENT_PLACES, scale=100)
    out["revenue_uplift_high"] = _bound(difference, "high", CENT_PLACES, scale=100)
    out["revenue_relative_low"] = _bound(relative, "low", RATIO_PLACES)
    out["revenue_relative_high"] = _bound(relative, "high", RATIO_PLACES)
    return out


def holdout_summary(
    found: Holdout, *, has_goal: bool, cost_units: int, now: datetime
) -> HoldoutSummary:
    treated, control = found.arms.get(False, Arm()), found.arms.get(True, Arm())
    last = found.last_window_end_us
    return HoldoutSummary(
        treatment_members=treated.members,
        control_members=control.members,
        **_conversion(treated, control, has_goal),
        **_revenue(treated, control, cost_units),
        cost=round_half_up(Fraction(cost_units, 10**COST_PLACES), COST_PLACES),
        windows_closed=last is None or last <= epoch_micros(now),
    )


def _order(steps: list[str]) -> Any:
    position = {step_id: i for i, step_id in enumerate(steps)}

    def key(item: tuple[RowKey, StepCounts]) -> tuple[int, str, str, str]:
        (step_id, variant, channel), _ = item
        return (position.get(step_id, len(position)), step_id, variant or "", channel)

    return key


async def journey_report(
    session: AsyncSession,
    *,
    key: str,
    first: date,
    last: date,
    config: AnalyticsConfig,
    now: datetime,
) -> JourneyReport:
    """The journey's step rows and holdout comparison for local dates first..last."""
    check_range(first, last)
    journey = await get_journey(session, key=key)
    start_at = local_midnight(first, config.zone)
    end_at = local_midnight(last + timedelta(days=1), config.zone)
    rule = await session.scalar(
        select(JourneyVersion.rule).where(
            JourneyVersion.journey_id == journey.id,
            JourneyVersion.version == journey.latest_version,
        )
    )
    rule = rule or {}
    windows = await load_windows(session)
    span = Span(journey.id, start_at, end_at)
    counts = await message_counts(session, span)
    await add_attributed(session, counts, span, windows)
    steps = [str(s.get("id")) for s in rule.get("steps", []) if isinstance(s, dict)]
    ordered = sorted(counts.items(), key=_order(steps))
    cost_units = sum(c.cost_units for c in counts.values())
    arms = await holdout_arms(session, span, windows)
    return JourneyReport(
        report="journey",
        date_from=first,
        date_to=last,
        timezone=config.timezone,
        generated_at=now,
        rows=[step_row(k, c) for k, c in ordered],
        journey=journey.key,
        journey_name=journey.name,
        attribution_window=format_duration(window_of(rule)),
        attribution_windows=dict(rule.get("attribution_windows") or {}),
        holdout=holdout_summary(
            arms, has_goal=rule.get("goal") is not None, cost_units=cost_units, now=now
        ),
    )
