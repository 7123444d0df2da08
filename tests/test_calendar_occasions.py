"""Holidays, festivals and custom occasions on real dates, and the occasion specs' validation."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import TypeAdapter, ValidationError

from service.calendar.occasions import (
    CustomOccasion,
    OccasionKind,
    OccasionSpec,
    occasions_in_year,
    occurrences_between,
    occurrences_in_year,
)
from service.calendar.public_holidays import UnknownCountry, holiday_keys, slugify

SPEC = TypeAdapter(OccasionSpec)


def occurrence_dates(
    spec: dict[str, object], year: int, country: str = "CN"
) -> list[tuple[str, date]]:
    parsed = SPEC.validate_python(spec)
    assert not isinstance(parsed, dict)
    return [
        (o.occasion_id, o.local_date)
        for o in occurrences_between(
            parsed, country=country, first=date(year, 1, 1), last=date(year, 12, 31)
        )
    ]


@pytest.mark.parametrize(
    ("name", "year", "expected"),
    [
        ("spring_festival", 2026, date(2026, 2, 17)),
        ("spring_festival", 2027, date(2027, 2, 6)),
        ("spring_festival_eve", 2026, date(2026, 2, 16)),
        ("mid_autumn", 2026, date(2026, 9, 25)),
        ("dragon_boat", 2026, date(2026, 6, 19)),
        ("qingming", 2026, date(2026, 4, 5)),
        ("labour_day", 2026, date(2026, 5, 1)),  # not 05-04, the "observed" day
        ("national_day", 2026, date(2026, 10, 1)),
        ("new_year", 2027, date(2027, 1, 1)),
    ],
)
def test_chinese_public_holidays(name: str, year: int, expected: date) -> None:
    assert occurrence_dates({"kind": "holiday", "name": name}, year) == [
        (f"{name}:{year}", expected)
    ]


def test_substituted_and_observed_days_are_not_holidays() -> None:
    keys = {o.key for o in occasions_in_year("CN", 2026) if o.kind == OccasionKind.HOLIDAY}
    assert keys == {
        "new_year",
        "spring_festival_eve",
        "spring_festival",
        "qingming",
        "labour_day",
        "dragon_boat",
        "mid_autumn",
        "national_day",
    }


@pytest.mark.parametrize(
    ("name", "year", "expected"),
    [
        ("mid_year_sale", 2026, [("mid_year_sale:2026", date(2026, 6, 18))]),
        ("double_11", 2026, [("double_11:2026", date(2026, 11, 11))]),
        ("double_12", 2026, [("double_12:2026", date(2026, 12, 12))]),
        ("day_520", 2026, [("day_520:2026", date(2026, 5, 20))]),
        ("womens_day", 2026, [("womens_day:2026", date(2026, 3, 8))]),
        ("valentines_day", 2026, [("valentines_day:2026", date(2026, 2, 14))]),
        ("christmas", 2026, [("christmas:2026", date(2026, 12, 25))]),
        ("qixi", 2026, [("qixi:2026", date(2026, 8, 19))]),
        ("lantern_festival", 2027, [("lantern_festival:2027", date(2027, 2, 20))]),
        ("double_ninth", 2026, [("double_ninth:2026", date(2026, 10, 18))]),
        ("mothers_day", 2026, [("mothers_day:2026", date(2026, 5, 10))]),
        ("mothers_day", 2027, [("mothers_day:2027", date(2027, 5, 9))]),
        ("fathers_day", 2026, [("fathers_day:2026", date(2026, 6, 21))]),
        ("laba", 2026, [("laba:2025", date(2026, 1, 26))]),  # named by its lunar year
        ("laba", 2022, [("laba:2021", date(2022, 1, 10)), ("laba:2022", date(2022, 12, 30))]),
        ("laba", 2023, []),
    ],
)
def test_festivals(name: str, year: int, expected: list[tuple[str, date]]) -> None:
    assert occurrence_dates({"kind": "festival", "name": name}, year) == expected


@pytest.mark.parametrize(
    ("spec", "year", "expected"),
    [
        ({"month": 3, "day": 8}, 2027, [("shop_anniversary:2027", date(2027, 3, 8))]),
        ({"month": 2, "day": 29}, 2027, [("shop_anniversary:2027", date(2027, 2, 28))]),
        ({"month": 2, "day": 29}, 2028, [("shop_anniversary:2028", date(2028, 2, 29))]),
        (
            {"month": 8, "day": 15, "calendar": "lunar"},
            2026,
            [("shop_anniversary:2026", date(2026, 9, 25))],
        ),
        (  # lunar 2026-02 has 29 days
            {"month": 2, "day": 30, "calendar": "lunar"},
            2026,
            [("shop_anniversary:2026", date(2026, 4, 16))],
        ),
    ],
)
def test_custom_occasions(
    spec: dict[str, object], year: int, expected: list[tuple[str, date]]
) -> None:
    full = {"kind": "custom", "name": "shop_anniversary", **spec}
    assert occurrence_dates(full, year) == expected


@pytest.mark.parametrize(
    ("spec", "loc", "msg"),
    [
        ({"kind": "festival", "name": "black_friday"}, ("festival", "name"), "unknown festival"),
        ({"kind": "custom", "name": "x", "month": 4, "day": 31}, ("custom", "day"), "at most 30"),
        ({"kind": "custom", "name": "x", "month": 13, "day": 1}, ("custom", "month"), "less than"),
        (
            {"kind": "custom", "name": "x", "month": 1, "day": 31, "calendar": "lunar"},
            ("custom", "day"),
            "at most 30 days",
        ),
        ({"kind": "custom", "name": "Shop Day", "month": 1, "day": 1}, ("custom", "name"), "match"),
        ({"kind": "birthday", "calendar": "julian"}, ("birthday", "calendar"), "gregorian"),
        ({"kind": "holiday", "name": "x", "extra": 1}, ("holiday", "extra"), "not permitted"),
        ({"kind": "anniversary"}, (), "tag"),
    ],
)
def test_bad_specs_name_the_field(spec: dict[str, object], loc: tuple[str, ...], msg: str) -> None:
    with pytest.raises(ValidationError) as caught:
        SPEC.validate_python(spec)
    [error] = caught.value.errors()
    assert error["loc"] == loc
    assert msg in error["msg"]


def test_a_custom_feb_29_is_valid() -> None:
    spec = CustomOccasion(kind="custom", name="leap", month=2, day=29)
    assert [o.local_date for o in occurrences_in_year(spec, country="CN", year=2026)] == [
        date(2026, 2, 28)
    ]


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Washington's Birthday", "washingtons_birthday"),
        ("Hong Kong S.A.R. Establishment Day", "hong_kong_sar_establishment_day"),
        ("Martin Luther King Jr. Day", "martin_luther_king_jr_day"),
        ("Día de la Independencia", "dia_de_la_independencia"),
        ("Eid al-Fitr (Second Day)", "eid_al_fitr_second_day"),
    ],
)
def test_slugify(name: str, slug: str) -> None:
    assert slugify(name) == slug


def test_other_countries_use_slugified_english_names() -> None:
    us = {o.occasion_id: o for o in occasions_in_year("US", 2026) if o.kind == "holiday"}
    assert us["thanksgiving_day:2026"].local_date == date(2026, 11, 26)
    assert us["independence_day:2026"].name_en == "Independence Day"
    assert us["independence_day:2026"].name_zh == "Independence Day"  # no Chinese translation
    hk = {o.key: o for o in occasions_in_year("HK", 2026) if o.kind == "holiday"}
    assert hk["dragon_boat_festival"].name_zh == "端午节"  # the package's zh_CN translation


def test_a_holiday_twice_in_one_year_gets_two_ids() -> None:
    assert occurrence_dates({"kind": "holiday", "name": "eid_al_fitr"}, 2033, "SG") == [
        ("eid_al_fitr:2033", date(2033, 1, 3)),
        ("eid_al_fitr:2033-2", date(2033, 12, 23)),
    ]


def test_holiday_keys_and_unknown_countries() -> None:
    assert "spring_festival" in holiday_keys("CN", years=range(2026, 2028))
    assert "thanksgiving_day" in holiday_keys("US", years=range(2026, 2027))
    with pytest.raises(UnknownCountry):
        holiday_keys("XX", years=range(2026, 2027))


def test_listing_is_sorted_and_complete() -> None:
    listing = occasions_in_year("CN", 2027)
    assert [o.local_date for o in listing] == sorted(o.local_date for o in listing)
    ids = {o.occasion_id for o in listing}
    assert {"spring_festival:2027", "lantern_festival:2027", "double_11:2027", "laba:2026"} <= ids
    assert len(listing) == len(ids) == 8 + 13
