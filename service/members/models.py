"""Members, their tags and consent, and the suppression list of erased or bounced contacts."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, SmallInteger, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base, IdType, enum_type

DEFAULT_LOCALE = "zh-CN"


class Gender(StrEnum):
    FEMALE = "female"
    MALE = "male"
    OTHER = "other"
    UNKNOWN = "unknown"


class Channel(StrEnum):
    SMS = "sms"
    EMAIL = "email"


class Member(Base):
    __tablename__ = "members"
    __table_args__ = (Index(None, "last_paid_at"), Index(None, "created_at"))

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    external_id: Mapped[str] = mapped_column(String(128), unique=True)
    name: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(20), index=True)
    email: Mapped[str | None] = mapped_column(String(320), index=True)
    gender: Mapped[Gender] = mapped_column(enum_type(Gender), default=Gender.UNKNOWN)
    birthday: Mapped[date | None]
    lunar_birth_month: Mapped[int | None] = mapped_column(SmallInteger)
    lunar_birth_day: Mapped[int | None] = mapped_column(SmallInteger)
    city: Mapped[str | None] = mapped_column(String(100))
    region: Mapped[str | None] = mapped_column(String(100))
    locale: Mapped[str] = mapped_column(String(16), default=DEFAULT_LOCALE)
    timezone: Mapped[str | None] = mapped_column(String(64))
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    paid_orders: Mapped[int] = mapped_column(default=0)
    total_spent: Mapped[Decimal] = mapped_column(default=Decimal(0))
    average_order_value: Mapped[Decimal] = mapped_column(default=Decimal(0))
    first_paid_at: Mapped[datetime | None]
    last_paid_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    erased_at: Mapped[datetime | None]


class MemberTag(Base):
    __tablename__ = "member_tags"
    __table_args__ = (Index(None, "tag", "member_id"),)

    member_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(64), primary_key=True)


class MemberConsent(Base):
    """The current consent of one member for one channel and purpose (marketing)."""

    __tablename__ = "member_consents"

    member_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    channel: Mapped[Channel] = mapped_column(enum_type(Channel), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(16), primary_key=True, default="marketing")
    granted: Mapped[bool] = mapped_column(Boolean)
    source: Mapped[str] = mapped_column(String(64))
    changed_at: Mapped[datetime]


class ConsentChange(Base):
    """Every grant and withdrawal, with where it came from: the audit trail of consent."""

    __tablename__ = "consent_changes"
    __table_args__ = (Index(None, "member_id", "occurred_at"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    member_id: Mapped[int] = mapped_column(IdType, ForeignKey("members.id", ondelete="CASCADE"))
    channel: Mapped[Channel] = mapped_column(enum_type(Channel))
    purpose: Mapped[str] = mapped_column(String(16), default="marketing")
    granted: Mapped[bool] = mapped_column(Boolean)
    source: Mapped[str] = mapped_column(String(64))
    occurred_at: Mapped[datetime]


class Suppression(Base):
    """A salted hash of a contact that must not be messaged: erased, hard-bounced or opted out."""

    __tablename__ = "suppressions"
    __table_args__ = (UniqueConstraint("contact_hash", "channel"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    contact_hash: Mapped[str] = mapped_column(String(64))
    channel: Mapped[Channel] = mapped_column(enum_type(Channel))
    reason: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime]
