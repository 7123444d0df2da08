"""One ASGI middleware: request id, body size limit, metrics and the access log."""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any
from urllib.parse import parse_qsl

from fastapi.routing import iter_route_contexts
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.errors import InvalidInput, PayloadTooLarge, error_response
from service.inputs import NUL
from service.logs import request_id_var
from service.metrics import Metrics

log = logging.getLogger("huitou.http")


class _TooLarge(HTTPException):
    """Raised from `receive`: an HTTPException, so a route reading the body renders it as 413."""

    def __init__(self, max_body_bytes: int) -> None:
        super().__init__(413, f"request body is larger than {max_body_bytes} bytes")


def _nul_in_url(scope: Scope) -> InvalidInput | None:
    """A NUL in the path or query is refused here: PostgreSQL cannot compare text with one."""
    if NUL in scope["path"]:
        loc, msg = ["path"], "the path contains a NUL character (%00)"
    else:
        query = parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)
        bad = next((name for name, value in query if NUL in name + value), None)
        if bad is None:
            return None
        loc, msg = ["query", bad], "the parameter contains a NUL character (%00)"
    return InvalidInput([{"loc": loc, "msg": msg, "type": "nul_character"}])


class RequestMiddleware:
    def __init__(self, app: ASGIApp, *, metrics: Metrics, max_body_bytes: int) -> None:
        self.app, self.metrics, self.max_body_bytes = app, metrics, max_body_bytes
        self._templates: dict[int, str] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        request_id = headers.get(b"x-request-id", b"").decode("latin-1")[:64] or uuid.uuid4().hex
        token = request_id_var.set(request_id)
        started, status = time.perf_counter(), 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status, response_started = message["status"], True
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        try:
            if int(headers.get(b"content-length", b"0") or 0) > self.max_body_bytes:
                raise _TooLarge(self.max_body_bytes)
            if refused := _nul_in_url(scope):
                await error_response(refused)(scope, receive, send_with_id)
                return
            await self.app(scope, self._limited(receive), send_with_id)
        except _TooLarge as too_large:
            if response_started:
                raise
            exc = PayloadTooLarge(str(too_large.detail), loc=["body"])
            await error_response(exc)(scope, receive, send_with_id)
        finally:
            self._observe(scope, status, time.perf_counter() - started)
            request_id_var.reset(token)

    def _limited(self, receive: Receive) -> Receive:
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body_bytes:
                    raise _TooLarge(self.max_body_bytes)
            return message

        return limited

    def _route_template(self, scope: Scope) -> str:
        """The matched route's full template, e.g. /v1/members/{external_id}: never the raw path,
        which may hold a phone number. FastAPI puts the route as declared in its router into the
        scope, without the prefixes it was included under, so those are looked up once."""
        route: Any = scope.get("route")
        if route is None:
            return "unmatched"
        if self._templates is None:
            contexts = iter_route_contexts(scope["app"].routes)
            self._templates = {id(c.original_route): c.path for c in contexts if c.path}
        return self._templates.get(id(route)) or str(getattr(route, "path", "unmatched"))

    def _observe(self, scope: Scope, status: int, seconds: float) -> None:
        path = self._route_template(scope)
        method = scope["method"]
        self.metrics.requests.labels(method, path, str(status)).inc()
        self.metrics.latency.labels(method, path).observe(seconds)
        log.info(
            "%s %s %s",
            method,
            path,
            status,
            extra={"fields": {"status": status, "duration_ms": round(seconds * 1000, 2)}},
        )
