from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from accord.domain.errors import AccordError
from accord.domain.filters import (
    AllOf,
    AnyOf,
    Compare,
    FilterSyntaxError,
    IsNull,
    Not,
    OneOf,
    fields_named,
    filter_from_json,
    parse_filter,
    shown,
)


def test_the_issues_example_parses_with_and_binding_tighter_than_or() -> None:
    parsed = parse_filter(
        "org_name eq 'Acme' and (org_type in ('Lead','Client') or org_www contains 'acme')"
    )
    assert parsed == AllOf(
        (
            Compare("org_name", "eq", "Acme"),
            AnyOf((OneOf("org_type", ("Lead", "Client")), Compare("org_www", "contains", "acme"))),
        )
    )
    assert parse_filter("a eq 1 or b eq 2 and c eq 3") == AnyOf(
        (
            Compare("a", "eq", Decimal(1)),
            AllOf((Compare("b", "eq", Decimal(2)), Compare("c", "eq", Decimal(3)))),
        )
    )


def test_values_keywords_and_null_tests() -> None:
    assert parse_filter("x EQ 'it''s'") == Compare("x", "eq", "it's")
    assert parse_filter("x ge -10.5") == Compare("x", "ge", Decimal("-10.5"))
    assert parse_filter("x eq TRUE") == Compare("x", "eq", True)
    assert parse_filter("not x is null") == Not(IsNull("x"))
    assert parse_filter("x is not null") == IsNull("x", negated=True)
    assert parse_filter("clients_field_ab-12 startswith 'q'") == Compare(
        "clients_field_ab-12", "startswith", "q"
    )


@pytest.mark.parametrize(
    ("text", "position", "message"),
    [
        ("org_name eq", 11, "Expected a value"),
        ("org_name eq 'x", 12, "Unterminated string"),
        ("(a eq 1", 7, "Expected ')'"),
        ("a foo 1", 2, "Expected an operator"),
        ("a eq 1 b", 7, "Unexpected 'b'"),
        ("a eq 'x' and", 12, "Expected a field name"),
        ("a in ()", 6, "Expected a value"),
        ("a is nul", 5, "Expected 'null'"),
        ("a eq @", 5, "Unexpected character"),
        ("", 0, "Expected a field name"),
    ],
)
def test_syntax_errors_point_at_the_position(text: str, position: int, message: str) -> None:
    with pytest.raises(FilterSyntaxError) as error:
        parse_filter(text)
    assert error.value.position == position
    assert error.value.message.startswith(message)
    assert error.value.message.endswith(f"at position {position}")


def test_nesting_and_size_are_bounded() -> None:
    with pytest.raises(FilterSyntaxError, match="nested"):
        parse_filter("(" * 40 + "a eq 1" + ")" * 40)
    with pytest.raises(FilterSyntaxError, match="comparisons"):
        parse_filter(" or ".join(["a eq 1"] * 201))


def test_not_counts_towards_the_nesting_limit_as_parentheses_do() -> None:
    assert fields_named(parse_filter("not " * 32 + "a eq 1")) == {"a"}
    assert parse_filter("(" * 32 + "a eq 1" + ")" * 32) == parse_filter("a eq 1")
    for text in ("not " * 33 + "a eq 1", "not " * 5000 + "a eq 1"):
        with pytest.raises(FilterSyntaxError, match="Too deeply nested") as error:
            parse_filter(text)
        assert error.value.position == 4 * 32  # the 33rd `not`
    with pytest.raises(FilterSyntaxError, match="Too deeply nested"):
        parse_filter("not (" * 17 + "a eq 1" + ")" * 17)


def test_values_and_numbers_are_bounded() -> None:
    assert parse_filter("a in (" + ", ".join(["1"] * 1000) + ")") == OneOf(
        "a", (Decimal(1),) * 1000
    )
    with pytest.raises(FilterSyntaxError, match="More than 1000 values") as error:
        parse_filter("a in (" + ", ".join(["1"] * 1000) + ", 2)")
    assert error.value.position == 6 + 3 * 1000
    with pytest.raises(FilterSyntaxError, match="More than 1000 values"):
        parse_filter(" or ".join(["a in (" + ", ".join(["1"] * 100) + ")"] * 11))
    assert parse_filter("a eq 1" + "0" * 100) == Compare("a", "eq", Decimal(10**100))
    for number in ("1" + "0" * 101, "-" + "9" * 1_000_000, "0." + "0" * 100 + "1"):
        with pytest.raises(FilterSyntaxError, match="between 1e-100 and 1e100") as error:
            parse_filter(f"a eq {number}")
        assert error.value.position == 5


def nested_json(depth: int, combinator: str) -> object:
    node: object = {"field": "a", "op": "eq", "value": 1}
    for _ in range(depth):
        node = {combinator: node if combinator == "not" else [node]}
    return node


