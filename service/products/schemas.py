from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from service.inputs import InputModel


class ProductIn(InputModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "title": "补水面膜 30 片",
                    "category": "skincare",
                    "price": "109.50",
                    "replenish_days": 30,
                    "season": "all",
                    "tags": ["mask"],
                }
            ]
        },
    )

    title: Annotated[str, StringConstraints(min_length=1, max_length=300)]
    category: Annotated[str, StringConstraints(max_length=100)] | None = None
    price: Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)] | None = None
    replenish_days: int | None = Field(
        default=None, ge=1, le=3650, description="How many days one unit lasts."
    )
    season: Annotated[str, StringConstraints(max_length=32)] | None = None
    launch_date: date | None = None
    tags: Annotated[
        list[Annotated[str, StringConstraints(min_length=1, max_length=64)]], Field(max_length=50)
    ] = Field(default_factory=list)


class ProductOut(BaseModel):
    sku: str
    title: str
    category: str | None
    price: Decimal | None
    replenish_days: int | None
    season: str | None
    launch_date: date | None
    tags: list[str]
    created_at: datetime
    updated_at: datetime

    model_config = ConfigDict(from_attributes=True)
