"""Unsubscribe links: read the signed token, show the member's state, record the opt-out once.

GET only shows a page (mail scanners follow links); any POST to the link opts out, which is
what RFC 8058 one-click clients (`List-Unsubscribe=One-Click`) and the page's button send.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from service.instance import InstanceSecrets
from service.members.consent import apply_consent, current_consent
from service.members.models import Channel, Member
from service.messaging.tokens import InvalidToken, UnsubscribeClaim, read_token, token_key
from service.messaging.unsubscribe_page import language
from service.settings import Settings

SOURCE = "unsubscribe_link"


@dataclass(frozen=True)
class TokenCheck:
    key: bytes
    validity: timedelta

    @classmethod
    def of(cls, settings: Settings, secrets: InstanceSecrets) -> TokenCheck:
        secret = settings.secret_key.get_secret_value() if settings.secret_key else None
        return cls(
            key=token_key(secret, secrets.token_key),
            validity=timedelta(days=settings.unsubscribe_token_days),
        )


@dataclass(frozen=True)
class LinkState:
    member_id: int
    channel: Channel
    lang: str  # "zh" or "en", from the member's locale
    unsubscribed: bool


async def _claim(
    session: AsyncSession, token: str, *, check: TokenCheck, now: datetime
) -> tuple[UnsubscribeClaim, Member]:
    claim = read_token(check.key, token, now=now, validity=check.validity)
    member = await session.get(Member, claim.member_id)
    if member is None:  # a well-signed token for no member: another installation's key
        raise InvalidToken("this link is not valid", loc=["path", "token"])
    return claim, member


async def link_state(
    session: AsyncSession, *, token: str, check: TokenCheck, now: datetime
) -> LinkState:
    """Who the link names and whether they already opted out; InvalidToken or ExpiredToken."""
    claim, member = await _claim(session, token, check=check, now=now)
    consent = await current_consent(session, member_id=member.id, channel=claim.channel)
    withdrawn = consent is not None and not consent.granted
    return LinkState(member.id, claim.channel, language(member.locale), withdrawn)


async def unsubscribe(
    session: AsyncSession, *, token: str, check: TokenCheck, now: datetime
) -> LinkState:
    """Withdraw the member's marketing consent for the link's channel (once; repeats are no-ops)."""
    claim, member = await _claim(session, token, check=check, now=now)
    await apply_consent(
        session,
        member_id=member.id,
        channel=claim.channel,
        granted=False,
        source=SOURCE,
        at=now,
        now=now,
    )
    return LinkState(member.id, claim.channel, language(member.locale), True)
