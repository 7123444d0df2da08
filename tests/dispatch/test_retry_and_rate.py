"""The pure parts of sending: when to retry (a table), and the token bucket (a fake timer)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from service.members.models import Channel
from service.messaging.dispatcher import DispatchConfig
from service.messaging.ratelimit import RateLimiter, limiter_for
from service.messaging.retry import RetryPolicy, next_attempt

T0 = datetime(2026, 6, 18, 1, 0, tzinfo=UTC)
POLICY = RetryPolicy(
    base=timedelta(seconds=5),
    max_backoff=timedelta(minutes=10),
    deadline=timedelta(hours=1),
    min_backoff=timedelta(seconds=1),
)


class Fixed(random.Random):
    """An rng whose uniform(a, b) lands at a fixed fraction of the interval."""

    def __init__(self, fraction: float) -> None:
        super().__init__(0)
        self.fraction = fraction

    def uniform(self, a: float, b: float) -> float:
        return a + (b - a) * self.fraction


S = timedelta(seconds=1)
CASES: list[tuple[str, int, timedelta, float, float | None, timedelta | None]] = [
    # (case, attempts so far, now - first attempt, jitter fraction, Retry-After, wait expected)
    ("first retry, top of the jitter", 1, 0 * S, 1.0, None, 5 * S),
    ("first retry, middle", 1, 0 * S, 0.5, None, 2.5 * S),
    ("jitter near zero is floored", 1, 0 * S, 0.0, None, 1 * S),
    ("second retry doubles the ceiling", 2, 10 * S, 1.0, None, 10 * S),
    ("fifth retry", 5, 60 * S, 1.0, None, 80 * S),
    ("the ceiling is capped", 12, 600 * S, 1.0, None, 600 * S),
    ("absurd attempt counts do not overflow", 10_000, 0 * S, 1.0, None, 600 * S),
    ("Retry-After is a floor", 1, 0 * S, 0.2, 7.0, 7 * S),
    ("jitter above Retry-After wins", 3, 0 * S, 1.0, 7.0, 20 * S),
    ("still inside the deadline", 3, 3580 * S, 1.0, None, 20 * S),
    ("past the deadline: give up", 3, 3590 * S, 1.0, None, None),
    ("Retry-After beyond the deadline: give up", 1, 3500 * S, 0.0, 120.0, None),
]


@pytest.mark.parametrize(
    ("case", "attempts", "elapsed", "fraction", "retry_after", "wait"),
    CASES,
    ids=[c[0] for c in CASES],
)
def test_next_attempt(
    case: str,
    attempts: int,
    elapsed: timedelta,
    fraction: float,
    retry_after: float | None,
    wait: timedelta | None,
) -> None:
    now = T0 + elapsed
    at = next_attempt(
        attempts, now, Fixed(fraction), retry_after, first_attempt_at=T0, policy=POLICY
    )
    assert at == (now + wait if wait is not None else None)


def test_full_jitter_spreads_retries_over_the_whole_interval() -> None:
    rng = random.Random(7)
    waits = [
        (next_attempt(4, T0, rng, None, first_attempt_at=T0, policy=POLICY) or T0) - T0
        for _ in range(2000)
    ]
    assert min(waits) == S  # the floor
    assert max(waits) <= 40 * S
    assert sum(w > 30 * S for w in waits) > 300  # not bunched at the low end


class FakeTimer:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


async def test_the_bucket_spaces_sends_at_the_rate() -> None:
    timer = FakeTimer()
    limiter = RateLimiter(500, timer=timer, sleep=timer.sleep)
    for _ in range(5):
        await limiter.acquire()
    assert timer.slept == pytest.approx([0.002, 0.004, 0.006, 0.008])


async def test_a_burst_goes_at_once_then_the_rate_holds() -> None:
    timer = FakeTimer()
    limiter = RateLimiter(100, burst=3, timer=timer, sleep=timer.sleep)
    waits = [limiter.reserve() for _ in range(5)]
    assert waits == pytest.approx([0, 0, 0, 0.01, 0.02])


async def test_an_idle_bucket_does_not_bank_more_than_its_burst() -> None:
    timer = FakeTimer()
    limiter = RateLimiter(10, burst=2, timer=timer, sleep=timer.sleep)
    limiter.reserve()
    timer.now += 60  # a minute idle
    assert [limiter.reserve() for _ in range(4)] == pytest.approx([0, 0, 0.1, 0.2])


async def test_a_stalled_sender_catches_up_within_the_burst_and_no_further() -> None:
    timer = FakeTimer()
    limiter = limiter_for(100)  # 20 sends of burst
    assert limiter is not None
    limiter._timer = timer
    limiter.reserve()
    timer.now += 1.0  # a one-second stall: 100 slots went by
    waits = [limiter.reserve() for _ in range(25)]
    assert waits[:20] == pytest.approx([0] * 20, abs=1e-9)  # the burst makes up for part of it
    assert waits[20:] == pytest.approx([0.01, 0.02, 0.03, 0.04, 0.05])


def test_zero_means_unlimited() -> None:
    assert limiter_for(0) is None
    limiter = limiter_for(500)
    assert limiter is not None
    assert limiter.rate == 500
    with pytest.raises(ValueError, match="positive"):
        RateLimiter(0)


@pytest.mark.parametrize(
    ("rates", "expected"),
    [
        ({}, 200),
        ({Channel.SMS: 0.0}, 200),
        ({Channel.SMS: 500.0}, 200),
        ({Channel.SMS: 500.0, Channel.EMAIL: 2.0}, 60),  # 2/s × 120 s lease / 4
        ({Channel.EMAIL: 0.01}, 1),
    ],
)
def test_claims_shrink_so_a_rate_limited_batch_fits_its_lease(
    rates: dict[Channel, float], expected: int
) -> None:
    config = DispatchConfig(batch=200, lease=timedelta(seconds=120), rates=rates)
    assert config.claim_size() == expected
