from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from service.api.deps import ClockDep, Marketer, SettingsDep
from service.calendar import lunar
from service.calendar import service as calendar_service
from service.calendar.schemas import OccasionList

router = APIRouter(prefix="/calendar", tags=["calendar"], dependencies=[Marketer])


@router.get("/occasions", response_model=OccasionList)
async def list_occasions(
    settings: SettingsDep,
    clock: ClockDep,
    year: Annotated[
        int | None,
        Query(ge=lunar.FIRST_YEAR, le=lunar.LAST_YEAR, description="Default: this year."),
    ] = None,
    country: Annotated[
        str | None,
        Query(pattern=r"^[A-Za-z]{2}$", description="ISO 3166-1 alpha-2; default: the shop's."),
    ] = None,
) -> OccasionList:
    """Public holidays (lunar ones included) and e-commerce festivals a journey can start on."""
    return calendar_service.list_occasions(
        country=country or settings.country,
        year=year if year is not None else clock.now().astimezone(settings.zone).year,
    )
