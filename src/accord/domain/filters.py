"""Filter expressions of the REST API: one grammar, written as text or as JSON.

    filter=org_name eq 'Acme' and (org_type in ('Lead','Client') or org_www contains 'acme')

Operators: eq ne lt le gt ge contains icontains startswith, in (...), is null, is not
null; combined with and, or, not and parentheses (not binds tightest, then and, then
or). Values: 'text' (a quote doubled inside), numbers, true, false. Keywords are
case-insensitive. A syntax error names the position (0-based) where it was found.

Both forms are bounded alike: 32 levels of nesting (each parenthesis, `not` or JSON
combinator is one), 200 comparisons, 1000 values, numbers within 1e-100..1e100 in size.
"""

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from accord.domain.errors import AccordError, Family, InvalidQuery
from accord.domain.text import printable

COMPARISONS = ("eq", "ne", "lt", "le", "gt", "ge", "contains", "icontains", "startswith")
MAX_DEPTH = 32
MAX_TERMS = 200
MAX_VALUES = 1000
"""Values a filter may write in all, `in` lists included: each becomes a parameter of one
SQL statement, and PostgreSQL refuses a statement with more than 65,535."""
MAX_EXPONENT = 100
"""How far from 1 a number in a filter may be (`1e100`), so that none spells out as
thousands of digits (turning a million digits into an id took 30 s of CPU)."""
SIZED = f"a number between 1e-{MAX_EXPONENT} and 1e{MAX_EXPONENT} in size"

Literal = str | Decimal | bool


def shown(value: Literal) -> str:
    """A literal as the filter grammar writes it (`'Acme'`, `10.5`, `true`), as messages
    show text (undecodable bytes as U+FFFD, a long value cut)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    return "'" + printable(value).replace("'", "''") + "'"


class FilterSyntaxError(AccordError):
    code = "filter_syntax"
    family = Family.MALFORMED

    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"{message} at position {position}")
        self.position = position


@dataclass(frozen=True, slots=True)
class Compare:
    field: str
    op: str
    value: Literal


@dataclass(frozen=True, slots=True)
class OneOf:
    field: str
    values: tuple[Literal, ...]


@dataclass(frozen=True, slots=True)
class IsNull:
    field: str
    negated: bool = False


@dataclass(frozen=True, slots=True)
class AllOf:
    items: tuple["Filter", ...]


@dataclass(frozen=True, slots=True)
class AnyOf:
    items: tuple["Filter", ...]


@dataclass(frozen=True, slots=True)
class Not:
    item: "Filter"


Filter = Compare | OneOf | IsNull | AllOf | AnyOf | Not

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>'(?:[^']|'')*')
      | (?P<number>[+-]?\d+(?:\.\d+)?(?![\w.]))
      | (?P<punct>[(),])
      | (?P<word>[A-Za-z_][A-Za-z0-9_\-]*)
    )""",
    re.VERBOSE,
)


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str
    text: str
    position: int

    @property
    def keyword(self) -> str:
        return self.text.lower() if self.kind == "word" else ""


def _tokens(text: str) -> list[_Token]:
    tokens, position = [], 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKEN.match(text, position)
        if match is None or match.lastgroup is None:
            start = position + len(text[position:]) - len(text[position:].lstrip())
            if text[start] == "'":
                raise FilterSyntaxError("Unterminated string", start)
            raise FilterSyntaxError(f"Unexpected character {text[start]!r}", start)
        kind = match.lastgroup
        tokens.append(_Token(kind, match.group(kind), match.start(kind)))
        position = match.end()
    tokens.append(_Token("end", "", len(text)))
    return tokens


def parse_filter(text: str) -> Filter:
    """The filter `text` writes; FilterSyntaxError pointing at the first mistake."""
    parser = _Parser(_tokens(text))
    result = parser.expression(0)
    parser.expect_end()
    return result


