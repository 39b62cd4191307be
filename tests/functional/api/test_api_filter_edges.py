"""Filters at the edges of what they can say: ids far outside the range any entry has,
moments that do not exist in UTC, nesting and sizes past the limits, cursors moved where
no entry can be, text no value can hold, and fractions where a dictionary wants a value
id. Each is answered alike on every database: what mathematics says, or a 400 that names
the problem; never a 500."""

import base64
import json
from typing import Any

import pytest

from tests.functional.api_support import Api, problem
from tests.support import read_only_db, read_only_demo_url, read_only_server

SHARED = (read_only_demo_url, read_only_db, read_only_server)
"""Every test here only reads (searches and listings): they share one demo database and
one server."""
COMPANIES = "/companies"
JSON = {"content-type": "application/json"}
EVERY = "every"
"""Expected: every company."""


def ids(api: Api, **params: Any) -> list[int]:
    """The ids of every company a listing returns, page after page."""
    return [item["id"] for item in api.items(COMPANIES, **params)]


def searched(api: Api, body: str) -> Any:
    """A search's reply, for a body written as JSON text (escapes and numbers as written)."""
    return api.post(f"{COMPANIES}/search", content=body, headers=JSON)


def found(api: Api, body: str) -> list[int]:
    response = searched(api, body)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


# Ids: no entry has one outside 1..2^31-1, so any integer compares as mathematics says


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("id eq 99999999999999999999", []),
        ("id eq 2147483648", []),
        ("id eq 9223372036854775808", []),
        ("id eq 0", []),
        ("id eq -5000000000", []),
        ("id ne 5000000000", EVERY),
        ("id ne -1", EVERY),
        ("id in (1, 9223372036854775808)", [1]),
        ("id in (-1, 2147483648, 3, 99999999999999999999)", [3]),
        ("id in (0, 2147483648)", []),
        ("id gt -5000000000", EVERY),
        ("id ge 0", EVERY),
        ("id gt 2147483647", []),
        ("id ge 2147483648", []),
        ("id gt 99999999999999999999", []),
        ("id lt 5000000000", EVERY),
        ("id le 2147483648", EVERY),
        ("id lt 0", []),
        ("id le -99999999999999999999", []),
        ("not id eq 2147483648", EVERY),
        ("id gt 2 and id lt 9223372036854775808", "above 2"),
    ],
)
def test_an_id_filter_with_any_integer_finds_what_mathematics_says(
    api: Api, expression: str, expected: Any
):
    every = ids(api)
    if expected == EVERY:
        expected = every
    elif expected == "above 2":
        expected = [i for i in every if i > 2]
    assert ids(api, filter=expression) == expected


@pytest.mark.parametrize(
    ("json_filter", "expected"),
    [
        ({"field": "id", "op": "gt", "value": -5000000000}, EVERY),
        ({"field": "id", "op": "eq", "value": 5000000000}, []),
        ({"field": "id", "op": "lt", "value": 10**30}, EVERY),
        ({"field": "id", "op": "in", "value": [2, 2**63, -(2**63) - 1]}, [2]),
    ],
)
def test_a_json_id_filter_with_any_integer_finds_what_mathematics_says(
    api: Api, json_filter: Any, expected: Any
):
    wanted = ids(api) if expected == EVERY else expected
    assert found(api, json.dumps({"filter": json_filter, "limit": 1000})) == wanted


# Moments: those that exist in UTC compare; the others are refused, naming them


@pytest.mark.parametrize(
    "expression",
    [
        "created_at gt '0001-01-01T00:00:00+01:00'",
        "created_at lt '9999-12-31T23:59:59-01:00'",
        "updated_at ge '0001-01-01T00:59:59.999999+01:00'",
        "updated_at in ('2026-01-01T00:00:00Z', '9999-12-31T23:30:00-00:31')",
    ],
)
def test_a_moment_outside_the_years_utc_can_hold_is_a_400_naming_it(api: Api, expression: str):
    body = problem(api.get(COMPANIES, params={"filter": expression}), 400, "invalid_query")
    assert "years 1 to 9999 in UTC" in body["detail"], body
    written = expression.split("'")[-2]
    assert f"'{written}'" in body["detail"], body


