"""What the analytics API returns: recompute runs and replenishment cycles."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from service.analytics.models import RunStatus


class RunOut(BaseModel):
    """One recompute of member analytics and how far it got."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    reason: str = Field(description="first, nightly, config (settings changed) or manual")
    status: RunStatus
    as_of: datetime = Field(description="The instant the scores and stages describe.")
    requested_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    attempts: int
    chunks: int
    rows_written: int = Field(description="Member rows whose analytics changed.")
    stage_changes: int = Field(description="member.stage_changed events emitted.")
    longest_tx_ms: int = Field(description="The longest single transaction of the run.")
    stage_mode: str
    stage_sleeping_days: int
    stage_at_risk_days: int
    stage_churned_days: int
    error: str | None


class CycleOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    scope: str = Field(description="sku or category")
    key: str
    cycle_days: float = Field(description="Median days per unit between repeat purchases.")
    pairs: int = Field(description="Repeat purchases the median is taken over.")
    members: int
    computed_at: datetime


class LearnedCycle(BaseModel):
    cycle_days: float
    pairs: int
    members: int
    computed_at: datetime


class ReplenishmentOut(BaseModel):
    """How long one unit of a product lasts, and where the figure comes from."""

    sku: str
    category: str | None
    replenish_days: int | None = Field(description="Set on the product, if any.")
    learned: LearnedCycle | None = Field(description="From this sku's repeat purchases.")
    category_learned: LearnedCycle | None = Field(description="From its category's.")
    effective_days: float | None = Field(
        description="What the replenishment trigger uses: the product's, else learned, "
        "else the category's."
    )
    basis: str | None = Field(description="product, learned, category, or null")
