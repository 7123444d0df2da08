"""Log lines are JSON, carry the request id, and never a phone number or an email address."""

from __future__ import annotations

import json
import logging
import sys

import pytest

from service.logs import JsonFormatter, redact, request_id_var


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("sent to 13812345678", "sent to [phone]"),
        ("sent to +86 138-1234-5678.", "sent to [phone]."),
        ("call (650) 253-0000 now", "call ([phone] now"),
        ("mail xiao.ming+vip@example.co.uk, ok", "mail [email], ok"),
        ("王小明 <wang@例子.cn>", "王小明 <[email]>"),
        ("PUT /v1/members/{external_id} 201", "PUT /v1/members/{external_id} 201"),
        ("3 orders, 2 members, 120 ms", "3 orders, 2 members, 120 ms"),
        ("order 1234567", "order 1234567"),  # seven digits: an id, not a phone
        ("next run at: 2026-12-02 01:20:38 UTC", "next run at: 2026-12-02 01:20:38 UTC"),
        ("due 2026-12-02, 13812345678", "due 2026-12-02, [phone]"),
    ],
)
def test_redact(text: str, expected: str) -> None:
    assert redact(text) == expected


def record(msg: str, *args: object, **fields: object) -> logging.LogRecord:
    rec = logging.LogRecord("huitou.test", logging.WARNING, __file__, 1, msg, args, None)
    rec.fields = fields
    return rec


def test_message_arguments_and_fields_are_redacted() -> None:
    line = json.loads(JsonFormatter().format(record("to %s", "13812345678", to="a@b.example")))
    assert (line["msg"], line["to"], line["level"]) == ("to [phone]", "[email]", "warning")
    assert "request_id" not in line


def test_the_request_id_is_added_while_a_request_runs() -> None:
    token = request_id_var.set("req-7")
    try:
        line = json.loads(JsonFormatter().format(record("done", status=200)))
    finally:
        request_id_var.reset(token)
    assert (line["request_id"], line["status"]) == ("req-7", 200)


def test_a_traceback_is_redacted() -> None:
    try:
        raise ValueError("no member with phone 13812345678")
    except ValueError:
        rec = record("failed")
        rec.exc_info = sys.exc_info()
    line = json.loads(JsonFormatter().format(rec))
    assert "13812345678" not in line["exc"]
    assert "[phone]" in line["exc"]
