"""The rule template catalogue: every template loads, instantiates with its defaults and
validates, uses exactly the parameters it declares, and bad parameters are 422s that name them.
A new file in rule_templates/ is covered by these tests without touching them."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import httpx
import pytest

from service import PROJECT_ROOT
from service.journeys.rule_templates import (
    instantiate,
    load_rule_templates,
    placeholders,
    template_problems,
)
from service.journeys.schemas import RuleTemplateOut
from service.messaging.context import SAMPLE_NOW, sample_context
from service.messaging.files import read_template_files
from service.messaging.render import Renderer, TemplateContent

DIRECTORY = PROJECT_ROOT / "rule_templates"
TEMPLATES = load_rule_templates(DIRECTORY)
NAMES = [t.name for t in TEMPLATES]
SHIPPED = {f.name: f for f in read_template_files(PROJECT_ROOT / "message_templates")}
PRACTICE = {
    "new_customer_nurture",
    "replenishment_reminder",
    "holiday_care",
    "birthday_care",
    "winback",
    "unpaid_reminder",
    "shipment_notices",
    "review_request",
    "season_upgrade",
    "vip_new_arrival_preview",
}


def test_the_practice_is_covered() -> None:
    assert set(NAMES) >= PRACTICE


@pytest.mark.parametrize("template", TEMPLATES, ids=NAMES)
def test_every_placeholder_is_declared_and_every_parameter_used(template: RuleTemplateOut) -> None:
    used = {name for _, name in placeholders(template.journey)}
    assert used == set(template.parameters)
    assert template_problems(template) == []


@pytest.mark.parametrize("template", TEMPLATES, ids=NAMES)
def test_names_descriptions_and_defaults_are_written_out(template: RuleTemplateOut) -> None:
    assert template.name_zh
    assert template.name_en
    assert template.name_zh != template.name_en
    assert template.description_zh
    assert template.description_en
    for name, spec in template.parameters.items():
        assert spec.description_zh, name
        assert spec.description_en, name
        assert not spec.required, f"{name}: a shipped template instantiates with its defaults"
        if spec.choices is not None:
            assert spec.default in spec.choices, name


async def test_every_template_instantiates_with_its_defaults_and_validates(
    client: httpx.AsyncClient,
) -> None:
    for template in TEMPLATES:
        response = await client.post("/v1/journeys/from-template", json={"template": template.name})
        assert response.status_code == 201, (template.name, response.text)
        body = response.json()
        assert body["status"] == "draft"
        assert body["rule"]["key"] == template.journey["key"]
        assert PARAM_MARK not in json.dumps(body["rule"])


PARAM_MARK = '"$param"'


def _coupon_sends(template: RuleTemplateOut) -> list[tuple[str, str, bool]]:
    """(parameter, message template, may be null) of every coupon a template's sends quote."""
    document = instantiate(template, params={})
    found = []
    for where, name in placeholders(template.journey):
        if where[-1] != "coupon_code":
            continue
        send: Any = document
        for part in where[:-1]:
            send = send[part]
        nullable = template.parameters[name].default is None
        copies = COPY_CHOICES.get(template.name, [send["template"]])
        found += [(name, copy, nullable) for copy in copies]
    return found


COPY_CHOICES = {  # templates whose copy is a parameter: the shipped copy it names
    "holiday_care": ["holiday/greeting", "holiday/sale_preview", "holiday/spring_festival"],
    "birthday_care": ["birthday/coupon", "birthday/coupon_email"],
}


@pytest.mark.parametrize("template", TEMPLATES, ids=NAMES)
def test_a_coupon_reaches_the_copy_and_a_missing_one_reads_well(template: RuleTemplateOut) -> None:
    renderer = Renderer()
    for parameter, name, nullable in _coupon_sends(template):
        file = SHIPPED[name]
        content = TemplateContent(
            name, file.content.channel, file.content.purpose, file.content.locales
        )
        for locale in ("zh-CN", "en"):
            context = sample_context(locale=locale, brand="回头小店")
            with_code = renderer.render(content, context=context, now=SAMPLE_NOW)
            assert context.coupon_code in "".join(with_code.parts.values()), (parameter, name)
            if nullable:
                bare = replace(context, coupon_code=None)
                rendered = renderer.render(content, context=bare, now=SAMPLE_NOW)
                assert "None" not in "".join(rendered.parts.values()), (parameter, name, locale)


