"""The Jinja sandbox marketers' templates run in: no escapes, and a budget nothing can exhaust.

Jinja's `ImmutableSandboxedEnvironment` already refuses private and dunder attributes, mutation
of builtin containers and `str.format` escapes. On top of it we bound the work and memory one
render may take, because a template is untrusted input rendered by the dispatcher:

- every call, intercepted operator, filter and loop iteration spends one step of a `Budget`,
  which also checks a deadline; the budget rides in the template context under a key no
  template can name (it holds a dot);
- `*`, `**`, `+` and `%` are intercepted: sizes are estimated before anything is allocated,
  and `%` string formatting is refused outright, like `str.format`;
- only a list of filters and builtin methods that grow their output linearly is offered;
- `range` is capped and `namespace` refuses oversized values;
- the output is streamed with `generate()` and cut at the output cap.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from jinja2 import StrictUndefined, nodes, pass_context
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from service.messaging.budget import (
    Budget,
    GuardedNamespace,
    RenderLimitExceeded,
    RenderLimits,
    budget_of,
    check_int_args,
    estimate,
)

SAFE_FILTERS = frozenset(
    {
        "abs",
        "attr",
        "capitalize",
        "count",
        "d",
        "default",
        "e",
        "escape",
        "first",
        "float",
        "int",
        "join",
        "last",
        "length",
        "list",
        "lower",
        "map",
        "max",
        "min",
        "reject",
        "rejectattr",
        "replace",
        "reverse",
        "round",
        "safe",
        "select",
        "selectattr",
        "sort",
        "string",
        "striptags",
        "sum",
        "title",
        "trim",
        "truncate",
        "unique",
        "upper",
        "urlencode",
        "wordcount",
    }
)
SAFE_METHODS: Mapping[type, frozenset[str]] = {
    str: frozenset(
        {
            "capitalize",
            "count",
            "endswith",
            "find",
            "isalpha",
            "isdigit",
            "lower",
            "lstrip",
            "replace",
            "rstrip",
            "split",
            "startswith",
            "strip",
            "title",
            "upper",
        }
    ),
    list: frozenset({"count", "index"}),
    tuple: frozenset({"count", "index"}),
    dict: frozenset({"get", "items", "keys", "values"}),
}


def _guard_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a filter so it spends budget and refuses oversized inputs before running."""
    kind = getattr(getattr(func, "jinja_pass_arg", None), "name", None)

    @pass_context
    def guarded(context: Context, value: Any, *args: Any, **kwargs: Any) -> Any:
        budget = budget_of(context)
        budget.step()
        check_int_args(budget, [*args, *kwargs.values()])
        if name == "join" and not isinstance(value, str):
            value = _bounded_list(budget, value)  # a generator is measured before joining
        size = estimate(value) + sum(estimate(a) for a in [*args, *kwargs.values()])
        if name == "join":
            separator = args[0] if args else kwargs.get("d", "")
            size += estimate(value) * estimate(separator)
        if name == "replace" and isinstance(value, str) and len(args) >= 2:
            size = _replace_size(value, args[0], args[1])
        budget.check_size(size, f"the input of |{name}")
        lead = {
            "context": (context,),
            "eval_context": (context.eval_ctx,),
            "environment": (context.environment,),
        }.get(kind or "", ())
        result = func(*lead, value, *args, **kwargs)
        budget.check_size(estimate(result), f"the result of |{name}")
        return result

    return guarded


def _bounded_list(budget: Budget, items: Iterable[Any]) -> list[Any]:
    collected: list[Any] = []
    for item in items:
        budget.step()
        collected.append(item)
    return collected


def _replace_size(text: str, old: Any, new: Any) -> int:
    if not isinstance(old, str) or not isinstance(new, str):
        return len(text)
    if not old:
        return len(text) + (len(text) + 1) * len(new)
    return len(text) + text.count(old) * max(0, len(new) - len(old))


