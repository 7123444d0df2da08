"""Settings from HUITOU_* environment variables; nothing else reads os.environ."""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from service import PROJECT_ROOT

PLACEHOLDER_SECRETS = {"changeme", "change-me", "secret", "password", "whsec_changeme"}


class Settings(BaseSettings):
    """Every setting of the service; see the README for the table."""

    model_config = SettingsConfigDict(env_prefix="HUITOU_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./huitou.db"
    admin_api_key: SecretStr | None = None
    webhook_secrets: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    shopify_secret: SecretStr | None = None
    woocommerce_secret: SecretStr | None = None
    secret_key: SecretStr | None = None
    timezone: str = "Asia/Shanghai"
    country: str = "CN"
    brand: str = "Huitou"
    public_url: str = "http://127.0.0.1:8000"
    max_body_bytes: int = 1_048_576
    webhook_tolerance_seconds: int = 300
    scheduler_enabled: bool = True
    log_level: str = "INFO"
    templates_dir: str = str(PROJECT_ROOT / "message_templates")
    rule_templates_dir: str = str(PROJECT_ROOT / "rule_templates")

    @field_validator("webhook_secrets", mode="before")
    @classmethod
    def split_secrets(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("webhook_secrets")
    @classmethod
    def check_whsec(cls, secrets: list[SecretStr]) -> list[SecretStr]:
        for secret in secrets:
            raw = secret.get_secret_value()
            if not raw.startswith("whsec_") or len(raw) < len("whsec_") + 16:
                raise ValueError("each webhook secret must be whsec_ followed by base64 key bytes")
        return secrets

    @field_validator(
        "admin_api_key", "shopify_secret", "woocommerce_secret", "secret_key", "webhook_secrets"
    )
    @classmethod
    def refuse_placeholders(cls, value: object) -> object:
        values = value if isinstance(value, list) else [value]
        for item in values:
            if (
                isinstance(item, SecretStr)
                and item.get_secret_value().lower() in PLACEHOLDER_SECRETS
            ):
                raise ValueError("refusing a placeholder secret; generate a real one")
        return value

    @field_validator("timezone")
    @classmethod
    def check_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA time zone {value!r}") from exc
        return value

    @field_validator("country")
    @classmethod
    def check_country(cls, value: str) -> str:
        if len(value) != 2 or not value.isalpha():
            raise ValueError("country must be an ISO 3166-1 alpha-2 code such as CN")
        return value.upper()

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)
