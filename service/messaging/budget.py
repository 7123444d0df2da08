"""The work one render may do: steps, time and sizes, checked before anything big is built."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.utils import Namespace

BUDGET_KEY = "huitou.budget"  # a dot: unreachable from template syntax


class RenderLimitExceeded(SecurityError):
    """A template tried to take more time, steps or memory than one message may."""


class RenderTimeExceeded(RenderLimitExceeded):
    """The time budget ran out: unlike steps and sizes, a stalled machine can cause this."""


@dataclass(frozen=True)
class RenderLimits:
    max_output_chars: int = 20_000
    time_budget_seconds: float = 0.2
    max_steps: int = 50_000
    max_range: int = 10_000


@dataclass
class Budget:
    """The work one render may still do; created per render, never shared."""

    limits: RenderLimits
    timer: Callable[[], float] = time.thread_time
    steps: int = 0
    deadline: float = field(init=False)

    def __post_init__(self) -> None:
        self.deadline = self.timer() + self.limits.time_budget_seconds

    def step(self) -> None:
        self.steps += 1
        if self.steps > self.limits.max_steps:
            raise RenderLimitExceeded(
                f"template exceeds {self.limits.max_steps} steps (loops, calls and filters)"
            )
        if self.timer() > self.deadline:
            raise RenderTimeExceeded(
                f"template exceeds its time budget of {self.limits.time_budget_seconds:g}s"
            )

    def check_size(self, size: int, what: str = "value") -> None:
        if size > self.limits.max_output_chars:
            raise RenderLimitExceeded(
                f"{what} would be {size} long; the limit is {self.limits.max_output_chars}"
            )


def estimate(value: Any, depth: int = 0) -> int:
    """A cheap upper-ish bound of the text a value can turn into, counted before allocating it."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, list | tuple | set | frozenset | dict) and depth < 2:
        return len(value) + sum(estimate(item, depth + 1) for item in value)
    if isinstance(value, list | tuple | set | frozenset | dict):
        return len(value)
    return 1


def budget_of(context: Context) -> Budget:
    budget = context.get(BUDGET_KEY)
    if not isinstance(budget, Budget):
        raise SecurityError("template rendered outside a budget")
    return budget


def check_int_args(budget: Budget, args: Iterable[Any]) -> None:
    for arg in args:
        if isinstance(arg, int) and not isinstance(arg, bool):
            budget.check_size(abs(arg), "a numeric argument")


class GuardedNamespace(Namespace):
    """`namespace()` whose attributes cannot hold oversized values."""

    max_size: ClassVar[int] = 0

    def __setitem__(self, name: str, value: Any) -> None:
        if estimate(value) > type(self).max_size:
            raise RenderLimitExceeded(f"namespace value exceeds {type(self).max_size} characters")
        super().__setitem__(name, value)
