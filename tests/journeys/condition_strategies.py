"""Hypothesis strategies for well-typed journey conditions over the fields of some scopes.

Literals come from the same pools as the population in `condition_world`, plus neighbours and
extremes (fractions, 10**30, 2**63, instants in other offsets), so comparisons land exactly on,
and a hair beside, the stored values.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, timedelta, timezone
from typing import Any

from hypothesis import strategies as st

from service.analytics.models import Segment, Stage, ValueTier
from service.journeys.fields import FieldType
from service.members.models import Gender
from service.orders.models import OrderStatus
from tests.journeys.condition_world import (
    ATTRIBUTE_KEYS,
    ATTRIBUTE_VALUES,
    CENTS,
    DATES,
    DAY_OFFSETS,
    INSTANTS,
    SHARES,
    SKUS,
    TAGS,
    TEST_CATALOGUE,
    TEXTS,
)

T = FieldType
Json = Any
ZONES = [UTC, timezone(timedelta(hours=8)), timezone(-timedelta(hours=5, minutes=30))]
EXTREMES = [0.5, -0.5, 2.5, 1.0, 1e20, -1e20, 2**63, -(2**63) - 1, 10**30]

_MORE_TEXTS = ["CNY", "USD", "organic", "promo", "Promo", "mask", "Mask", "Female", "zz", "双11"]
_ANALYTICS_TEXTS = [v.value for enum in (Segment, Stage, ValueTier) for v in enum] + ["Sleeping"]
# Shares, their neighbours, and integers no double equals (the bound rounds to a neighbour).
_SHARE_LITERALS = [
    *SHARES,
    0.3333333333333333,
    0.33333333333333337,
    0.30000000000000004,
    0.29999999999999993,
    1e-300,
    -1e-300,
    1e300,
    2**53 + 1,
    2**63 + 1,
    10**30,
    -(10**30) - 1,
]
LITERALS: dict[Any, st.SearchStrategy[Json]] = {
    T.INT: st.integers(-2, 6) | st.sampled_from([7, 30, 60, *EXTREMES]),
    T.MONEY: st.sampled_from(
        [c / 100 for c in CENTS] + [c // 100 for c in CENTS] + [69.995, 70.005, 0.015, -1, 1e20]
    ),
    T.NUMBER: st.sampled_from(_SHARE_LITERALS) | st.integers(-1, 2),
    T.TEXT: st.sampled_from(
        [
            *TEXTS,
            *(g.value for g in Gender),
            *(s.value for s in OrderStatus),
            *SKUS,
            *_MORE_TEXTS,
            *_ANALYTICS_TEXTS,
        ]
    ),
    T.DATETIME: st.builds(
        lambda at, zone: at.astimezone(zone).isoformat(),
        st.sampled_from(INSTANTS),
        st.sampled_from(ZONES),
    ),
    T.DATE: st.sampled_from([d.isoformat() for d in DATES] + ["2026-06-19", "1999-12-31"]),
    T.BOOL: st.booleans(),
    T.JSON: st.sampled_from([*ATTRIBUTE_VALUES, 2, 0.0, -0.5, "GOLD", 1e300]),
    "days_since": st.builds(
        lambda d, e: d + e, st.sampled_from(DAY_OFFSETS), st.sampled_from([-1, 0, 0, 1])
    )
    | st.sampled_from([29.5, -0.5, 739_784, 1e12, -1e12, 10**30]),
    "hours_since": st.builds(
        lambda d, h, e: d * 24 + h + e,
        st.sampled_from(DAY_OFFSETS),
        st.sampled_from([0, -1, 1, 12]),
        st.sampled_from([-1, 0, 1]),
    )
    | st.sampled_from([0.5, 1e15, -1e15]),
}
LITERALS["days_until"] = LITERALS["days_since"].map(lambda n: -n)
NEEDLES = st.sampled_from(["", "杭", "州", "a", "ap", "Ha", "gold", "o", "-30", "é"])
ELAPSED = ["days_since", "days_until", "hours_since"]


def _kind(value: Json) -> str:
    return "bool" if isinstance(value, bool) else type(value).__name__.replace("float", "int")


def field_names(scopes: Collection[str]) -> dict[FieldType, list[str]]:
    by_type: dict[FieldType, list[str]] = {}
    for field in TEST_CATALOGUE.fields:
        if field.scope in scopes:
            by_type.setdefault(field.type, []).append(field.name)
    if "member" in scopes:
        by_type[T.JSON] = [f"member.attributes.{k}" for k in [*ATTRIBUTE_KEYS, "absent"]]
    return by_type


def var(name: str, type_: FieldType) -> st.SearchStrategy[Json]:
    plain = st.just({"var": name})
    if type_ == T.TAGS:
        return plain
    return plain | LITERALS[type_].map(lambda default: {"var": [name, default]})


class Grammar:
    """The strategies for one set of scopes, built once (building them per draw is slow)."""

    def __init__(self, scopes: Collection[str]) -> None:
        self.fields = fields = field_names(scopes)
        self.vars = {t: st.one_of(*(var(n, t) for n in names)) for t, names in fields.items()}
        elapsed = st.tuples(st.sampled_from(ELAPSED), self.vars[T.DATETIME]).map(
            lambda pair: ({pair[0]: pair[1]}, pair[0])
        )
        typed = [self.vars[t].map(lambda v, t=t: (v, t)) for t in fields if t != T.TAGS]
        self.subjects: st.SearchStrategy[tuple[Json, Any]] = st.one_of(
            *typed, elapsed, elapsed, elapsed
        )
        spans = elapsed.map(lambda pair: pair[0])
        counts = st.one_of(self.vars[T.INT], spans, spans)
        self.partners = {t: self.vars[t] for t in fields if t not in (T.TAGS, T.JSON)}
        self.partners.update({T.INT: counts, **dict.fromkeys(ELAPSED, counts)})
        self.texts = st.one_of(self.vars[T.TEXT], self.vars.get(T.JSON, st.nothing()))
        self.bools = [{"var": n} for n in fields.get(T.BOOL, [])]


@st.composite
def comparisons(draw: st.DrawFn, grammar: Grammar) -> Json:
    subject, key = draw(grammar.subjects)
    literal = draw(LITERALS[key])
    is_bool = key == T.BOOL or isinstance(literal, bool)
    op = draw(st.sampled_from(["==", "!="] if is_bool else ["==", "!=", "<", "<=", ">", ">="]))
    if op in ("<", "<=") and draw(st.booleans()):
        same_kind = LITERALS[key].filter(lambda v: _kind(v) == _kind(literal))
        return {op: [literal, subject, draw(same_kind)]}
    choice = draw(st.integers(0, 9))
    if choice == 0:
        other: Json = None if op in ("==", "!=") else literal
    elif choice in (1, 2) and key in grammar.partners:
        other = draw(grammar.partners[key])
    else:
        other = literal
    return {op: [other, subject] if draw(st.booleans()) else [subject, other]}


@st.composite
def memberships(draw: st.DrawFn, grammar: Grammar) -> Json:
    kind = draw(st.sampled_from(["list", "list", "tag", "tags", "contains", "null", "bool"]))
    if kind == "list":
        subject, key = draw(grammar.subjects)
        return {"in": [subject, draw(st.lists(LITERALS[key], max_size=4))]}
    if kind in ("tag", "tags"):
        name = draw(st.sampled_from(grammar.fields[T.TAGS]))
        tags = st.sampled_from(TAGS + SKUS)
        if kind == "tag":
            return {"in": [draw(tags), {"var": name}]}
        return {"in": [{"var": name}, draw(st.lists(tags, max_size=3))]}
    if kind == "contains":
        return {"in": [draw(NEEDLES), draw(grammar.texts)]}
    if kind == "null":
        subject, _ = draw(grammar.subjects)
        return {draw(st.sampled_from(["==", "!="])): draw(st.permutations([subject, None]))}
    return draw(st.sampled_from(grammar.bools)) if grammar.bools else True


def conditions(scopes: Collection[str], depth: int = 4) -> st.SearchStrategy[Json]:
    grammar = Grammar(scopes)
    leaf = st.one_of(
        comparisons(grammar), comparisons(grammar), memberships(grammar), st.booleans()
    )
    tree = leaf
    for _ in range(depth):
        sub = tree
        tree = st.one_of(
            leaf,
            sub.map(lambda c: {"!": c}),
            st.lists(sub, min_size=1, max_size=3).map(lambda cs: {"and": cs}),
            st.lists(sub, min_size=1, max_size=3).map(lambda cs: {"or": cs}),
        )
    return tree
