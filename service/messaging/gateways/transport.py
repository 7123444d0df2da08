"""The gateways' HTTP transport: httpx's client API over aiohttp's connection pool.

Gateways speak httpx (requests, responses, timeouts, the httpx exception types); under it,
httpcore parses HTTP/1.1 in pure Python (h11) and reaches sockets through anyio, about 0.5 ms
of CPU per small POST, more than the dispatcher's own work per message. aiohttp's pool and C
parser do the same exchange for a fraction of that. HTTP/1.1 only: the gateways send one small
POST per message over pooled keep-alive connections.

aiohttp's errors are mapped onto httpx's so that `error_for_transport` can tell a request that
never left (connect errors and timeouts: safe to send again) from one that may have arrived
(anything after the connection was up: the outcome is unknown). aiohttp never resends a POST
on its own.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from contextlib import contextmanager

import aiohttp
import httpx
from yarl import URL

# aiohttp's errors as httpx's, most specific first: the first match wins
_ERRORS: tuple[tuple[type[Exception], type[httpx.TransportError]], ...] = (
    (aiohttp.InvalidUrlClientError, httpx.UnsupportedProtocol),
    (aiohttp.ConnectionTimeoutError, httpx.ConnectTimeout),  # a pooled or new connection
    (aiohttp.ClientConnectorError, httpx.ConnectError),  # refused, DNS, TLS verification
    (aiohttp.SocketTimeoutError, httpx.ReadTimeout),
    (aiohttp.ServerTimeoutError, httpx.ReadTimeout),
    (aiohttp.ServerDisconnectedError, httpx.RemoteProtocolError),
    (aiohttp.ClientResponseError, httpx.RemoteProtocolError),  # a malformed answer
    (aiohttp.ClientPayloadError, httpx.ReadError),
    (aiohttp.ClientConnectionResetError, httpx.ReadError),
    (aiohttp.ClientOSError, httpx.ReadError),
    (aiohttp.ClientConnectionError, httpx.NetworkError),
    (aiohttp.ClientError, httpx.TransportError),
)


@contextmanager
def _as_httpx_errors() -> Iterator[None]:
    try:
        yield
    except aiohttp.ClientError as exc:
        for raised, mapped in _ERRORS:
            if isinstance(exc, raised):
                raise mapped(str(exc) or type(exc).__name__) from exc
        raise


class GatewayTransport(httpx.AsyncBaseTransport):
    """An `httpx.AsyncClient(transport=…)` for the gateways: HTTP/1.1 keep-alive via aiohttp."""

    def __init__(self, *, limits: httpx.Limits, ssl_context: ssl.SSLContext | None = None) -> None:
        self._limits = limits
        # verified against the CAs httpx's own transport trusts, unless told otherwise
        self._ssl = ssl_context or httpx.create_ssl_context()
        self._session: aiohttp.ClientSession | None = None  # opened in the loop that sends

    def _opened(self) -> aiohttp.ClientSession:
        if self._session is None:
            limits = self._limits
            # httpx's keep-alive of 0 (or no idle connections kept): never reuse a connection
            close = limits.keepalive_expiry == 0 or limits.max_keepalive_connections == 0
            connector = aiohttp.TCPConnector(
                limit=limits.max_connections or 0,  # None or 0: no limit, as for httpx
                limit_per_host=0,
                ssl=self._ssl,
                force_close=close,
                keepalive_timeout=None if close else limits.keepalive_expiry,  # None: no expiry
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                auto_decompress=False,  # httpx decodes, by the headers it sent
                skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding"),  # httpx's own
            )
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeout = request.extensions.get("timeout", {})
        body = await request.aread()
        with _as_httpx_errors():
            async with self._opened().request(
                request.method,
                URL(str(request.url), encoded=True),  # httpx has encoded it already
                headers=request.headers.multi_items(),
                data=body or None,
                allow_redirects=False,
                compress=None,
                timeout=aiohttp.ClientTimeout(
                    total=None,
                    connect=_sum(timeout.get("pool"), timeout.get("connect")),
                    sock_connect=timeout.get("connect"),
                    sock_read=timeout.get("read"),
                ),
            ) as response:
                content = await response.read()
        return httpx.Response(
            status_code=response.status,
            headers=response.raw_headers,
            content=content,
            extensions={
                "http_version": b"HTTP/1.1",
                "reason_phrase": (response.reason or "").encode(),
            },
        )

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _sum(*seconds: float | None) -> float | None:
    """aiohttp's `connect` covers the wait for a pooled connection and the connect itself."""
    present = [s for s in seconds if s is not None]
    return sum(present) if present else None
