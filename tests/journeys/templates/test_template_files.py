"""Template files that are not shipped: a required parameter, and broken files refused with
their path (the shipped ones are checked in test_catalogue)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest

from service import PROJECT_ROOT
from service.journeys.rule_templates import load_rule_templates
from service.settings import Settings

REQUIRED = {
    "name_zh": "测试",
    "name_en": "Test",
    "description_zh": "测试用。",
    "description_en": "For tests.",
    "parameters": {
        "days": {
            "type": "integer",
            "required": True,
            "description_zh": "天数。",
            "description_en": "Days.",
        }
    },
    "journey": {
        "key": "required-test",
        "name": "Required",
        "trigger": {"type": "inactivity", "days": {"$param": "days"}},
        "steps": [{"id": "hello", "send": {"template": "winback/gentle"}}],
    },
}


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    """The shipped templates plus one with a required parameter."""
    directory = tmp_path / "rule_templates"
    shutil.copytree(PROJECT_ROOT / "rule_templates", directory)
    (directory / "required_test.json").write_text(json.dumps(REQUIRED), encoding="utf-8")
    return settings.model_copy(update={"rule_templates_dir": str(directory)})


async def test_a_missing_required_parameter_is_a_422_naming_it(client: httpx.AsyncClient) -> None:
    missing = await client.post("/v1/journeys/from-template", json={"template": "required_test"})
    assert missing.status_code == 422
    assert missing.json()["detail"] == [
        {"loc": ["body", "params", "days"], "msg": "required", "type": "missing"}
    ]
    given = await client.post(
        "/v1/journeys/from-template", json={"template": "required_test", "params": {"days": 30}}
    )
    assert given.status_code == 201, given.text
    assert given.json()["rule"]["trigger"]["days"] == 30


def _undeclared(template: dict[str, Any]) -> None:
    template["journey"]["steps"][0]["send"]["coupon_code"] = {"$param": "nope"}


def _unused(template: dict[str, Any]) -> None:
    template["journey"]["trigger"]["days"] = 30
    template["parameters"]["days"].update(required=False, default=30)


def _bad_default(template: dict[str, Any]) -> None:
    template["parameters"]["days"].update(required=False, default="x")


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (_undeclared, "'nope' is used but not declared"),
        (_unused, "'days' is declared but never used"),
        (_bad_default, "the default of 'days': expected an integer"),
    ],
    ids=["undeclared", "unused", "bad-default"],
)
def test_a_broken_template_file_is_refused_with_its_path(
    tmp_path: Path, change: Any, problem: str
) -> None:
    broken = json.loads(json.dumps(REQUIRED))
    change(broken)
    (tmp_path / "broken.json").write_text(json.dumps(broken), encoding="utf-8")
    with pytest.raises(ValueError, match=problem) as raised:
        load_rule_templates(tmp_path)
    assert "broken.json" in str(raised.value)
