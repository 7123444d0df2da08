"""Alibaba Cloud SMS (dysmsapi 2017-05-25): SendSms, and QuerySendDetails for unknown outcomes.

Aliyun sends only templates approved in its console and prefixes the approved SignName itself.
A Huitou template maps to an Aliyun TemplateCode (HUITOU_ALIYUN_SMS_TEMPLATES) whose variables
come from `message.params`; otherwise the default code (HUITOU_ALIYUN_SMS_TEMPLATE_CODE, an
approved template such as `${content}`) carries the rendered text without our 【brand】 prefix.
SendSms has no idempotency key: a timeout after sending is an unknown outcome, which `query`
resolves by the OutId we derive from the idempotency key.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from service.clock import Clock
from service.members.models import Channel
from service.messaging.gateways import aliyun_signing
from service.messaging.gateways.base import (
    DeliveryState,
    OutgoingMessage,
    PermanentError,
    QueryResult,
    Receipt,
    RetryableError,
    error_for_status,
    error_for_transport,
)

API_VERSION = "2017-05-25"
CHINA = ZoneInfo("Asia/Shanghai")  # QuerySendDetails' SendDate is a Beijing-time date
RETRYABLE_CODES = frozenset(
    {
        "isp.SYSTEM_ERROR",
        "isp.GATEWAY_ERROR",
        "isv.BUSINESS_LIMIT_CONTROL",
        "Throttling",
        "Throttling.User",
        "Throttling.Api",
        "ServiceUnavailable",
        "InternalError",
    }
)
SEND_STATUS = {1: DeliveryState.PENDING, 2: DeliveryState.FAILED, 3: DeliveryState.DELIVERED}


def out_id(idempotency_key: str) -> str:
    """OutId: ours to choose, echoed in receipts and queries; a digest keeps it short."""
    return hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]


def aliyun_phone(e164: str) -> str:
    """Mainland numbers without +86; others as country code and number, without the +."""
    digits = e164.removeprefix("+")
    return digits[2:] if digits.startswith("86") and len(digits) == 13 else digits


class AliyunSmsGateway:
    name = "aliyun"
    channel = Channel.SMS
    honours_idempotency = False

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        clock: Clock,
        access_key_id: str,
        access_key_secret: str,
        sign_name: str,
        endpoint: str = "https://dysmsapi.aliyuncs.com/",
        default_template_code: str | None = None,
        template_codes: Mapping[str, str] | None = None,
        region_id: str = "cn-hangzhou",
        nonce: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        self._client, self._clock, self._endpoint = client, clock, endpoint
        self._key_id, self._secret = access_key_id, access_key_secret
        self._sign_name, self._region = sign_name, region_id
        self._default_code = default_template_code
        self._codes = dict(template_codes or {})
        self._nonce = nonce

    def signed_params(self, action: str, params: Mapping[str, str]) -> dict[str, str]:
        """The action's parameters with the common ones and the Signature."""
        common = {
            "AccessKeyId": self._key_id,
            "Action": action,
            "Format": "JSON",
            "RegionId": self._region,
            "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": self._nonce(),
            "SignatureVersion": "1.0",
            "Timestamp": self._clock.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Version": API_VERSION,
        }
        merged = {**common, **params}
        merged["Signature"] = aliyun_signing.sign("POST", merged, self._secret)
        return merged

    def send_params(self, message: OutgoingMessage) -> dict[str, str]:
        code = self._codes.get(message.template)
        if code is not None:
            template_param = dict(message.params)
        elif self._default_code is not None:
            code, template_param = self._default_code, {"content": self._content(message.text)}
        else:
            raise PermanentError(self.name, f"no Aliyun TemplateCode for {message.template!r}")
        return {
            "PhoneNumbers": aliyun_phone(message.to),
            "SignName": self._sign_name,
            "TemplateCode": code,
            "TemplateParam": json.dumps(template_param, ensure_ascii=False),
            "OutId": out_id(message.idempotency_key),
        }

    def _content(self, text: str) -> str:
        return text.removeprefix(f"【{self._sign_name}】")  # Aliyun adds the signature itself

    async def _call(self, action: str, params: Mapping[str, str], *, idempotent: bool) -> Any:
        try:
            response = await self._client.post(
                self._endpoint, data=self.signed_params(action, params)
            )
        except httpx.TransportError as exc:
            raise error_for_transport(self.name, exc, idempotent=idempotent) from exc
        try:
            data = response.json()
        except ValueError:
            data = None
        if isinstance(data, dict) and data.get("Code") not in (None, "OK"):
            raise _error_for_code(str(data["Code"]), str(data.get("Message", "")))
        error = error_for_status(self.name, response)
        if error is not None:
            raise error
        if not isinstance(data, dict):
            raise RetryableError(self.name, f"unreadable answer: {response.text[:200]}")
        return data

    async def send(self, message: OutgoingMessage) -> Receipt:
        data = await self._call("SendSms", self.send_params(message), idempotent=False)
        return Receipt(self.name, data.get("BizId"), data.get("RequestId"))

    async def query(self, message: OutgoingMessage, *, sent_at: datetime) -> QueryResult:
        """Find the message by its OutId among the number's sends of that (Beijing) day."""
        wanted = out_id(message.idempotency_key)
        for page in range(1, 11):
            params = {
                "PhoneNumber": aliyun_phone(message.to),
                "SendDate": sent_at.astimezone(CHINA).strftime("%Y%m%d"),
                "PageSize": "50",
                "CurrentPage": str(page),
            }
            data = await self._call("QuerySendDetails", params, idempotent=True)
            details = (data.get("SmsSendDetailDTOs") or {}).get("SmsSendDetailDTO") or []
            for detail in details:
                if detail.get("OutId") == wanted:
                    state = SEND_STATUS.get(int(detail.get("SendStatus", 1)), DeliveryState.PENDING)
                    return QueryResult(state, None, detail.get("ErrCode"))
            if page * 50 >= int(data.get("TotalCount", 0)):
                break
        return QueryResult(DeliveryState.NOT_FOUND)


def _error_for_code(code: str, message: str) -> RetryableError | PermanentError:
    detail = f"{code}: {message}"
    if code in RETRYABLE_CODES or code.startswith("Throttling"):
        return RetryableError("aliyun", detail)
    return PermanentError("aliyun", detail)