def test_a_json_moment_outside_the_years_utc_can_hold_is_a_400_too(api: Api):
    json_filter = {"field": "created_at", "op": "le", "value": "9999-12-31T23:59:59-12:00"}
    response = searched(api, json.dumps({"filter": json_filter}))
    assert "years 1 to 9999 in UTC" in problem(response, 400, "invalid_query")["detail"]


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("created_at gt '0001-01-01T00:00:00+00:00'", EVERY),
        ("created_at gt '0001-01-01T00:59:00-01:00'", EVERY),
        ("created_at lt '9999-12-31T23:59:59.999999Z'", EVERY),
        ("created_at lt '9999-12-31T23:00:00+01:00'", EVERY),
        ("updated_at le '0001-01-01'", []),
        ("updated_at ge '9999-12-31T23:59:59'", []),
    ],
)
def test_the_first_and_last_moments_utc_can_hold_compare_as_moments(
    api: Api, expression: str, expected: Any
):
    wanted = ids(api) if expected == EVERY else expected
    assert ids(api, filter=expression) == wanted


# Nesting: `not` counts towards the limit as parentheses do


@pytest.mark.parametrize("depth", [33, 1200])
def test_a_chain_of_not_past_the_nesting_limit_is_a_400(api: Api, depth: int):
    expression = "not " * depth + "id eq 1"
    body = problem(api.get(COMPANIES, params={"filter": expression}), 400, "filter_syntax")
    assert body["detail"] == "Too deeply nested at position 128", body
    assert body["position"] == 128  # the 33rd `not`
    searched_text = searched(api, json.dumps({"filter": expression}))
    assert problem(searched_text, 400, "filter_syntax")["detail"] == body["detail"]


def test_a_chain_of_not_up_to_the_limit_is_read(api: Api):
    assert ids(api, filter="not " * 32 + "id eq 1") == [1]
    assert ids(api, filter="not " * 31 + "id eq 1") == [i for i in ids(api) if i != 1]
    assert ids(api, filter="not (" * 16 + "id eq 1" + ")" * 16) == [1]


def test_not_and_parentheses_share_one_nesting_limit(api: Api):
    expression = "not (" * 17 + "id eq 1" + ")" * 17
    body = problem(api.get(COMPANIES, params={"filter": expression}), 400, "filter_syntax")
    assert body["detail"].startswith("Too deeply nested at position"), body


def nested(depth: int, operator: str) -> str:
    """A search body whose filter is `depth` objects of `not`, `and` or `or` around one
    comparison (written as text: Python's JSON encoder stops far short of 1200 levels)."""
    opening = f'{{"{operator}": ' + ("" if operator == "not" else "[")
    closing = ("" if operator == "not" else "]") + "}"
    comparison = '{"field": "id", "op": "eq", "value": 1}'
    return '{"filter": ' + opening * depth + comparison + closing * depth + "}"


@pytest.mark.parametrize("operator", ["not", "and", "or"])
def test_a_json_filter_nested_past_the_limit_is_a_400(api: Api, operator: str):
    assert found(api, nested(32, operator)) == [1]
    for depth in (33, 100):
        body = problem(searched(api, nested(depth, operator)), 400, "invalid_query")
        assert body["detail"].endswith(": too deeply nested"), body
    # Deeper still, the body is too deep for the JSON reader itself: a 400 all the same.
    assert searched(api, nested(1200, operator)).status_code == 400


# Size: as many comparisons and values as one SQL statement holds on every database


