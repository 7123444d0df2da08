from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.db import dialect_insert, session_dialect
from service.errors import NotFound
from service.products.models import Product
from service.products.schemas import ProductIn


class ProductNotFound(NotFound):
    code = "product_not_found"


async def upsert_product(
    session: AsyncSession, *, sku: str, data: ProductIn, now: datetime
) -> tuple[Product, bool]:
    """Create or replace a product; returns it and whether it was created."""
    values = data.model_dump() | {"updated_at": now}
    inserted = await session.scalar(
        dialect_insert(session_dialect(session), Product)
        .values(sku=sku, created_at=now, **values)
        .on_conflict_do_nothing(index_elements=["sku"])
        .returning(Product.id)
    )
    product = await session.scalar(
        select(Product)
        .where(Product.sku == sku)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert product is not None
    if inserted is None:
        for field, value in values.items():
            setattr(product, field, value)
        await session.flush()
    return product, inserted is not None


async def get_product(session: AsyncSession, *, sku: str) -> Product:
    product = await session.scalar(select(Product).where(Product.sku == sku))
    if product is None:
        raise ProductNotFound(f"no product with sku {sku!r}", loc=["path", "sku"])
    return product
