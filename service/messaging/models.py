"""Message templates, versioned: every save is a new row; the newest version is the one used."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base, IdType, enum_type
from service.members.models import Channel
from service.messaging.policies import Purpose


class MessageTemplate(Base):
    __tablename__ = "message_templates"
    __table_args__ = (UniqueConstraint("name", "version"),)  # also serves "newest of name"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    version: Mapped[int]
    channel: Mapped[Channel] = mapped_column(enum_type(Channel))
    purpose: Mapped[Purpose] = mapped_column(enum_type(Purpose))
    description: Mapped[str] = mapped_column(String(500), default="")
    locales: Mapped[dict[str, Any]]
    source: Mapped[str] = mapped_column(String(16))  # "file" or "api"
    checksum: Mapped[str] = mapped_column(String(64))
    author: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime]
