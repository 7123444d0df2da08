"""A fake SMS gateway on loopback that counts messages by idempotency key and injects faults.

Faults are queued per request: `500`, `429`, `400`, `slow` (never answers), `drop` (closes
the connection after reading the request, without delivering), `drop_after_delivery`
(delivers, then closes without answering: the unknown outcome). Without a queued fault it
accepts. A key seen before is answered with the first id and not delivered twice, as an
idempotent gateway should, unless `dedupe` is off. `delay` slows every answer down.

`GET /_stats` answers the counts as JSON, for a gateway running in another process:
`python -m tests.gateway_server --port 8765 [--delay-ms 20]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections import Counter, deque

import uvloop

from tests.loopback_http import Drop, HttpRequest, HttpResponse, LoopbackHttpServer


class FakeSmsGateway:
    def __init__(
        self, *, dedupe: bool = True, token: str | None = None, delay: float = 0.0
    ) -> None:
        self.dedupe, self.token, self.delay = dedupe, token, delay
        self.faults: deque[str] = deque()
        self.attempts: Counter[str] = Counter()  # requests per idempotency key
        self.delivered: Counter[str] = Counter()  # messages that reached the phone, per key
        self.accepted: Counter[str] = Counter()  # 2xx answers sent, per key
        self.requests: list[HttpRequest] = []
        self.keep_requests = True
        self._ids: dict[str, str] = {}
        self._never = asyncio.Event()
        self._watch: tuple[int, asyncio.Event] | None = None

    async def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path == "/_stats":
            return _json(200, self.stats())
        if self.keep_requests:
            self.requests.append(request)
        key = request.headers.get("idempotency-key", "")
        self.attempts[key] += 1
        if self.token is not None and request.headers.get("authorization") != self.token:
            return _json(401, {"error": "unauthorized"})
        fault = self.faults.popleft() if self.faults else "ok"
        if self.delay:
            await asyncio.sleep(self.delay)
        if fault == "slow":
            await self._never.wait()
        if fault == "drop":
            raise Drop
        if fault.isdigit():
            headers = {"retry-after": "7"} if fault == "429" else {}
            return _json(int(fault), {"error": f"injected {fault}"}, headers)
        message_id = self._deliver(key)
        if fault == "drop_after_delivery":
            raise Drop
        self.accepted[key] += 1
        return _json(200, {"id": message_id, "status": "accepted"})

    def _deliver(self, key: str) -> str:
        if self.dedupe and key in self._ids:
            return self._ids[key]
        self.delivered[key] += 1
        self._ids.setdefault(key, f"gw-{len(self._ids) + 1}")
        if self._watch is not None and len(self.delivered) >= self._watch[0]:
            self._watch[1].set()
        return self._ids[key]

    def provider_id(self, key: str) -> str | None:
        return self._ids.get(key)

    async def wait_delivered(self, count: int) -> None:
        """Until `count` distinct keys were delivered (a test's cue, not a clock)."""
        event = asyncio.Event()
        self._watch = (count, event)
        if len(self.delivered) >= count:
            event.set()
        await event.wait()

    def stats(self) -> dict[str, dict[str, int]]:
        return {
            "attempts": dict(self.attempts),
            "delivered": dict(self.delivered),
            "accepted": dict(self.accepted),
        }


def _json(status: int, body: object, headers: dict[str, str] | None = None) -> HttpResponse:
    return HttpResponse(
        status, json.dumps(body).encode(), {"content-type": "application/json", **(headers or {})}
    )


async def _main(port: int, delay_ms: float) -> None:
    fake = FakeSmsGateway(delay=delay_ms / 1000)
    fake.keep_requests = False  # a long benchmark would keep every request in memory
    server = await LoopbackHttpServer(fake).start(port)
    print(f"listening on {server.url}", flush=True)  # noqa: T201
    await asyncio.Event().wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--delay-ms", type=float, default=0.0)
    args = parser.parse_args()
    uvloop.run(_main(args.port, args.delay_ms))  # as fast a loop as the server side can have
