"""What the journey report returns: step rows, the holdout comparison, and their flat CSV."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field

from service.analytics.report_schemas import Report


class JourneyStepRow(BaseModel):
    step_id: str
    variant: str | None = Field(description="The split arm; null for a plain send step.")
    channel: str
    queued: int = Field(description="Messages the step decided in the range for treatment members.")
    sent: int = Field(description="… of them handed to and accepted by a gateway.")
    delivered: int = Field(description="… of them confirmed delivered by a receipt.")
    failed: int
    suppressed: int = Field(description="… stopped by a policy at send time (not the holdout).")
    expired: int
    held_out: int = Field(description="Control members who reached the step: recorded, unsent.")
    opt_outs: int = Field(description="Opt-outs in the range attributed to the step's messages.")
    conversions: int = Field(
        description="Enrolments with a message counted in `queued` that reached the goal after it."
    )
    attributed_orders: int = Field(description="Orders paid in the range attributed here.")
    attributed_revenue: Decimal = Field(description="Their net amount.")
    cost: Decimal = Field(description="Sum of the gateway cost of the messages in `queued`.")
    roi: Decimal | None = Field(description="(attributed revenue − cost) / cost; null at cost 0.")


class HoldoutSummary(BaseModel):
    """Treatment against control over the members whose send or control step ran in the range,
    each with the orders they paid within the attribution window after it."""

    treatment_members: int
    control_members: int
    treatment_conversions: int | None = Field(description="Null when the journey has no goal.")
    control_conversions: int | None
    treatment_conversion_rate: Decimal | None
    control_conversion_rate: Decimal | None
    conversion_uplift: Decimal | None = Field(description="Treatment rate − control rate.")
    conversion_uplift_low: Decimal | None = Field(description="95% CI, Newcombe hybrid score.")
    conversion_uplift_high: Decimal | None
    conversion_relative_uplift: Decimal | None = Field(description="Rate ratio − 1.")
    conversion_relative_low: Decimal | None = Field(description="95% CI, Katz log method.")
    conversion_relative_high: Decimal | None
    treatment_revenue: Decimal
    control_revenue: Decimal
    treatment_revenue_per_member: Decimal | None
    control_revenue_per_member: Decimal | None
    revenue_uplift: Decimal | None = Field(description="Difference of revenue per member.")
    revenue_uplift_low: Decimal | None = Field(description="95% CI, Welch normal approximation.")
    revenue_uplift_high: Decimal | None
    revenue_relative_uplift: Decimal | None = Field(description="Ratio of the means − 1.")
    revenue_relative_low: Decimal | None = Field(description="95% CI, delta method.")
    revenue_relative_high: Decimal | None
    incremental_revenue: Decimal | None = Field(
        description="Revenue uplift per member × treatment members."
    )
    cost: Decimal = Field(description="The cost of every step row.")
    incremental_roi: Decimal | None = Field(
        description="(incremental revenue − cost) / cost; null at cost 0."
    )
    windows_closed: bool = Field(
        description="Every member's attribution window has ended: the figures are final."
    )


class JourneyReport(Report[JourneyStepRow]):
    journey: str
    journey_name: str
    attribution_window: str = Field(description="Of the newest version (ISO 8601).")
    attribution_windows: dict[str, str] = Field(
        description="Each channel's window in the newest version, where it sets its own."
    )
    holdout: HoldoutSummary


def journey_csv(report: JourneyReport) -> str:
    """One table: the step rows (`section` step), then the holdout (`section` holdout), with
    the columns of both; a cell that does not apply to a row's section is empty."""
    step_fields = list(JourneyStepRow.model_fields)
    fields = ["section", *step_fields]
    fields += [f for f in HoldoutSummary.model_fields if f not in step_fields]
    rows = [{"section": "step", **row.model_dump(mode="json")} for row in report.rows]
    rows.append({"section": "holdout", **report.holdout.model_dump(mode="json")})
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(fields)
    for row in rows:
        writer.writerow([_cell(row.get(f)) for f in fields])
    return buffer.getvalue()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
