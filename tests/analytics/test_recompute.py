"""The recompute against the plain-Python definitions, on the generated shop, in many chunks."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.analytics import recompute, runs
from service.analytics import service as analytics
from service.analytics.config import AnalyticsConfig
from service.analytics.lifecycle import StageRules
from service.analytics.models import AnalyticsRun, LifecycleSnapshot, MemberAnalytics, RunStatus
from service.analytics.views import analytics_column
from service.clock import FakeClock
from service.events.models import Event
from service.members.models import Member
from tests.analytics import reference
from tests.analytics.world import World, build

AS_OF = datetime(2026, 6, 18, 1, 0, tzinfo=UTC)
CONFIG = AnalyticsConfig(chunk_size=37)


async def fix_sequences(session: AsyncSession) -> None:
    if session.get_bind().dialect.name == "postgresql":
        for table in ("members", "orders", "products", "order_items"):
            await session.execute(
                text(f"SELECT setval('{table}_id_seq', (SELECT max(id) FROM {table}))")
            )


@pytest.fixture
async def world(sessions: async_sessionmaker[AsyncSession]) -> World:
    async with sessions() as session, session.begin():
        built = await build(session)
        await fix_sequences(session)
    return built


async def stored(sessions: async_sessionmaker[AsyncSession]) -> dict[int, reference.Expected]:
    async with sessions() as session:
        rows = (await session.scalars(select(MemberAnalytics))).all()
    return {
        row.member_id: reference.Expected(
            row.recency_score,  # type: ignore[arg-type]
            row.frequency_score,  # type: ignore[arg-type]
            row.monetary_score,  # type: ignore[arg-type]
            row.segment,  # type: ignore[arg-type]
            row.stage,  # type: ignore[arg-type]
            row.value_tier,  # type: ignore[arg-type]
            row.promo_orders,
            row.promo_share,  # type: ignore[arg-type]
            row.gap_days_x2,
        )
        for row in rows
        if row.stage is not None
    }


async def test_recompute_matches_the_definitions_in_fixed_mode(
    sessions: async_sessionmaker[AsyncSession], world: World
) -> None:
    result = await analytics.run_pending(sessions, clock=FakeClock(AS_OF), config=CONFIG)
    assert result is not None
    expected = reference.expected_members(world, AS_OF)
    assert await stored(sessions) == expected
    assert result.chunks == len(world.member_ids) // 37 + 1
    assert result.stage_changes == 0  # first stages are assignments, not transitions
    assert {e.stage for e in expected.values()} >= {"new", "active", "sleeping", "churned"}
    assert len({e.segment for e in expected.values()}) >= 8
    async with sessions() as session:
        non_buyers = await session.scalar(select(func.count()).select_from(MemberAnalytics)) or 0
        non_buyers = len(world.member_ids) - non_buyers
        rows = await session.execute(select(LifecycleSnapshot.stage, LifecycleSnapshot.members))
        snapshot = dict(rows.all())
    assert non_buyers == len(world.member_ids) - len(expected)
    counts: dict[str, int] = {}
    for e in expected.values():
        counts[e.stage] = counts.get(e.stage, 0) + 1
    assert snapshot == counts


async def test_adaptive_mode_scales_thresholds_with_the_purchase_rhythm(
    sessions: async_sessionmaker[AsyncSession], world: World
) -> None:
    config = replace(CONFIG, stage=StageRules(mode="adaptive"))
    await analytics.run_pending(sessions, clock=FakeClock(AS_OF), config=config)
    expected = reference.expected_members(world, AS_OF, adaptive=True)
    assert await stored(sessions) == expected
    fixed = reference.expected_members(world, AS_OF)
    assert sum(fixed[m].stage != e.stage for m, e in expected.items()) > 10


async def test_a_later_run_writes_only_changes_and_emits_stage_transitions(
    sessions: async_sessionmaker[AsyncSession], world: World
) -> None:
    clock = FakeClock(AS_OF)
    await analytics.run_pending(sessions, clock=clock, config=CONFIG)
    assert await analytics.run_pending(sessions, clock=clock, config=CONFIG) is None  # not due

    clock.advance(days=40)  # past tonight's 03:00 in Shanghai: the nightly run is due
    later = await analytics.run_pending(sessions, clock=clock, config=CONFIG)
    assert later is not None
    before = reference.expected_members(world, AS_OF)
    after = reference.expected_members(world, clock.now())
    moved = {m: (before[m].stage, e.stage) for m, e in after.items() if before[m].stage != e.stage}
    assert moved
    assert later.stage_changes == len(moved)
    assert await stored(sessions) == after
    changed = {m for m in after if before[m] != after[m]}
    assert later.rows_written == len(changed)
    async with sessions() as session:
        events = (
            await session.execute(
                select(Event.member_id, Event.payload, Event.occurred_at).where(
                    Event.type == "member.stage_changed"
                )
            )
        ).all()
    assert {e.member_id: (e.payload["from"], e.payload["to"]) for e in events} == moved
    assert {e.occurred_at for e in events} == {clock.now()}


async def test_a_changed_setting_makes_a_recompute_due(
    sessions: async_sessionmaker[AsyncSession], world: World
) -> None:
    clock = FakeClock(AS_OF)
    await analytics.run_pending(sessions, clock=clock, config=CONFIG)
    stricter = replace(CONFIG, stage=StageRules(sleeping_days=30, at_risk_days=60))
    result = await analytics.run_pending(sessions, clock=clock, config=stricter)
    assert result is not None
    async with sessions() as session:
        reason = await session.scalar(select(AnalyticsRun.reason).where(AnalyticsRun.id == 2))
    assert reason == "config"


async def test_a_crashed_run_resumes_from_its_cursor_after_the_lease(
    sessions: async_sessionmaker[AsyncSession], world: World
) -> None:
    clock = FakeClock(AS_OF)
    async with sessions() as session, session.begin():
        run, _ = await analytics.request_recompute(session, config=CONFIG, now=clock.now())
    async with sessions() as session, session.begin():
        claimed = await runs.claim(session, config=CONFIG, now=clock.now(), worker="crashed")
        assert claimed is not None
        assert claimed.id == run.id
    # another worker finds it leased and leaves it alone
    assert await analytics.run_pending(sessions, clock=clock, config=CONFIG, worker="b") is None

    clock.advance(minutes=6)
    result = await analytics.run_pending(sessions, clock=clock, config=CONFIG, worker="b")
    assert result is not None
    assert result.run_id == run.id
    assert await stored(sessions) == reference.expected_members(world, AS_OF)
    async with sessions() as session:
        done = await session.get_one(AnalyticsRun, run.id)
    assert (done.status, done.worker, done.attempts, done.reason) == (
        RunStatus.DONE,
        "b",
        2,
        "manual",
    )


async def test_a_worker_that_lost_its_lease_stops_without_writing(
    sessions: async_sessionmaker[AsyncSession], world: World
) -> None:
    clock = FakeClock(AS_OF)
    async with sessions() as session, session.begin():
        await analytics.request_recompute(session, config=CONFIG, now=clock.now())
    original = recompute._chunk
    calls = 0

    async def steal_after_first(*args: object, **kwargs: object) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            async with sessions() as session, session.begin():
                await session.execute(update(AnalyticsRun).values(worker="thief"))
        await original(*args, **kwargs)  # type: ignore[arg-type]

    recompute._chunk = steal_after_first  # type: ignore[assignment]
    try:
        assert await analytics.run_pending(sessions, clock=clock, config=CONFIG) is None
    finally:
        recompute._chunk = original  # type: ignore[assignment]
    async with sessions() as session:
        written = await session.scalar(select(func.count()).select_from(MemberAnalytics))
    assert written == len([m for m in reference.expected_members(world, AS_OF) if m < 37])


async def test_member_api_shows_scores_segment_stage_tier_and_promo_share(
    sessions: async_sessionmaker[AsyncSession],
    world: World,
    client: httpx.AsyncClient,
    clock: FakeClock,
) -> None:
    clock.set(AS_OF)
    await analytics.run_pending(sessions, clock=clock, config=CONFIG)
    expected = reference.expected_members(world, AS_OF)
    member_id = next(m for m, e in expected.items() if e.stage == "active")
    body = (await client.get(f"/v1/members/m-{member_id}")).json()
    e = expected[member_id]
    assert body["stats"]["rfm"] == {"recency": e.r, "frequency": e.f, "monetary": e.m}
    assert body["stats"]["segment"] == e.segment
    assert body["stats"]["stage"] == e.stage
    assert body["stats"]["value_tier"] == e.tier
    assert body["stats"]["promo_share"] == e.promo_share
    async with sessions() as session:
        never = await session.scalar(select(Member.external_id).where(Member.paid_orders == 0))
    stats = (await client.get(f"/v1/members/{never}")).json()["stats"]
    assert (stats["rfm"], stats["stage"], stats["segment"]) == (None, None, None)


def test_due_reason_table() -> None:
    from service.analytics.runs import LastRun, due_reason

    config = AnalyticsConfig()  # nightly at 03:00 Asia/Shanghai = 19:00 UTC the day before
    last = LastRun(datetime(2026, 6, 17, 19, 5, tzinfo=UTC), config.key())
    cases = [
        (None, datetime(2026, 6, 18, 12, tzinfo=UTC), "first"),
        (last, datetime(2026, 6, 18, 12, tzinfo=UTC), None),
        (last, datetime(2026, 6, 18, 18, 59, tzinfo=UTC), None),
        (last, datetime(2026, 6, 18, 19, 0, tzinfo=UTC), "nightly"),
        (LastRun(last.as_of, {"other": 1}), datetime(2026, 6, 18, 12, tzinfo=UTC), "config"),
        (LastRun(datetime(2026, 6, 17, 18, tzinfo=UTC), config.key()), last.as_of, "nightly"),
    ]
    for previous, now, reason in cases:
        assert due_reason(last=previous, config=config, now=now) == reason, (previous, now)


async def test_a_stage_an_order_set_after_the_run_began_stands(
    sessions: async_sessionmaker[AsyncSession], world: World
) -> None:
    clock = FakeClock(AS_OF)
    await analytics.run_pending(sessions, clock=clock, config=CONFIG)
    expected = reference.expected_members(world, AS_OF)
    member = next(m for m, e in expected.items() if e.stage == "churned")
    clock.advance(hours=1)
    async with sessions() as session, session.begin():
        await analytics.request_recompute(session, config=CONFIG, now=clock.now())
        # an order arrives while the run is queued: ingest refreshes the stage from new stats
        await session.execute(
            update(MemberAnalytics)
            .where(MemberAnalytics.member_id == member)
            .values(stage="active", stage_changed_at=clock.now() + timedelta(seconds=5))
        )
    result = await analytics.run_pending(sessions, clock=clock, config=CONFIG)
    assert result is not None
    assert result.stage_changes == 0
    async with sessions() as session:
        row = await session.get_one(MemberAnalytics, member)
    assert (row.stage, row.recency_score) == ("active", expected[member].r)


async def test_a_chunk_whose_insert_collides_with_an_order_upserts_instead(
    sessions: async_sessionmaker[AsyncSession], world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = reference.expected_members(world, AS_OF)
    buyer = next(iter(expected))
    async with sessions() as session, session.begin():  # a stage refresh got there first
        session.add(
            MemberAnalytics(
                member_id=buyer,
                stage="active",
                stage_changed_at=AS_OF + timedelta(seconds=1),
                promo_orders=0,
            )
        )
    collide = text(f"INSERT INTO member_analytics (member_id, promo_orders) VALUES ({buyer}, 0)")
    built = recompute.chunk_statements

    def colliding(*args: object, **kwargs: object) -> object:
        return replace(built(*args, **kwargs), insert_all=collide, insert_missing=collide)  # type: ignore[arg-type]

    monkeypatch.setattr(recompute, "chunk_statements", colliding)
    await analytics.run_pending(sessions, clock=FakeClock(AS_OF), config=CONFIG)
    found = await stored(sessions)
    assert found[buyer] == replace(expected[buyer], stage="active")  # its stage stands
    assert {m: e for m, e in found.items() if m != buyer} == {
        m: e for m, e in expected.items() if m != buyer
    }


async def test_analytics_fields_read_as_correlated_columns_for_conditions(
    sessions: async_sessionmaker[AsyncSession], world: World
) -> None:
    await analytics.run_pending(sessions, clock=FakeClock(AS_OF), config=CONFIG)
    expected = reference.expected_members(world, AS_OF)
    champions = select(Member.id).where(analytics_column(Member, "segment") == "champions")
    async with sessions() as session:
        found = set(await session.scalars(champions))
    assert found == {m for m, e in expected.items() if e.segment == "champions"}
    with pytest.raises(KeyError):
        analytics_column(Member, "gap_days_x2")  # internal: not a condition field
