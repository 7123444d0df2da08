"""HuitouError and the one way every error reaches a client."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException


class HuitouError(Exception):
    status_code: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"

    def __init__(self, msg: str, *, loc: Sequence[str | int] = ()) -> None:
        super().__init__(msg)
        self.msg, self.loc = msg, list(loc)

    def detail(self) -> list[dict[str, Any]]:
        return [{"loc": self.loc, "msg": self.msg}]


class InvalidInput(HuitouError):
    status_code, code = 422, "validation_error"

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("; ".join(f"{_dotted(e['loc'])}: {e['msg']}" for e in errors))
        # Each item has FastAPI's documented 422 shape (loc, msg, type), whoever raised it.
        self.errors = [{**e, "type": e.get("type") or "value_error"} for e in errors]

    def detail(self) -> list[dict[str, Any]]:
        return self.errors


class Unauthorized(HuitouError):
    status_code, code = 401, "unauthorized"


class Forbidden(HuitouError):
    status_code, code = 403, "forbidden"


class NotFound(HuitouError):
    status_code, code = 404, "not_found"


class Conflict(HuitouError):
    status_code, code = 409, "conflict"


class PayloadTooLarge(HuitouError):
    status_code, code = 413, "payload_too_large"


class BadSignature(HuitouError):
    status_code, code = 401, "bad_signature"


def _dotted(loc: Sequence[Any]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "body"


def invalid_from_pydantic(
    exc: ValidationError, *, prefix: Sequence[str | int] = ("body",)
) -> InvalidInput:
    """A pydantic error with each location prefixed, in FastAPI's 422 shape."""
    return InvalidInput(
        [
            {"loc": [*prefix, *err["loc"]], "msg": err["msg"], "type": err["type"]}
            for err in exc.errors(include_url=False, include_context=False, include_input=False)
        ]
    )


def error_response(exc: HuitouError) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
    return JSONResponse(
        {"error": exc.code, "detail": exc.detail()}, status_code=exc.status_code, headers=headers
    )


async def _render_huitou(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HuitouError)
    return error_response(exc)


def _message(error: dict[str, Any]) -> str:
    msg = str(error.get("msg", "invalid"))
    reason = (error.get("ctx") or {}).get("error")
    return f"{msg}: {reason}" if error.get("type") == "json_invalid" and reason else msg


async def _render_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"loc": list(e.get("loc", ())), "msg": _message(e), "type": e.get("type", "")}
        for e in exc.errors()
    ]
    return error_response(InvalidInput(errors))


def _unparsable_body(cause: BaseException) -> InvalidInput:
    """FastAPI's bare 400 for a body json.loads raised on, with the reason a client can act on."""
    if isinstance(cause, UnicodeDecodeError):
        reason = "the body is not valid UTF-8"
    elif isinstance(cause, RecursionError):
        reason = "the JSON is nested too deeply"
    else:  # e.g. an integer of more than 4300 digits
        reason = f"the body cannot be parsed as JSON: {cause}"
    return InvalidInput([{"loc": ["body"], "msg": reason, "type": "json_invalid"}])


async def _render_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.detail == "There was an error parsing the body" and exc.__cause__ is not None:
        return error_response(_unparsable_body(exc.__cause__))
    code = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}.get(
        exc.status_code, "http_error"
    )
    loc = ["body"] if exc.status_code == 413 else []
    return JSONResponse(
        {"error": code, "detail": [{"loc": loc, "msg": str(exc.detail)}]},
        status_code=exc.status_code,
        headers=getattr(exc, "headers", None),
    )


def add_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(HuitouError, _render_huitou)
    app.add_exception_handler(RequestValidationError, _render_validation)
    app.add_exception_handler(StarletteHTTPException, _render_http)
