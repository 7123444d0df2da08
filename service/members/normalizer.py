"""Contact normalization for bulk work: the same answers as `contacts`, much faster on plain input.

`normalize_phone` and `normalize_email` cost tens of microseconds each, which dominates an import
of hundreds of thousands of new members. Most exports write contacts plainly (a national mobile
number as bare digits, an ASCII address), and for those the answer can be read off phonenumbers'
own metadata and the address' syntax. Anything else goes to the full validators, so an answer
differs only in speed; tests compare both on random input.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

import phonenumbers
from email_validator import SPECIAL_USE_DOMAIN_NAMES

from service.members.contacts import normalize_email, normalize_phone

CACHE_SIZE = 1 << 15
_EMAIL = re.compile(
    r"([A-Za-z0-9_+\-]+(?:\.[A-Za-z0-9_+\-]+)*)"
    r"@((?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63})"
)


class PlainNationalNumbers:
    """Recognizes a region's valid numbers written as bare national digits, from its metadata."""

    def __init__(self, region: str) -> None:
        meta = phonenumbers.PhoneMetadata.metadata_for_region(region.upper())
        code = meta.country_code if meta is not None else None
        regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(code or 0, ())
        self.usable = meta is not None and len(regions) == 1
        if meta is None or not self.usable:
            return
        self.prefix = f"+{meta.country_code}"
        self.country_code = str(meta.country_code)
        # Input that parsing would rewrite (national prefix, carrier or dialling codes) is left to
        # phonenumbers; so is anything that is not plainly a mobile or fixed-line number.
        prefixes = (meta.national_prefix_for_parsing, meta.international_prefix)
        self.rewritten = [re.compile(p) for p in prefixes if p]
        self.descs = [
            (re.compile(d.national_number_pattern), set(d.possible_length))
            for d in (meta.general_desc, meta.mobile, meta.fixed_line)
            if d is not None and d.national_number_pattern
        ]

    def e164(self, raw: str) -> str | None:
        """The E.164 form if `raw` is plainly valid national digits; None when unsure."""
        if not (self.usable and raw.isascii() and raw.isdigit()) or raw[0] == "0":
            return None
        if raw.startswith(self.country_code) or any(p.match(raw) for p in self.rewritten):
            return None
        general, *kinds = self.descs
        if not _matches(general, raw) or not any(_matches(kind, raw) for kind in kinds):
            return None
        return self.prefix + raw


def _matches(desc: tuple[re.Pattern[str], set[int]], digits: str) -> bool:
    pattern, lengths = desc
    return (not lengths or len(digits) in lengths) and pattern.fullmatch(digits) is not None


def plain_email(raw: str) -> str | None:
    """The normalized address if `raw` is a plain ASCII address; None when unsure."""
    if len(raw) > 128 or not raw.isascii():
        return None
    match = _EMAIL.fullmatch(raw)
    if match is None or len(match[1]) > 64:
        return None
    domain = match[2].lower()
    if "--" in domain or any(
        domain == name or domain.endswith("." + name) for name in SPECIAL_USE_DOMAIN_NAMES
    ):
        return None
    return f"{match[1]}@{domain}"


class ContactNormalizer:
    """`normalize_phone` and `normalize_email` for one region, with fast paths and a cache."""

    def __init__(self, region: str) -> None:
        self.region = region
        self._plain = PlainNationalNumbers(region)
        self._phones = lru_cache(CACHE_SIZE)(self._phone)
        self._emails = lru_cache(CACHE_SIZE)(self._email)
        self.phone: Callable[[str], str] = self._phones
        self.email: Callable[[str], str] = self._emails

    def forget(self) -> None:
        """Empty the caches (a member's contacts recur within a chunk, rarely beyond it)."""
        self._phones.cache_clear()
        self._emails.cache_clear()

    def _phone(self, raw: str) -> str:
        return self._plain.e164(raw) or normalize_phone(raw, region=self.region)

    def _email(self, raw: str) -> str:
        return plain_email(raw) or normalize_email(raw)
