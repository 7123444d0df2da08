"""The journey report computed plainly from the generated facts, as JSON values.

Loops and dictionaries over the in-memory world, no SQL. The confidence intervals call the
pure functions of `service.analytics.uplift` (tested against published values on their own)
with counts and sums computed here.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

from service.analytics import uplift
from tests.analytics.journey_world import FakeConsent, FakeMessage, JourneyWorld
from tests.analytics.world import FakeOrder

NOT_OPT_OUTS = {"initial", "suppression_list", "erasure"}
COUNTS = ("queued", "sent", "delivered", "failed", "suppressed", "expired", "held_out", "opt_outs")


def bounds(first: date, last: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    start = datetime.combine(first, time(0), tzinfo=zone)
    end = datetime.combine(last + timedelta(days=1), time(0), tzinfo=zone)
    return start, end


def window(world: JourneyWorld, m: FakeMessage) -> timedelta:
    """How long message `m` touches its member: its channel's window in its version."""
    journey = next(j for j in world.journeys if j.id == m.journey_id)
    return journey.window(m.journey_version, m.channel)


def touches_by_member(world: JourneyWorld) -> dict[int, list[FakeMessage]]:
    found: dict[int, list[FakeMessage]] = defaultdict(list)
    for m in world.messages:
        if m.touch_at is not None:
            found[m.member_id].append(m)
    return found


def last_touch(
    world: JourneyWorld, touches: list[FakeMessage], at: datetime, channel: str | None
) -> FakeMessage | None:
    """The latest of the member's touches before `at` whose window covers `at` (ties: the
    higher id), on `channel` if given."""
    best: FakeMessage | None = None
    for m in touches:
        touch = m.touch_at
        if touch is None or (channel and m.channel != channel):
            continue
        if not (touch < at and at - touch <= window(world, m)):
            continue
        if best is None or (touch, m.id) > (best.touch_at, best.id):  # type: ignore[operator]
            best = m
    return best


def in_range(order: FakeOrder, start: datetime, end: datetime) -> bool:
    return order.counted and order.paid_at is not None and start <= order.paid_at < end


def order_attribution(world: JourneyWorld, start: datetime, end: datetime) -> dict[int, int]:
    found = {}
    touches = touches_by_member(world)
    for order in world.orders:
        if in_range(order, start, end):
            assert order.paid_at is not None
            m = last_touch(world, touches[order.member_id], order.paid_at, None)
            if m is not None:
                found[order.id] = m.id
    return found


def is_opt_out(c: FakeConsent, start: datetime, end: datetime) -> bool:
    return not c.granted and c.source not in NOT_OPT_OUTS and start <= c.occurred_at < end


def opt_out_attribution(world: JourneyWorld, start: datetime, end: datetime) -> dict[int, int]:
    found = {}
    touches = touches_by_member(world)
    for c in world.consents:
        if is_opt_out(c, start, end):
            m = last_touch(world, touches[c.member_id], c.occurred_at, c.channel)
            if m is not None:
                found[c.id] = m.id
    return found


def money(cents: int | Fraction) -> str:
    return str(half_up(Fraction(cents) / 100, 2))


def half_up(value: Fraction, places: int) -> Decimal:
    exact = Decimal(value.numerator) / Decimal(value.denominator)
    return exact.quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP)


def text(value: Fraction | float | None, places: int) -> str | None:
    return None if value is None else str(half_up(Fraction(value), places))


