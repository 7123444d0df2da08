"""Small factories for outbox tests: members, templates, queued messages, and reading them back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.clock import FakeClock
from service.instance import InstanceSecrets
from service.members.models import Channel, Member
from service.messaging import service as template_service
from service.messaging.dispatcher import Dispatcher
from service.messaging.gateways import Gateways
from service.messaging.outbox import Message, MessageStatus
from service.messaging.policies import Purpose
from service.messaging.render import Renderer
from service.messaging.schemas import TemplateIn
from service.messaging.setup import build_dispatcher
from service.settings import Settings

SMS_TEMPLATE = "test/sms"
EMAIL_TEMPLATE = "test/email"


async def add_member(
    session: AsyncSession,
    *,
    now: datetime,
    external_id: str = "m-1",
    phone: str | None = "+8613812345678",
    email: str | None = None,
    name: str | None = "王小明",
    locale: str = "zh-CN",
    timezone: str | None = None,
) -> Member:
    member = Member(
        external_id=external_id,
        name=name,
        phone=phone,
        email=email,
        locale=locale,
        timezone=timezone,
        created_at=now,
        updated_at=now,
    )
    session.add(member)
    await session.flush()
    return member


async def add_template(
    session: AsyncSession,
    renderer: Renderer,
    *,
    now: datetime,
    name: str = SMS_TEMPLATE,
    purpose: Purpose = Purpose.MARKETING,
    zh: str = "{{ member.name or '亲' }}，好久不见，{{ brand }}想您了",
    en: str = "Hi {{ member.name or 'there' }}, we miss you at {{ brand }}",
    email: bool = False,
) -> None:
    if email:
        locales: dict[str, dict[str, str]] = {
            tag: {"subject": f"{brand_text}", "text": text, "html": f"<p>{text}</p>"}
            for tag, text, brand_text in (("zh-CN", zh, "来自{{ brand }}"), ("en", en, "From"))
        }
        channel = Channel.EMAIL
    else:
        locales = {"zh-CN": {"sms": zh}, "en": {"sms": en}}
        channel = Channel.SMS
    data = TemplateIn(channel=channel, purpose=purpose, locales=locales)
    await template_service.save_template(
        session, name=name, data=data, renderer=renderer, brand="回头", now=now
    )


async def queue(
    session: AsyncSession,
    member: Member,
    *,
    now: datetime,
    key: str,
    template: str = SMS_TEMPLATE,
    channel: Channel = Channel.SMS,
    purpose: Purpose = Purpose.MARKETING,
    priority: int = 50,
    send_after_at: datetime | None = None,
    expires_at: datetime | None = None,
    context: dict[str, Any] | None = None,
    journey_id: int | None = None,
) -> int:
    message = Message(
        idempotency_key=key,
        member_id=member.id,
        journey_id=journey_id,
        channel=channel,
        template=template,
        purpose=purpose,
        priority=priority,
        context=context or {},
        send_after_at=send_after_at or now,
        expires_at=expires_at,
        created_at=now,
        updated_at=now,
    )
    session.add(message)
    await session.flush()
    return message.id


async def messages(sessions: async_sessionmaker[AsyncSession]) -> dict[str, Message]:
    """Every message by idempotency key, read fresh."""
    async with sessions() as session:
        rows = await session.scalars(select(Message).order_by(Message.id))
        return {m.idempotency_key: m for m in rows}


async def statuses(sessions: async_sessionmaker[AsyncSession]) -> dict[str, tuple[str, str | None]]:
    return {key: (m.status.value, m.status_reason) for key, m in (await messages(sessions)).items()}


@dataclass
class Harness:
    """A dispatcher over real loopback gateways, on the test's database and fake clock."""

    sessions: async_sessionmaker[AsyncSession]
    clock: FakeClock
    settings: Settings
    secrets: InstanceSecrets
    gateways: Gateways
    renderer: Renderer

    def dispatcher(self, worker: str = "worker-1", **overrides: Any) -> Dispatcher:
        settings = self.settings.model_copy(update=overrides) if overrides else self.settings
        return build_dispatcher(
            sessions=self.sessions,
            clock=self.clock,
            settings=settings,
            instance=self.secrets,
            gateways=self.gateways,
            renderer=self.renderer,
            worker=worker,
        )

    async def tick(self, worker: str = "worker-1", **overrides: Any) -> dict[str, int]:
        return await self.dispatcher(worker, **overrides).run()

    async def status_of(self, key: str) -> MessageStatus:
        return (await messages(self.sessions))[key].status
