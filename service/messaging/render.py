"""Render a template's parts for one member; compile and test-render a template when saved."""

from __future__ import annotations

import time
import traceback
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jinja2 import Template, TemplateError, TemplateSyntaxError

from service.members.models import Channel
from service.messaging.budget import BUDGET_KEY, Budget, RenderLimitExceeded, RenderLimits
from service.messaging.context import SAMPLE_NOW, MessageContext, sample_context
from service.messaging.formatting import FILTERS, warm_up_locales
from service.messaging.policies import Purpose
from service.messaging.sandbox import GuardedEnvironment
from service.settings import Settings

PARTS: Mapping[Channel, tuple[str, ...]] = {
    Channel.SMS: ("sms",),
    Channel.EMAIL: ("subject", "text", "html"),
}
SOURCE_NAME = "<template>"


@dataclass(frozen=True)
class TemplateContent:
    """A message template: copy per locale and part (`sms`, or `subject`, `text`, `html`)."""

    name: str
    channel: Channel
    purpose: Purpose
    locales: Mapping[str, Mapping[str, str]]
    version: int = 0


@dataclass(frozen=True)
class RenderedMessage:
    template: str
    version: int
    channel: Channel
    purpose: Purpose
    locale: str
    parts: Mapping[str, str]

    @property
    def sms(self) -> str:
        return self.parts["sms"]


class RenderError(Exception):
    """A template failed to compile or render; `loc` names locale, part and line."""

    def __init__(self, msg: str, *, locale: str, part: str, line: int | None) -> None:
        super().__init__(msg)
        self.msg, self.locale, self.part, self.line = msg, locale, part, line

    @property
    def loc(self) -> list[str | int]:
        return ["locales", self.locale, self.part, *([f"line {self.line}"] if self.line else [])]


def renderer_for(settings: Settings) -> Renderer:
    """The renderer with the limits the settings give."""
    return Renderer(
        RenderLimits(
            max_output_chars=settings.render_max_output_chars,
            time_budget_seconds=settings.render_time_budget_ms / 1000,
        )
    )


def choose_locale(available: Mapping[str, object], wanted: str) -> str:
    """The member's locale, else one of the same language, else zh-CN, else the first."""
    if wanted in available:
        return wanted
    language = wanted.split("-")[0].lower()
    for tag in available:
        if tag.split("-")[0].lower() == language:
            return tag
    return "zh-CN" if "zh-CN" in available else next(iter(available))


class Renderer:
    """Compiles templates in the guarded sandbox and renders them within the limits."""

    def __init__(
        self,
        limits: RenderLimits | None = None,
        *,
        timer: Callable[[], float] = time.thread_time,
        cache_size: int = 512,
    ) -> None:
        self.limits = limits or RenderLimits()
        self._timer = timer
        self._envs = {
            escape: GuardedEnvironment(limits=self.limits, autoescape=escape, filters=FILTERS)
            for escape in (False, True)
        }
        # Compiled templates by source: the dispatcher renders the same copy many times.
        self._compiled: OrderedDict[tuple[bool, str], Template] = OrderedDict()
        self._cache_size = cache_size
        warm_up_locales()  # CLDR data loads on first use: not inside a message's time budget

    def compile(self, source: str, *, html: bool) -> Template:
        key = (html, source)
        if key in self._compiled:
            self._compiled.move_to_end(key)
            return self._compiled[key]
        template = self._envs[html].from_string(source)
        self._compiled[key] = template
        if len(self._compiled) > self._cache_size:
            self._compiled.popitem(last=False)
        return template

    def render_source(self, source: str, variables: Mapping[str, Any], *, html: bool) -> str:
        """One part, streamed and cut at the output cap, within the time and step budget."""
        template = self.compile(source, html=html)
        budget = Budget(self.limits, timer=self._timer)  # compiling is not the template's work
        stream = template.generate({**variables, BUDGET_KEY: budget})
        chunks: list[str] = []
        size = 0
        for chunk in stream:
            size += len(chunk)
            budget.check_size(size, "the output")
            if self._timer() > budget.deadline:
                budget.step()  # raises with the time-budget message
            chunks.append(chunk)
        return "".join(chunks).strip()

    def render(
        self, template: TemplateContent, *, context: MessageContext, now: datetime
    ) -> RenderedMessage:
        """Every part of the template in the member's locale; RenderError names what failed."""
        locale = choose_locale(template.locales, context.member.locale)
        variables = context.variables(now)
        parts = {
            part: self._render_part(template.locales[locale][part], variables, locale, part)
            for part in PARTS[template.channel]
        }
        return RenderedMessage(
            template.name, template.version, template.channel, template.purpose, locale, parts
        )

    def _render_part(
        self, source: str, variables: Mapping[str, Any], locale: str, part: str
    ) -> str:
        try:
            return self.render_source(source, variables, html=part == "html")
        except TemplateSyntaxError as exc:
            raise RenderError(
                exc.message or str(exc), locale=locale, part=part, line=exc.lineno
            ) from exc
        except (
            TemplateError,
            ArithmeticError,
            LookupError,
            TypeError,
            ValueError,
            RecursionError,
        ) as exc:
            raise RenderError(_describe(exc), locale=locale, part=part, line=_line_of(exc)) from exc

    def check(self, template: TemplateContent, *, brand: str) -> list[RenderError]:
        """Compile and test-render every part against a sample member; the problems found."""
        problems: list[RenderError] = []
        for locale, parts in template.locales.items():
            for part in PARTS[template.channel]:
                if part not in parts:
                    problems.append(
                        RenderError("this part is missing", locale=locale, part=part, line=None)
                    )
                    continue
                variables = sample_context(locale=locale, brand=brand).variables(SAMPLE_NOW)
                try:
                    self._render_part(parts[part], variables, locale, part)
                except RenderError as exc:
                    problems.append(exc)
        return problems


def _describe(exc: BaseException) -> str:
    if isinstance(exc, RenderLimitExceeded):
        return f"refused: {exc}"
    if isinstance(exc, RecursionError):
        return "refused: recursion too deep"
    text = str(exc) or type(exc).__name__
    return text if isinstance(exc, TemplateError) else f"{type(exc).__name__}: {text}"


def _line_of(exc: BaseException) -> int | None:
    """The template line a runtime error came from (Jinja rewrites tracebacks to template lines)."""
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename == SOURCE_NAME:
            line = frame.lineno
    return line
