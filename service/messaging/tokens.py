"""Signed unsubscribe tokens: the member, the channel and the issue date, no login needed.

`<payload>.<mac>`, both base64url without padding; the payload is `v1:<member id>:<channel>:
<issued unix seconds>`, the MAC the first 16 bytes of HMAC-SHA256 under a key derived from
the installation's token key (or HUITOU_SECRET_KEY). Tokens stay valid for
HUITOU_UNSUBSCRIBE_TOKEN_DAYS (400 by default): an old newsletter must still unsubscribe.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from service.errors import HuitouError
from service.members.models import Channel

VERSION = "v1"
MAC_BYTES = 16
DEFAULT_VALIDITY = timedelta(days=400)


class InvalidToken(HuitouError):
    status_code, code = 404, "invalid_token"


class ExpiredToken(HuitouError):
    status_code, code = 410, "expired_token"


@dataclass(frozen=True)
class UnsubscribeClaim:
    member_id: int
    channel: Channel
    issued_at: datetime


def token_key(secret_key: str | None, instance_token_key: bytes) -> bytes:
    """The signing key: HUITOU_SECRET_KEY when set, else the installation's generated key."""
    root = secret_key.encode() if secret_key else instance_token_key
    return hmac.new(root, b"huitou unsubscribe token", hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, payload: bytes) -> bytes:
    return hmac.new(key, payload, hashlib.sha256).digest()[:MAC_BYTES]


def make_token(key: bytes, *, member_id: int, channel: Channel, issued_at: datetime) -> str:
    payload = f"{VERSION}:{member_id}:{channel.value}:{int(issued_at.timestamp())}".encode()
    return f"{_b64(payload)}.{_b64(_mac(key, payload))}"


def read_token(
    key: bytes, token: str, *, now: datetime, validity: timedelta = DEFAULT_VALIDITY
) -> UnsubscribeClaim:
    """The claim a token carries; InvalidToken if it was altered, ExpiredToken if too old."""
    try:
        encoded_payload, encoded_mac = token.split(".")
        payload, mac = _unb64(encoded_payload), _unb64(encoded_mac)
    except (ValueError, binascii.Error) as exc:
        raise InvalidToken("this link is not valid", loc=["path", "token"]) from exc
    if not hmac.compare_digest(mac, _mac(key, payload)):
        raise InvalidToken("this link is not valid", loc=["path", "token"])
    version, member_id, channel, issued = payload.decode().split(":")
    if version != VERSION:
        raise InvalidToken("this link is not valid", loc=["path", "token"])
    issued_at = datetime.fromtimestamp(int(issued), UTC)
    if now - issued_at > validity:
        raise ExpiredToken("this link has expired", loc=["path", "token"])
    return UnsubscribeClaim(int(member_id), Channel(channel), issued_at)


def unsubscribe_url(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}/u/{token}"