def step_rows(
    world: JourneyWorld, key: str, start: datetime, end: datetime
) -> list[dict[str, Any]]:
    journey = world.journey(key)
    rows: dict[tuple[str, str | None, str], dict[str, Any]] = {}

    def row(step_id: str, variant: str | None, channel: str) -> dict[str, Any]:
        names = (*COUNTS, "attributed_orders", "revenue", "cost")
        return rows.setdefault(
            (step_id, variant, channel), dict.fromkeys(names, 0) | {"converted": set()}
        )

    goals = {e.id: e.goal_reached_at for e in world.enrolments}
    for m in world.messages:
        if m.journey_id != journey.id or m.is_test or not start <= m.created_at < end:
            continue
        r = row(m.step_id, m.variant, m.channel)
        if m.status == "suppressed" and m.status_reason == "holdout":
            r["held_out"] += 1
            continue
        r["queued"] += 1
        r["sent"] += m.sent_at is not None
        for status in ("delivered", "failed", "suppressed", "expired"):
            r[status] += m.status == status
        r["cost"] += int((m.cost or 0) * 10_000)
        goal = goals.get(m.enrolment_id) if m.enrolment_id else None
        if goal is not None and goal >= m.created_at:
            r["converted"].add(m.enrolment_id)
    messages = {m.id: m for m in world.messages}
    orders = {o.id: o for o in world.orders}
    for order_id, message_id in order_attribution(world, start, end).items():
        m = messages[message_id]
        if m.journey_id == journey.id:
            r = row(m.step_id, m.variant, m.channel)
            r["attributed_orders"] += 1
            r["revenue"] += int(orders[order_id].net * 100)
    for message_id in opt_out_attribution(world, start, end).values():
        m = messages[message_id]
        if m.journey_id == journey.id:
            row(m.step_id, m.variant, m.channel)["opt_outs"] += 1
    order = [s.id for s in journey.steps]
    out = []
    for (step_id, variant, channel), r in sorted(
        rows.items(), key=lambda kv: (order.index(kv[0][0]), kv[0][1] or "", kv[0][2])
    ):
        cost = r["cost"]
        roi = None if cost == 0 else text(Fraction(r["revenue"] * 100 - cost, cost), 4)
        out.append(
            {
                "step_id": step_id,
                "variant": variant,
                "channel": channel,
                **{k: r[k] for k in COUNTS},
                "conversions": len(r["converted"]),
                "attributed_orders": r["attributed_orders"],
                "attributed_revenue": money(r["revenue"]),
                "cost": str((Decimal(cost) / 10_000).quantize(Decimal("0.0001"))),
                "roi": roi,
            }
        )
    return out


def member_outcomes(
    world: JourneyWorld, key: str, start: datetime, end: datetime
) -> dict[bool, dict[int, tuple[int, bool]]]:
    """Arm (is_control) → member → (net cents within a window after an exposure, converted)."""
    journey = world.journey(key)
    enrolments = {e.id: e for e in world.enrolments}
    exposures: dict[tuple[bool, int], list[tuple[datetime, timedelta, bool]]] = defaultdict(list)
    for r in world.runs:
        if r.journey_id != journey.id or r.outcome not in ("sent", "control"):
            continue
        if not start <= r.ran_at < end:
            continue
        e = enrolments[r.enrolment_id]
        reached = e.goal_reached_at is not None and e.goal_reached_at >= r.ran_at
        exposures[e.is_control, e.member_id].append(
            (r.ran_at, journey.windows[e.journey_version], reached)
        )
    paid: dict[int, list[FakeOrder]] = defaultdict(list)
    for o in world.orders:
        if o.counted:
            paid[o.member_id].append(o)
    out: dict[bool, dict[int, tuple[int, bool]]] = {False: {}, True: {}}
    for (control, member_id), seen in exposures.items():
        counted = {
            o.id: o.net
            for o in paid[member_id]
            for at, span, _ in seen
            if o.paid_at is not None and at < o.paid_at and o.paid_at - at <= span
        }
        cents = sum(int(net * 100) for net in counted.values())
        out[control][member_id] = (cents, any(reached for _, _, reached in seen))
    return out


