"""HUITOU_GATEWAY_CALLBACK_SECRETS and HUITOU_ALIYUN_HARD_BOUNCE_CODES from the environment."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from service.settings import Settings
from tests.messaging.callbacks.helpers import ALIYUN_TOKEN, HTTP_SECRET, OLD_SECRET


def from_env(monkeypatch: pytest.MonkeyPatch, **env: str) -> Settings:
    for name, value in env.items():
        monkeypatch.setenv(f"HUITOU_{name}", value)
    return Settings()


def test_a_json_map_of_one_secret_or_several(monkeypatch: pytest.MonkeyPatch) -> None:
    value = json.dumps({"http": [HTTP_SECRET, OLD_SECRET], "aliyun": ALIYUN_TOKEN})
    settings = from_env(
        monkeypatch,
        GATEWAY_CALLBACK_SECRETS=value,
        ALIYUN_HARD_BOUNCE_CODES="INVALID_NUMBER, MOBILE_NOT_ON_SERVICE",
    )
    secrets = {
        k: [s.get_secret_value() for s in v] for k, v in settings.gateway_callback_secrets.items()
    }
    assert secrets == {"http": [HTTP_SECRET, OLD_SECRET], "aliyun": [ALIYUN_TOKEN]}
    assert settings.aliyun_hard_bounce_codes == ["INVALID_NUMBER", "MOBILE_NOT_ON_SERVICE"]
    assert "whsec_" not in repr(settings)


def test_defaults_have_no_callbacks(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = from_env(monkeypatch)
    assert settings.gateway_callback_secrets == {}
    assert settings.aliyun_hard_bounce_codes == []


@pytest.mark.parametrize(
    "value",
    [
        {"twilio": HTTP_SECRET},  # not a gateway Huitou sends through
        {"http": "not-a-whsec-secret-0123456789"},
        {"http": "whsec_c2hvcnQ="},  # 5 key bytes
        {"http": "whsec_!!!not base64!!!"},
        {"smtp": "whsec_changeme"},
        {"aliyun": "short"},
        {"aliyun": "has spaces and is long enough to pass"},
        {"aliyun": "changeme"},
    ],
)
def test_bad_secrets_are_refused_at_start(monkeypatch: pytest.MonkeyPatch, value: object) -> None:
    with pytest.raises(ValidationError):
        from_env(monkeypatch, GATEWAY_CALLBACK_SECRETS=json.dumps(value))
