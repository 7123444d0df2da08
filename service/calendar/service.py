"""The calendar as the API shows it: every occasion a marketer can trigger a journey on."""

from __future__ import annotations

from dataclasses import asdict

from service.calendar import lunar
from service.calendar.occasions import occasions_in_year
from service.calendar.public_holidays import UnknownCountry
from service.calendar.schemas import LunarDateOut, OccasionList, OccasionOut
from service.errors import InvalidInput


def list_occasions(*, country: str, year: int) -> OccasionList:
    """Public holidays of the country and festivals in a Gregorian year, by date."""
    try:
        found = occasions_in_year(country.upper(), year)
    except UnknownCountry as exc:
        raise InvalidInput([{"loc": ["query", "country"], "msg": str(exc)}]) from exc
    except lunar.LunarRangeError as exc:
        raise InvalidInput([{"loc": ["query", "year"], "msg": str(exc)}]) from exc
    occasions = [
        OccasionOut(
            occasion_id=o.occasion_id,
            kind=o.kind,
            key=o.key,
            date=o.local_date,
            lunar=LunarDateOut(**asdict(lunar.to_lunar(o.local_date))),
            calendar=o.calendar,
            name_zh=o.name_zh,
            name_en=o.name_en,
        )
        for o in found
    ]
    return OccasionList(country=country.upper(), year=year, occasions=occasions)
