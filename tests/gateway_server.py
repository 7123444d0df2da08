"""A fake SMS gateway on loopback that counts messages by idempotency key and injects faults.

Faults are queued per request: `500`, `429`, `400`, `slow` (never answers), `drop` (closes
the connection after reading the request, without delivering), `drop_after_delivery`
(delivers, then closes without answering: the unknown outcome). Without a queued fault it
accepts. A key seen before is answered with the first id and not delivered twice, as an
idempotent gateway should, unless `dedupe` is off.

In another process: `python -m tests.gateway_server --port 8765`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections import Counter, deque

from tests.loopback_http import Drop, HttpRequest, HttpResponse, LoopbackHttpServer


class FakeSmsGateway:
    def __init__(self, *, dedupe: bool = True, token: str | None = None) -> None:
        self.dedupe, self.token = dedupe, token
        self.faults: deque[str] = deque()
        self.attempts: Counter[str] = Counter()  # requests per idempotency key
        self.delivered: Counter[str] = Counter()  # messages that reached the phone, per key
        self.requests: list[HttpRequest] = []
        self._ids: dict[str, str] = {}
        self._never = asyncio.Event()

    async def __call__(self, request: HttpRequest) -> HttpResponse:
        self.requests.append(request)
        key = request.headers.get("idempotency-key", "")
        self.attempts[key] += 1
        if self.token is not None and request.headers.get("authorization") != self.token:
            return _json(401, {"error": "unauthorized"})
        fault = self.faults.popleft() if self.faults else "ok"
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
        return _json(200, {"id": message_id, "status": "accepted"})

    def _deliver(self, key: str) -> str:
        if self.dedupe and key in self._ids:
            return self._ids[key]
        self.delivered[key] += 1
        self._ids.setdefault(key, f"gw-{len(self._ids) + 1}")
        return self._ids[key]


def _json(status: int, body: object, headers: dict[str, str] | None = None) -> HttpResponse:
    return HttpResponse(
        status, json.dumps(body).encode(), {"content-type": "application/json", **(headers or {})}
    )


async def _main(port: int) -> None:
    server = await LoopbackHttpServer(FakeSmsGateway()).start(port)
    print(f"listening on {server.url}", flush=True)  # noqa: T201
    await asyncio.Event().wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    asyncio.run(_main(parser.parse_args().port))
