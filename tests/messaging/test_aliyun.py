"""Alibaba Cloud SMS: the documented signature examples, and a loopback server that checks it."""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator

import httpx
import pytest

from service.clock import FakeClock
from service.members.models import Channel
from service.messaging.gateways import aliyun_signing
from service.messaging.gateways.aliyun import AliyunSmsGateway, aliyun_phone, out_id
from service.messaging.gateways.base import (
    DeliveryState,
    OutgoingMessage,
    PermanentError,
    RetryableError,
    UnknownOutcomeError,
)
from tests.aliyun_server import FakeAliyun, reference_signature
from tests.loopback_http import LoopbackHttpServer

# The worked example of Aliyun's SMS signature documentation (HTTP协议及签名, document 56189).
DOC_SMS_PARAMS = {
    "AccessKeyId": "testId",
    "Action": "SendSms",
    "Format": "XML",
    "OutId": "123",
    "PhoneNumbers": "15300000001",
    "RegionId": "cn-hangzhou",
    "SignName": "阿里云短信测试专用",
    "SignatureMethod": "HMAC-SHA1",
    "SignatureNonce": "45e25e9b-0a6f-4070-8c85-2956eda1b466",
    "SignatureVersion": "1.0",
    "TemplateCode": "SMS_71390007",
    "TemplateParam": '{"customer":"test"}',
    "Timestamp": "2017-07-12T02:42:19Z",
    "Version": "2017-05-25",
}
DOC_SMS_STRING_TO_SIGN = (
    "GET&%2F&AccessKeyId%3DtestId%26Action%3DSendSms%26Format%3DXML%26OutId%3D123%26PhoneNumbers"
    "%3D15300000001%26RegionId%3Dcn-hangzhou%26SignName%3D%25E9%2598%25BF%25E9%2587%258C%25E4"
    "%25BA%2591%25E7%259F%25AD%25E4%25BF%25A1%25E6%25B5%258B%25E8%25AF%2595%25E4%25B8%2593%25E7"
    "%2594%25A8%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D45e25e9b-0a6f-4070-8c85-"
    "2956eda1b466%26SignatureVersion%3D1.0%26TemplateCode%3DSMS_71390007%26TemplateParam%3D%257B"
    "%2522customer%2522%253A%2522test%2522%257D%26Timestamp%3D2017-07-12T02%253A42%253A19Z%26"
    "Version%3D2017-05-25"
)
# The example of the general RPC signature documentation (DescribeRegions on ECS).
DOC_RPC_PARAMS = {
    "AccessKeyId": "testid",
    "Action": "DescribeRegions",
    "Format": "XML",
    "SignatureMethod": "HMAC-SHA1",
    "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
    "SignatureVersion": "1.0",
    "Timestamp": "2016-02-23T12:46:24Z",
    "Version": "2014-05-26",
}


def test_signature_matches_the_sms_documentation_example() -> None:
    assert aliyun_signing.string_to_sign("GET", DOC_SMS_PARAMS) == DOC_SMS_STRING_TO_SIGN
    assert (
        aliyun_signing.sign("GET", DOC_SMS_PARAMS, "testSecret") == "zJDF+Lrzhj/ThnlvIToysFRq6t4="
    )


def test_signature_matches_the_rpc_documentation_example() -> None:
    assert (
        aliyun_signing.sign("GET", DOC_RPC_PARAMS, "testsecret") == "OLeaidS1JvxuMvnyHOwuJ+uX5qY="
    )


def test_the_test_servers_reference_signature_agrees_on_the_examples() -> None:
    assert (
        reference_signature("GET", DOC_SMS_PARAMS, "testSecret") == "zJDF+Lrzhj/ThnlvIToysFRq6t4="
    )


@pytest.mark.parametrize(
    ("raw", "encoded"),
    [
        ("a b", "a%20b"),
        ("*", "%2A"),
        ("~-_.", "~-_."),
        ("/=&+", "%2F%3D%26%2B"),
        ("退", "%E9%80%80"),
    ],
)
def test_percent_encoding_follows_the_pop_rules(raw: str, encoded: str) -> None:
    assert aliyun_signing.percent_encode(raw) == encoded


@pytest.mark.parametrize(
    ("e164", "aliyun"),
    [
        ("+8613812345678", "13812345678"),
        ("+85291234567", "85291234567"),
        ("+14155550100", "14155550100"),
    ],
)
def test_phone_numbers_in_aliyun_form(e164: str, aliyun: str) -> None:
    assert aliyun_phone(e164) == aliyun