class _Parser:
    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.index = 0
        self.terms = 0
        self.values = 0

    @property
    def current(self) -> _Token:
        return self.tokens[self.index]

    def advance(self) -> _Token:
        token = self.current
        self.index += 1
        return token

    def expect_end(self) -> None:
        if self.current.kind != "end":
            raise FilterSyntaxError(f"Unexpected {self.current.text!r}", self.current.position)

    def nest(self, depth: int) -> None:
        """Refuse to go `depth` levels deep (parentheses and `not` alike): each level is a
        frame of this parser's recursion and of every walk over the filter after it."""
        if depth > MAX_DEPTH:
            raise FilterSyntaxError("Too deeply nested", self.current.position)

    def expression(self, depth: int) -> Filter:
        self.nest(depth)
        items = [self.conjunction(depth)]
        while self.current.keyword == "or":
            self.advance()
            items.append(self.conjunction(depth))
        return items[0] if len(items) == 1 else AnyOf(tuple(items))

    def conjunction(self, depth: int) -> Filter:
        items = [self.negation(depth)]
        while self.current.keyword == "and":
            self.advance()
            items.append(self.negation(depth))
        return items[0] if len(items) == 1 else AllOf(tuple(items))

    def negation(self, depth: int) -> Filter:
        if self.current.keyword == "not":
            self.nest(depth + 1)
            self.advance()
            return Not(self.negation(depth + 1))
        if self.current.text == "(":
            self.advance()
            inner = self.expression(depth + 1)
            self.punct(")")
            return inner
        return self.comparison()

    def punct(self, wanted: str) -> None:
        if self.current.text != wanted or self.current.kind != "punct":
            raise FilterSyntaxError(f"Expected {wanted!r}", self.current.position)
        self.advance()

    def comparison(self) -> Filter:
        self.terms += 1
        if self.terms > MAX_TERMS:
            raise FilterSyntaxError(f"More than {MAX_TERMS} comparisons", self.current.position)
        field = self.current
        if field.kind != "word" or field.keyword in ("and", "or", "not", "in", "is"):
            raise FilterSyntaxError("Expected a field name", field.position)
        self.advance()
        operator = self.current
        if operator.keyword == "is":
            self.advance()
            negated = self.current.keyword == "not"
            if negated:
                self.advance()
            if self.current.keyword != "null":
                raise FilterSyntaxError("Expected 'null'", self.current.position)
            self.advance()
            return IsNull(field.text, negated)
        if operator.keyword == "in":
            self.advance()
            return OneOf(field.text, self.value_list())
        if operator.keyword not in COMPARISONS:
            raise FilterSyntaxError(
                f"Expected an operator ({', '.join(COMPARISONS)}, in, is)", operator.position
            )
        self.advance()
        return Compare(field.text, operator.keyword, self.value())

    def value_list(self) -> tuple[Literal, ...]:
        self.punct("(")
        values = [self.value()]
        while self.current.text == ",":
            self.advance()
            values.append(self.value())
        self.punct(")")
        return tuple(values)

    def value(self) -> Literal:
        token = self.current
        self.values += 1
        if self.values > MAX_VALUES:
            raise FilterSyntaxError(f"More than {MAX_VALUES} values", token.position)
        if token.kind == "string":
            self.advance()
            return token.text[1:-1].replace("''", "'")
        if token.kind == "number":
            number = Decimal(token.text)
            if not _sized(number):
                raise FilterSyntaxError(f"Expected {SIZED}", token.position)
            self.advance()
            return number
        if token.keyword in ("true", "false"):
            self.advance()
            return token.keyword == "true"
        raise FilterSyntaxError(
            "Expected a value ('text', a number, true or false)", token.position
        )


# The JSON form, for the search endpoint:
#   {"and": [...]}, {"or": [...]}, {"not": {...}},
#   {"field": "org_name", "op": "eq", "value": "Acme"},
#   {"field": "org_type", "op": "in", "value": ["Lead", "Client"]},
#   {"field": "org_www", "op": "is_null"} / {"field": "org_www", "op": "is_not_null"}
# Numbers compare by exact value: a reader that keeps every digit (the API's) gives
# fractions as Decimal (`10.5`, `1e3`), which never go through a float.


