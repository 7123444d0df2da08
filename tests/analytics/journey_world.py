"""The generated shop of `world`, plus journeys that ran on it: versions with their own
attribution windows, enrolments (a holdout among them), the steps they ran, the messages
those steps wrote with every fate a message can have, and consent changes.

Written with plain INSERTs, like `world`, and kept in memory as plain objects so the tests
compute every figure of the journey report from the same facts without the database.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from service.db import table_of
from service.journeys.durations import format_duration
from service.journeys.models import Enrolment, EnrolmentStep, Journey, JourneyVersion
from service.members.models import ConsentChange
from service.messaging.outbox import Message
from tests.analytics.world import FakeOrder, World, build

ACTIVE_FROM = datetime(2025, 10, 1, tzinfo=UTC)
ACTIVE_TO = datetime(2026, 6, 10, tzinfo=UTC)
SMS_COST = Decimal("0.0450")
EMAIL_COST = Decimal("0.0012")


@dataclass(frozen=True)
class FakeStep:
    """A send step of a journey: the channel of each variant (None: a plain send)."""

    id: str
    variants: dict[str | None, str]
    delay: timedelta


@dataclass
class FakeJourney:
    id: int
    key: str
    windows: dict[int, timedelta]  # version → attribution window
    holdout: float
    has_goal: bool
    steps: list[FakeStep]
    switch_at: datetime | None = None  # version 2 from here, if there is one
    channel_windows: dict[int, dict[str, timedelta]] = field(default_factory=dict)

    def window(self, version: int, channel: str) -> timedelta:
        """What a message's touch lasts: its channel's own window, else the version's."""
        return self.channel_windows.get(version, {}).get(channel, self.windows[version])

    def version_at(self, at: datetime) -> int:
        return 2 if self.switch_at is not None and at >= self.switch_at else 1

    def rule(self, version: int) -> dict[str, Any]:
        steps = []
        for step in self.steps:
            if None in step.variants:
                steps.append({"id": step.id, "send": {"template": f"{self.key}/{step.id}"}})
            else:
                arms = [
                    {"name": v, "weight": 1, "template": f"{self.key}/{v}"} for v in step.variants
                ]
                steps.append({"id": step.id, "split": arms})
        return {
            "key": self.key,
            "name": self.key.title(),
            "trigger": {"type": "event", "event": "order.paid"},
            "steps": steps,
            "goal": {"event": "order.paid"} if self.has_goal else None,
            "holdout_percent": self.holdout * 100,
            "attribution_window": format_duration(self.windows[version]),
            "attribution_windows": {
                channel: format_duration(w)
                for channel, w in self.channel_windows.get(version, {}).items()
            },
        }


@dataclass
class FakeEnrolment:
    id: int
    journey_id: int
    journey_version: int
    member_id: int
    is_control: bool
    entered_at: datetime
    goal_reached_at: datetime | None


@dataclass
class FakeStepRun:
    id: int
    enrolment_id: int
    journey_id: int
    step_id: str
    outcome: str
    variant: str | None
    ran_at: datetime


@dataclass
class FakeMessage:
    id: int
    member_id: int
    journey_id: int
    journey_version: int
    enrolment_id: int | None
    step_id: str
    variant: str | None
    channel: str
    status: str
    status_reason: str | None
    cost: Decimal | None
    is_test: bool
    created_at: datetime
    sent_at: datetime | None = None
    delivered_at: datetime | None = None
    failed_at: datetime | None = None

    @property
    def touch_at(self) -> datetime | None:
        if self.is_test or self.status not in ("delivered", "sent"):
            return None
        return self.delivered_at or self.sent_at


@dataclass
class FakeConsent:
    id: int
    member_id: int
    channel: str
    granted: bool
    source: str
    occurred_at: datetime


@dataclass
class JourneyWorld:
    shop: World
    journeys: list[FakeJourney]
    enrolments: list[FakeEnrolment] = field(default_factory=list)
    runs: list[FakeStepRun] = field(default_factory=list)
    messages: list[FakeMessage] = field(default_factory=list)
    consents: list[FakeConsent] = field(default_factory=list)

    @property
    def orders(self) -> list[FakeOrder]:
        return self.shop.orders

    def journey(self, key: str) -> FakeJourney:
        return next(j for j in self.journeys if j.key == key)


