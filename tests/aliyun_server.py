"""A loopback stand-in for Alibaba Cloud's dysmsapi that checks requests the way Aliyun does.

It recomputes the RPC v1 signature with its own code (urlencode, not the service's helper),
refuses a reused SignatureNonce or a stale Timestamp, checks the documented parameters of
SendSms and QuerySendDetails, and answers in Aliyun's JSON shapes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import urllib.parse
from datetime import UTC, datetime, timedelta
from typing import Any

from service.clock import Clock
from tests.loopback_http import Drop, HttpRequest, HttpResponse

COMMON = {
    "AccessKeyId", "Action", "Format", "RegionId", "SignatureMethod", "SignatureNonce",
    "SignatureVersion", "Timestamp", "Version", "Signature",
}  # fmt: skip
REQUIRED = {
    "SendSms": {"PhoneNumbers", "SignName", "TemplateCode"},
    "QuerySendDetails": {"PhoneNumber", "SendDate", "PageSize", "CurrentPage"},
}


def reference_signature(method: str, params: dict[str, str], secret: str) -> str:
    pairs = sorted((k, v) for k, v in params.items() if k != "Signature")
    query = urllib.parse.urlencode(pairs, quote_via=urllib.parse.quote, safe="~")
    to_sign = "&".join(
        [method, urllib.parse.quote("/", safe=""), urllib.parse.quote(query, safe="~")]
    )
    mac = hmac.new(f"{secret}&".encode(), to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(mac).decode()


class FakeAliyun:
    def __init__(self, *, key_id: str, secret: str, clock: Clock) -> None:
        self.key_id, self.secret, self.clock = key_id, secret, clock
        self.nonces: set[str] = set()
        self.sent: list[dict[str, str]] = []
        self.faults: list[str] = []

    async def __call__(self, request: HttpRequest) -> HttpResponse:
        params = dict(urllib.parse.parse_qsl(request.body.decode(), keep_blank_values=True))
        problem = self._check(request, params)
        if problem is not None:
            code, status = problem
            return _answer(status, {"Code": code, "Message": code, "RequestId": "req-err"})
        fault = self.faults.pop(0) if self.faults else "ok"
        if fault == "throttle":
            return _answer(400, {"Code": "Throttling.User", "Message": "Request was denied"})
        if fault == "500":
            return _answer(500, {"Code": "InternalError", "Message": "internal"})
        if params["Action"] == "SendSms":
            self.sent.append(params)
            if fault == "drop_after_delivery":
                raise Drop
            return _answer(
                200,
                {
                    "Code": "OK",
                    "Message": "OK",
                    "BizId": f"biz-{len(self.sent)}",
                    "RequestId": "req-1",
                },
            )
        return _answer(200, self._details(params))

    def _check(self, request: HttpRequest, params: dict[str, str]) -> tuple[str, int] | None:
        if request.method != "POST" or not request.headers.get("content-type", "").startswith(
            "application/x-www-form-urlencoded"
        ):
            return "UnsupportedHTTPMethod", 400
        action = params.get("Action", "")
        missing = (COMMON | REQUIRED.get(action, set())) - params.keys()
        if action not in REQUIRED or missing:
            return "MissingParameter", 400
        fixed = {
            "Format": "JSON",
            "SignatureMethod": "HMAC-SHA1",
            "SignatureVersion": "1.0",
            "Version": "2017-05-25",
        }
        if any(params[k] != v for k, v in fixed.items()):
            return "InvalidParameter", 400
        if params["AccessKeyId"] != self.key_id:
            return "InvalidAccessKeyId.NotFound", 404
        expected = reference_signature("POST", params, self.secret)
        if not hmac.compare_digest(expected, params["Signature"]):
            return "SignatureDoesNotMatch", 400
        stamp = datetime.strptime(params["Timestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        if abs(self.clock.now() - stamp) > timedelta(minutes=15):
            return "InvalidTimeStamp.Expired", 400
        if params["SignatureNonce"] in self.nonces:
            return "SignatureNonceUsed", 400
        self.nonces.add(params["SignatureNonce"])
        if action == "SendSms" and not isinstance(
            json.loads(params.get("TemplateParam", "{}")), dict
        ):
            return "isv.INVALID_JSON_PARAM", 400
        return None

    def _details(self, params: dict[str, str]) -> dict[str, Any]:
        rows = [
            {
                "OutId": p.get("OutId"),
                "SendStatus": 3,
                "ErrCode": "DELIVERED",
                "PhoneNum": p["PhoneNumbers"],
                "TemplateCode": p["TemplateCode"],
            }
            for p in self.sent
            if p["PhoneNumbers"] == params["PhoneNumber"]
        ]
        return {
            "Code": "OK",
            "Message": "OK",
            "TotalCount": len(rows),
            "RequestId": "req-q",
            "SmsSendDetailDTOs": {"SmsSendDetailDTO": rows},
        }


def _answer(status: int, body: dict[str, Any]) -> HttpResponse:
    return HttpResponse(status, json.dumps(body).encode(), {"content-type": "application/json"})
