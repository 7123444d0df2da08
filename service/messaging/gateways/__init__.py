"""Gateways chosen by settings: `open_gateways(settings, clock)` builds them and closes them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from service.clock import Clock
from service.members.models import Channel
from service.messaging.gateways.aliyun import AliyunSmsGateway
from service.messaging.gateways.base import Gateway
from service.messaging.gateways.http_sms import HttpSmsGateway
from service.messaging.gateways.local_file import LocalFileGateway, LocalOutbox
from service.messaging.gateways.smtp_email import SmtpConfig, SmtpEmailGateway
from service.messaging.gateways.transport import GatewayTransport
from service.settings import Settings


@dataclass(frozen=True)
class Gateways:
    sms: Gateway
    email: Gateway

    def for_channel(self, channel: Channel) -> Gateway:
        return self.sms if channel is Channel.SMS else self.email


def _sms_gateway(
    settings: Settings, client: httpx.AsyncClient, clock: Clock, outbox: LocalOutbox
) -> Gateway:
    if settings.sms_gateway == "http":
        assert settings.sms_http_url is not None  # Settings refuses http without a URL
        auth = settings.sms_http_auth_value
        return HttpSmsGateway(
            client,
            url=settings.sms_http_url,
            auth_header=settings.sms_http_auth_header,
            auth_value=auth.get_secret_value() if auth else None,
            honours_idempotency=settings.sms_http_idempotent,
        )
    if settings.sms_gateway == "aliyun":
        assert settings.aliyun_access_key_id is not None  # Settings refuses aliyun without keys
        assert settings.aliyun_access_key_secret is not None
        return AliyunSmsGateway(
            client,
            clock=clock,
            access_key_id=settings.aliyun_access_key_id,
            access_key_secret=settings.aliyun_access_key_secret.get_secret_value(),
            sign_name=settings.aliyun_sms_sign_name or settings.brand,
            endpoint=settings.aliyun_sms_endpoint,
            default_template_code=settings.aliyun_sms_template_code,
            template_codes=settings.aliyun_sms_templates,
        )
    return LocalFileGateway(outbox, channel=Channel.SMS)


def smtp_config(settings: Settings) -> SmtpConfig:
    password = settings.smtp_password
    return SmtpConfig(
        host=settings.smtp_host,
        port=settings.smtp_port,
        sender=settings.email_from,
        starttls=settings.smtp_starttls,
        implicit_tls=settings.smtp_implicit_tls,
        username=settings.smtp_username,
        password=password.get_secret_value() if password else None,
        ca_file=settings.smtp_ca_file,
        timeout=settings.gateway_timeout_seconds,
        pool_size=settings.smtp_pool_size,
    )


@asynccontextmanager
async def open_gateways(settings: Settings, clock: Clock) -> AsyncIterator[Gateways]:
    """The SMS and email gateways the settings name, with their connections closed on exit."""
    outbox = LocalOutbox(Path(settings.outbox_dir), clock=clock, zone=settings.zone)
    timeout = httpx.Timeout(settings.gateway_timeout_seconds)
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
    transport = GatewayTransport(limits=limits)
    async with httpx.AsyncClient(timeout=timeout, transport=transport) as client:
        smtp = SmtpEmailGateway(smtp_config(settings)) if settings.email_gateway == "smtp" else None
        email: Gateway = smtp or LocalFileGateway(outbox, channel=Channel.EMAIL)
        try:
            yield Gateways(sms=_sms_gateway(settings, client, clock, outbox), email=email)
        finally:
            if smtp is not None:
                await smtp.close()