def holdout(
    world: JourneyWorld, key: str, start: datetime, end: datetime, cost_units: int, now: datetime
) -> dict[str, Any]:
    journey = world.journey(key)
    arms = member_outcomes(world, key, start, end)
    treated, control = arms[False], arms[True]
    n1, n2 = len(treated), len(control)
    x1 = sum(1 for _, c in treated.values() if c)
    x2 = sum(1 for _, c in control.values() if c)
    s1 = sum(v for v, _ in treated.values())
    s2 = sum(v for v, _ in control.values())
    out: dict[str, Any] = {"treatment_members": n1, "control_members": n2}
    if journey.has_goal:
        rate_ci = uplift.rate_difference(x1, n1, x2, n2)
        rel_ci = uplift.relative_rate_uplift(x1, n1, x2, n2)
        out |= {
            "treatment_conversions": x1,
            "control_conversions": x2,
            "treatment_conversion_rate": text(Fraction(x1, n1), 4) if n1 else None,
            "control_conversion_rate": text(Fraction(x2, n2), 4) if n2 else None,
            "conversion_uplift": text(Fraction(x1, n1) - Fraction(x2, n2), 4)
            if n1 and n2
            else None,
            "conversion_uplift_low": text(rate_ci and rate_ci.low, 4),
            "conversion_uplift_high": text(rate_ci and rate_ci.high, 4),
            "conversion_relative_uplift": (
                text(Fraction(x1, n1) / Fraction(x2, n2) - 1, 4) if n1 and x2 else None
            ),
            "conversion_relative_low": text(rel_ci and rel_ci.low, 4),
            "conversion_relative_high": text(rel_ci and rel_ci.high, 4),
        }
    else:
        for name in (
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
        ):
            out[name] = None
    t = uplift.Sample(n1, s1, sum(v * v for v, _ in treated.values()))
    c = uplift.Sample(n2, s2, sum(v * v for v, _ in control.values()))
    diff_ci, rel = uplift.mean_difference(t, c), uplift.relative_mean_uplift(t, c)
    per_member = Fraction(s1, n1) - Fraction(s2, n2) if n1 and n2 else None
    incremental = per_member * n1 if per_member is not None else None
    out |= {
        "treatment_revenue": money(s1),
        "control_revenue": money(s2),
        "treatment_revenue_per_member": money(Fraction(s1, n1)) if n1 else None,
        "control_revenue_per_member": money(Fraction(s2, n2)) if n2 else None,
        "revenue_uplift": money(per_member) if per_member is not None else None,
        "revenue_uplift_low": text(diff_ci and Fraction(diff_ci.low) / 100, 2),
        "revenue_uplift_high": text(diff_ci and Fraction(diff_ci.high) / 100, 2),
        "revenue_relative_uplift": (
            text(Fraction(s1, n1) / Fraction(s2, n2) - 1, 4) if n1 and s2 else None
        ),
        "revenue_relative_low": text(rel and rel.low, 4),
        "revenue_relative_high": text(rel and rel.high, 4),
        "incremental_revenue": money(incremental) if incremental is not None else None,
        "cost": str((Decimal(cost_units) / 10_000).quantize(Decimal("0.0001"))),
        "incremental_roi": (
            text((incremental * 100 - cost_units) / cost_units, 4)
            if incremental is not None and cost_units
            else None
        ),
        "windows_closed": _closed(world, key, start, end, now),
    }
    return out


def _closed(world: JourneyWorld, key: str, start: datetime, end: datetime, now: datetime) -> bool:
    journey = world.journey(key)
    enrolments = {e.id: e for e in world.enrolments}
    return all(
        r.ran_at + journey.windows[enrolments[r.enrolment_id].journey_version] <= now
        for r in world.runs
        if r.journey_id == journey.id
        and r.outcome in ("sent", "control")
        and start <= r.ran_at < end
    )


def journey_report(
    world: JourneyWorld, key: str, first: date, last: date, zone: ZoneInfo, now: datetime
) -> dict[str, Any]:
    start, end = bounds(first, last, zone)
    rows = step_rows(world, key, start, end)
    cost_units = sum(int(Decimal(r["cost"]) * 10_000) for r in rows)
    return {"rows": rows, "holdout": holdout(world, key, start, end, cost_units, now)}