def journeys() -> list[FakeJourney]:
    day = timedelta(days=1)
    return [
        FakeJourney(
            1,
            "winback",
            {1: timedelta(days=5), 2: timedelta(days=3)},
            0.2,
            True,
            [
                FakeStep("nudge", {None: "sms"}, day),
                FakeStep("offer", {"a": "sms", "b": "email"}, 4 * day),
            ],
            switch_at=datetime(2026, 2, 1, tzinfo=UTC),
            channel_windows={2: {"email": timedelta(days=2)}},
        ),
        FakeJourney(
            2,
            "replenish",
            {1: timedelta(hours=36)},
            0.1,
            True,
            [FakeStep("remind", {None: "sms"}, day)],
        ),
        FakeJourney(
            3,
            "vip",
            {1: timedelta(days=7)},
            0.0,
            False,
            [FakeStep("preview", {None: "email"}, 2 * day)],
            channel_windows={1: {"email": timedelta(hours=60)}},
        ),
        FakeJourney(
            4, "idle", {1: timedelta(days=5)}, 0.1, True, [FakeStep("hello", {None: "sms"}, day)]
        ),
    ]


class _Maker:
    def __init__(self, world: JourneyWorld, rng: random.Random) -> None:
        self.world, self.rng = world, rng
        self.paid: dict[int, list[datetime]] = {}
        for o in world.orders:
            if o.paid_at is not None:
                self.paid.setdefault(o.member_id, []).append(o.paid_at)

    def enrol(self, journey: FakeJourney, member_id: int, entered_at: datetime) -> None:
        rng, w = self.rng, self.world
        version = journey.version_at(entered_at)
        control = rng.random() < journey.holdout
        enrolment = FakeEnrolment(
            len(w.enrolments) + 1, journey.id, version, member_id, control, entered_at, None
        )
        w.enrolments.append(enrolment)
        ran_at = entered_at
        for step in journey.steps:
            ran_at += step.delay + timedelta(
                seconds=rng.randrange(7200), microseconds=rng.randrange(10**6)
            )
            if rng.random() < 0.1:  # skipped by its `if`: not an exposure, no message
                self.run(enrolment, step.id, "skipped", None, ran_at)
                continue
            variant = rng.choice(list(step.variants))
            outcome = "control" if enrolment.is_control else "sent"
            self.run(enrolment, step.id, outcome, variant, ran_at)
            self.message(enrolment, step, variant, ran_at)
        month = entered_at + timedelta(days=30)
        goal = [at for at in self.paid.get(member_id, []) if entered_at < at <= month]
        if journey.has_goal and goal:
            enrolment.goal_reached_at = min(goal)

    def run(
        self, e: FakeEnrolment, step_id: str, outcome: str, variant: str | None, at: datetime
    ) -> None:
        runs = self.world.runs
        runs.append(FakeStepRun(len(runs) + 1, e.id, e.journey_id, step_id, outcome, variant, at))

    def message(self, e: FakeEnrolment, step: FakeStep, variant: str | None, at: datetime) -> None:
        channel = step.variants[variant]
        m = FakeMessage(
            *(len(self.world.messages) + 1, e.member_id, e.journey_id, e.journey_version, e.id),
            *(step.id, variant, channel, "suppressed" if e.is_control else "queued"),
            *("holdout" if e.is_control else None, None, False, at),
        )
        if not e.is_control:
            self.fate(m)
        self.world.messages.append(m)

    def fate(self, m: FakeMessage) -> None:
        rng = self.rng
        m.status = rng.choices(
            ["delivered", "sent", "failed", "suppressed", "expired", "queued"],
            weights=[60, 20, 6, 6, 4, 4],
        )[0]
        later = timedelta(seconds=rng.randrange(1, 3600), microseconds=rng.randrange(10**6))
        if m.status in ("delivered", "sent", "failed"):
            m.sent_at = m.created_at + later
            m.cost = SMS_COST * rng.choice([1, 1, 2]) if m.channel == "sms" else EMAIL_COST
        if m.status == "delivered":
            m.delivered_at = (
                m.sent_at + timedelta(seconds=rng.randrange(1, 600)) if m.sent_at else None
            )
        if m.status == "failed":
            m.failed_at = m.created_at + later * 2
            if rng.random() < 0.5:  # refused by the gateway: never sent, nothing charged
                m.sent_at, m.cost = None, None
        if m.status == "suppressed":
            m.status_reason = "no_consent"

    def consent(
        self, member_id: int, channel: str, granted: bool, source: str, at: datetime
    ) -> None:
        c = self.world.consents
        c.append(FakeConsent(len(c) + 1, member_id, channel, granted, source, at))


