"""Unsubscribe links, `/u/{token}`: outside /v1 and without bearer auth; the token is the key."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from fastapi.responses import HTMLResponse

from service.api.deps import ClockDep, DbSession, SecretsDep, SettingsDep
from service.messaging import unsubscribe as unsubscribe_service
from service.messaging.tokens import ExpiredToken, InvalidToken
from service.messaging.unsubscribe import LinkState, TokenCheck
from service.messaging.unsubscribe_page import Page, render

router = APIRouter(prefix="/u", tags=["unsubscribe"])
Token = Annotated[str, Path(max_length=200)]
HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"
    ),
}
PAGES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/html": {}}, "description": "The page, in the member's language"},
    404: {"content": {"text/html": {}}, "description": "A link we did not sign"},
    410: {"content": {"text/html": {}}, "description": "A link older than its validity"},
}


def _page(
    page: Page, *, brand: str, state: LinkState | None = None, status: int = 200
) -> HTMLResponse:
    html = render(
        page,
        lang=state.lang if state else None,
        channel=state.channel if state else None,
        brand=brand,
    )
    return HTMLResponse(html, status_code=status, headers=HEADERS)


def _refusal(exc: InvalidToken | ExpiredToken, brand: str) -> HTMLResponse:
    if isinstance(exc, ExpiredToken):
        return _page(Page.EXPIRED, brand=brand, status=410)
    return _page(Page.INVALID, brand=brand, status=404)


@router.get("/{token}", response_class=HTMLResponse, responses=PAGES)
async def unsubscribe_page(
    token: Token, session: DbSession, clock: ClockDep, settings: SettingsDep, secrets: SecretsDep
) -> HTMLResponse:
    """A page naming the channel, with a button that POSTs the opt-out; it changes nothing."""
    try:
        state = await unsubscribe_service.link_state(
            session, token=token, check=TokenCheck.of(settings, secrets), now=clock.now()
        )
    except (InvalidToken, ExpiredToken) as exc:
        return _refusal(exc, settings.brand)
    page = Page.DONE if state.unsubscribed else Page.CONFIRM
    return _page(page, brand=settings.brand, state=state)


@router.post("/{token}", response_class=HTMLResponse, responses=PAGES)
async def one_click_unsubscribe(
    token: Token, session: DbSession, clock: ClockDep, settings: SettingsDep, secrets: SecretsDep
) -> HTMLResponse:
    """RFC 8058 one-click (`List-Unsubscribe=One-Click`) and the page's button: opt out."""
    try:
        state = await unsubscribe_service.unsubscribe(
            session, token=token, check=TokenCheck.of(settings, secrets), now=clock.now()
        )
    except (InvalidToken, ExpiredToken) as exc:
        return _refusal(exc, settings.brand)
    return _page(Page.DONE, brand=settings.brand, state=state)
