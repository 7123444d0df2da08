"""The server under test: our real app plus one baseline route, mounted only by the benchmark.

`uvicorn bench.ingest_app:create_bench_app --factory` with HUITOU_* settings in the environment.
The baseline route runs behind the same middleware, session dependency, engine and driver as the
webhook, and writes the same order row with one plain INSERT: it is the floor of what any ingest
through this stack can cost.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from decimal import Decimal

from fastapi import APIRouter, FastAPI, Request
from sqlalchemy import insert

from service.api.deps import ClockDep, DbSession
from service.app import create_app
from service.logs import configure_logging
from service.orders.models import Order, OrderStatus
from service.orders.schemas import IngestResult
from service.settings import Settings

BASELINE_PATH = "/bench/plain-orders"
MEMBER_ENV = "BENCH_INGEST_MEMBER_ID"  # the one member every baseline order belongs to

router = APIRouter()


@router.post(BASELINE_PATH, response_model=IngestResult)
async def plain_order_insert(request: Request, session: DbSession, clock: ClockDep) -> IngestResult:
    """The order row of the posted body, one INSERT, nothing else (no signature, no member)."""
    body = json.loads(await request.body())
    now = clock.now()
    paid_at = body.get("paid_at")
    await session.execute(
        insert(Order).values(
            platform="bench",
            external_id=body["id"],
            member_id=request.app.state.bench_member_id,
            status=OrderStatus(body["status"]),
            currency=body["currency"],
            total=Decimal(body["total"]),
            discount_total=Decimal(body.get("discount_total", "0")),
            refund_total=Decimal(0),
            source=body["source"],
            created_at=datetime.fromisoformat(body["created_at"]),
            paid_at=datetime.fromisoformat(paid_at) if paid_at else None,
            recorded_at=now,
            updated_at=now,
        )
    )
    return IngestResult(id=body["id"], status=body["status"], applied=True, events=[])


def create_bench_app() -> FastAPI:
    settings = Settings()
    configure_logging(settings.log_level)  # as `huitou serve` does
    app = create_app(settings, migrate=False)  # the harness migrated the fresh database
    app.state.bench_member_id = int(os.environ[MEMBER_ENV])
    app.include_router(router)
    return app
