"""What the message-templates API accepts and returns."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from service.inputs import InputModel
from service.members.models import Channel
from service.members.schemas import Locale
from service.messaging.policies import Purpose
from service.messaging.render import PARTS

TEMPLATE_NAME = r"^[a-z0-9_]+(/[a-z0-9_]+)*$"
TemplateName = Annotated[str, StringConstraints(pattern=TEMPLATE_NAME, max_length=200)]
Source = Annotated[str, StringConstraints(max_length=20_000)]


class TemplateIn(InputModel):
    """A template's copy: per locale, `sms` for SMS, or `subject`, `text` and `html` for email."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "channel": "sms",
                    "purpose": "marketing",
                    "description": "Thank a new customer",
                    "locales": {
                        "zh-CN": {
                            "sms": "{{ member.name or '亲' }}，感谢您第一次光临{{ brand }}！"
                        },
                        "en": {"sms": "Hi {{ member.name or 'there' }}, thanks for your order!"},
                    },
                }
            ]
        },
    )

    channel: Channel
    purpose: Purpose = Purpose.MARKETING
    description: Annotated[str, StringConstraints(max_length=500)] = ""
    locales: dict[Locale, dict[str, Source]] = Field(min_length=1, max_length=20)

    @model_validator(mode="after")
    def check_parts(self) -> Self:
        wanted = set(PARTS[self.channel])
        for locale, parts in self.locales.items():
            if set(parts) != wanted:
                missing, extra = sorted(wanted - set(parts)), sorted(set(parts) - wanted)
                raise ValueError(
                    f"locale {locale}: a {self.channel.value} template has exactly the parts "
                    f"{', '.join(sorted(wanted))}"
                    + (f"; missing {', '.join(missing)}" if missing else "")
                    + (f"; unexpected {', '.join(extra)}" if extra else "")
                )
        return self

    def checksum(self) -> str:
        """Identifies the content, so loading the same file again adds no version."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()


class TemplateSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str
    version: int
    channel: Channel
    purpose: Purpose
    description: str
    source: str
    author: str | None
    created_at: datetime


class TemplateOut(TemplateSummary):
    locales: dict[str, dict[str, str]]


class TemplateList(BaseModel):
    items: list[TemplateSummary]