def test_a_json_filter_of_more_than_200_comparisons_is_a_400(api: Api):
    # SQLite refused the statement (its expression tree is at most 1000 deep): a 500.
    comparisons = [{"field": "org_name", "op": "eq", "value": f"x{i}"} for i in range(1000)]
    response = searched(api, json.dumps({"filter": {"or": comparisons}}))
    assert problem(response, 400, "invalid_query")["detail"] == (
        "filter: more than 200 comparisons"
    )


@pytest.mark.parametrize("field", ["id", "org_name"])
def test_a_filter_of_more_than_1000_values_is_a_400(api: Api, field: str):
    # PostgreSQL refuses a statement of more than 65,535 parameters: a 500.
    values = list(range(70_000)) if field == "id" else [f"x{i}" for i in range(70_000)]
    json_filter = {"field": field, "op": "in", "value": values}
    response = searched(api, json.dumps({"filter": json_filter}))
    assert problem(response, 400, "invalid_query")["detail"] == "filter: more than 1000 values"
    written = [str(v) if field == "id" else f"'{v}'" for v in values]
    text_filter = f"{field} in ({', '.join(written)})"
    response = searched(api, json.dumps({"filter": text_filter}))
    body = problem(response, 400, "filter_syntax")
    assert body["detail"].startswith("More than 1000 values at position"), body
    up_to_the_limit = {"filter": {**json_filter, "value": values[:1000]}, "limit": 1000}
    assert found(api, json.dumps(up_to_the_limit)) == (ids(api) if field == "id" else [])


def test_a_number_of_more_than_a_hundred_digits_is_a_400_in_text_as_in_json(api: Api):
    body = problem(
        api.get(COMPANIES, params={"filter": "id lt 1" + "0" * 101}), 400, "filter_syntax"
    )
    assert body["detail"] == "Expected a number between 1e-100 and 1e100 in size at position 6"
    assert ids(api, filter="id lt 1" + "0" * 100) == ids(api)


# Cursors: a position no entry can have was bound as it was, overflowing the column


def tampered(api: Api, sort: str, position: list[Any]) -> str:
    """A cursor of a listing in `sort`, moved to `position` (the query still its own)."""
    cursor = api.ok("GET", COMPANIES, params={"sort": sort, "limit": 2})["next_cursor"]
    raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    return base64.urlsafe_b64encode(json.dumps([raw[0], position]).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    ("sort", "position"),
    [
        ("org_name", ["adobe", 2**40]),
        ("-id", [2**31]),
        ("created_at", ["0001-01-01T00:00:00+01:00", 3]),
        ("-updated_at", ["9999-12-31T23:59:59-01:00", 3]),
    ],
)
def test_a_cursor_moved_where_no_entry_can_be_is_a_400(api: Api, sort: str, position: list[Any]):
    cursor = tampered(api, sort, position)
    response = api.get(COMPANIES, params={"sort": sort, "cursor": cursor})
    assert problem(response, 400, "invalid_query")["detail"] == (
        "The cursor is not one this server gave"
    )


# Text no value can hold: undecodable bytes (lone surrogates) and control characters

SURROGATE = "\\ud800"  # as a JSON body escapes it (a message shows it as U+FFFD)


@pytest.mark.parametrize(
    "text_filter",
    [
        "org_type eq '{}'",
        "org_name eq '{}'",
        "org_name ne '{}'",
        "org_name in ('Acme', '{}')",
        "org_name contains 'a{}'",
        "org_name icontains '{}'",
        "org_name startswith '{}'",
        "org_name lt '{}'",
        "contact_company eq '{}'",
        "id eq '{}'",
        "created_at gt '{}'",
    ],
)
def test_a_filter_value_with_undecodable_text_is_a_400_naming_it(api: Api, text_filter: str):
    expression = text_filter.format(SURROGATE)
    body = problem(searched(api, f'{{"filter": "{expression}"}}'), 400, "invalid_query")
    assert "undecodable" in body["detail"], body
    assert "\ufffd" in body["detail"], body


