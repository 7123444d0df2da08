"""A tiny HTTP/1.1 server on loopback (asyncio + h11) whose handler can misbehave on purpose.

Unlike a framework app, it can drop a connection mid-request or never answer, which is what
gateway tests need. Start it in the test's event loop, or in its own process with
`python -m tests.gateway_server` (see there).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import h11


@dataclass
class HttpRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class HttpResponse:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


class Drop(Exception):
    """Raised by a handler: close the connection without answering."""


Handler = Callable[[HttpRequest], Awaitable[HttpResponse]]


class LoopbackHttpServer:
    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0
        self.scheme = "http"
        self.connections = 0  # accepted so far

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    async def start(
        self, port: int = 0, *, tls: ssl.SSLContext | None = None
    ) -> LoopbackHttpServer:
        """Listening on loopback (`https://` with a server-side `tls` context)."""
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", port, ssl=tls)
        self.scheme = "https" if tls else "http"
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections += 1
        try:
            await self._connection(reader, writer)
        except (ConnectionError, ssl.SSLError, h11.ProtocolError, Drop):
            pass
        finally:
            self._tasks.discard(task)
            writer.close()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = h11.Connection(h11.SERVER)
        while True:
            request = await _read_request(conn, reader)
            if request is None:
                return
            response = await self.handler(request)
            headers = [("content-length", str(len(response.body)))]
            headers += list(response.headers.items())
            writer.write(conn.send(h11.Response(status_code=response.status, headers=headers)))
            writer.write(conn.send(h11.Data(data=response.body)) + conn.send(h11.EndOfMessage()))
            await writer.drain()
            if conn.our_state is h11.MUST_CLOSE:
                return
            conn.start_next_cycle()


async def _read_request(conn: h11.Connection, reader: asyncio.StreamReader) -> HttpRequest | None:
    head: h11.Request | None = None
    body = b""
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            data = await reader.read(65536)
            conn.receive_data(data)
            if not data and head is None:
                return None
            continue
        if isinstance(event, h11.ConnectionClosed):
            return None
        if isinstance(event, h11.Request):
            head = event
        elif isinstance(event, h11.Data):
            body += event.data
        elif isinstance(event, h11.EndOfMessage):
            assert head is not None
            return HttpRequest(
                head.method.decode(),
                head.target.decode(),
                {k.decode().lower(): v.decode() for k, v in head.headers},
                body,
            )
