"""Ready-made journeys in `rule_templates/`: a journey with `{"$param": name}` placeholders.

A template file is JSON: `name_zh`, `name_en`, `description_zh`, `description_en`,
`parameters` (name → type, default, choices, descriptions, required) and `journey`.
Instantiating one replaces every placeholder with the given value or the default; the result is
an ordinary journey document, validated like any other when it is saved. A problem the journey's
validation finds where a parameter's value was placed is reported at that parameter
(`["body", "params", "occasion"]`), since that is what the marketer gave.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from service.errors import InvalidInput, NotFound
from service.journeys import service as journey_service
from service.journeys.durations import parse_duration
from service.journeys.models import Journey, JourneyVersion
from service.journeys.schemas import FromTemplateIn, RuleParameter, RuleTemplateOut

PARAM = "$param"
TIME = re.compile(r"([01]\d|2[0-3]):[0-5]\d")
Where = tuple[str | int, ...]


class RuleTemplateNotFound(NotFound):
    code = "rule_template_not_found"


def placeholders(node: Any, at: Where = ()) -> Iterator[tuple[Where, str]]:
    """Every `{"$param": name}` in a journey document, with where it stands."""
    if isinstance(node, dict):
        if set(node) == {PARAM}:
            yield at, node[PARAM]
            return
        for key, value in node.items():
            yield from placeholders(value, (*at, key))
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from placeholders(item, (*at, index))


def template_problems(template: RuleTemplateOut) -> list[str]:
    """What makes a template unusable: undeclared or unused parameters, bad defaults."""
    used = {name for _, name in placeholders(template.journey)}
    declared = set(template.parameters)
    problems = [f"{name!r} is used but not declared" for name in sorted(used - declared)]
    problems += [f"{name!r} is declared but never used" for name in sorted(declared - used)]
    for name, spec in template.parameters.items():
        if spec.required and spec.default is not None:
            problems.append(f"{name!r} is required and has a default")
        elif not spec.required and spec.default is not None:
            problem = value_problem(spec, spec.default)
            if problem:
                problems.append(f"the default of {name!r}: {problem}")
    return problems


def load_rule_templates(directory: Path) -> list[RuleTemplateOut]:
    """Every template in the directory, by name; a broken file is an error, not a skip."""
    found = []
    for path in sorted(directory.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        try:
            template = RuleTemplateOut.model_validate({"name": path.stem, **data})
        except ValidationError as exc:
            raise ValueError(f"{path}: {exc}") from exc
        if problems := template_problems(template):
            raise ValueError(f"{path}: {'; '.join(problems)}")
        found.append(template)
    return found


def find_template(directory: Path, name: str) -> RuleTemplateOut:
    for template in load_rule_templates(directory):
        if template.name == name:
            return template
    raise RuleTemplateNotFound(f"no rule template {name!r}", loc=["body", "template"])


def _expected(kind: str) -> str:
    return f"expected {'an' if kind[0] in 'aeiou' else 'a'} {kind}"


def _type_problem(kind: str, value: Any) -> str | None:
    """Why a value does not fit a parameter type, or None."""
    if kind == "duration":
        try:
            parse_duration(value if isinstance(value, str) else "")
        except ValueError as exc:
            return str(exc)
        return None
    if kind == "time":
        fits = isinstance(value, str) and TIME.fullmatch(value) is not None
        return None if fits else "not a time of day HH:MM (e.g. 10:00)"
    checks = {
        "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "string": lambda v: isinstance(v, str),
        "boolean": lambda v: isinstance(v, bool),
        "list": lambda v: isinstance(v, list),
        "object": lambda v: isinstance(v, dict),
    }
    return None if checks[kind](value) else _expected(kind)


def value_problem(spec: RuleParameter, value: Any) -> str | None:
    """Why a value does not fit a parameter, or None; null fits where it is the default."""
    if value is None:
        return None if spec.default is None and not spec.required else _expected(spec.type)
    if spec.choices is not None and value not in spec.choices:
        return f"one of {', '.join(json.dumps(c, ensure_ascii=False) for c in spec.choices)}"
    return _type_problem(spec.type, value)


def resolve_params(template: RuleTemplateOut, given: dict[str, Any]) -> dict[str, Any]:
    """Every parameter's value: given, or its default; every problem reported at once."""
    known = ", ".join(template.parameters)
    errors = [
        {
            "loc": ["body", "params", name],
            "msg": f"unknown parameter; known: {known}",
            "type": "extra_forbidden",
        }
        for name in given
        if name not in template.parameters
    ]
    values: dict[str, Any] = {}
    for name, spec in template.parameters.items():
        if name not in given and spec.required:
            errors.append({"loc": ["body", "params", name], "msg": "required", "type": "missing"})
            continue
        value = given.get(name, spec.default)
        if name in given and (problem := value_problem(spec, value)):
            errors.append({"loc": ["body", "params", name], "msg": problem, "type": "parameter"})
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


def _dotted(where: Where) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in where).lstrip(".")


def blame_params(errors: list[dict[str, Any]], template: RuleTemplateOut) -> list[dict[str, Any]]:
    """Errors of the instantiated journey, moved to the parameter whose value stands there."""
    spots = sorted(placeholders(template.journey), key=lambda spot: -len(spot[0]))
    blamed = []
    for error in errors:
        where = tuple(error["loc"][1:])
        name = next((n for at, n in spots if where[: len(at)] == at), None)
        if name is None:
            blamed.append(error)
        else:
            msg = f"{error['msg']} (at {_dotted(where)})"
            blamed.append({**error, "loc": ["body", "params", name], "msg": msg})
    return blamed


async def create_from_template(
    session: AsyncSession,
    *,
    directory: Path,
    body: FromTemplateIn,
    now: datetime,
    author: str | None,
) -> tuple[Journey, JourneyVersion]:
    """A new draft journey from a rule template and parameters."""
    template = find_template(directory, body.template)
    document = instantiate(template, params=body.params, key=body.key, name=body.name)
    try:
        return await journey_service.create_journey(
            session, document=document, now=now, author=author
        )
    except InvalidInput as exc:
        raise InvalidInput(blame_params(exc.errors, template)) from None
