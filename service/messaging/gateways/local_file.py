"""The embedded default: each message, rendered, appended readably to ./outbox/YYYY-MM-DD.log."""

from __future__ import annotations

import asyncio
from pathlib import Path
from zoneinfo import ZoneInfo

from service.clock import Clock
from service.members.models import Channel
from service.messaging.gateways.base import OutgoingMessage, Receipt, RetryableError

RULE = "─" * 72


class LocalOutbox:
    """One day-file per shop-local date, shared by the SMS and email local gateways."""

    def __init__(self, directory: Path, *, clock: Clock, zone: ZoneInfo) -> None:
        self.directory, self._clock, self._zone = directory, clock, zone
        self._lock = asyncio.Lock()  # one entry at a time, so entries never interleave

    async def append(self, message: OutgoingMessage) -> Path:
        now = self._clock.now().astimezone(self._zone)
        path = self.directory / f"{now:%Y-%m-%d}.log"
        entry = format_entry(message, stamp=now.strftime("%Y-%m-%d %H:%M:%S %z"))
        async with self._lock:
            await asyncio.to_thread(_append, path, entry)
        return path


def _append(path: Path, entry: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(entry)


def format_entry(message: OutgoingMessage, *, stamp: str) -> str:
    head = [
        RULE,
        f"{stamp} · {message.channel.value.upper()} · {message.template or '(no template)'}"
        f" · {message.locale} · {message.purpose.value}",
        f"To: {message.to}",
        f"Idempotency-Key: {message.idempotency_key}",
    ]
    if message.channel is Channel.EMAIL:
        head.append(f"Subject: {message.subject or ''}")
        head += [f"{name}: {value}" for name, value in message.headers.items()]
    body = [message.text.rstrip()]
    if message.html is not None:
        body.append(f"[HTML part: {len(message.html)} characters]")
    return "\n".join([*head, "", *body, "", ""])


class LocalFileGateway:
    name = "local"
    honours_idempotency = True  # a local append either happened or raised: never unknown

    def __init__(self, outbox: LocalOutbox, *, channel: Channel) -> None:
        self._outbox, self.channel = outbox, channel

    async def send(self, message: OutgoingMessage) -> Receipt:
        try:
            path = await self._outbox.append(message)
        except OSError as exc:
            raise RetryableError(self.name, f"cannot write the outbox: {exc}") from exc
        return Receipt(self.name, None, str(path))
