"""The dispatcher: claim due messages, re-check policies, send concurrently, record what happened.

One pass (`Dispatcher.run`, a scheduler tick) first settles unknown outcomes that are due for a
check, then claims batches until nothing is due. A batch is claimed, its facts loaded, rendered
and ruled on in one transaction that commits before any I/O; the messages to send go to a
bounded queue that `concurrency` senders drain, each through its gateway's rate limiter; their
outcomes are written by one recorder in short transactions that take whatever has arrived.
A crash anywhere leaves messages `sending` with a lease, which the next claim reaps: they go
out again with the same idempotency key (or, to a gateway that does not dedupe, become unknown).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.clock import Clock
from service.db import in_list, session_dialect
from service.members.models import Channel, Member
from service.messaging import claims, outcomes
from service.messaging.claims import Claimed
from service.messaging.gateways import Gateways
from service.messaging.gateways.base import PermanentError, RetryableError, UnknownOutcomeError
from service.messaging.outcomes import Outcome
from service.messaging.prepare import Batch, Prepared, Preparer
from service.messaging.ratelimit import RateLimiter, limiter_for
from service.messaging.resolution import ResolutionPolicy, resolve
from service.messaging.retry import RetryPolicy, next_attempt

log = logging.getLogger("huitou.dispatcher")
RECORD_MAX = 500  # outcomes per recording transaction
RECORD_LINGER = 0.2  # seconds an outcome may wait for others to share its transaction


@dataclass(frozen=True)
class DispatchConfig:
    batch: int = 200
    concurrency: int = 32
    lease: timedelta = timedelta(minutes=2)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    resolution: ResolutionPolicy = field(default_factory=ResolutionPolicy)
    rates: Mapping[Channel, float] = field(default_factory=dict)  # per second; 0: unlimited
    # a pass stops claiming after this long, so unknown outcomes get their checks under load
    pass_limit: timedelta = timedelta(minutes=1)

    def claim_size(self) -> int:
        """A batch small enough to be sent well within its lease at the slowest rate limit."""
        rates = [rate for rate in self.rates.values() if rate > 0]
        if not rates:
            return self.batch
        # a batch may wait behind one more in the queue: two batches must fit in the lease
        return max(1, min(self.batch, int(min(rates) * self.lease.total_seconds() / 4)))


class Dispatcher:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        gateways: Gateways,
        preparer: Preparer,
        config: DispatchConfig,
        worker: str,
        rng: random.Random | None = None,
    ) -> None:
        self.sessions, self.clock, self.gateways = sessions, clock, gateways
        self.preparer, self.config, self.worker = preparer, config, worker
        self.rng = rng or random.Random()
        self.limiters: dict[Channel, RateLimiter | None] = {
            channel: limiter_for(config.rates.get(channel, 0)) for channel in Channel
        }

    async def run(self) -> dict[str, int]:
        """One pass: settle due unknown outcomes, then send everything due; counts by outcome."""
        report: Counter[str] = Counter()
        await self.resolve_unknown(report)
        await self.dispatch_due(report)
        return dict(sorted(report.items()))

    async def dispatch_due(self, report: Counter[str]) -> None:
        """Claim and send batches until nothing is due (or the pass limit), then drain."""
        to_send: asyncio.Queue[Prepared] = asyncio.Queue(maxsize=self.config.batch)
        done: asyncio.Queue[Outcome | None] = asyncio.Queue()
        async with asyncio.TaskGroup() as tasks:
            senders = [
                tasks.create_task(self._sender(to_send, done))
                for _ in range(self.config.concurrency)
            ]
            recorder = tasks.create_task(self._recorder(done, report))
            stop_at = self.clock.now() + self.config.pass_limit
            while not recorder.done() and self.clock.now() < stop_at:
                batch = await self._claim_batch(report)
                if batch is None:
                    break
                for prepared in batch.to_send:
                    await to_send.put(prepared)
            await to_send.join()
            for sender in senders:
                sender.cancel()  # idle, waiting for a message that will not come
            done.put_nowait(None)

    async def _claim_batch(self, report: Counter[str]) -> Batch | None:
        """Reap, claim, prepare and record the decisions, in one transaction before any I/O."""
        now = self.clock.now()
        async with self.sessions() as session, session.begin():
            reaped = await claims.reap_expired_leases(session, now=now)
            claimed = await claims.claim_due(
                session,
                now=now,
                worker=self.worker,
                limit=self.config.claim_size(),
                lease=self.config.lease,
            )
            if not claimed:
                return None
            batch = await self.preparer.prepare(session, claimed, now=now)
            await outcomes.record(session, batch.decided, worker=self.worker)
        report["claimed"] += len(claimed)
        report["reaped"] += reaped
        _count(report, batch.decided)
        return batch

    async def _sender(
        self, to_send: asyncio.Queue[Prepared], done: asyncio.Queue[Outcome | None]
    ) -> None:
        while True:
            prepared = await to_send.get()
            try:
                limiter = self.limiters[prepared.claimed.channel]
                if limiter is not None:
                    await limiter.acquire()
                done.put_nowait(await self._send(prepared))
            finally:
                to_send.task_done()

    async def _send(self, prepared: Prepared) -> Outcome:
        """Hand one message to its gateway; what happened, as an outcome to record."""
        claimed, gateway = prepared.claimed, prepared.gateway
        try:
            receipt = await gateway.send(prepared.message)
        except RetryableError as exc:
            return self._retry(prepared, str(exc), exc.retry_after)
        except PermanentError as exc:
            now = self.clock.now()
            return outcomes.failed(
                claimed, now=now, reason="rejected", error=str(exc), gateway=gateway.name
            )
        except UnknownOutcomeError as exc:
            return self._unknown(prepared, str(exc))
        except Exception as exc:  # a bug or an unexpected library error: never lose the message
            log.exception("gateway %s raised unexpectedly for message %s", gateway.name, claimed.id)
            error = f"{type(exc).__name__}: {exc}"
            if gateway.honours_idempotency:
                return self._retry(prepared, error, None)
            return self._unknown(prepared, error)
        return outcomes.sent(
            claimed,
            now=self.clock.now(),
            gateway=receipt.gateway,
            provider_id=receipt.provider_id,
            copy=prepared.copy,
        )

    def _retry(self, prepared: Prepared, error: str, retry_after: float | None) -> Outcome:
        claimed, gateway, now = prepared.claimed, prepared.gateway, self.clock.now()
        at = next_attempt(
            claimed.attempts + 1,
            now,
            self.rng,
            retry_after,
            first_attempt_at=claimed.first_attempt_at or now,
            policy=self.config.retry,
        )
        if at is None:
            return outcomes.failed(
                claimed, now=now, reason="retries_exhausted", error=error, gateway=gateway.name
            )
        return outcomes.retry(claimed, now=now, at=at, gateway=gateway.name, error=error)

    def _unknown(self, prepared: Prepared, error: str) -> Outcome:
        now = self.clock.now()
        return outcomes.unknown(
            prepared.claimed,
            now=now,
            check_at=now + self.config.resolution.check_every,
            gateway=prepared.gateway.name,
            error=error,
            copy=prepared.copy,
            attempted=True,
        )

    async def _recorder(self, done: asyncio.Queue[Outcome | None], report: Counter[str]) -> None:
        """Write outcomes as they come, many per transaction: after the first of a group, those
        arriving within RECORD_LINGER join it, so a steady stream of sends costs a few commits a
        second rather than one per send. A crash before the write loses nothing: the lease
        expires and the message goes out again under the same idempotency key."""
        loop = asyncio.get_running_loop()
        closing = False
        while not closing:
            first = await done.get()
            if first is None:
                return
            group = [first]
            until = loop.time() + RECORD_LINGER
            while len(group) < RECORD_MAX:
                try:
                    async with asyncio.timeout_at(until):  # a queued item is taken at once
                        item = await done.get()
                except TimeoutError:
                    break
                if item is None:
                    closing = True
                    break
                group.append(item)
            async with self.sessions() as session, session.begin():
                await outcomes.record(session, group, worker=self.worker)
            _count(report, group)

    async def resolve_unknown(self, report: Counter[str]) -> None:
        """Check unknown outcomes that are due, a batch at a time, with bounded concurrency."""
        while True:
            now = self.clock.now()
            async with self.sessions() as session, session.begin():
                claimed = await claims.claim_unknown(
                    session,
                    now=now,
                    worker=self.worker,
                    limit=self.config.batch,
                    lease=self.config.lease,
                )
                contacts = await _contacts(session, claimed)
            if not claimed:
                return
            settled = await self._settle(claimed, contacts)
            async with self.sessions() as session, session.begin():
                await outcomes.record(session, settled, worker=self.worker)
            report["checked"] += len(claimed)
            _count(report, settled)

    async def _settle(
        self, claimed: list[Claimed], contacts: Mapping[tuple[int, Channel], str]
    ) -> list[Outcome]:
        slots = asyncio.Semaphore(self.config.concurrency)

        async def one(c: Claimed) -> Outcome:
            async with slots:
                return await resolve(
                    c,
                    self.gateways.for_channel(c.channel),
                    contact=contacts.get((c.member_id, c.channel)),
                    now=self.clock.now(),
                    policy=self.config.resolution,
                )

        return list(await asyncio.gather(*(one(c) for c in claimed)))


async def _contacts(
    session: AsyncSession, claimed: list[Claimed]
) -> dict[tuple[int, Channel], str]:
    if not claimed:
        return {}
    rows = await session.execute(
        select(Member.id, Member.phone, Member.email).where(
            in_list(Member.id, {c.member_id for c in claimed}, dialect=session_dialect(session))
        )
    )
    found: dict[tuple[int, Channel], str] = {}
    for member_id, phone, email in rows:
        if phone:
            found[(member_id, Channel.SMS)] = phone
        if email:
            found[(member_id, Channel.EMAIL)] = email
    return found


def _count(report: Counter[str], done: list[Outcome]) -> None:
    for outcome in done:
        report[outcome.status.value] += 1
