"""Contact normalization and the salted hashes the suppression list keeps (pure)."""

from __future__ import annotations

import hashlib
import hmac

import phonenumbers
from email_validator import EmailNotValidError, validate_email


def normalize_phone(raw: str, *, region: str) -> str:
    """E.164 form of a phone number written for `region`; ValueError if it is not a real number."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"not a phone number: {exc}") from exc
    if not phonenumbers.is_valid_number(number):
        raise ValueError(f"not a valid phone number (default region {region})")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_email(raw: str) -> str:
    """The normalized address; ValueError naming what is wrong with it."""
    try:
        return validate_email(raw, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValueError(str(exc)) from exc


def contact_hash(salt: bytes, channel: str, contact: str) -> str:
    """Keyed hash of a normalized contact: recognizes it again without keeping it."""
    return hmac.new(salt, f"{channel}:{contact.lower()}".encode(), hashlib.sha256).hexdigest()
