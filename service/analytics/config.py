"""The analytics settings as one frozen value, and the part of it a recompute depends on."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import time
from typing import Any
from zoneinfo import ZoneInfo

from service.analytics.lifecycle import StageRules
from service.settings import Settings


@dataclass(frozen=True)
class TierBounds:
    """Value tiers by average order value: the top `high_percent` of buyers are high, down to
    `medium_percent` medium, the rest low."""

    high_percent: int = 25
    medium_percent: int = 50


@dataclass(frozen=True)
class PromoRule:
    """An order is promotional if its source is listed, or its discount is at least
    `min_discount_percent` of the price before discount (0 turns that test off)."""

    sources: tuple[str, ...] = ("flash_sale", "clearance")
    min_discount_percent: int = 30


@dataclass(frozen=True)
class AnalyticsConfig:
    stage: StageRules = field(default_factory=StageRules)
    tiers: TierBounds = field(default_factory=TierBounds)
    promo: PromoRule = field(default_factory=PromoRule)
    replenish_min_pairs: int = 20
    chunk_size: int = 20_000
    timezone: str = "Asia/Shanghai"
    nightly_at: time = time(3, 0)

    @classmethod
    def from_settings(cls, settings: Settings) -> AnalyticsConfig:
        hour, minute = (int(part) for part in settings.analytics_nightly_at.split(":"))
        return cls(
            stage=StageRules.from_settings(settings),
            tiers=TierBounds(settings.value_tier_high_percent, settings.value_tier_medium_percent),
            promo=PromoRule(tuple(settings.promo_sources), settings.promo_min_discount_percent),
            replenish_min_pairs=settings.replenish_min_pairs,
            chunk_size=settings.analytics_chunk_size,
            timezone=settings.timezone,
            nightly_at=time(hour, minute),
        )

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def key(self) -> dict[str, Any]:
        """What the stored results depend on: a change here makes a recompute due."""
        return {
            "stage": asdict(self.stage),
            "tiers": asdict(self.tiers),
            "promo": {
                "sources": sorted(self.promo.sources),
                "min_discount_percent": self.promo.min_discount_percent,
            },
            "replenish_min_pairs": self.replenish_min_pairs,
        }
