"""Contacts normalised for the shop's region, and the salted hashes suppression keeps (pure)."""

from __future__ import annotations

import pytest

from service.errors import Forbidden
from service.keys.models import Scope
from service.keys.service import Principal
from service.members.contacts import contact_hash, normalize_email, normalize_phone


@pytest.mark.parametrize(
    ("raw", "region", "e164"),
    [
        ("13812345678", "CN", "+8613812345678"),
        ("138 1234 5678", "CN", "+8613812345678"),
        ("+86-138-1234-5678", "US", "+8613812345678"),  # an explicit country code wins
        ("(650) 253-0000", "US", "+16502530000"),
        ("020 7946 0958", "GB", "+442079460958"),
        ("0912 345 678", "TW", "+886912345678"),
    ],
)
def test_phones_in_e164(raw: str, region: str, e164: str) -> None:
    assert normalize_phone(raw, region=region) == e164


@pytest.mark.parametrize(
    ("raw", "region"),
    [("12345", "CN"), ("abc", "CN"), ("", "CN"), ("13812345678", "US"), ("+999 1234", "CN")],
)
def test_not_a_phone(raw: str, region: str) -> None:
    with pytest.raises(ValueError, match="phone number"):
        normalize_phone(raw, region=region)


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("XiaoMing@Example.COM", "XiaoMing@example.com"),
        ("a.b+tag@example.co.uk", "a.b+tag@example.co.uk"),
        ("用户@例子.广告", "用户@例子.广告"),
    ],
)
def test_emails(raw: str, normalized: str) -> None:
    assert normalize_email(raw) == normalized


@pytest.mark.parametrize(
    "raw", ["plain", "a@", "@example.com", "a b@example.com", "a@b", "a@@b.com"]
)
def test_not_an_email(raw: str) -> None:
    with pytest.raises(ValueError, match=r"\S"):  # email_validator words the reason itself
        normalize_email(raw)


def test_contact_hashes_are_salted_per_channel_and_ignore_case() -> None:
    salt = bytes(32)
    digest = contact_hash(salt, "email", "A@Example.com")
    assert digest == contact_hash(salt, "email", "a@example.com")
    assert digest != contact_hash(salt, "sms", "a@example.com")
    assert digest != contact_hash(bytes([1]) * 32, "email", "a@example.com")
    assert len(digest) == 64


@pytest.mark.parametrize(
    ("held", "allowed", "passes"),
    [
        ({Scope.ADMIN}, (Scope.MARKETER,), True),
        ({Scope.MARKETER}, (Scope.MARKETER,), True),
        ({Scope.INGEST}, (Scope.MARKETER, Scope.INGEST), True),
        ({Scope.INGEST}, (Scope.MARKETER,), False),
        ({Scope.MARKETER, Scope.INGEST}, (Scope.ADMIN,), False),
    ],
)
def test_principal_scopes(held: set[Scope], allowed: tuple[Scope, ...], passes: bool) -> None:
    principal = Principal(name="k", scopes=frozenset(held))
    if passes:
        principal.require(*allowed)
    else:
        with pytest.raises(Forbidden):
            principal.require(*allowed)