def sms(key: str = "enrol-7:coupon", template: str = "new_customer/coupon_a") -> OutgoingMessage:
    return OutgoingMessage(
        idempotency_key=key,
        channel=Channel.SMS,
        to="+8613812345678",
        text="【回头小店】王小明，送您一张回头客专享券：HT-8K2Q。回T退订",
        template=template,
        params={"name": "王小明", "code": "HT-8K2Q"},
    )


@pytest.fixture
def fake(clock: FakeClock) -> FakeAliyun:
    return FakeAliyun(key_id="LTAI-test-id", secret="test-secret-value", clock=clock)


@pytest.fixture
async def server(fake: FakeAliyun) -> AsyncIterator[LoopbackHttpServer]:
    server = await LoopbackHttpServer(fake).start()
    yield server
    await server.stop()


@pytest.fixture
async def gateway(server: LoopbackHttpServer, clock: FakeClock) -> AsyncIterator[AliyunSmsGateway]:
    counter = itertools.count()
    async with httpx.AsyncClient(timeout=httpx.Timeout(0.5)) as client:
        yield AliyunSmsGateway(
            client,
            clock=clock,
            access_key_id="LTAI-test-id",
            access_key_secret="test-secret-value",
            sign_name="回头小店",
            endpoint=f"{server.url}/",
            default_template_code="SMS_000001",
            template_codes={"new_customer/coupon_a": "SMS_123456"},
            nonce=lambda: f"nonce-{next(counter)}",
        )


async def test_send_sms_passes_the_servers_signature_and_parameter_checks(
    fake: FakeAliyun, gateway: AliyunSmsGateway
) -> None:
    receipt = await gateway.send(sms())
    assert receipt.provider_id == "biz-1"
    [sent] = fake.sent
    assert sent["PhoneNumbers"] == "13812345678"
    assert sent["SignName"] == "回头小店"
    assert sent["TemplateCode"] == "SMS_123456"
    assert json.loads(sent["TemplateParam"]) == {"name": "王小明", "code": "HT-8K2Q"}
    assert sent["OutId"] == out_id("enrol-7:coupon")
    assert sent["Timestamp"] == "2026-06-18T01:00:00Z"


async def test_unmapped_templates_send_the_text_through_the_default_code(
    fake: FakeAliyun, gateway: AliyunSmsGateway
) -> None:
    await gateway.send(sms(template="winback/gentle"))
    [sent] = fake.sent
    assert sent["TemplateCode"] == "SMS_000001"
    content = json.loads(sent["TemplateParam"])["content"]
    assert content.startswith("王小明")  # Aliyun prefixes the approved SignName itself


async def test_a_wrong_secret_is_refused_by_the_server(
    server: LoopbackHttpServer, clock: FakeClock
) -> None:
    async with httpx.AsyncClient() as client:
        wrong = AliyunSmsGateway(
            client, clock=clock, access_key_id="LTAI-test-id", access_key_secret="nope",
            sign_name="回头小店", endpoint=f"{server.url}/", default_template_code="SMS_1",
        )  # fmt: skip
        with pytest.raises(PermanentError, match="SignatureDoesNotMatch"):
            await wrong.send(sms())


async def test_a_stale_clock_is_refused(
    gateway: AliyunSmsGateway, fake: FakeAliyun, clock: FakeClock
) -> None:
    fake.clock = FakeClock(clock.now())
    clock.advance(hours=-1)
    with pytest.raises(PermanentError, match="InvalidTimeStamp"):
        await gateway.send(sms())


@pytest.mark.parametrize(("fault", "match"), [("throttle", "Throttling"), ("500", "InternalError")])
async def test_throttling_and_server_errors_are_retryable(
    gateway: AliyunSmsGateway, fake: FakeAliyun, fault: str, match: str
) -> None:
    fake.faults.append(fault)
    with pytest.raises(RetryableError, match=match):
        await gateway.send(sms())


async def test_an_unknown_outcome_is_resolved_by_query_send_details(
    gateway: AliyunSmsGateway, fake: FakeAliyun, clock: FakeClock
) -> None:
    fake.faults.append("drop_after_delivery")
    with pytest.raises(UnknownOutcomeError):
        await gateway.send(sms())
    result = await gateway.query(sms(), sent_at=clock.now())
    assert result.state is DeliveryState.DELIVERED
    assert len(fake.sent) == 1
    missing = await gateway.query(sms(key="never-sent"), sent_at=clock.now())
    assert missing.state is DeliveryState.NOT_FOUND


async def test_a_template_without_a_code_is_permanent(clock: FakeClock) -> None:
    async with httpx.AsyncClient() as client:
        bare = AliyunSmsGateway(
            client, clock=clock, access_key_id="id", access_key_secret="s", sign_name="回头小店"
        )
        with pytest.raises(PermanentError, match="TemplateCode"):
            await bare.send(sms(template="winback/gentle"))
