"""JSON condition to typed tree, collecting every error with its location (see `conditions`)."""

from __future__ import annotations

import itertools
from collections.abc import Collection, Sequence
from typing import Any

from service.journeys.condition_operands import (
    ELAPSED_OPS,
    Loc,
    OperandParser,
    RawLit,
    RawOperand,
    describe,
    json_kind,
    type_name,
)
from service.journeys.condition_tree import (
    COMPARE,
    DOMAIN_OF,
    AllOf,
    AnyOf,
    Compare,
    ConditionError,
    Const,
    Contains,
    Domain,
    Elapsed,
    HasAnyTag,
    InvalidCondition,
    InValues,
    IsNull,
    Lit,
    Node,
    Not,
    Operand,
    Ref,
    compare_values,
)
from service.journeys.fields import CATALOGUE, Field, FieldCatalogue, FieldType

ORDERING = frozenset({"<", "<=", ">", ">="})


def parse_condition(
    condition: Any,
    *,
    scopes: Collection[str] | None = None,
    catalogue: FieldCatalogue = CATALOGUE,
    loc: Sequence[str | int] = (),
) -> Node:
    """The typed tree, or InvalidCondition with every error; scopes=None skips the scope check."""
    parser = _Parser(catalogue, scopes)
    node = parser.condition(condition, tuple(loc))
    if parser.errors or node is None:
        raise InvalidCondition(parser.errors)
    return node


def condition_errors(
    condition: Any,
    *,
    scopes: Collection[str] | None,
    catalogue: FieldCatalogue = CATALOGUE,
    loc: Sequence[str | int] = (),
) -> list[ConditionError]:
    parser = _Parser(catalogue, scopes)
    parser.condition(condition, tuple(loc))
    return parser.errors


