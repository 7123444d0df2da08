"""Ready-made journeys in `rule_templates/`: a journey with `{"$param": name}` placeholders.

A template file is JSON: `name_zh`, `name_en`, `description`, `parameters` (name → type,
default, description, required) and `journey`. Instantiating one replaces every placeholder
with the given value or the default; the result is an ordinary journey document, validated
like any other when it is saved.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from service.errors import InvalidInput, NotFound
from service.journeys.durations import parse_duration
from service.journeys.schemas import RuleTemplateOut

PARAM = "$param"


class RuleTemplateNotFound(NotFound):
    code = "rule_template_not_found"


def load_rule_templates(directory: Path) -> list[RuleTemplateOut]:
    """Every template in the directory, by name; a broken file is an error, not a skip."""
    found = []
    for path in sorted(directory.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        try:
            found.append(RuleTemplateOut.model_validate({"name": path.stem, **data}))
        except ValidationError as exc:
            raise ValueError(f"{path}: {exc}") from exc
    return found


def find_template(directory: Path, name: str) -> RuleTemplateOut:
    for template in load_rule_templates(directory):
        if template.name == name:
            return template
    raise RuleTemplateNotFound(f"no rule template {name!r}", loc=["body", "template"])


def _check_type(kind: str, value: Any) -> str | None:
    """Why a parameter value does not fit its declared type, or None."""
    checks = {
        "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "string": lambda v: isinstance(v, str),
        "boolean": lambda v: isinstance(v, bool),
        "list": lambda v: isinstance(v, list),
        "object": lambda v: isinstance(v, dict),
    }
    if kind == "duration":
        try:
            parse_duration(value if isinstance(value, str) else "")
        except ValueError as exc:
            return str(exc)
        return None
    check = checks.get(kind)
    return None if check is None or check(value) else f"expected a {kind}"


def resolve_params(template: RuleTemplateOut, given: dict[str, Any]) -> dict[str, Any]:
    errors = [
        {
            "loc": ["body", "params", name],
            "msg": f"unknown parameter; known: {', '.join(template.parameters)}",
        }
        for name in given
        if name not in template.parameters
    ]
    values: dict[str, Any] = {}
    for name, spec in template.parameters.items():
        if name not in given and spec.required:
            errors.append({"loc": ["body", "params", name], "msg": "required"})
            continue
        value = given.get(name, spec.default)
        problem = _check_type(spec.type, value) if name in given else None
        if problem:
            errors.append({"loc": ["body", "params", name], "msg": problem})
        values[name] = value
    if errors:
        raise InvalidInput(errors)
    return values


def _substitute(node: Any, values: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        if set(node) == {PARAM}:
            return values[node[PARAM]]
        return {k: _substitute(v, values) for k, v in node.items()}
    if isinstance(node, list):
        return [_substitute(item, values) for item in node]
    return node


def instantiate(
    template: RuleTemplateOut,
    *,
    params: dict[str, Any],
    key: str | None = None,
    name: str | None = None,
) -> dict[str, Any]:
    """The journey document a template and its parameters make."""
    document: dict[str, Any] = _substitute(template.journey, resolve_params(template, params))
    if key is not None:
        document["key"] = key
    if name is not None:
        document["name"] = name
    return document
