"""The dispatcher as the settings describe it: batch, concurrency, leases, retries, rate limits."""

from __future__ import annotations

import os
import secrets
import socket
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.clock import Clock
from service.instance import InstanceSecrets
from service.members.models import Channel
from service.messaging.compose import Sender
from service.messaging.dispatcher import DispatchConfig, Dispatcher
from service.messaging.drafts import CopySettings
from service.messaging.gateways import Gateways
from service.messaging.policies import PolicyConfig, policy_config
from service.messaging.prepare import Preparer
from service.messaging.render import Renderer
from service.messaging.resolution import ResolutionPolicy
from service.messaging.retry import RetryPolicy
from service.messaging.tokens import token_key
from service.settings import Settings


def worker_name() -> str:
    """Names this process in leases: host, pid and a nonce (a restarted pid is another worker)."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(4)}"


def dispatch_config(settings: Settings) -> DispatchConfig:
    return DispatchConfig(
        batch=settings.dispatch_batch,
        concurrency=settings.dispatch_concurrency,
        lease=timedelta(seconds=settings.dispatch_lease_seconds),
        retry=RetryPolicy(
            base=timedelta(seconds=settings.retry_base_seconds),
            max_backoff=timedelta(seconds=settings.retry_max_backoff_seconds),
            deadline=timedelta(seconds=settings.retry_deadline_seconds),
        ),
        resolution=ResolutionPolicy(
            check_every=timedelta(seconds=settings.unknown_check_seconds),
            deadline=timedelta(seconds=settings.unknown_deadline_seconds),
        ),
        rates={
            Channel.SMS: settings.sms_rate_per_second,
            Channel.EMAIL: settings.email_rate_per_second,
        },
    )


def copy_settings(settings: Settings, instance: InstanceSecrets) -> CopySettings:
    secret = settings.secret_key.get_secret_value() if settings.secret_key else None
    return CopySettings(
        sender=Sender(
            brand=settings.brand,
            email_from=settings.email_from,
            unsubscribe_mailto=settings.email_unsubscribe_mailto,
            price_per_segment=settings.sms_price_per_segment,
        ),
        public_url=settings.public_url,
        token_key=token_key(secret, instance.token_key),
        contact_salt=instance.contact_salt,
        zone=settings.zone,
        country=settings.country,
    )


def send_policy(settings: Settings) -> PolicyConfig:
    """The send-time policies: quiet hours, caps, consent model."""
    return policy_config(
        quiet_hours=settings.quiet_hours,
        per_day=settings.marketing_cap_per_day,
        per_week=settings.marketing_cap_per_week,
        consent_model=settings.consent_model,
    )


def build_dispatcher(
    *,
    sessions: async_sessionmaker[AsyncSession],
    clock: Clock,
    settings: Settings,
    instance: InstanceSecrets,
    gateways: Gateways,
    renderer: Renderer,
    worker: str,
) -> Dispatcher:
    config = dispatch_config(settings)
    preparer = Preparer(
        gateways=gateways,
        renderer=renderer,
        policy=send_policy(settings),
        copy=copy_settings(settings, instance),
        unknown_check=config.resolution.check_every,
    )
    return Dispatcher(
        sessions=sessions,
        clock=clock,
        gateways=gateways,
        preparer=preparer,
        config=config,
        worker=worker,
    )
