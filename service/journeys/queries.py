"""Journeys as the engine reads them: live ones with their rules, and rules by version."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field

from sqlalchemy import and_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from service.journeys.enrolments import LiveJourney
from service.journeys.models import Journey, JourneyStatus, JourneyVersion
from service.journeys.rule import JourneyRule


def parse_stored(stored: dict[str, object]) -> JourneyRule:
    """A stored version: written by `JourneyRule.dump` after validation, so it parses."""
    return JourneyRule.model_validate(stored)


@dataclass
class RuleBook:
    """Rules by (journey id, version), and each journey's key and status."""

    rules: dict[tuple[int, int], JourneyRule] = field(default_factory=dict)
    journeys: dict[int, Journey] = field(default_factory=dict)

    def rule(self, journey_id: int, version: int) -> JourneyRule:
        return self.rules[journey_id, version]


async def load_rules(session: AsyncSession, pairs: Iterable[tuple[int, int]]) -> RuleBook:
    wanted = sorted(set(pairs))
    book = RuleBook()
    if not wanted:
        return book
    rows = await session.execute(
        select(JourneyVersion.journey_id, JourneyVersion.version, JourneyVersion.rule).where(
            tuple_(JourneyVersion.journey_id, JourneyVersion.version).in_(wanted)
        )
    )
    for journey_id, version, stored in rows:
        book.rules[journey_id, version] = parse_stored(stored)
    ids = {journey_id for journey_id, _ in wanted}
    book.journeys = {
        j.id: j for j in await session.scalars(select(Journey).where(Journey.id.in_(ids)))
    }
    return book


async def live_journeys(
    session: AsyncSession,
    *,
    statuses: Collection[JourneyStatus] = (JourneyStatus.ACTIVE,),
    trigger_types: Collection[str] | None = None,
) -> list[LiveJourney]:
    """Journeys in these statuses with the rule of their live version."""
    query = (
        select(Journey, JourneyVersion.rule)
        .join(
            JourneyVersion,
            and_(
                JourneyVersion.journey_id == Journey.id,
                JourneyVersion.version == Journey.live_version,
            ),
        )
        .where(Journey.status.in_(list(statuses)))
        .order_by(Journey.priority.desc(), Journey.id)
    )
    if trigger_types is not None:
        query = query.where(Journey.trigger_type.in_(list(trigger_types)))
    found = []
    for journey, stored in await session.execute(query):
        assert journey.live_version is not None
        assert journey.activated_at is not None
        found.append(
            LiveJourney(
                id=journey.id,
                key=journey.key,
                version=journey.live_version,
                rule=parse_stored(stored),
                activated_at=journey.activated_at,
            )
        )
    return found
