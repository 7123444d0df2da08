"""What request bodies may carry: values both databases store, instants that exist in UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import Field, JsonValue, TypeAdapter, ValidationError

from service.inputs import InputModel, UtcInstant, unstorable


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("王小明", None),
        ("", None),
        (1.5, None),
        (10**40, None),
        (True, None),
        (None, None),
        ({"a": [1, "x", {"b": None}]}, None),
        ("a\x00b", "text contains a NUL character (U+0000)"),
        (["ok", "b\x00"], "text contains a NUL character (U+0000) at [1]"),
        ({"k": {"j": float("nan")}}, "number is not finite (nan) at k.j"),
        ({"k": [0.0, float("-inf")]}, "number is not finite (-inf) at k[1]"),
        ({"k\x00": 1}, "text contains a NUL character (U+0000) at (a key)"),
        (float("inf"), "number is not finite (inf)"),
    ],
)
def test_unstorable(value: Any, reason: str | None) -> None:
    assert unstorable(value) == reason


class Sample(InputModel):
    name: str = ""
    attributes: dict[str, JsonValue] = Field(default_factory=dict)


def test_an_input_model_names_the_field_and_refuses_extras() -> None:
    with pytest.raises(ValidationError) as caught:
        Sample.model_validate({"name": "x\x00", "attributes": {"a": float("nan")}, "more": 1})
    errors = {e["loc"]: e["msg"] for e in caught.value.errors()}
    assert errors == {
        ("name",): "Value error, text contains a NUL character (U+0000)",
        ("attributes",): "Value error, number is not finite (nan) at a",
        ("more",): "Extra inputs are not permitted",
    }


INSTANT: TypeAdapter[datetime] = TypeAdapter(UtcInstant)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-11-11T08:00:00+08:00", datetime(2026, 11, 11, 0, 0, tzinfo=UTC)),
        ("2026-11-11T00:00:00Z", datetime(2026, 11, 11, 0, 0, tzinfo=UTC)),
        ("0001-01-01T00:00:00Z", datetime(1, 1, 1, tzinfo=UTC)),
    ],
)
def test_instants_come_back_in_utc(raw: str, expected: datetime) -> None:
    value = INSTANT.validate_python(raw)
    assert value == expected
    assert value.tzinfo is UTC


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("2026-11-11T08:00:00", "timezone"),
        ("2026-11-11", "timezone"),
        ("0001-01-01T00:00:00+14:00", "outside the years 1 to 9999"),
        ("9999-12-31T23:59:59-14:00", "outside the years 1 to 9999"),
    ],
)
def test_instants_without_an_offset_or_outside_utc_are_refused(raw: str, fragment: str) -> None:
    with pytest.raises(ValidationError, match=fragment):
        INSTANT.validate_python(raw)
