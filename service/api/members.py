from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status

from service.api.deps import ClockDep, DbSession, MarketerOrIngest, SecretsDep, SettingsDep
from service.inputs import UtcInstant
from service.members import queries as member_queries
from service.members import service as member_service
from service.members.models import Channel
from service.members.schemas import ConsentIn, MemberIn, MemberOut, MemberPage
from service.orders import service as order_service
from service.orders.schemas import OrderOut

router = APIRouter(prefix="/members", tags=["members"], dependencies=[MarketerOrIngest])
ExternalId = Annotated[str, Path(min_length=1, max_length=128)]
PAID_ORDERS_MAX = 2**31 - 1  # the column is a 32-bit integer on PostgreSQL


@router.put(
    "/{external_id}",
    response_model=MemberOut,
    responses={201: {"model": MemberOut, "description": "Created"}},
)
async def put_member(
    external_id: ExternalId,
    body: MemberIn,
    response: Response,
    session: DbSession,
    clock: ClockDep,
    settings: SettingsDep,
    secrets: SecretsDep,
) -> MemberOut:
    """Create or update a member; fields left out are kept."""
    now = clock.now()
    member, created = await member_service.upsert_member(
        session,
        external_id=external_id,
        data=body,
        now=now,
        region=settings.country,
        salt=secrets.contact_salt,
    )
    if created:
        response.status_code = status.HTTP_201_CREATED
    [view] = await member_queries.member_views(
        session, [member], now=now, salt=secrets.contact_salt
    )
    return view


@router.get("/{external_id}", response_model=MemberOut)
async def get_member(
    external_id: ExternalId, session: DbSession, clock: ClockDep, secrets: SecretsDep
) -> MemberOut:
    member = await member_service.get_member(session, external_id=external_id)
    [view] = await member_queries.member_views(
        session, [member], now=clock.now(), salt=secrets.contact_salt
    )
    return view


@router.get("", response_model=MemberPage)
async def list_members(
    session: DbSession,
    clock: ClockDep,
    secrets: SecretsDep,
    tag: Annotated[str | None, Query(max_length=64)] = None,
    city: Annotated[str | None, Query(max_length=100)] = None,
    region: Annotated[str | None, Query(max_length=100)] = None,
    locale: Annotated[str | None, Query(max_length=16)] = None,
    min_paid_orders: Annotated[int | None, Query(ge=0, le=PAID_ORDERS_MAX)] = None,
    max_paid_orders: Annotated[int | None, Query(ge=0, le=PAID_ORDERS_MAX)] = None,
    last_paid_before: UtcInstant | None = None,
    last_paid_after: UtcInstant | None = None,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> MemberPage:
    """Members in a stable order, filtered, one page at a time (follow `next_cursor`)."""
    filters = member_queries.MemberFilter(
        tag=tag,
        city=city,
        region=region,
        locale=locale,
        min_paid_orders=min_paid_orders,
        max_paid_orders=max_paid_orders,
        last_paid_before=last_paid_before,
        last_paid_after=last_paid_after,
    )
    return await member_queries.list_members(
        session,
        filters=filters,
        cursor=cursor,
        limit=limit,
        now=clock.now(),
        salt=secrets.contact_salt,
    )


@router.delete("/{external_id}", status_code=status.HTTP_204_NO_CONTENT)
async def erase_member(
    external_id: ExternalId, session: DbSession, clock: ClockDep, secrets: SecretsDep
) -> None:
    """Erase personal data; the contacts stay suppressed so they are never re-subscribed."""
    await member_service.erase_member(
        session, external_id=external_id, now=clock.now(), salt=secrets.contact_salt
    )


@router.put("/{external_id}/consent/{channel}", response_model=MemberOut)
async def put_consent(
    external_id: ExternalId,
    channel: Channel,
    body: ConsentIn,
    session: DbSession,
    clock: ClockDep,
    secrets: SecretsDep,
) -> MemberOut:
    """Record an explicit marketing consent decision for one channel."""
    now = clock.now()
    member = await member_service.set_consent(
        session,
        external_id=external_id,
        channel=channel,
        granted=body.granted,
        source=body.source,
        now=now,
        salt=secrets.contact_salt,
    )
    [view] = await member_queries.member_views(
        session, [member], now=now, salt=secrets.contact_salt
    )
    return view


@router.get("/{external_id}/orders", response_model=list[OrderOut])
async def member_orders(
    external_id: ExternalId,
    session: DbSession,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[OrderOut]:
    member = await member_service.get_member(session, external_id=external_id)
    return await order_service.member_orders(session, member_id=member.id, limit=limit)
