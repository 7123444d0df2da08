"""Settings with callback secrets for the http and aliyun gateways (smtp has none: 404)."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from service.settings import Settings
from tests.messaging.callbacks.helpers import ALIYUN_TOKEN, HARD_CODE, HTTP_SECRET, OLD_SECRET


@pytest.fixture
def settings(settings: Settings) -> Settings:
    secrets = {
        "http": [SecretStr(HTTP_SECRET), SecretStr(OLD_SECRET)],
        "aliyun": [SecretStr(ALIYUN_TOKEN)],
    }
    return settings.model_copy(
        update={"gateway_callback_secrets": secrets, "aliyun_hard_bounce_codes": [HARD_CODE]}
    )
