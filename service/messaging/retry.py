"""When to try a failed send again: exponential backoff with full jitter, up to a deadline (pure).

The retry state lives in the message row (attempts, first attempt), not in a running
coroutine: a retried message goes back to `queued` with a later `send_after_at`, so it
survives a crash and any replica may pick it up. That is why a retry library that sleeps
between calls inside one process (tenacity) does not fit here.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class RetryPolicy:
    base: timedelta = timedelta(seconds=5)  # the first backoff's ceiling
    max_backoff: timedelta = timedelta(minutes=10)  # no single wait is longer
    deadline: timedelta = timedelta(hours=4)  # after the first attempt, stop retrying
    min_backoff: timedelta = timedelta(seconds=1)  # never hot-loop on a down gateway


def next_attempt(
    attempts: int,
    now: datetime,
    rng: random.Random,
    retry_after: float | None,
    *,
    first_attempt_at: datetime,
    policy: RetryPolicy = RetryPolicy(),
) -> datetime | None:
    """The instant of the next try after `attempts` failed ones, or None once past the deadline.

    Full jitter (uniform between 0 and base·2^(attempts-1), capped): replicas that failed together
    do not retry together. A gateway's Retry-After is a floor, never shortened by the jitter.
    """
    ceiling = min(policy.max_backoff, policy.base * 2 ** min(max(attempts - 1, 0), 30))
    wait = timedelta(seconds=rng.uniform(0, ceiling.total_seconds()))
    if retry_after is not None:
        wait = max(wait, timedelta(seconds=retry_after))
    at = now + max(wait, policy.min_backoff)
    if at > first_attempt_at + policy.deadline:
        return None
    return at