@pytest.mark.parametrize("combinator", ["not", "and", "or"])
def test_json_nesting_is_bounded_as_text_nesting_is(combinator: str) -> None:
    assert fields_named(filter_from_json(nested_json(32, combinator))) == {"a"}
    with pytest.raises(AccordError, match=r"^filter\.(not|and\[0\]|or\[0\]).*: too deeply"):
        filter_from_json(nested_json(33, combinator))


def test_json_comparisons_and_values_are_bounded_as_text_ones_are() -> None:
    one = {"field": "a", "op": "eq", "value": 1}
    assert filter_from_json({"or": [one] * 200}) == AnyOf((Compare("a", "eq", Decimal(1)),) * 200)
    with pytest.raises(AccordError, match=r"^filter: more than 200 comparisons$"):
        filter_from_json({"or": [one] * 201})
    many = {"field": "a", "op": "in", "value": list(range(500))}
    assert filter_from_json({"and": [many, many]})
    with pytest.raises(AccordError, match=r"^filter: more than 1000 values$"):
        filter_from_json({"and": [many, many, one]})
    nulls = [{"field": "a", "op": "is_null"}] * 198  # a null test holds no value
    assert filter_from_json({"or": [many, many, *nulls]})


def test_a_value_is_shown_as_messages_show_text() -> None:
    assert shown("it's") == "'it''s'"
    assert shown("\ud800x") == "'\ufffdx'"  # no reply can carry a lone surrogate
    assert shown("y" * 300) == "'" + "y" * 200 + "…'"


@given(st.text(max_size=60))
def test_arbitrary_text_parses_or_fails_with_a_syntax_error(text: str) -> None:
    try:
        parse_filter(text)
    except FilterSyntaxError as error:
        position = error.position
    else:
        return
    assert 0 <= position <= len(text)


def test_the_json_form_means_the_same() -> None:
    text = parse_filter("org_name eq 'Acme' and not (org_type in ('Lead') or org_www is null)")
    data = {
        "and": [
            {"field": "org_name", "op": "eq", "value": "Acme"},
            {
                "not": {
                    "or": [
                        {"field": "org_type", "op": "in", "value": ["Lead"]},
                        {"field": "org_www", "op": "is_null"},
                    ]
                }
            },
        ]
    }
    assert filter_from_json(data) == text
    assert fields_named(text) == {"org_name", "org_type", "org_www"}


def json_value(value: object) -> object:
    """The literal a JSON comparison's value becomes."""
    compared = filter_from_json({"field": "a", "op": "eq", "value": value})
    assert isinstance(compared, Compare)
    return compared.value


def test_json_numbers_are_exact_decimals_in_plain_digits() -> None:
    # An exact JSON reader gives fractions and exponents as Decimal, an ordinary one floats
    assert json_value(Decimal("10.50")) == Decimal("10.5")
    assert str(json_value(Decimal("1E+3"))) == "1000"
    assert str(json_value(Decimal("1.5E-3"))) == "0.0015"
    assert str(json_value(Decimal("-0E+5"))) == "0"
    assert str(json_value(Decimal("12345678901234567890.5"))) == "12345678901234567890.5"
    assert json_value(10.5) == Decimal("10.5")
    assert json_value(0.1) == Decimal("0.1")  # the float's shortest form, not its binary value
    assert json_value(7) == Decimal(7)
    assert filter_from_json({"field": "a", "op": "in", "value": [Decimal("2.5"), 1]}) == OneOf(
        "a", (Decimal("2.5"), Decimal(1))
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"field": "a", "op": "eq", "value": Decimal("1E+101")}, "filter.value: expected a number"),
        ({"field": "a", "op": "in", "value": [Decimal("1E-101")]}, "between 1e-100 and 1e100"),
        ({"field": "a", "op": "eq", "value": float("inf")}, "filter.value: expected a number"),
        ({"field": "a", "op": "eq", "value": float("nan")}, "filter.value: expected a number"),
        ([], "filter: expected an object"),
        ({"and": []}, "filter.and: expected a non-empty list"),
        ({"field": "a"}, "expected 'field' and 'op'"),
        ({"field": "a", "op": "like", "value": "x"}, "unknown operator"),
        ({"field": "a", "op": "eq", "value": [1]}, "filter.value: expected a string"),
        ({"field": "a", "op": "in", "value": []}, "expected a non-empty list"),
        ({"field": "a", "op": "eq", "value": 1, "x": 2}, "unknown keys"),
        ({"or": [{"field": "a", "op": "eq"}]}, "filter.or[0].value"),
    ],
)
def test_json_errors_name_the_bad_part(data: object, message: str) -> None:
    with pytest.raises(AccordError, match=message.replace("[", r"\[").replace(".", r"\.")):
        filter_from_json(data)
