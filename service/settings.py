"""Settings from HUITOU_* environment variables; nothing else reads os.environ."""

from __future__ import annotations

import base64
import binascii
import re
from decimal import Decimal
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from service import PROJECT_ROOT

PLACEHOLDER_SECRETS = {"changeme", "change-me", "secret", "password", "whsec_changeme"}
CALLBACK_GATEWAYS = ("http", "aliyun", "smtp", "local")  # the names gateways record on messages
URL_TOKEN = re.compile(r"^[A-Za-z0-9._~-]{24,}$")  # fits in ?token= without escaping


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
    # Messaging: rendering limits, restraint policies, gateways (see the README table).
    render_time_budget_ms: int = Field(default=200, ge=10, le=10_000)
    render_max_output_chars: int = Field(default=20_000, ge=1_000, le=1_000_000)
    consent_model: Literal["opt_out", "opt_in"] = "opt_out"
    quiet_hours: str = Field(default="21:00-08:00", pattern=r"^(\d{2}:\d{2}-\d{2}:\d{2})?$")
    marketing_cap_per_day: int = Field(default=1, ge=0)
    marketing_cap_per_week: int = Field(default=3, ge=0)
    sms_price_per_segment: Decimal = Field(default=Decimal("0.045"), ge=0)
    unsubscribe_token_days: int = Field(default=400, ge=60)
    sms_gateway: Literal["local", "http", "aliyun"] = "local"
    email_gateway: Literal["local", "smtp"] = "local"
    outbox_dir: str = "./outbox"
    gateway_timeout_seconds: float = Field(default=10.0, gt=0)
    sms_http_url: str | None = None
    sms_http_auth_header: str = "Authorization"
    sms_http_auth_value: SecretStr | None = None
    sms_http_idempotent: bool = True
    aliyun_access_key_id: str | None = None
    aliyun_access_key_secret: SecretStr | None = None
    aliyun_sms_endpoint: str = "https://dysmsapi.aliyuncs.com/"
    aliyun_sms_sign_name: str | None = None
    aliyun_sms_template_code: str | None = None
    aliyun_sms_templates: dict[str, str] = Field(default_factory=dict)
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 587
    smtp_starttls: bool = True
    smtp_implicit_tls: bool = False
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_ca_file: str | None = None
    smtp_pool_size: int = Field(default=4, ge=1, le=64)
    email_from: str = "Huitou <no-reply@localhost>"
    email_unsubscribe_mailto: str | None = None
    # Gateway callbacks: gateway name -> secret (or several, for rotation); see the README.
    gateway_callback_secrets: dict[str, list[SecretStr]] = Field(default_factory=dict)
    aliyun_hard_bounce_codes: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Dispatching the outbox (see the README table).
    dispatch_interval_seconds: float = Field(default=3.0, ge=0.1, le=3600)
    dispatch_batch: int = Field(default=200, ge=1, le=5000)
    dispatch_concurrency: int = Field(default=32, ge=1, le=100)  # the HTTP pool holds 100
    dispatch_lease_seconds: int = Field(default=120, ge=10)
    sms_rate_per_second: float = Field(default=0.0, ge=0)
    email_rate_per_second: float = Field(default=0.0, ge=0)
    retry_base_seconds: float = Field(default=5.0, gt=0)
    retry_max_backoff_seconds: float = Field(default=600.0, gt=0)
    retry_deadline_seconds: int = Field(default=14_400, ge=0)
    unknown_check_seconds: int = Field(default=60, ge=1)
    unknown_deadline_seconds: int = Field(default=86_400, ge=60)
    # Journeys: batch size of the engine's jobs.
    journey_batch_size: int = Field(default=500, ge=1, le=10_000)
    # Life-cycle stages (days since the last paid order) and member analytics (README table).
    stage_sleeping_days: int = Field(default=90, ge=1)
    stage_at_risk_days: int = Field(default=180, ge=1)
    stage_churned_days: int = Field(default=365, ge=1)
    stage_mode: Literal["fixed", "adaptive"] = "fixed"
    stage_reference_gap_days: int = Field(default=30, ge=1)
    stage_adaptive_min_orders: int = Field(default=3, ge=2)
    value_tier_high_percent: int = Field(default=25, ge=1, le=99)
    value_tier_medium_percent: int = Field(default=50, ge=2, le=100)
    promo_sources: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["flash_sale", "clearance"]
    )
    promo_min_discount_percent: int = Field(default=30, ge=0, le=100)
    replenish_min_pairs: int = Field(default=20, ge=1)
    analytics_nightly_at: str = Field(default="03:00", pattern=r"^\d{2}:\d{2}$")
    analytics_chunk_size: int = Field(default=20_000, ge=100, le=1_000_000)

    @field_validator("webhook_secrets", mode="before")
    @classmethod
    def split_secrets(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("promo_sources", mode="before")
    @classmethod
    def split_sources(cls, value: object) -> object:
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

    @field_validator("gateway_callback_secrets", mode="before")
    @classmethod
    def listify_callback_secrets(cls, value: object) -> object:
        if isinstance(value, dict):
            return {k: [v] if isinstance(v, str) else v for k, v in value.items()}
        return value

    @field_validator("gateway_callback_secrets")
    @classmethod
    def check_callback_secrets(
        cls, value: dict[str, list[SecretStr]]
    ) -> dict[str, list[SecretStr]]:
        for name, secrets in value.items():
            if name not in CALLBACK_GATEWAYS:
                raise ValueError(
                    f"unknown gateway {name!r}; callbacks exist for {CALLBACK_GATEWAYS}"
                )
            for secret in secrets:
                _check_callback_secret(name, secret.get_secret_value())
        return value

    @field_validator("aliyun_hard_bounce_codes", mode="before")
    @classmethod
    def split_codes(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator(
        "admin_api_key",
        "shopify_secret",
        "woocommerce_secret",
        "secret_key",
        "webhook_secrets",
        "sms_http_auth_value",
        "aliyun_access_key_secret",
        "smtp_password",
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

    @model_validator(mode="after")
    def check_gateways(self) -> Settings:
        if self.sms_gateway == "http" and not self.sms_http_url:
            raise ValueError("HUITOU_SMS_GATEWAY=http needs HUITOU_SMS_HTTP_URL")
        if self.sms_gateway == "aliyun" and not (
            self.aliyun_access_key_id and self.aliyun_access_key_secret
        ):
            raise ValueError(
                "HUITOU_SMS_GATEWAY=aliyun needs HUITOU_ALIYUN_ACCESS_KEY_ID and _SECRET"
            )
        if not self.stage_sleeping_days < self.stage_at_risk_days < self.stage_churned_days:
            raise ValueError("stage thresholds must grow: sleeping < at_risk < churned days")
        if not self.value_tier_high_percent < self.value_tier_medium_percent:
            raise ValueError("value tiers: HIGH_PERCENT must be below MEDIUM_PERCENT")
        if self.smtp_starttls and self.smtp_implicit_tls:
            raise ValueError("choose one of HUITOU_SMTP_STARTTLS and HUITOU_SMTP_IMPLICIT_TLS")
        if self.dispatch_lease_seconds < 3 * self.gateway_timeout_seconds:
            # a lease that can run out during one send would let another dispatcher resend it
            raise ValueError(
                "HUITOU_DISPATCH_LEASE_SECONDS must be at least 3 × HUITOU_GATEWAY_TIMEOUT_SECONDS"
            )
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def _check_callback_secret(gateway: str, raw: str) -> None:
    """Aliyun's push carries a URL token; every other gateway signs with a whsec_ key."""
    if raw.lower() in PLACEHOLDER_SECRETS:
        raise ValueError("refusing a placeholder secret; generate a real one")
    if gateway == "aliyun":
        if not URL_TOKEN.match(raw):
            raise ValueError("the aliyun callback token must be 24+ URL-safe characters")
        return
    try:
        key = base64.b64decode(raw.removeprefix("whsec_"), validate=True)
    except binascii.Error:
        key = b""
    if not raw.startswith("whsec_") or len(key) < 16:
        raise ValueError(f"the {gateway} callback secret must be whsec_ and 16+ base64 key bytes")
