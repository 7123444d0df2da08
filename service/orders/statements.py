"""The order webhook's statements, built once (per dialect where they differ).

Composing a statement and its cache key costs more than running it, and every order runs these;
rows come as parameters. Core tables, not ORM entities: no persistence machinery on the way.
"""

from __future__ import annotations

from sqlalchemy import String, and_, bindparam, case, func, insert, or_, select, update
from sqlalchemy.sql.dml import ReturningUpdate

from service.db import DIALECTS, dialect_insert, table_of
from service.members.service import MEMBERS
from service.orders.models import Order, OrderItem, WebhookDelivery

CONTACT_FIELDS = ("phone", "email", "name")
ORDERS, ITEMS, DELIVERIES = table_of(Order), table_of(OrderItem), table_of(WebhookDelivery)


def _fill_contacts_statement() -> ReturningUpdate[tuple[int]]:
    """Set each given contact the member lacks (updated_at only if one was set); the id back."""
    given = {f: bindparam(f"given_{f}", type_=MEMBERS.c[f].type) for f in CONTACT_FIELDS}
    filled = or_(*(and_(MEMBERS.c[f].is_(None), v.is_not(None)) for f, v in given.items()))
    now = bindparam("now", type_=MEMBERS.c.updated_at.type)  # UtcDateTime: stored one way
    return (
        update(MEMBERS)
        .where(MEMBERS.c.external_id == bindparam("key", type_=String))
        .values(
            {f: func.coalesce(MEMBERS.c[f], v) for f, v in given.items()}
            | {"updated_at": case((filled, now), else_=MEMBERS.c.updated_at)}
        )
        .returning(MEMBERS.c.id)
    )


CLAIM_DELIVERY = {
    name: dialect_insert(name, DELIVERIES)
    .on_conflict_do_nothing(index_elements=["source", "delivery_id"])
    .returning(DELIVERIES.c.id)
    for name in DIALECTS
}
INSERT_ORDER = {
    name: dialect_insert(name, ORDERS)
    .on_conflict_do_nothing(index_elements=["platform", "external_id"])
    .returning(ORDERS.c.id)
    for name in DIALECTS
}
INSERT_ITEMS = insert(ITEMS)
FILL_CONTACTS = _fill_contacts_statement()
RECORDED_ORDER = (
    select(ORDERS)
    .where(ORDERS.c.platform == bindparam("platform"), ORDERS.c.external_id == bindparam("key"))
    .with_for_update()
)
