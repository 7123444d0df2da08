"""Email over SMTP with aiosmtplib: STARTTLS or implicit TLS, optional AUTH, pooled connections.

Errors before DATA is sent are retryable (4xx) or permanent (5xx); a timeout or a dropped
connection while DATA is in flight leaves the outcome unknown, since SMTP has no idempotency.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass
from email.utils import getaddresses

import aiosmtplib

from service.members.models import Channel
from service.messaging.decorations import mime_message
from service.messaging.gateways.base import (
    GatewayError,
    OutgoingMessage,
    PermanentError,
    Receipt,
    RetryableError,
    UnknownOutcomeError,
)

NAME = "smtp"


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    sender: str  # the From header, e.g. "Shop <news@shop.example>"
    starttls: bool = True
    implicit_tls: bool = False
    username: str | None = None
    password: str | None = None
    ca_file: str | None = None
    timeout: float = 10.0
    pool_size: int = 4


def _response_error(exc: aiosmtplib.SMTPResponseException) -> GatewayError:
    detail = f"{exc.code} {exc.message}"
    return RetryableError(NAME, detail) if 400 <= exc.code < 500 else PermanentError(NAME, detail)


class SmtpEmailGateway:
    name = NAME
    channel = Channel.EMAIL
    honours_idempotency = False

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config
        [(_, self._envelope_from)] = getaddresses([config.sender])
        self._idle: list[aiosmtplib.SMTP] = []
        self._slots = asyncio.Semaphore(config.pool_size)

    async def _connect(self) -> aiosmtplib.SMTP:
        cfg = self.config
        tls = ssl.create_default_context(cafile=cfg.ca_file) if cfg.ca_file else None
        client = aiosmtplib.SMTP(
            hostname=cfg.host,
            port=cfg.port,
            timeout=cfg.timeout,
            use_tls=cfg.implicit_tls,
            start_tls=cfg.starttls,
            tls_context=tls,
            username=cfg.username,
            password=cfg.password,
        )
        try:
            await client.connect()
        except aiosmtplib.SMTPAuthenticationError as exc:
            raise RetryableError(NAME, f"authentication failed: {exc.code} {exc.message}") from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise RetryableError(NAME, f"cannot connect: {exc}") from exc
        return client

    async def send(self, message: OutgoingMessage) -> Receipt:
        email = mime_message(
            sender=self.config.sender,
            to=message.to,
            subject=message.subject or "",
            text=message.text,
            html_body=message.html,
            headers=message.headers,
        )
        async with self._slots:
            client = self._idle.pop() if self._idle else None
            if client is not None and not client.is_connected:
                client = None  # the server dropped an idle pooled connection
            try:
                client = client or await self._connect()
                reply = await self._transaction(client, message.to, email.as_bytes())
            except BaseException:
                if client is not None:
                    client.close()
                raise
            self._idle.append(client)
        return Receipt(NAME, message.headers.get("Message-ID"), reply)

    async def _transaction(self, client: aiosmtplib.SMTP, to: str, data: bytes) -> str:
        try:
            await client.mail(self._envelope_from)
            await client.rcpt(to)
        except aiosmtplib.SMTPResponseException as exc:
            raise _response_error(exc) from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise RetryableError(NAME, f"before DATA: {exc}") from exc
        try:
            response = await client.data(data)
        except aiosmtplib.SMTPResponseException as exc:
            raise _response_error(exc) from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise UnknownOutcomeError(NAME, f"during DATA: {exc}") from exc
        return f"{response.code} {response.message}"

    async def close(self) -> None:
        while self._idle:
            client = self._idle.pop()
            try:
                await client.quit()
            except (aiosmtplib.SMTPException, OSError):
                client.close()
