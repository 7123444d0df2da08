from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from service.api.deps import ClockDep, DbSession, Ingest, MarketerOrIngest, SettingsDep
from service.orders import service as order_service
from service.orders.schemas import BatchResult, OrderBatchIn, OrderOut

router = APIRouter(prefix="/orders", tags=["orders"])


@router.get("/{order_id}", response_model=OrderOut, dependencies=[MarketerOrIngest])
async def get_order(
    order_id: Annotated[str, Path(min_length=1, max_length=64)],
    session: DbSession,
    platform: Annotated[str, Query(pattern="^(native|shopify|woocommerce)$")] = "native",
) -> OrderOut:
    """An order as recorded, by the shop's order id."""
    return await order_service.get_order(session, external_id=order_id, platform=platform)


@router.post("/batch", response_model=BatchResult, dependencies=[Ingest])
async def post_order_batch(
    body: OrderBatchIn, session: DbSession, clock: ClockDep, settings: SettingsDep
) -> BatchResult:
    """Apply up to 1,000 native orders in one transaction; each is idempotent like the webhook."""
    now = clock.now()
    results = [
        await order_service.ingest_order(
            session,
            order,
            platform="native",
            now=now,
            region=settings.country,
            loc=("body", "orders", i),
        )
        for i, order in enumerate(body.orders)
    ]
    return BatchResult(results=results)
