"""The bulk contact normalizer gives exactly the answers of normalize_phone / normalize_email."""

from __future__ import annotations

import random

import pytest

from service.members.contacts import normalize_email, normalize_phone
from service.members.normalizer import ContactNormalizer, PlainNationalNumbers, plain_email


def verdict(normalize: object, raw: str, **kw: str) -> str | None:
    try:
        return normalize(raw, **kw)  # type: ignore[operator, no-any-return]
    except ValueError:
        return None


@pytest.mark.parametrize("region", ["CN", "DE", "JP", "SG", "FR", "IN", "BR", "US", "GB", "IT"])
def test_plain_national_numbers_agree_with_phonenumbers(region: str) -> None:
    rng, plain = random.Random(region), PlainNationalNumbers(region)
    answered = 0
    for _ in range(3000):
        length = rng.choice([7, 8, 9, 10, 11, 12])
        raw = rng.choice("0123456789") + "".join(rng.choice("0123456789") for _ in range(length))
        if region == "CN" and rng.random() < 0.6:
            raw = "1" + rng.choice("3456789") + raw[2:11].ljust(9, "0")
        fast = plain.e164(raw)
        if fast is not None:
            answered += 1
            assert fast == verdict(normalize_phone, raw, region=region), raw
    # regions sharing a country code (US, GB, IT) always defer to phonenumbers
    assert (answered > 0) == plain.usable


@pytest.mark.parametrize(
    "raw",
    [
        "13812345678",  # plain: answered from the metadata
        "138 1234 5678",
        "+86 138-1234-5678",
        "008613812345678",
        "8613812345678",
        "17951123456789",
        "12345678901",
        "1381234567",
        "０１３８１２３４５６７８",
        "13812345678 ext. 5",
        "",
    ],
)
def test_every_phone_gets_the_same_answer(raw: str) -> None:
    normalizer = ContactNormalizer("CN")
    expected = verdict(normalize_phone, raw, region="CN")
    assert verdict(normalizer.phone, raw) == expected


ADDRESSES = [
    "user4402@example.com",
    "First.Last+tag@Sub.Example.COM",
    "a_b-c@mail.shop.cn",
    "x@a-b.cn",
    "a@b.c",
    "1@2.com",
    "a..b@example.com",
    ".a@example.com",
    "a.@example.com",
    "a@-example.com",
    "a@example-.com",
    "a@ex--ample.com",
    "a@xn--fiqs8s.cn",
    "a@b.test",
    "a@b.local",
    "a@localhost",
    "a@b.123",
    "王@例子.中国",
    "a b@example.com",
    '"quoted"@example.com',
    "a@[127.0.0.1]",
    ("l" * 65) + "@example.com",
    "a@" + ("d" * 64) + ".com",
    "a@example.com.",
    "",
    "@example.com",
    "a@",
]


@pytest.mark.parametrize("raw", ADDRESSES)
def test_every_address_gets_the_same_answer(raw: str) -> None:
    expected = verdict(normalize_email, raw)
    fast = plain_email(raw)
    if fast is not None:
        assert fast == expected
    assert verdict(ContactNormalizer("CN").email, raw) == expected


def test_random_addresses_agree_with_email_validator() -> None:
    rng = random.Random(5)
    alphabet = "abcXYZ019._+-@"
    for _ in range(3000):
        raw = "".join(rng.choice(alphabet) for _ in range(rng.randint(3, 20)))
        if rng.random() < 0.5:
            raw = (
                raw.replace("@", "") + "@" + rng.choice(["example.com", "a.cn", "b-c.co", "x.test"])
            )
        fast = plain_email(raw)
        if fast is not None:
            assert fast == verdict(normalize_email, raw), raw