def filter_from_json(data: Any) -> Filter:
    """The filter a JSON object describes; errors name the path of the bad part."""
    node = _from_json(data, "filter", 0)
    comparisons = _comparisons(node)
    if len(comparisons) > MAX_TERMS:
        raise InvalidQuery(f"filter: more than {MAX_TERMS} comparisons")
    if sum(map(_value_count, comparisons)) > MAX_VALUES:
        raise InvalidQuery(f"filter: more than {MAX_VALUES} values")
    return node


def _from_json(data: Any, path: str, depth: int) -> Filter:
    if depth > MAX_DEPTH:
        raise InvalidQuery(f"{path}: too deeply nested")
    if not isinstance(data, dict):
        raise InvalidQuery(f"{path}: expected an object")
    for combinator, build in (("and", AllOf), ("or", AnyOf)):
        if combinator in data:
            items = data[combinator]
            if len(data) != 1 or not isinstance(items, list) or not items:
                raise InvalidQuery(f"{path}.{combinator}: expected a non-empty list, alone")
            return build(
                tuple(
                    _from_json(item, f"{path}.{combinator}[{i}]", depth + 1)
                    for i, item in enumerate(items)
                )
            )
    if "not" in data:
        if len(data) != 1:
            raise InvalidQuery(f"{path}.not: expected alone")
        return Not(_from_json(data["not"], f"{path}.not", depth + 1))
    return _json_comparison(data, path)


def _json_comparison(data: dict[str, Any], path: str) -> Filter:
    field, op = data.get("field"), data.get("op")
    if not isinstance(field, str) or not isinstance(op, str):
        raise InvalidQuery(f"{path}: expected 'field' and 'op' (or 'and', 'or', 'not')")
    extra = set(data) - {"field", "op", "value"}
    if extra:
        raise InvalidQuery(f"{path}: unknown keys {sorted(extra)}")
    if op in ("is_null", "is_not_null"):
        return IsNull(field, negated=op == "is_not_null")
    if op == "in":
        values = data.get("value")
        if not isinstance(values, list) or not values:
            raise InvalidQuery(f"{path}.value: expected a non-empty list")
        return OneOf(field, tuple(_json_literal(v, f"{path}.value") for v in values))
    if op not in COMPARISONS:
        raise InvalidQuery(f"{path}.op: unknown operator {op!r}")
    return Compare(field, op, _json_literal(data.get("value"), f"{path}.value"))


def _json_literal(value: Any, path: str) -> Literal:
    if isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, Decimal | float):
        # A Decimal as an exact JSON reader gives it; a float's shortest repr otherwise
        return _plain_number(value if isinstance(value, Decimal) else Decimal(repr(value)), path)
    raise InvalidQuery(f"{path}: expected a string, a number or a boolean")


def _plain_number(number: Decimal, path: str) -> Decimal:
    """`number` in plain digits, as the text grammar writes numbers (`1e3` is 1000)."""
    if number.is_zero():
        return Decimal(0)
    if not _sized(number):
        raise InvalidQuery(f"{path}: expected {SIZED}")
    return Decimal(format(number, "f"))


def _sized(number: Decimal) -> bool:
    if number.is_zero():
        return True
    return number.is_finite() and abs(number.adjusted()) <= MAX_EXPONENT


def _comparisons(node: Filter) -> list[Compare | OneOf | IsNull]:
    if isinstance(node, AllOf | AnyOf):
        return [c for item in node.items for c in _comparisons(item)]
    if isinstance(node, Not):
        return _comparisons(node.item)
    return [node]


def _value_count(node: Compare | OneOf | IsNull) -> int:
    if isinstance(node, OneOf):
        return len(node.values)
    return 1 if isinstance(node, Compare) else 0


def fields_named(node: Filter) -> set[str]:
    """Every field name a filter mentions."""
    return {c.field for c in _comparisons(node)}
