"""Every report figure, computed plainly from the generated orders (dates, sets and loops)."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tests.analytics.reference import cents, epoch, stage, whole_days
from tests.analytics.world import FakeOrder, World


def rate(numerator: int, denominator: int) -> str | None:
    """Half up to 4 places, by integer arithmetic, as the JSON string."""
    if denominator == 0:
        return None
    scaled = (numerator * 10_000 * 2 + denominator) // (2 * denominator)
    return f"{scaled // 10_000}.{scaled % 10_000:04d}"


def money(amount_cents: int) -> str:
    return f"{amount_cents // 100}.{amount_cents % 100:02d}"


def midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def local(at: datetime, zone: ZoneInfo) -> date:
    return at.astimezone(zone).date()


def periods(first: date, last: date, period: str) -> list[tuple[date, date]]:
    """(start, end) of each period that has a day in first..last, clipped."""
    groups: dict[date, list[date]] = defaultdict(list)
    day = first
    while day <= last:
        if period == "day":
            key = day
        elif period == "week":
            key = day - timedelta(days=day.weekday())
        else:
            key = day.replace(day=1)
        groups[key].append(day)
        day += timedelta(days=1)
    return [(min(days), max(days)) for _, days in sorted(groups.items())]


def paid(world: World) -> list[FakeOrder]:
    return sorted(world.counted(), key=lambda o: (o.paid_at, o.id))  # type: ignore[arg-type, return-value]


def funnel(world: World, first: date, last: date, zone: ZoneInfo) -> list[dict[str, Any]]:
    n: dict[int, int] = defaultdict(int)
    for order in paid(world):
        assert order.paid_at is not None
        if first <= local(order.paid_at, zone) <= last:
            n[order.member_id] += 1
    rows = []
    for k in range(1, 6):
        members = sum(1 for c in n.values() if c >= k)
        again = sum(1 for c in n.values() if c >= k + 1)
        rows.append(
            {"k": k, "members": members, "repurchased": again, "rate": rate(again, members)}
        )
    return rows


def first_paid(world: World) -> dict[int, datetime]:
    out: dict[int, datetime] = {}
    for order in paid(world):
        assert order.paid_at is not None
        out.setdefault(order.member_id, order.paid_at)
    return out


def return_rate(
    world: World, first: date, last: date, period: str, zone: ZoneInfo
) -> list[dict[str, Any]]:
    firsts = first_paid(world)
    rows = []
    for start, end in periods(first, last, period):
        buyers = {
            o.member_id
            for o in paid(world)
            if o.paid_at is not None and start <= local(o.paid_at, zone) <= end
        }
        back = {m for m in buyers if local(firsts[m], zone) < start}
        rows.append(
            {
                "period_start": start.isoformat(),
                "period_end": end.isoformat(),
                "buyers": len(buyers),
                "returning": len(back),
                "rate": rate(len(back), len(buyers)),
            }
        )
    return rows


def new_buyers(
    world: World, first: date, last: date, period: str, zone: ZoneInfo, now: datetime
) -> list[dict[str, Any]]:
    times: dict[int, list[datetime]] = defaultdict(list)
    for order in paid(world):
        assert order.paid_at is not None
        times[order.member_id].append(order.paid_at)
    rows = []
    for start, end in periods(first, last, period):
        new = [t for t in times.values() if start <= local(t[0], zone) <= end]
        row: dict[str, Any] = {
            "period_start": start.isoformat(),
            "period_end": end.isoformat(),
            "new_buyers": len(new),
        }
        for days in (30, 60, 90):
            again = sum(1 for t in new if len(t) > 1 and epoch(t[1]) - epoch(t[0]) <= days * 86_400)
            complete = midnight(end + timedelta(days=1), zone) + timedelta(days=days) <= now
            row |= {
                f"repurchased_{days}d": again,
                f"rate_{days}d": rate(again, len(new)) if complete else None,
                f"complete_{days}d": complete,
            }
        rows.append(row)
    return rows


def stages_at(world: World, at: datetime) -> dict[str, int]:
    before: dict[int, list[datetime]] = defaultdict(list)
    for order in paid(world):
        assert order.paid_at is not None
        if order.paid_at < at:
            before[order.member_id].append(order.paid_at)
    counts = {"new": 0, "active": 0, "sleeping": 0, "at_risk": 0, "churned": 0}
    for times in before.values():
        counts[stage(len(times), whole_days(at, times[-1]))] += 1
    return counts


def lifecycle(
    world: World, first: date, last: date, period: str, zone: ZoneInfo, now: datetime
) -> list[dict[str, Any]]:
    rows = []
    for start, end in periods(first, last, period):
        at = min(midnight(end + timedelta(days=1), zone), now)
        rows.append(
            {
                "period_start": start.isoformat(),
                "period_end": end.isoformat(),
                "as_of": at,
                "source": "derived",
                **stages_at(world, at),
            }
        )
    return rows


def concentration(world: World, first: date, last: date, zone: ZoneInfo) -> list[dict[str, Any]]:
    n: dict[int, int] = defaultdict(int)
    revenue: dict[int, int] = defaultdict(int)
    for order in paid(world):
        assert order.paid_at is not None
        if first <= local(order.paid_at, zone) <= last:
            n[order.member_id] += 1
            revenue[order.member_id] += cents(order.net)
    aov = {m: (2 * revenue[m] + n[m]) // (2 * n[m]) for m in n}
    total = len(aov)
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for member, value in aov.items():
        below = sum(1 for v in aov.values() if v < value)
        tier = "high" if 4 * below >= 3 * total else "medium" if 2 * below >= total else "low"
        groups[("tier", tier)].append(member)
        groups[("decile", str(1 + 10 * below // total))].append(member)
    all_revenue = sum(revenue.values())
    keys = [("tier", t) for t in ("high", "medium", "low")]
    keys += [("decile", str(d)) for d in range(10, 0, -1)]
    rows = []
    for kind, key in keys:
        members = groups.get((kind, key), [])
        orders = sum(n[m] for m in members)
        cash = sum(revenue[m] for m in members)
        repeat = sum(1 for m in members if n[m] >= 2)
        rows.append(
            {
                "group": kind,
                "key": key,
                "buyers": len(members),
                "buyer_share": rate(len(members), total),
                "orders": orders,
                "revenue": money(cash),
                "revenue_share": rate(cash, all_revenue),
                "average_order_value": money((2 * cash + orders) // (2 * orders))
                if orders
                else None,
                "repeat_buyers": repeat,
                "repeat_rate": rate(repeat, len(members)),
            }
        )
    return rows
