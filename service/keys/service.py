"""API keys: created once (the plaintext is shown only then), stored hashed, revoked by id."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from service.errors import Forbidden, NotFound, Unauthorized
from service.keys.models import ApiKey, Scope

KEY_PREFIX = "hk_"


@dataclass(frozen=True)
class Principal:
    name: str
    scopes: frozenset[Scope]

    def require(self, *allowed: Scope) -> None:
        """Pass if the key holds admin or any of the allowed scopes."""
        if Scope.ADMIN in self.scopes or self.scopes.intersection(allowed):
            return
        wanted = " or ".join(s.value for s in allowed)
        raise Forbidden(f"this key lacks the {wanted} scope", loc=["header", "authorization"])


def hash_key(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


async def create_key(
    session: AsyncSession, *, name: str, scopes: Sequence[Scope], now: datetime
) -> tuple[ApiKey, str]:
    plaintext = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(
        name=name,
        prefix=plaintext[:10],
        key_hash=hash_key(plaintext),
        scopes=sorted({s.value for s in scopes}),
        created_at=now,
    )
    session.add(key)
    await session.flush()
    return key, plaintext


async def list_keys(session: AsyncSession) -> Sequence[ApiKey]:
    return (await session.scalars(select(ApiKey).order_by(ApiKey.id))).all()


async def revoke_key(session: AsyncSession, *, key_id: int, now: datetime) -> ApiKey:
    key = await session.get(ApiKey, key_id)
    if key is None:
        raise NotFound(f"no API key with id {key_id}", loc=["path", "key_id"])
    if key.revoked_at is None:
        await session.execute(update(ApiKey).where(ApiKey.id == key_id).values(revoked_at=now))
        key.revoked_at = now
    return key


async def authenticate(
    session: AsyncSession, *, token: str | None, admin_key: str | None
) -> Principal:
    """The principal behind a bearer token; 401 for a missing, unknown or revoked key."""
    if not token:
        raise Unauthorized("send Authorization: Bearer <api key>", loc=["header", "authorization"])
    if admin_key and hmac.compare_digest(token.encode(), admin_key.encode()):
        return Principal(name="bootstrap-admin", scopes=frozenset({Scope.ADMIN}))
    key = await session.scalar(
        select(ApiKey).where(ApiKey.key_hash == hash_key(token), ApiKey.revoked_at.is_(None))
    )
    if key is None:
        raise Unauthorized("unknown or revoked API key", loc=["header", "authorization"])
    return Principal(name=key.name, scopes=frozenset(Scope(s) for s in key.scopes))
