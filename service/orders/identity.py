"""Who bought: the member a shop platform's order belongs to, and the contacts it carries (pure)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from typing import Any

from service.members.contacts import normalize_email, normalize_phone

MAX_EXTERNAL_ID = 128
MAX_NAME = 200
_HAN = re.compile(r"^[\u3400-\u4dbf\u4e00-\u9fff\u3007\u00b7]+$")


def clean_phone(raw: str | None, *, region: str) -> str | None:
    """The number in E.164, or None: a checkout's free-text phone must not refuse the order."""
    if not raw:
        return None
    try:
        return normalize_phone(raw, region=region)
    except ValueError:
        return None


def clean_email(raw: str | None) -> str | None:
    if not raw:
        return None
    try:
        return normalize_email(raw)
    except ValueError:
        return None


def display_name(first: str | None, last: str | None) -> str | None:
    """The buyer's name as written at home: 王小明 (family name first, no space) or Ada Lovelace."""
    parts = [p.strip() for p in (first, last) if p and p.strip()]
    if not parts:
        return None
    if len(parts) == 2 and all(_HAN.match(p) for p in parts):
        return (parts[1] + parts[0])[:MAX_NAME]
    return " ".join(parts)[:MAX_NAME]


def guest_external_id(*, email: str | None, phone: str | None, platform: str, order_id: str) -> str:
    """A member id for a buyer without a customer account; the prefix keeps it apart from real ids.

    The same guest email (or phone) on two orders is one member; an order with neither contact
    gets a member of its own, so its revenue still counts.
    """
    if email:
        key = f"email:{email.lower()}"
        if len(key) <= MAX_EXTERNAL_ID:
            return key
        return "email-sha256:" + hashlib.sha256(email.lower().encode()).hexdigest()
    if phone:
        return f"phone:{phone}"
    return f"order:{platform}:{order_id}"[:MAX_EXTERNAL_ID]


def order_member(
    *,
    customer_id: str | None,
    emails: Iterable[str | None],
    phones: Iterable[str | None],
    name: str | None,
    region: str,
    platform: str,
    order_id: str,
) -> dict[str, Any]:
    """The native `member`: the first usable email and phone, and the customer id or a guest's."""
    email = next((e for e in map(clean_email, emails) if e), None)
    phone = next((p for p in (clean_phone(raw, region=region) for raw in phones) if p), None)
    external_id = customer_id or guest_external_id(
        email=email, phone=phone, platform=platform, order_id=order_id
    )
    member = {"external_id": external_id, "email": email, "phone": phone, "name": name}
    return {k: v for k, v in member.items() if v is not None}