class _Parser(OperandParser):
    def condition(self, node: Any, loc: Loc) -> Node | None:
        if isinstance(node, bool):
            return Const(node)
        if not isinstance(node, dict):
            got = describe(node)
            self.fail(
                loc, f"expected a condition (an object with one operator, or true), got {got}"
            )
            return None
        if (pair := self.single(node, loc)) is None:
            return None
        op, args = pair
        if op in ("and", "or"):
            return self.connective(op, args, loc)
        if op == "!":
            return self.negation(args, loc)
        if op in COMPARE:
            return self.comparison(op, args, loc)
        if op == "in":
            return self.membership(args, (*loc, "in"))
        if op == "var":
            return self.bare_var(args, (*loc, "var"))
        if op in ELAPSED_OPS:
            self.fail((*loc, op), f'{op} is a number, not a condition: compare it, e.g. with ">="')
        else:
            self.fail((*loc, op), f'unknown operator "{op}"')
        return None

    def connective(self, op: str, args: Any, loc: Loc) -> Node | None:
        if not isinstance(args, list) or not args:
            self.fail((*loc, op), f'"{op}" takes a list of at least 1 condition')
            return None
        items = [self.condition(arg, (*loc, op, i)) for i, arg in enumerate(args)]
        if any(item is None for item in items):
            return None
        kept = tuple(item for item in items if item is not None)
        return AllOf(kept) if op == "and" else AnyOf(kept)

    def negation(self, args: Any, loc: Loc) -> Node | None:
        if isinstance(args, list) and len(args) != 1:
            self.fail((*loc, "!"), '"!" takes 1 argument')
            return None
        arg, at = (args[0], (*loc, "!", 0)) if isinstance(args, list) else (args, (*loc, "!"))
        inner = self.condition(arg, at)
        return None if inner is None else Not(inner)

    def comparison(self, op: str, args: Any, loc: Loc) -> Node | None:
        at = (*loc, op)
        counts = (2, 3) if op in ("<", "<=") else (2,)
        if not isinstance(args, list) or len(args) not in counts:
            self.fail(at, f'"{op}" takes {" or ".join(map(str, counts))} arguments')
            return None
        parsed = [self.operand(arg, (*at, i)) for i, arg in enumerate(args)]
        operands = [o for o in parsed if o is not None]
        if len(operands) != len(args):
            return None
        if any(isinstance(o, RawLit) and o.value is None for o in operands):
            if op not in ("==", "!=") or len(operands) == 3:
                self.fail(at, 'null can only be compared with "==" or "!="')
                return None
            return self.null_test(op, operands, at)
        if (typed := self.typed(op, operands, at)) is None:
            return None
        domain, values = typed
        nodes = [_fold(Compare(op, a, b, domain)) for a, b in itertools.pairwise(values)]
        return nodes[0] if len(nodes) == 1 else AllOf(tuple(nodes))

    def null_test(self, op: str, operands: list[RawOperand], at: Loc) -> Node | None:
        first, second = operands
        other = second if isinstance(first, RawLit) and first.value is None else first
        if isinstance(other, RawLit):
            return Const((op == "==") == (other.value is None))
        ref = other.ref if isinstance(other, Elapsed) else other
        if ref.field.type == FieldType.TAGS:
            self.fail(at, f'{ref.field.name} is a list of tags, never null: test a tag with "in"')
            return None
        if ref.default is not None:
            return Const(op == "!=")
        return IsNull(other) if op == "==" else Not(IsNull(other))

    def typed(
        self, op: str, operands: list[RawOperand], at: Loc
    ) -> tuple[Domain, list[Operand]] | None:
        """One domain for all operands, and the literals converted into it."""
        fields = [o for o in operands if not isinstance(o, RawLit)]
        lits = [o for o in operands if isinstance(o, RawLit)]
        if any(o.field.type == FieldType.TAGS for o in fields if isinstance(o, Ref)):
            tags = next(o.field.name for o in fields if isinstance(o, Ref))
            self.fail(
                at, f'{tags} holds tags: test one with {{"in": ["vip", {{"var": "{tags}"}}]}}'
            )
            return None
        types = {type_name(o) for o in fields}
        if "json" in types and len(fields) > 1:
            self.fail(at, f"{_json_name(fields)} compares only with literals")
            return None
        if not fields or "json" in types:
            kinds = sorted({json_kind(o.value) for o in lits}, key=["number", "text", "bool"].index)
            if len(kinds) > 1:
                self.fail(lits[-1].loc, f"cannot compare {kinds[0]} with {kinds[1]}")
                return None
            domain = {"number": Domain.NUMBER, "text": Domain.TEXT, "bool": Domain.BOOL}[kinds[0]]
        elif len(types) > 1:
            first, second = (type_name(o) for o in fields[:2])
            self.fail(at, f"cannot compare {first} with {second}")
            return None
        else:
            domain = DOMAIN_OF[FieldType(types.pop())]
        if domain == Domain.BOOL and op in ORDERING:
            self.fail(at, f'"{op}" cannot order bool values')
            return None
        against = type_name(fields[0]) if fields else domain.value
        converted = [
            self.literal(o, domain, against) if isinstance(o, RawLit) else o for o in operands
        ]
        if any(c is None for c in converted):
            return None
        return domain, [c for c in converted if c is not None]

    def bare_var(self, args: Any, loc: Loc) -> Node | None:
        if (ref := self.var(args, loc)) is None:
            return None
        if ref.field.type == FieldType.BOOL:
            return Compare("==", ref, Lit(True), Domain.BOOL)
        self.fail(loc, f"{ref.field.name} is {ref.field.type}, not a condition: compare it")
        return None

    def membership(self, args: Any, at: Loc) -> Node | None:
        if not isinstance(args, list) or len(args) != 2:
            self.fail(at, '"in" takes 2 arguments')
            return None
        needle, haystack = args
        if isinstance(haystack, list):
            return self.in_list(needle, haystack, at)
        if isinstance(haystack, dict) and list(haystack) == ["var"]:
            return self.in_field(needle, haystack["var"], at)
        self.fail((*at, 1), '"in" looks in a list of values, a tags field or a text field')
        return None

    def in_list(self, needle: Any, values: list[Any], at: Loc) -> Node | None:
        subject = self.operand(needle, (*at, 0))
        if isinstance(subject, Ref) and subject.field.type == FieldType.TAGS:
            return self.tags_any(subject.field, values, (*at, 1))
        raws = [self.list_value(v, (*at, 1, i)) for i, v in enumerate(values)]
        if subject is None or any(r is None for r in raws):
            return None
        checked = [self.typed("==", [subject, r], at) for r in raws if r is not None]
        if any(c is None for c in checked):
            return None
        tests = [_fold(Compare("==", a, b, d)) for d, (a, b) in (c for c in checked if c)]
        if isinstance(subject, RawLit):
            return Const(Const(True) in tests)
        by_domain: dict[Domain, list[Any]] = {}
        for test in tests:
            assert isinstance(test, Compare)
            assert isinstance(test.right, Lit)
            by_domain.setdefault(test.domain, []).append(test.right.value)
        nodes = [InValues(subject, tuple(vs), d) for d, vs in by_domain.items()]
        return nodes[0] if len(nodes) == 1 else (AnyOf(tuple(nodes)) if nodes else Const(False))

    def list_value(self, value: Any, loc: Loc) -> RawLit | None:
        if value is None:
            self.fail(loc, 'null cannot be in a list: test it with {"==": [x, null]}')
        elif isinstance(value, list | dict):
            self.fail(loc, f"a list of values holds literals only, got {describe(value)}")
        else:
            return RawLit(value, loc)
        return None

    def tags_any(self, field: Field, values: list[Any], at: Loc) -> Node | None:
        bad = [(i, v) for i, v in enumerate(values) if not isinstance(v, str)]
        for i, v in bad:
            self.fail((*at, i), f"a tag is text, got {describe(v)}")
        if bad:
            return None
        return HasAnyTag(field, tuple(values)) if values else Const(False)

    def in_field(self, needle: Any, var: Any, at: Loc) -> Node | None:
        if (ref := self.var(var, (*at, 1, "var"))) is None:
            return None
        if ref.field.type not in (FieldType.TAGS, FieldType.TEXT, FieldType.JSON):
            self.fail(
                (*at, 1), f'"in" looks in tags or text, and {ref.field.name} is {ref.field.type}'
            )
            return None
        if not isinstance(needle, str):
            what = "a tag" if ref.field.type == FieldType.TAGS else "the text to find"
            self.fail((*at, 0), f"{what} must be a text literal, got {describe(needle)}")
            return None
        if ref.field.type == FieldType.TAGS:
            return HasAnyTag(ref.field, (needle,))
        return Contains(ref, needle)


def _json_name(fields: list[Ref | Elapsed]) -> str:
    return next(
        o.field.name for o in fields if isinstance(o, Ref) and o.field.type == FieldType.JSON
    )


def _fold(node: Compare) -> Node:
    """A comparison of two literals is decided now."""
    if isinstance(node.left, Lit) and isinstance(node.right, Lit):
        return Const(compare_values(node.op, node.left.value, node.right.value))
    return node
