"""Templates are untrusted: injection payloads run no code, and no template exhausts the service."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from service.members.models import Channel
from service.messaging.budget import Budget, RenderLimitExceeded, RenderLimits
from service.messaging.context import SAMPLE_NOW, MemberVars, sample_context
from service.messaging.policies import Purpose
from service.messaging.render import Renderer, RenderError, TemplateContent

MARKER = Path("/tmp/huitou-ssti-marker")  # a payload that ran code would create it

SSTI_PAYLOADS = [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ ''.__class__.__base__.__subclasses__() }}",
    "{{ cycler.__init__.__globals__.os.popen('touch /tmp/huitou-ssti-marker').read() }}",
    "{{ joiner.__init__.__globals__.os.system('touch /tmp/huitou-ssti-marker') }}",
    "{{ namespace.__init__.__globals__.os.popen('id').read() }}",
    "{{ range.__self__.__import__('os').popen('id').read() }}",
    "{{ self._TemplateReference__context }}",
    "{{ self.__init__.__globals__ }}",
    "{{ request }}",
    "{{ config.items() }}",
    "{{ lipsum.__globals__['os'].popen('id').read() }}",
    "{{ member.__class__.__init__.__globals__ }}",
    "{{ member._data }}",
    "{{ '{0.__class__.__mro__}'.format(member) }}",
    "{{ '{0._data}'.format_map({'0': member}) }}",
    "{{ '%s' % member.__class__ }}",
    "{{ member|attr('__class__') }}",
    "{{ member|attr('_data') }}",
    "{{ (member|attr('name'))|attr('__class__') }}",
    "{{ ('{0.__class__}'|attr('format'))(member) }}",  # CVE-2025-27516 shape
    "{{ ''|attr('format')('{0.__class__}', member) }}",
    # CVE-2024-56326 shape: a stored reference to str.format called later
    "{% set f = 'x'|attr('format') %}{{ f('{0.__globals__}', cycler.next) }}",
    "{{ member.tags.__class__.__base__ }}",
    "{{ (member.tags|list).append('pwned') }}",
    "{{ dict.__subclasses__() }}",
    "{% for c in [].__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}",
    "{% include '/etc/passwd' %}",
    "{% import 'os' as os %}",
    "{% extends '/etc/passwd' %}",
]


def sms_template(source: str) -> TemplateContent:
    return TemplateContent("test/x", Channel.SMS, Purpose.MARKETING, {"zh-CN": {"sms": source}})


@pytest.mark.parametrize("payload", SSTI_PAYLOADS)
def test_injection_payloads_are_refused_at_save_and_run_nothing(payload: str) -> None:
    problems = Renderer().check(sms_template(payload), brand="回头")
    assert len(problems) == 1
    assert problems[0].part == "sms"
    assert not MARKER.exists()


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{{ 'a' * 100000 }}", "repetition"),
        ("{{ [1, 2, 3] * 100000 }}", "repetition"),
        ("{{ 'ab' * 5000 * 5000 }}", "repetition"),
        ("{{ 9 ** 9 ** 9 }}", "2**256"),
        ("{{ 10 ** 60 * 10 ** 60 * 10 ** 60 }}", "2**256"),
        ("{% for a in range(1000) %}{% for b in range(1000) %}{% endfor %}{% endfor %}", "steps"),
        ("{% for a in 'x' * 10000 %}{% for b in 'y' * 10000 %}{% endfor %}{% endfor %}", "steps"),
        ("{% for i in range(10001) %}{% endfor %}", "range() is limited"),
        ("{% for i in range(10000) %}{{ i }}{% endfor %}", "output"),
        (
            "{% set ns = namespace(s='ab') %}{% for i in range(30) %}"
            "{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
            "namespace",
        ),
        ("{% macro f(s) %}{{ f(s ~ s) }}{% endmacro %}{{ f('a') }}", "argument"),
        ("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", "refused"),
        ("{{ 'abc'.center(99999999) }}", "numeric"),
        ("{{ range(10000)|join('x' * 10000) }}", "join"),
        ("{{ ('x' * 10000).replace('', 'y' * 10000) }}", "replace"),
        ("{{ ('x' * 10000)|replace('', 'y' * 10000) }}", "replace"),
        ("{{ 'x'|center(999999999) }}", "No filter named 'center'"),
        ("{{ 'x'|indent(999999999) }}", "No filter named 'indent'"),
    ],
)
def test_exhausting_templates_are_refused_at_save(source: str, message: str) -> None:
    [problem] = Renderer().check(sms_template(source), brand="回头")
    assert message in problem.msg


def test_output_depending_on_data_is_capped_at_render() -> None:
    renderer = Renderer(RenderLimits(max_output_chars=2_000))
    template = sms_template("{{ member.name * 600 }}")
    assert renderer.check(template, brand="回头") == []  # the sample name is 3 characters
    context = sample_context(locale="zh-CN", brand="回头")
    long_name = replace(context, member=replace(context.member, name="欧阳小明小红"))
    with pytest.raises(RenderError, match="limit is 2000"):
        renderer.render(template, context=long_name, now=SAMPLE_NOW)


def test_the_time_budget_is_enforced_during_rendering() -> None:
    ticks = iter(range(0, 10_000_000, 1))  # a clock that moves 1 ms per reading
    renderer = Renderer(RenderLimits(time_budget_seconds=0.05), timer=lambda: next(ticks) / 1000)
    template = sms_template("{% for i in range(1000) %}{{ i }}{% endfor %}")
    [problem] = renderer.check(template, brand="回头")
    assert "time budget of 0.05s" in problem.msg


def test_a_budget_counts_steps_and_time() -> None:
    now = [0.0]
    budget = Budget(RenderLimits(max_steps=2, time_budget_seconds=1), timer=lambda: now[0])
    budget.step()
    budget.step()
    with pytest.raises(RenderLimitExceeded, match="steps"):
        budget.step()
    late = Budget(RenderLimits(time_budget_seconds=1), timer=lambda: now[0])
    now[0] = 1.5
    with pytest.raises(RenderLimitExceeded, match="time budget"):
        late.step()


def test_legitimate_loops_and_methods_still_work() -> None:
    source = (
        "{% for t in member.tags %}{{ loop.index }}:{{ t|upper }}{% if not loop.last %},"
        "{% endif %}{% endfor %} {{ member.name.strip() }} {{ range(3)|join('-') }}"
        " {{ 'a,b'.split(',')|length }} {{ order.items|map(attribute='sku')|join }}"
    )
    context = sample_context(locale="zh-CN", brand="回头")
    out = Renderer().render(sms_template(source), context=context, now=SAMPLE_NOW)
    assert out.sms == "1:VIP,2:SKIN_DRY 王小明 0-1-2 2 MASK-30"


def test_member_variables_cannot_be_changed_by_a_template() -> None:
    member = MemberVars(id=1, name="x")
    [problem] = Renderer().check(sms_template("{% set member.name = 'y' %}"), brand="回头")
    assert problem.part == "sms"
    assert member.name == "x"