async def test_the_catalogue_lists_every_template_with_zh_and_en_names(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/v1/rule-templates")
    assert response.status_code == 200
    items = {item["name"]: item for item in response.json()["items"]}
    assert sorted(items) == sorted(NAMES)
    nurture = items["new_customer_nurture"]
    assert (nurture["name_zh"], nurture["name_en"]) == ("新客培养", "New-customer nurturing")
    coupon = nurture["parameters"]["coupon_code"]
    assert coupon["type"] == "string"
    assert coupon["description_zh"]
    assert items["birthday_care"]["parameters"]["calendar"]["choices"] == ["gregorian", "lunar"]
    anonymous = await client.get("/v1/rule-templates", headers={"Authorization": ""})
    assert anonymous.status_code == 401


@pytest.mark.parametrize(
    ("template", "params", "name", "fragment"),
    [
        ("winback", {"days": "ninety"}, "days", "expected an integer"),
        ("winback", {"days": 90.5}, "days", "expected an integer"),
        ("winback", {"holdout_percent": True}, "holdout_percent", "expected a number"),
        ("winback", {"step_gap": "P1M"}, "step_gap", "months and years vary"),
        ("winback", {"step_gap": 7}, "step_gap", "not an ISO 8601 duration"),
        ("winback", {"offer_code": None}, "offer_code", "expected a string"),
        ("winback", {"send_at": "25:00"}, "send_at", "HH:MM"),
        ("winback", {"dayz": 30}, "dayz", "unknown parameter"),
        ("birthday_care", {"calendar": "julian"}, "calendar", '"gregorian", "lunar"'),
        ("season_upgrade", {"sources": "clearance"}, "sources", "expected a list"),
        ("unpaid_reminder", {"last_call": "yes"}, "last_call", "expected a boolean"),
        # problems the journey's own validation finds are reported at the parameter
        ("holiday_care", {"occasion": {"kind": "festival", "name": "x"}}, "occasion", "unknown"),
        ("holiday_care", {"template": "holiday/nope"}, "template", "unknown template"),
        ("holiday_care", {"days_before": 61}, "days_before", "60"),
        ("winback", {"holdout_percent": 80}, "holdout_percent", "50"),
        ("new_customer_nurture", {"care_after": "P30000D"}, "care_after", "ten years"),
    ],
)
async def test_a_bad_parameter_is_a_422_naming_it(
    client: httpx.AsyncClient, template: str, params: dict[str, Any], name: str, fragment: str
) -> None:
    response = await client.post(
        "/v1/journeys/from-template", json={"template": template, "params": params}
    )
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "validation_error"
    matching = [d for d in body["detail"] if d["loc"] == ["body", "params", name]]
    assert matching, body["detail"]
    assert any(fragment in d["msg"] for d in matching), matching
    assert all(d["type"] for d in matching)  # FastAPI's 422 shape: loc, msg, type


async def test_unknown_template_is_a_404(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/journeys/from-template", json={"template": "nope"})
    assert response.status_code == 404
    assert response.json()["detail"][0]["loc"] == ["body", "template"]


async def test_key_and_name_override_and_a_taken_key_is_a_409(client: httpx.AsyncClient) -> None:
    body = {"template": "holiday_care", "key": "mid-autumn", "name": "中秋关怀 Mid-Autumn"}
    first = await client.post("/v1/journeys/from-template", json=body)
    assert (first.json()["key"], first.json()["name"]) == ("mid-autumn", "中秋关怀 Mid-Autumn")
    again = await client.post("/v1/journeys/from-template", json=body)
    assert again.status_code == 409
    assert again.json()["detail"][0]["loc"] == ["body", "key"]
