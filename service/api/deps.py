"""Request dependencies: the unit-of-work session, the clock, settings, and the caller's key."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from service.clock import Clock
from service.instance import InstanceSecrets
from service.keys.models import Scope
from service.keys.service import Principal, authenticate
from service.messaging.gateways import Gateways
from service.messaging.render import Renderer
from service.settings import Settings


async def session_scope(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction per request, committed before the response is sent."""
    async with request.app.state.sessions() as session:
        async with session.begin():
            yield session  # begin() commits on success, rolls back if the route raised
        request.app.state.metrics.record_committed(session.info)


# Plain attribute reads, declared async so FastAPI calls them inline instead of sending each
# one through the thread pool (a thread hop per dependency per request).
async def current_clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


async def current_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def current_secrets(request: Request) -> InstanceSecrets:
    secrets: InstanceSecrets = request.app.state.secrets
    return secrets


async def current_renderer(request: Request) -> Renderer:
    renderer: Renderer = request.app.state.renderer
    return renderer


async def current_gateways(request: Request) -> Gateways:
    gateways: Gateways = request.app.state.gateways
    return gateways


DbSession = Annotated[AsyncSession, Depends(session_scope, scope="function")]
ClockDep = Annotated[Clock, Depends(current_clock)]
SettingsDep = Annotated[Settings, Depends(current_settings)]
SecretsDep = Annotated[InstanceSecrets, Depends(current_secrets)]
RendererDep = Annotated[Renderer, Depends(current_renderer)]
GatewaysDep = Annotated[Gateways, Depends(current_gateways)]

bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer hk_…`")


async def current_principal(
    session: DbSession,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    admin = settings.admin_api_key.get_secret_value() if settings.admin_api_key else None
    return await authenticate(
        session, token=credentials.credentials if credentials else None, admin_key=admin
    )


class require:  # lower case: it is used like a function, Depends(require(Scope.MARKETER))
    """A dependency that lets through keys holding admin or any of `scopes`.

    The scopes stay readable on the instance, so a test can derive what every route needs.
    """

    def __init__(self, *scopes: Scope) -> None:
        self.scopes = scopes

    async def __call__(
        self, principal: Annotated[Principal, Depends(current_principal)]
    ) -> Principal:
        principal.require(*self.scopes)
        return principal


Marketer = Depends(require(Scope.MARKETER))
Ingest = Depends(require(Scope.INGEST))
MarketerOrIngest = Depends(require(Scope.MARKETER, Scope.INGEST))
Admin = Depends(require(Scope.ADMIN))
