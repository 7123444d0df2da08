"""Per-installation secrets generated once and kept in the database (contact salt, token key)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import String, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base, dialect_insert, session_dialect


class InstanceSecret(Base):
    __tablename__ = "instance_secrets"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime]


@dataclass(frozen=True)
class InstanceSecrets:
    contact_salt: bytes  # salts contact hashes on the suppression list; must never change
    token_key: bytes  # signs unsubscribe links unless HUITOU_SECRET_KEY is set


async def load_secrets(session: AsyncSession, *, now: datetime) -> InstanceSecrets:
    """Read the installation's secrets, creating them on first start."""
    values: dict[str, str] = {}
    for name in ("contact_salt", "token_key"):
        # Two replicas starting at once both try; the first insert wins and both read it.
        await session.execute(
            dialect_insert(session_dialect(session), InstanceSecret)
            .values(name=name, value=secrets.token_hex(32), created_at=now)
            .on_conflict_do_nothing(index_elements=["name"])
        )
        value = await session.scalar(
            select(InstanceSecret.value).where(InstanceSecret.name == name)
        )
        assert value is not None
        values[name] = value
    return InstanceSecrets(
        contact_salt=bytes.fromhex(values["contact_salt"]),
        token_key=bytes.fromhex(values["token_key"]),
    )