@pytest.mark.parametrize(
    ("op", "value"),
    [
        ("eq", f'"{SURROGATE}"'),
        ("ne", f'"x{SURROGATE}y"'),
        ("in", f'["Acme", "{SURROGATE}"]'),
        ("contains", f'"{SURROGATE}"'),
        ("icontains", f'"{SURROGATE}"'),
        ("startswith", f'"{SURROGATE}"'),
    ],
)
def test_a_json_filter_value_with_undecodable_text_is_a_400_naming_it(
    api: Api, op: str, value: str
):
    body = f'{{"filter": {{"field": "org_name", "op": "{op}", "value": {value}}}}}'
    detail = problem(searched(api, body), 400, "invalid_query")["detail"]
    assert "undecodable" in detail, detail
    assert "\ufffd" in detail, detail


@pytest.mark.parametrize("key", ["q", "sort"])
def test_q_or_sort_with_undecodable_text_is_refused_naming_it(api: Api, key: str):
    # The body's schema holds these to well-formed strings, before any filter is read.
    body = problem(searched(api, f'{{"{key}": "Ac{SURROGATE}"}}'), 422, "invalid_request")
    assert [e["field"] for e in body["errors"]] == [key]


@pytest.mark.parametrize("value", ["\\u0000", "a\\u0001", "\\u007f"])
def test_a_filter_value_with_a_control_character_is_a_400(api: Api, value: str):
    for op in ("eq", "contains"):
        body = f'{{"filter": {{"field": "org_name", "op": "{op}", "value": "{value}"}}}}'
        detail = problem(searched(api, body), 400, "invalid_query")["detail"]
        assert "control characters" in detail, detail


def test_a_field_name_with_undecodable_text_is_an_unknown_field(api: Api):
    body = f'{{"filter": {{"field": "org_{SURROGATE}", "op": "eq", "value": "x"}}}}'
    detail = problem(searched(api, body), 400, "invalid_query")["detail"]
    assert detail == "Unknown field 'org_\ufffd' in Companies"


def test_tab_and_new_lines_are_text_a_filter_may_hold(api: Api):
    assert (
        found(api, '{"filter": {"field": "org_name", "op": "contains", "value": "\\t\\n"}}') == []
    )


# Dictionary values by id: a whole number, never a fraction cut to one


@pytest.mark.parametrize(
    ("json_filter", "shown"),
    [
        ('{"field": "org_type", "op": "eq", "value": 1.7}', "1.7"),
        ('{"field": "org_type", "op": "ne", "value": 1.5}', "1.5"),
        ('{"field": "org_type", "op": "in", "value": [1, 2.25]}', "2.25"),
        ('"org_type eq 1.7"', "1.7"),
    ],
)
def test_a_fraction_for_a_dictionary_value_id_is_a_400_naming_it(
    api: Api, json_filter: str, shown: str
):
    body = problem(searched(api, f'{{"filter": {json_filter}}}'), 400, "invalid_query")
    assert body["detail"] == f"Field 'org_type' takes labels or whole value ids, not {shown}"


def test_a_dictionary_value_id_written_with_a_zero_fraction_is_that_id(api: Api):
    lead = lead_id(api)
    by_label = ids(api, filter="org_type eq 'Lead'")
    assert by_label
    assert ids(api, filter=f"org_type eq {lead}") == by_label
    assert ids(api, filter=f"org_type eq {lead}.0") == by_label
    assert found(api, f'{{"filter": {{"field": "org_type", "op": "eq", "value": {lead}.0}}}}') == (
        by_label
    )


def lead_id(api: Api) -> int:
    """The id of the value 'Lead' (of the companies' type dictionary)."""
    for dictionary in api.ok("GET", "/dictionaries")["items"]:
        for value in dictionary["values"]:
            if value["label"] == "Lead":
                return int(value["id"])
    raise AssertionError("the demo has a Lead")