class GuardedEnvironment(ImmutableSandboxedEnvironment):
    """An immutable sandbox whose every render runs against a `Budget`."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(
        self,
        *,
        limits: RenderLimits,
        autoescape: bool,
        filters: Mapping[str, Callable[..., Any]],
    ) -> None:
        super().__init__(
            autoescape=autoescape, undefined=StrictUndefined, keep_trailing_newline=False
        )
        self.limits = limits
        safe = {name: f for name, f in self.filters.items() if name in SAFE_FILTERS}
        safe.update(filters)
        self.filters = {name: _guard_filter(name, f) for name, f in safe.items()}
        namespace = type("namespace", (GuardedNamespace,), {"max_size": limits.max_output_chars})
        self.globals = {"range": self._range, "namespace": namespace, "dict": dict}
        self.tests = {k: v for k, v in self.tests.items() if k != "callable"}

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        """Route every loop's iterable through `guard_iterable`, so iterations spend budget."""
        tree = super()._parse(source, name, filename)
        for loop in tree.find_all(nodes.For):
            loop.iter = nodes.Call(
                nodes.EnvironmentAttribute("guard_iterable"),
                [nodes.ContextReference(), loop.iter],
                [],
                None,
                None,
                lineno=loop.iter.lineno,
            )
        return tree

    def guard_iterable(self, context: Context, iterable: Iterable[Any]) -> Iterator[Any]:
        budget = budget_of(context)
        for item in iterable:
            budget.step()
            yield item

    @pass_context
    def _range(self, context: Context, *args: int) -> range:
        budget_of(context).step()
        numbers = range(*args)
        if len(numbers) > self.limits.max_range:
            raise RenderLimitExceeded(f"range() is limited to {self.limits.max_range} numbers")
        return numbers

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        if super().wrap_str_format(value) is not None:
            raise SecurityError("str.format is not available in templates; join text with ~")
        return None

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if not super().is_safe_attribute(obj, attr, value):
            return False
        for kind, allowed in SAFE_METHODS.items():
            if isinstance(obj, kind) and callable(value):
                return attr in allowed
        return True

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        budget = budget_of(__context)
        budget.step()
        check_int_args(budget, [*args, *kwargs.values()])
        if getattr(__obj, "__name__", None) == "replace" and isinstance(
            getattr(__obj, "__self__", None), str
        ):
            budget.check_size(_replace_size(__obj.__self__, *args[:2]), "the result of replace")
        for arg in [*args, *kwargs.values()]:
            budget.check_size(estimate(arg), "an argument")
        result = super().call(__context, __obj, *args, **kwargs)
        budget.check_size(estimate(result), "a call's result")
        return result

    def call_binop(self, context: Context, operator_: str, left: Any, right: Any) -> Any:
        budget = budget_of(context)
        budget.step()
        if operator_ == "%" and isinstance(left, str):
            raise SecurityError("% string formatting is not available in templates")
        if operator_ == "**" and isinstance(right, int):
            base_bits = left.bit_length() if isinstance(left, int) else 1
            if abs(right) > 64 or base_bits * abs(right) > 256:
                raise RenderLimitExceeded("numbers above 2**256 are not allowed in templates")
        if operator_ == "*":
            _check_product(budget, left, right)
        if operator_ == "+":
            budget.check_size(estimate(left) + estimate(right), "a sum")
        return BINOPS[operator_](left, right)


def _check_product(budget: Budget, left: Any, right: Any) -> None:
    for seq, times in ((left, right), (right, left)):
        if isinstance(times, int) and not isinstance(times, bool) and not isinstance(seq, int):
            budget.check_size(estimate(seq) * max(times, 0), "a repetition")
    if (
        isinstance(left, int)
        and isinstance(right, int)
        and left.bit_length() + right.bit_length() > 256
    ):
        raise RenderLimitExceeded("numbers above 2**256 are not allowed in templates")


BINOPS: Mapping[str, Callable[[Any, Any], Any]] = {
    "*": operator.mul,
    "**": operator.pow,
    "+": operator.add,
    "%": operator.mod,
}