def generate(shop: World, seed: int = 618) -> JourneyWorld:
    rng = random.Random(seed)
    world = JourneyWorld(shop, journeys())
    maker = _Maker(world, rng)
    paid = sorted(
        (o for o in shop.orders if o.paid_at and ACTIVE_FROM <= o.paid_at < ACTIVE_TO),
        key=lambda o: o.id,
    )
    for journey, share in (
        (world.journeys[0], 0.3),
        (world.journeys[1], 0.25),
        (world.journeys[2], 0.1),
    ):
        for order in paid:
            if rng.random() < share:  # entered a little before the order: its steps may touch it
                assert order.paid_at is not None
                before = timedelta(hours=rng.uniform(20, 24 * 8))
                maker.enrol(journey, order.member_id, order.paid_at - before)
        for _ in range(60):  # and some members who were not about to buy
            at = ACTIVE_FROM + timedelta(
                seconds=rng.randrange(int((ACTIVE_TO - ACTIVE_FROM).total_seconds()))
            )
            maker.enrol(journey, rng.choice(shop.member_ids), at)
    _test_sends(world, rng)
    _boundaries(world, paid)
    _exposure_boundaries(world)
    _consents(world, maker, rng)
    return world


def _test_sends(world: JourneyWorld, rng: random.Random) -> None:
    """Delivered test sends beside real ones: they never touch."""
    for m in rng.sample([m for m in world.messages if m.status == "delivered"], 40):
        test = replace(m, id=len(world.messages) + 1, enrolment_id=None, is_test=True)
        world.messages.append(test)


def _boundaries(world: JourneyWorld, paid: list[FakeOrder]) -> None:
    """Touches exactly one window before an order (counts), a microsecond earlier (does not),
    and at the instant of payment (does not: a touch must come first); for a journey's window
    and for a channel's own (vip's email)."""
    for key, first in (("replenish", 100), ("vip", 101)):
        _boundaries_of(world, world.journey(key), paid[first:])


def _boundaries_of(world: JourneyWorld, journey: FakeJourney, paid: list[FakeOrder]) -> None:
    template = next(m for m in world.messages if m.journey_id == journey.id)
    window = journey.window(1, template.channel)
    for i, offset in enumerate([window, window + timedelta(microseconds=1), timedelta(0)] * 3):
        order = paid[37 * i]
        assert order.paid_at is not None
        at = order.paid_at - offset
        edge = replace(
            template,
            id=len(world.messages) + 1,
            member_id=order.member_id,
            journey_version=1,
            enrolment_id=None,
            status="delivered",
            status_reason=None,
            cost=SMS_COST if template.channel == "sms" else EMAIL_COST,
            created_at=at - timedelta(minutes=1),
            sent_at=at - timedelta(seconds=30),
            delivered_at=at,
            failed_at=None,
        )
        world.messages.append(edge)


