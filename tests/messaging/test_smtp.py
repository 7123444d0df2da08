"""SMTP email through aiosmtplib to a real aiosmtpd on loopback, plain and STARTTLS with AUTH."""

from __future__ import annotations

import asyncio
import email
import socket
import ssl
from collections.abc import Iterator
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from service.members.models import Channel
from service.messaging.decorations import email_headers
from service.messaging.gateways.base import (
    OutgoingMessage,
    PermanentError,
    RetryableError,
    UnknownOutcomeError,
)
from service.messaging.gateways.smtp_email import SmtpConfig, SmtpEmailGateway
from service.messaging.policies import Purpose

SENDER = "回头小店 <news@shop.example>"


class Mailbox:
    """aiosmtpd handler that keeps what it receives and can refuse or stall on demand."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.rcpt_reply: str | None = None
        self.stall_data = False

    async def handle_RCPT(self, *args: Any) -> str:
        envelope, address = args[2], args[3]  # (server, session, envelope, address, options)
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, *args: Any) -> str:
        envelope = args[2]  # (server, session, envelope)
        if self.stall_data:
            await asyncio.Event().wait()
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 2.0.0 queued as 42"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def mailbox() -> Mailbox:
    return Mailbox()


@pytest.fixture
def plain_server(mailbox: Mailbox) -> Iterator[Controller]:
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller
    controller.stop()


def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"shop", b"s3cret-pw")
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def tls_server(mailbox: Mailbox, tmp_path: Path) -> Iterator[tuple[Controller, Path]]:
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=free_port(),
        tls_context=context,
        require_starttls=True,
        authenticator=authenticate,
        auth_require_tls=True,
    )
    controller.start()
    yield controller, ca_file
    controller.stop()


def marketing_email(to: str = "xiaoming@example.com") -> OutgoingMessage:
    headers = email_headers(
        idempotency_key="enrol-3:care",
        sender=SENDER,
        now=datetime(2026, 6, 18, 2, 0, tzinfo=UTC),
        purpose=Purpose.MARKETING,
        unsubscribe_url="https://shop.example/u/tok",
        unsubscribe_mailto="unsubscribe@shop.example",
    )
    return OutgoingMessage(
        idempotency_key="enrol-3:care",
        channel=Channel.EMAIL,
        to=to,
        subject="王小明，宝贝用得还顺手吗？",
        text="王小明，您好：\n用得还顺手吗？\n\n退订：https://shop.example/u/tok\n",
        html='<p>王小明，您好：</p><p><a href="https://shop.example/u/tok">退订</a></p>',
        headers=headers,
    )


def config(port: int, **kw: Any) -> SmtpConfig:
    options: dict[str, Any] = {"starttls": False, "timeout": 0.5, **kw}
    return SmtpConfig(host="127.0.0.1", port=port, sender=SENDER, **options)


async def test_a_multipart_message_with_unsubscribe_headers_arrives(
    plain_server: Controller, mailbox: Mailbox
) -> None:
    gateway = SmtpEmailGateway(config(plain_server.port))
    receipt = await gateway.send(marketing_email())
    await gateway.close()
    [(mail_from, rcpt, raw)] = mailbox.messages
    assert (mail_from, rcpt) == ("news@shop.example", ["xiaoming@example.com"])
    parsed = email.message_from_bytes(raw, _class=EmailMessage, policy=policy.default)
    assert parsed.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in parsed.iter_parts()] == ["text/plain", "text/html"]
    assert parsed["List-Unsubscribe"] == (
        "<https://shop.example/u/tok>, <mailto:unsubscribe@shop.example?subject=unsubscribe>"
    )
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert parsed["Message-ID"] == receipt.provider_id
    assert parsed["Subject"] == "王小明，宝贝用得还顺手吗？"
    assert parsed["Date"] == "Thu, 18 Jun 2026 02:00:00 +0000"
    assert receipt.detail == "250 2.0.0 queued as 42"


async def test_connections_are_reused_across_messages(
    plain_server: Controller, mailbox: Mailbox
) -> None:
    gateway = SmtpEmailGateway(config(plain_server.port, pool_size=1))
    for _ in range(3):
        await gateway.send(marketing_email())
    assert len(gateway._idle) == 1
    await gateway.close()
    assert len(mailbox.messages) == 3


async def test_starttls_with_auth(tls_server: tuple[Controller, Path], mailbox: Mailbox) -> None:
    controller, ca_file = tls_server
    gateway = SmtpEmailGateway(
        SmtpConfig(
            host="127.0.0.1",
            port=controller.port,
            sender=SENDER,
            starttls=True,
            username="shop",
            password="s3cret-pw",
            ca_file=str(ca_file),
            timeout=2,
        )
    )
    await gateway.send(marketing_email())
    await gateway.close()
    assert len(mailbox.messages) == 1


async def test_wrong_password_is_retryable_configuration_trouble(
    tls_server: tuple[Controller, Path], mailbox: Mailbox
) -> None:
    controller, ca_file = tls_server
    gateway = SmtpEmailGateway(
        SmtpConfig(
            host="127.0.0.1",
            port=controller.port,
            sender=SENDER,
            starttls=True,
            username="shop",
            password="wrong",
            ca_file=str(ca_file),
            timeout=2,
        )
    )
    with pytest.raises(RetryableError, match="authentication"):
        await gateway.send(marketing_email())
    assert mailbox.messages == []


async def test_an_untrusted_certificate_is_refused(tls_server: tuple[Controller, Path]) -> None:
    controller, _ = tls_server
    gateway = SmtpEmailGateway(config(controller.port, starttls=True))
    with pytest.raises(RetryableError, match="cannot connect"):
        await gateway.send(marketing_email())


@pytest.mark.parametrize(
    ("reply", "error"),
    [("550 5.1.1 no such user", PermanentError), ("451 4.3.0 try later", RetryableError)],
)
async def test_recipient_refusals(
    plain_server: Controller, mailbox: Mailbox, reply: str, error: type[Exception]
) -> None:
    mailbox.rcpt_reply = reply
    gateway = SmtpEmailGateway(config(plain_server.port))
    with pytest.raises(error, match=reply.split()[0]):
        await gateway.send(marketing_email())
    await gateway.close()


async def test_no_answer_to_data_is_an_unknown_outcome(
    plain_server: Controller, mailbox: Mailbox
) -> None:
    mailbox.stall_data = True
    gateway = SmtpEmailGateway(config(plain_server.port))
    with pytest.raises(UnknownOutcomeError, match="during DATA"):
        await gateway.send(marketing_email())
    assert gateway._idle == []


async def test_a_closed_port_is_retryable() -> None:
    gateway = SmtpEmailGateway(config(free_port()))
    with pytest.raises(RetryableError):
        await gateway.send(marketing_email())
