"""Liveness, readiness (database reachable, schema at head) and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from service.migrate import current_revisions

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "Database unreachable or not migrated"}})
async def readyz(request: Request) -> JSONResponse:
    heads: set[str] = request.app.state.migration_heads
    try:
        async with request.app.state.engine.connect() as connection:
            current = await connection.run_sync(current_revisions)
    except Exception as exc:  # readiness reports any database failure rather than raising it
        return JSONResponse(
            {"status": "unavailable", "reason": type(exc).__name__}, status_code=503
        )
    if current != heads:
        return JSONResponse(
            {"status": "migrating", "current": sorted(current), "head": sorted(heads)},
            status_code=503,
        )
    return JSONResponse({"status": "ready", "revision": sorted(current)})


@router.get("/metrics", response_class=Response)
async def metrics(request: Request) -> Response:
    return Response(
        generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST
    )
