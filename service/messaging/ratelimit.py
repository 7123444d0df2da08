"""A token bucket per gateway, in its GCRA form: each send reserves the next free slot.

GCRA (the generic cell rate algorithm) is a token bucket written as one number, the theoretical
arrival time of the next send: a caller takes a slot `1/rate` after the previous one and sleeps
until it, less the burst tolerance. No lock is needed in one event loop, and concurrent senders
are served in the order they asked. The limit is per process: N dispatcher replicas send at up
to N times the rate, so divide the provider's quota by the replicas.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


class RateLimiter:
    def __init__(
        self,
        rate: float,
        *,
        burst: int = 1,
        timer: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive; use no limiter for unlimited sending")
        self.rate = rate
        self._interval = 1 / rate
        self._tolerance = self._interval * (max(burst, 1) - 1)
        self._timer, self._sleep = timer, sleep
        self._next: float | None = None  # the theoretical arrival time of the next send

    def reserve(self) -> float:
        """Take the next slot; the seconds to wait before using it (0 when it is free now)."""
        now = self._timer()
        start = now if self._next is None else max(self._next, now)
        self._next = start + self._interval
        return max(0.0, start - self._tolerance - now)

    async def acquire(self) -> None:
        wait = self.reserve()
        if wait > 0:
            await self._sleep(wait)


def limiter_for(rate: float, *, burst_seconds: float = 0.2) -> RateLimiter | None:
    """A limiter for `rate` per second (None for 0: unlimited).

    The burst, 200 ms worth of sends, lets senders make up for a short stall (a GC pause, a busy
    machine) instead of losing those slots for good, and never lets any second hold more than
    1.2 × the rate."""
    if rate <= 0:
        return None
    return RateLimiter(rate, burst=max(1, int(rate * burst_seconds)))