def _exposure_boundaries(world: JourneyWorld) -> None:
    """Send and control steps moved to exactly one window before a later order of their member
    (it counts for the holdout) or a microsecond more (it does not); their messages move too."""
    journey = world.journey("replenish")
    window = journey.windows[1]
    orders: dict[int, list[FakeOrder]] = {}
    for o in world.orders:
        if o.counted:
            orders.setdefault(o.member_id, []).append(o)
    enrolments = {e.id: e for e in world.enrolments}
    moved = 0
    for run in world.runs:
        e = enrolments[run.enrolment_id]
        later = [o for o in orders.get(e.member_id, []) if o.paid_at and o.paid_at > run.ran_at]
        if run.journey_id != journey.id or run.outcome not in ("sent", "control") or not later:
            continue
        paid_at = min(o.paid_at for o in later if o.paid_at)
        shift = paid_at - window - timedelta(microseconds=moved % 2) - run.ran_at
        run.ran_at += shift
        for m in world.messages:
            if m.enrolment_id == e.id and m.step_id == run.step_id:
                m.created_at += shift
                m.sent_at = m.sent_at + shift if m.sent_at else None
                m.delivered_at = m.delivered_at + shift if m.delivered_at else None
                m.failed_at = m.failed_at + shift if m.failed_at else None
        moved += 1
        if moved == 12:
            return


def _consents(world: JourneyWorld, maker: _Maker, rng: random.Random) -> None:
    touched = [m for m in world.messages if m.touch_at is not None]
    for m in rng.sample(touched, 160):
        assert m.touch_at is not None
        at = m.touch_at + timedelta(hours=rng.uniform(0.01, 24 * 8))
        source = rng.choice(["sms_reply:TD", "sms_reply:退订", "unsubscribe_link", "crm"])
        channel = m.channel if rng.random() < 0.85 else ("email" if m.channel == "sms" else "sms")
        maker.consent(m.member_id, channel, False, source, at)
        if rng.random() < 0.3:  # changed their mind: an opt-in is no opt-out
            maker.consent(m.member_id, channel, True, "sms_reply:START", at + timedelta(hours=2))
    for m in rng.sample(touched, 40):  # withdrawals nobody answered a message with
        assert m.touch_at is not None
        source = rng.choice(["initial", "suppression_list", "erasure"])
        maker.consent(m.member_id, m.channel, False, source, m.touch_at + timedelta(hours=1))


async def build_journeys(session: AsyncSession, *, members: int = 700) -> JourneyWorld:
    shop = await build(session, members=members)
    world = generate(shop)
    created = ACTIVE_FROM - timedelta(days=1)
    await session.execute(
        insert(table_of(Journey)),
        [
            {
                "id": j.id,
                "key": j.key,
                "name": j.key.title(),
                "status": "active",
                "latest_version": max(j.windows),
                "live_version": max(j.windows),
                "trigger_type": "event",
                "activated_at": created,
                "created_at": created,
                "updated_at": created,
            }
            for j in world.journeys
        ],
    )
    await session.execute(
        insert(table_of(JourneyVersion)),
        [
            {"journey_id": j.id, "version": v, "rule": j.rule(v), "created_at": created}
            for j in world.journeys
            for v in j.windows
        ],
    )
    await _insert_walks(session, world)
    return world


async def _insert_walks(session: AsyncSession, world: JourneyWorld) -> None:
    """Core inserts, one executemany each: the ORM's bulk path costs seconds here."""
    await session.execute(
        insert(table_of(Enrolment)),
        [
            asdict(e)
            | {"entry_key": f"order:{e.id}", "dedupe_key": f"event:{e.id}", "state": "completed"}
            | {"step_entered_at": e.entered_at, "context": {}, "updated_at": e.entered_at}
            for e in world.enrolments
        ],
    )
    await session.execute(insert(table_of(EnrolmentStep)), [asdict(r) for r in world.runs])
    await session.execute(
        insert(table_of(Message)),
        [
            asdict(m)
            | {"idempotency_key": f"message:{m.id}", "template": f"t/{m.step_id}"}
            | {"purpose": "marketing", "context": {}, "send_after_at": m.created_at}
            | {"updated_at": m.created_at}
            for m in world.messages
        ],
    )
    await session.execute(
        insert(table_of(ConsentChange)),
        [asdict(c) | {"purpose": "marketing"} for c in world.consents],
    )
