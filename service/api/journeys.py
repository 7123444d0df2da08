"""Journeys: save (each save a version), activate, pause, archive, dry-run, enrolments."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, FastAPI, Query, status
from fastapi import Path as PathParam
from pydantic import JsonValue

from service.api.deps import ClockDep, DbSession, RendererDep, SecretsDep, SettingsDep, require
from service.journeys import service as journey_service
from service.journeys.dryrun import dry_run
from service.journeys.models import EnrolmentState, Journey, JourneyStatus, JourneyVersion
from service.journeys.queries import parse_stored
from service.journeys.rule import JourneyRule
from service.journeys.rule_templates import create_from_template, load_rule_templates
from service.journeys.schemas import (
    EXAMPLE_RULE,
    DryRunIn,
    DryRunOut,
    EnrolmentPage,
    FromTemplateIn,
    JourneyList,
    JourneyOut,
    JourneySummary,
    RuleTemplateList,
)
from service.journeys.time_triggers import Shop
from service.journeys.views import list_enrolments
from service.keys.models import Scope
from service.keys.service import Principal
from service.messaging.preview import preview_journey
from service.messaging.schemas import PreviewIn, PreviewOut
from service.messaging.setup import copy_settings, send_policy

router = APIRouter(tags=["journeys"])
MarketerKey = Annotated[Principal, Depends(require(Scope.MARKETER))]
Key = Annotated[str, PathParam(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$", examples=["winback"])]
Document = Annotated[
    dict[str, JsonValue], Body(openapi_examples={"nurture": {"value": EXAMPLE_RULE}})
]
RULE_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {"$ref": "#/components/schemas/JourneyRule-Input"},
                "example": EXAMPLE_RULE,
            }
        },
    }
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No journey with this key"}}
PREVIEW_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such journey, version, member, order or product"},
    422: {"description": "A bad body, or copy that cannot be made (names step, template, line)"},
}


def journey_out(journey: Journey, version: JourneyVersion) -> JourneyOut:
    return JourneyOut(
        **JourneySummary.model_validate(journey).model_dump(),
        version=version.version,
        author=version.author,
        rule=parse_stored(version.rule),
    )


@router.get("/journeys/schema", response_model=dict[str, Any])
async def rule_schema(_: MarketerKey) -> dict[str, Any]:
    """The JSON Schema of the journey rule language."""
    return JourneyRule.model_json_schema(by_alias=True, mode="validation")


@router.post(
    "/journeys",
    response_model=JourneyOut,
    status_code=status.HTTP_201_CREATED,
    openapi_extra=RULE_BODY,
    responses={409: {"description": "A journey with this key exists"}},
)
async def create_journey(
    document: Document, session: DbSession, clock: ClockDep, principal: MarketerKey
) -> JourneyOut:
    """Save a new journey as a draft (version 1); every problem comes back at once, with paths."""
    journey, version = await journey_service.create_journey(
        session, document=document, now=clock.now(), author=principal.name
    )
    return journey_out(journey, version)


@router.get("/journeys", response_model=JourneyList)
async def list_journeys(
    session: DbSession, _: MarketerKey, status: JourneyStatus | None = None
) -> JourneyList:
    rows = await journey_service.list_journeys(session, status=status)
    return JourneyList(items=[JourneySummary.model_validate(row) for row in rows])


@router.get("/journeys/{key}", response_model=JourneyOut, responses=NOT_FOUND)
async def get_journey(
    key: Key,
    session: DbSession,
    _: MarketerKey,
    version: Annotated[int | None, Query(ge=1, le=1_000_000)] = None,
) -> JourneyOut:
    """The newest version of a journey, or `?version=N`."""
    journey = await journey_service.get_journey(session, key=key)
    return journey_out(journey, await journey_service.get_version(session, journey, version))


@router.put(
    "/journeys/{key}", response_model=JourneyOut, openapi_extra=RULE_BODY, responses=NOT_FOUND
)
async def update_journey(
    key: Key, document: Document, session: DbSession, clock: ClockDep, principal: MarketerKey
) -> JourneyOut:
    """Save a new version; members already on the journey keep the version they entered with."""
    journey, version = await journey_service.update_journey(
        session, key=key, document=document, now=clock.now(), author=principal.name
    )
    return journey_out(journey, version)


@router.post("/journeys/{key}/activate", response_model=JourneySummary, responses=NOT_FOUND)
async def activate_journey(
    key: Key, session: DbSession, clock: ClockDep, _: MarketerKey
) -> JourneySummary:
    """Activate the newest version (or resume a paused journey where every member stood)."""
    journey = await journey_service.change_status(
        session, key=key, action="activate", now=clock.now()
    )
    return JourneySummary.model_validate(journey)


@router.post("/journeys/{key}/pause", response_model=JourneySummary, responses=NOT_FOUND)
async def pause_journey(
    key: Key, session: DbSession, clock: ClockDep, _: MarketerKey
) -> JourneySummary:
    """Stop every send and step of the journey; enrolments keep their place until resumed."""
    journey = await journey_service.change_status(session, key=key, action="pause", now=clock.now())
    return JourneySummary.model_validate(journey)


@router.post("/journeys/{key}/archive", response_model=JourneySummary, responses=NOT_FOUND)
async def archive_journey(
    key: Key, session: DbSession, clock: ClockDep, _: MarketerKey
) -> JourneySummary:
    """End the journey for good: enrolments exit, messages not yet sent are withdrawn."""
    journey = await journey_service.change_status(
        session, key=key, action="archive", now=clock.now()
    )
    return JourneySummary.model_validate(journey)


@router.post("/journeys/{key}/dry-run", response_model=DryRunOut, responses=NOT_FOUND)
async def dry_run_journey(
    key: Key,
    session: DbSession,
    clock: ClockDep,
    settings: SettingsDep,
    _: MarketerKey,
    body: DryRunIn | None = None,
) -> DryRunOut:
    """How many members the trigger and audience would enrol, with a sample; nothing is written."""
    body = body or DryRunIn()
    journey = await journey_service.get_journey(session, key=key)
    version = await journey_service.get_version(session, journey, None)
    return await dry_run(
        session,
        parse_stored(version.rule),
        journey_id=journey.id,
        now=clock.now(),
        window=body.window,
        sample=body.sample,
        shop=Shop.from_settings(settings),
    )


@router.post("/journeys/{key}/preview", response_model=PreviewOut, responses=PREVIEW_ERRORS)
async def preview(
    key: Key,
    body: PreviewIn,
    session: DbSession,
    clock: ClockDep,
    settings: SettingsDep,
    secrets: SecretsDep,
    renderer: RendererDep,
    _: MarketerKey,
) -> PreviewOut:
    """Every message of the journey (each send step and split variant) as this member would get
    it now: copy with signature, opt-out and List-Unsubscribe, SMS segments and cost, and what
    consent, suppression, caps and quiet hours would do. Nothing is written or sent."""
    return await preview_journey(
        session,
        key=key,
        body=body,
        copy=copy_settings(settings, secrets),
        policy=send_policy(settings),
        renderer=renderer,
        now=clock.now(),
    )


@router.get("/journeys/{key}/enrolments", response_model=EnrolmentPage, responses=NOT_FOUND)
async def journey_enrolments(
    key: Key,
    session: DbSession,
    _: MarketerKey,
    state: EnrolmentState | None = None,
    member: Annotated[str | None, Query(max_length=128)] = None,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> EnrolmentPage:
    """Who is on the journey, where each stands, and the steps each has run."""
    journey = await journey_service.get_journey(session, key=key)
    return await list_enrolments(
        session, journey=journey, state=state, member=member, cursor=cursor, limit=limit
    )


@router.get("/rule-templates", response_model=RuleTemplateList)
async def rule_templates(settings: SettingsDep, _: MarketerKey) -> RuleTemplateList:
    """Ready-made journeys with their parameters and defaults."""
    return RuleTemplateList(items=load_rule_templates(Path(settings.rule_templates_dir)))


@router.post(
    "/journeys/from-template", response_model=JourneyOut, status_code=status.HTTP_201_CREATED
)
async def from_template(
    body: FromTemplateIn,
    session: DbSession,
    clock: ClockDep,
    settings: SettingsDep,
    principal: MarketerKey,
) -> JourneyOut:
    """A new draft journey from a rule template and parameters; a problem with a parameter's
    value is reported at `["body", "params", name]`."""
    journey, version = await create_from_template(
        session,
        directory=Path(settings.rule_templates_dir),
        body=body,
        now=clock.now(),
        author=principal.name,
    )
    return journey_out(journey, version)


def add_rule_schema(app: FastAPI) -> None:
    """Put the rule language's input schema into the OpenAPI components the journey bodies
    refer to (the routes read the document themselves, to report every problem at once)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = generate()
        rule = JourneyRule.model_json_schema(
            by_alias=True, mode="validation", ref_template="#/components/schemas/{model}"
        )
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for name, definition in rule.pop("$defs", {}).items():
            components.setdefault(name, definition)
        components["JourneyRule-Input"] = rule
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
