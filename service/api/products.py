from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response, status

from service.analytics import replenishment
from service.analytics.schemas import ReplenishmentOut
from service.api.deps import ClockDep, DbSession, MarketerOrIngest
from service.products import service as product_service
from service.products.models import Product
from service.products.schemas import ProductIn, ProductOut

router = APIRouter(prefix="/products", tags=["products"], dependencies=[MarketerOrIngest])
Sku = Annotated[str, Path(min_length=1, max_length=64)]


@router.put(
    "/{sku}",
    response_model=ProductOut,
    responses={201: {"model": ProductOut, "description": "Created"}},
)
async def put_product(
    sku: Sku, body: ProductIn, response: Response, session: DbSession, clock: ClockDep
) -> Product:
    """Create or replace a product."""
    product, created = await product_service.upsert_product(
        session, sku=sku, data=body, now=clock.now()
    )
    if created:
        response.status_code = status.HTTP_201_CREATED
    return product


@router.get("/{sku}", response_model=ProductOut)
async def get_product(sku: Sku, session: DbSession) -> Product:
    return await product_service.get_product(session, sku=sku)


@router.get("/{sku}/replenishment", response_model=ReplenishmentOut)
async def get_replenishment(sku: Sku, session: DbSession) -> ReplenishmentOut:
    """How long one unit lasts: set on the product, else learned from repeat purchases."""
    return await replenishment.replenishment_of(session, sku=sku)
