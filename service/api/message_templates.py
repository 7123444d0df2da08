"""Message templates: list, read and save (each save is a new version)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response, status

from service.api.deps import ClockDep, DbSession, RendererDep, SettingsDep, require
from service.keys.models import Scope
from service.keys.service import Principal
from service.messaging import service as template_service
from service.messaging.schemas import (
    TEMPLATE_NAME,
    TemplateIn,
    TemplateList,
    TemplateOut,
    TemplateSummary,
)

router = APIRouter(prefix="/message-templates", tags=["message templates"])
Name = Annotated[str, Path(pattern=TEMPLATE_NAME, max_length=200, examples=["new_customer/thanks"])]
MarketerKey = Annotated[Principal, Depends(require(Scope.MARKETER))]


@router.get("", response_model=TemplateList)
async def list_templates(session: DbSession, _: MarketerKey) -> TemplateList:
    """The newest version of every template."""
    rows = await template_service.list_templates(session)
    return TemplateList(items=[TemplateSummary.model_validate(row) for row in rows])


@router.get("/{name:path}", response_model=TemplateOut)
async def get_template(
    name: Name,
    session: DbSession,
    _: MarketerKey,
    version: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,  # a 32-bit column
) -> TemplateOut:
    """The newest version of a template, or `?version=N`."""
    row = await template_service.get_template(session, name=name, version=version)
    return TemplateOut.model_validate(row)


@router.put(
    "/{name:path}",
    response_model=TemplateOut,
    responses={201: {"model": TemplateOut, "description": "First version created"}},
)
async def put_template(
    name: Name,
    body: TemplateIn,
    response: Response,
    session: DbSession,
    clock: ClockDep,
    settings: SettingsDep,
    renderer: RendererDep,
    principal: MarketerKey,
) -> TemplateOut:
    """Compile and test-render the copy, then store it as the newest version (422 names lines)."""
    row, created = await template_service.save_template(
        session,
        name=name,
        data=body,
        renderer=renderer,
        brand=settings.brand,
        now=clock.now(),
        author=principal.name,
    )
    if created and row.version == 1:
        response.status_code = status.HTTP_201_CREATED
    return TemplateOut.model_validate(row)
