"""Unsubscribe tokens: signed, URL-safe, naming member and channel, valid for 400 days."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from service.members.models import Channel
from service.messaging.tokens import (
    ExpiredToken,
    InvalidToken,
    make_token,
    read_token,
    token_key,
    unsubscribe_url,
)

KEY = token_key(None, b"\x01" * 32)
ISSUED = datetime(2026, 6, 18, 2, 0, tzinfo=UTC)


def test_round_trip_and_url_safety() -> None:
    token = make_token(KEY, member_id=12345, channel=Channel.EMAIL, issued_at=ISSUED)
    assert re.fullmatch(r"[A-Za-z0-9_\-.]+", token)
    claim = read_token(KEY, token, now=ISSUED + timedelta(days=60))
    assert (claim.member_id, claim.channel, claim.issued_at) == (12345, Channel.EMAIL, ISSUED)
    assert unsubscribe_url("https://shop.example/", token) == f"https://shop.example/u/{token}"


@pytest.mark.parametrize(
    ("age", "valid"),
    [(timedelta(days=60), True), (timedelta(days=400), True), (timedelta(days=401), False)],
)
def test_validity(age: timedelta, valid: bool) -> None:
    token = make_token(KEY, member_id=1, channel=Channel.SMS, issued_at=ISSUED)
    if valid:
        read_token(KEY, token, now=ISSUED + age)
    else:
        with pytest.raises(ExpiredToken):
            read_token(KEY, token, now=ISSUED + age)


def _flip(text: str, index: int) -> str:
    return text[:index] + ("A" if text[index] != "A" else "B") + text[index + 1 :]


@pytest.mark.parametrize("mutate", [
    lambda t: _flip(t, 3),  # payload
    lambda t: _flip(t, len(t) - 2),  # mac
    lambda t: t.replace(".", ""),
    lambda _: "garbage",
    lambda t: t + "x",
    lambda _: "!!!.???",
])  # fmt: skip
def test_tampering_is_detected(mutate: object) -> None:
    token = make_token(KEY, member_id=7, channel=Channel.SMS, issued_at=ISSUED)
    assert callable(mutate)
    with pytest.raises(InvalidToken):
        read_token(KEY, mutate(token), now=ISSUED)


def test_another_key_or_member_does_not_verify() -> None:
    token = make_token(KEY, member_id=7, channel=Channel.SMS, issued_at=ISSUED)
    with pytest.raises(InvalidToken):
        read_token(token_key(None, b"\x02" * 32), token, now=ISSUED)
    with pytest.raises(InvalidToken):
        read_token(token_key("configured-secret-key", b"\x01" * 32), token, now=ISSUED)
