"""Public holidays of a country, from the `holidays` package, one entry per holiday and year.

Keys: China's holidays have the fixed keys of `CN_HOLIDAYS` (`spring_festival`, `mid_autumn`, …)
with curated Chinese and English names. Every other holiday, in China or elsewhere, is keyed by
its English name in the package, slugified (`"Washington's Birthday"` → `washingtons_birthday`),
with the package's Chinese name where it has a zh_CN translation (HK, MO, TW) and the English
name otherwise. A key is stable as long as the package keeps the holiday's English name.

A multi-day holiday counts once, on its first day. "Observed" days and 调休 substituted days off
are left out; "(estimated)" marks on Islamic and lunar dates are dropped from the name. A
holiday that falls twice in one Gregorian year (Islamic holidays about every 33 years, e.g.
Eid al-Fitr in Singapore on 2033-01-03 and 2033-12-23) yields `key:2033` and then `key:2033-2`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

import holidays
from holidays.holiday_base import HolidayBase

# Days of one holiday more than this far apart are separate occurrences, not one long holiday.
SAME_HOLIDAY_GAP = timedelta(days=30)


@dataclass(frozen=True)
class HolidayName:
    key: str
    name_zh: str
    name_en: str


# The package's English name → our key and display names, for China.
CN_HOLIDAYS: dict[str, HolidayName] = {
    "New Year's Day": HolidayName("new_year", "元旦", "New Year's Day"),
    "Chinese New Year's Eve": HolidayName("spring_festival_eve", "除夕", "Chinese New Year's Eve"),
    "Chinese New Year (Spring Festival)": HolidayName("spring_festival", "春节", "Spring Festival"),
    "Tomb-Sweeping Day": HolidayName("qingming", "清明节", "Qingming Festival"),
    "Labor Day": HolidayName("labour_day", "劳动节", "Labour Day"),
    "Dragon Boat Festival": HolidayName("dragon_boat", "端午节", "Dragon Boat Festival"),
    "Mid-Autumn Festival": HolidayName("mid_autumn", "中秋节", "Mid-Autumn Festival"),
    "National Day": HolidayName("national_day", "国庆节", "National Day"),
}


@dataclass(frozen=True)
class Holiday:
    occasion_id: str
    name: HolidayName
    local_date: date


class UnknownCountry(ValueError):
    """No holiday calendar for this country code."""


def slugify(name: str) -> str:
    """An English holiday name as a key: ASCII, lower case, words joined by underscores."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    ascii_name = re.sub(r"['’.]", "", ascii_name.lower())  # S.A.R. → sar
    return re.sub(r"[^a-z0-9]+", "_", ascii_name).strip("_")


def _calendar(country: str, years: list[int], language: str | None) -> HolidayBase:
    try:
        return holidays.country_holidays(country, years=years, observed=False, language=language)
    except NotImplementedError as exc:
        raise UnknownCountry(f"no public-holiday calendar for country {country!r}") from exc


def _label(calendar: HolidayBase, attribute: str) -> re.Pattern[str]:
    """A regex of one of the package's labels (`'%s (estimated)'`) in the calendar's language."""
    template = getattr(calendar, attribute, None)  # only calendars that use a label define it
    if not template:
        return re.compile(r"(?!)")  # matches nothing
    translated = re.escape(calendar.tr(template)).replace(re.escape("%s"), "(.+)")
    return re.compile(translated + "$")


def _entries(calendar: HolidayBase) -> Iterator[tuple[date, int, str]]:
    """(date, position that day, name) of each real holiday, without substituted days off."""
    substituted = _label(calendar, "substituted_label")
    estimated = _label(calendar, "estimated_label")
    for day in sorted(calendar):
        for position, name in enumerate(calendar.get_list(day)):
            if substituted.match(name):
                continue
            bare = estimated.match(name)
            yield day, position, bare.group(1) if bare else name


def _languages(country: str) -> tuple[str | None, str | None]:
    """The package's language codes for English and Chinese names (None: not translated)."""
    supported = holidays.list_localized_countries().get(country.upper(), [])
    return ("en_US" if "en_US" in supported else None), ("zh_CN" if "zh_CN" in supported else None)


def _names(country: str, years: list[int]) -> list[tuple[date, HolidayName]]:
    english_code, chinese_code = _languages(country)
    english = list(_entries(_calendar(country, years, english_code)))
    chinese = (
        {
            (day, position): name
            for day, position, name in _entries(_calendar(country, years, chinese_code))
        }
        if chinese_code
        else {}
    )
    named = []
    for day, position, name_en in english:
        curated = CN_HOLIDAYS.get(name_en) if country.upper() in {"CN", "CHN"} else None
        name_zh = chinese.get((day, position), name_en)
        named.append((day, curated or HolidayName(slugify(name_en), name_zh, name_en)))
    return named


@lru_cache(maxsize=512)  # pure and immutable: the scheduler asks for the same years every tick
def holidays_in_year(country: str, year: int) -> tuple[Holiday, ...]:
    """The public holidays of a country starting in a Gregorian year, by date."""
    runs: dict[str, list[list[date]]] = {}
    names: dict[str, HolidayName] = {}
    for day, name in _names(country, [year - 1, year]):
        names.setdefault(name.key, name)
        key_runs = runs.setdefault(name.key, [])
        if key_runs and day - key_runs[-1][-1] <= SAME_HOLIDAY_GAP:
            key_runs[-1].append(day)
        else:
            key_runs.append([day])
    found = []
    for key, key_runs in runs.items():
        starts = [run[0] for run in key_runs if run[0].year == year]
        for number, start in enumerate(starts, start=1):
            suffix = "" if number == 1 else f"-{number}"
            found.append(Holiday(f"{key}:{year}{suffix}", names[key], start))
    return tuple(sorted(found, key=lambda h: (h.local_date, h.name.key)))


def holiday_keys(country: str, *, years: range) -> frozenset[str]:
    """Every holiday key a country has in these years (to validate a journey's trigger)."""
    return frozenset(h.name.key for year in years for h in holidays_in_year(country, year))
