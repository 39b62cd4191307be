"""Listing entries: filters (text and JSON), q, sort, fields, limit, count, cursors, and
unknown parameters. The demo's products, companies, contacts and transactions, plus a few
custom fields on products (`shop`), are the data.

Every test here only reads: they share one database and one server (the `SHARED`
fixtures); those that write first are in test_api_listing_writes.py."""

import base64
import http.client
import json
import operator
from datetime import datetime, timedelta, timezone
from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import pytest

from accord.domain.schema import FieldType
from accord.services.transactions import Database
from tests.functional.api_support import Api, add_field, problem, set_values
from tests.support import (
    API_PATH,
    LiveServer,
    custom_field,
    read_only_db,
    read_only_demo_url,
    read_only_server,
)

PRODUCTS = "/directories/PRODUCTS/entries"
TRANSACTIONS = "/directories/TRANSACTIONS/entries"
SHARED = (read_only_demo_url, read_only_db, read_only_server)


@pytest.fixture(scope="module", autouse=True)
def shop(db: Database) -> dict[str, str]:
    """Products with a checkbox, a date, a user and the demo's color; companies with the
    demo's multi-valued Services. Codes by short name.

    | id | product        | price | vendor    | stock | released   | owner   | color |
    |  1 | Jira Software  | 10    | Atlassian | yes   | 2002-03-01 | manager | Red   |
    |  2 | Confluence     | 5.5   | Atlassian | no    | 2004-03-15 |         | Blue  |
    |  3 | CRM for Jira   | 2.5   | Teamlead  | yes   |            | admin   |       |
    |  4 | Accord Support | 100   | Accord    |       | 2026-01-01 |         |       |
    """
    codes = {
        "stock": add_field(db, "PRODUCTS", "In stock", FieldType.CHECKBOX),
        "released": add_field(db, "PRODUCTS", "Released", FieldType.DATE),
        "owner": add_field(db, "PRODUCTS", "Owner", FieldType.USER),
        "color": custom_field(db, "PRODUCTS", "Color"),
        "services": custom_field(db, "CLIENTS", "Services"),
        "notes": custom_field(db, "CLIENTS", "Notes"),
    }
    rows = {
        1: {"stock": "yes", "released": "2002-03-01", "owner": "manager", "color": "Red"},
        2: {"stock": "no", "released": "15.03.2004", "color": "Blue"},
        3: {"stock": "yes", "owner": "admin"},
        4: {"released": "2026-01-01"},
    }
    for product, values in rows.items():
        set_values(db, "PRODUCTS", product, {codes[k]: v for k, v in values.items()})
    set_values(db, "CLIENTS", 1, {codes["services"]: "Development,Training"})
    set_values(db, "CLIENTS", 2, {codes["services"]: "Training", codes["notes"]: "Big % deal"})
    return codes


def ids(api: Api, path: str, **params: Any) -> list[int]:
    """The ids of every entry a listing returns, page after page."""
    return [item["id"] for item in api.items(path, **params)]


def coded(text: str, codes: dict[str, str]) -> str:
    """`text` with `{name}` replaced by the code of the custom field `name`."""
    return text.format(**codes)


# Filters: every operator on the types it fits


@pytest.mark.parametrize(
    ("path", "expression", "expected"),
    [
        # numbers, by value
        (PRODUCTS, "product_price eq 10", [1]),
        (PRODUCTS, "product_price eq 10.0", [1]),
        (PRODUCTS, "product_price eq '5,5'", [2]),
        (PRODUCTS, "product_price ne 10", [2, 3, 4]),
        (PRODUCTS, "product_price lt 10", [2, 3]),
        (PRODUCTS, "product_price le 10", [1, 2, 3]),
        (PRODUCTS, "product_price gt 5.5", [1, 4]),
        (PRODUCTS, "product_price ge 5.5", [1, 2, 4]),
        (PRODUCTS, "product_price gt -1", [1, 2, 3, 4]),
        (PRODUCTS, "product_price in (2.5, 100)", [3, 4]),
        (TRANSACTIONS, "transaction_amount ge 1200", [1, 4]),
        # text: eq is whole-value and case-insensitive; contains is case-sensitive
        (PRODUCTS, "product_vendor eq 'atlassian'", [1, 2]),
        (PRODUCTS, "product_vendor ne 'Atlassian'", [3, 4]),
        (PRODUCTS, "product_vendor eq 'Atlas'", []),
        (PRODUCTS, "product_vendor contains 'lass'", [1, 2]),
        (PRODUCTS, "product_vendor contains 'LASS'", []),
        (PRODUCTS, "product_vendor icontains 'LASS'", [1, 2]),
        (PRODUCTS, "product_vendor startswith 'atl'", [1, 2]),
        (PRODUCTS, "product_vendor startswith 'lass'", []),
        (PRODUCTS, "product_area lt 'e'", [1, 2]),
        (PRODUCTS, "product_area ge 'sales'", [3, 4]),
        (PRODUCTS, "product_vendor in ('Accord', 'teamlead')", [3, 4]),
        ("/companies", "org_www startswith 'acme.'", [1]),
        ("/contacts", "contact_email icontains '@TEAMLEAD.'", [2, 5, 10]),
        # checkboxes
        (PRODUCTS, "{stock} eq true", [1, 3]),
        (PRODUCTS, "{stock} eq false", [2]),
        (PRODUCTS, "{stock} ne true", [2, 4]),
        (PRODUCTS, "{stock} is null", [4]),
        # dates
        (PRODUCTS, "{released} eq '2004-03-15'", [2]),
        (PRODUCTS, "{released} eq '15.03.2004'", [2]),
        (PRODUCTS, "{released} lt '2004-03-15'", [1]),
        (PRODUCTS, "{released} le '2004-03-15'", [1, 2]),
        (PRODUCTS, "{released} gt '2004-03-15'", [4]),
        (PRODUCTS, "{released} ge '2004-03-15'", [2, 4]),
        (PRODUCTS, "{released} is null", [3]),
        (PRODUCTS, "{released} is not null", [1, 2, 4]),
        (TRANSACTIONS, "transaction_date lt '2026-03-01'", [1, 2]),
        # dictionaries, by label (any case)
        (PRODUCTS, "{color} eq 'red'", [1]),
        (PRODUCTS, "{color} in ('Red', 'Blue')", [1, 2]),
        (PRODUCTS, "{color} ne 'Red'", [2, 3, 4]),
        (PRODUCTS, "{color} is null", [3, 4]),
        ("/companies", "org_type eq 'Lead'", [4, 8, 10, 13]),
        ("/companies", "org_sla is null", [8, 9, 11, 13]),
        ("/companies", "{services} eq 'Training'", [1, 2]),
        ("/companies", "{services} eq 'Development'", [1]),
        ("/companies", "{services} is not null", [1, 2]),
        ("/contacts", "contact_position eq 'Manager'", [3, 6, 10]),
        # users, links (by name or id)
        (PRODUCTS, "{owner} eq 'manager'", [1]),
        (PRODUCTS, "{owner} is null", [2, 4]),
        ("/contacts", "contact_company eq 'Teamlead'", [2, 5, 10]),
        ("/contacts", "contact_company eq 2", [2, 5, 10]),
        ("/contacts", "contact_company in ('Adobe', 'Globex')", [3, 4]),
        ("/contacts", "contact_company eq 'No such company'", []),
        ("/companies", "org_contact eq 'Bob Stone'", [2]),
        ("/companies", "org_contact is not null", [2]),
        # the entry's own columns
        (PRODUCTS, "id ge 3", [3, 4]),
        (PRODUCTS, "id in (1, 4)", [1, 4]),
        (PRODUCTS, "id ne 2", [1, 3, 4]),
        (PRODUCTS, "created_at gt '2000-01-01T00:00:00+00:00'", [1, 2, 3, 4]),
        (PRODUCTS, "updated_at lt '2000-01-01T00:00:00+00:00'", []),
    ],
)
def test_each_operator_selects_the_matching_entries(
    api: Api, shop: dict[str, str], path: str, expression: str, expected: list[int]
):
    assert ids(api, path, filter=coded(expression, shop)) == expected


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        # the example
        (
            "org_name eq 'Acme Corporation' and "
            "(org_type in ('Lead','Client') or org_www contains 'acme')",
            [1],
        ),
        ("org_name eq 'Acme' and (org_type in ('Lead','Client') or org_www contains 'acme')", []),
        # and binds tighter than or; not tighter than and; parentheses change both
        ("org_type eq 'Partner' or org_type eq 'Lead' and org_industry eq 'Finance'", [2, 4, 7, 8]),
        ("(org_type eq 'Partner' or org_type eq 'Lead') and org_industry eq 'Finance'", [4, 8]),
        ("not org_type eq 'Client' and org_industry eq 'Manufacturing'", [7, 13]),
        (
            "not (org_type eq 'Client' and org_industry eq 'Manufacturing')",
            [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 15, 16],
        ),
        ("not not org_type eq 'Vendor'", [11]),
        ("org_type eq 'Vendor' or org_type eq 'Competitor' or id eq 1", [1, 9, 11]),
        # keywords in any case, white space anywhere
        ("org_type EQ 'Vendor' Or org_type eq 'Competitor'", [9, 11]),
        ("NOT org_type eq 'Client' AND org_industry eq 'Retail'", [11]),
        ("  (  ( org_type  eq 'Vendor' ) )  ", [11]),
    ],
)
def test_and_or_not_and_parentheses_combine_as_documented(
    api: Api, expression: str, expected: list[int]
):
    assert ids(api, "/companies", filter=expression) == expected


@pytest.mark.parametrize(
    ("path", "expression", "field", "fragment"),
    [
        (PRODUCTS, "product_price eq 'abc'", "product_price", "number"),
        (PRODUCTS, "product_price contains '1'", "product_price", "text"),
        (PRODUCTS, "product_price eq true", "product_price", "number"),
        (PRODUCTS, "{released} gt 2020", "{released}", "date"),
        (PRODUCTS, "{released} eq '2004-02-30'", "{released}", "date"),
        (PRODUCTS, "{stock} eq 'yes'", "{stock}", "true or false"),
        (PRODUCTS, "{stock} lt true", "{stock}", "order"),
        (PRODUCTS, "{color} eq 'Purple'", "Purple", "dictionary"),
        (PRODUCTS, "{color} gt 'Red'", "{color}", "order"),
        (PRODUCTS, "{color} startswith 'R'", "{color}", "text"),
        (PRODUCTS, "product_vendor eq 10", "product_vendor", "text"),
        ("/companies", "{services} lt 'Training'", "{services}", "order"),
        ("/companies", "org_people is null", "org_people", "computed"),
        ("/companies", "nope eq 'x'", "nope", "Unknown field"),
        ("/companies", "id contains '1'", "id", "contains"),
        ("/companies", "id eq 'one'", "id", "whole numbers"),
        ("/companies", "id eq 1.5", "id", "whole numbers"),
        ("/companies", "created_at gt 'yesterday'", "created_at", "ISO 8601"),
    ],
)
def test_a_filter_that_does_not_fit_a_field_is_a_400_naming_it(
    api: Api, shop: dict[str, str], path: str, expression: str, field: str, fragment: str
):
    body = problem(api.get(path, params={"filter": coded(expression, shop)}), 400, "invalid_query")
    assert coded(field, shop) in body["detail"]
    assert fragment in body["detail"]
    assert "Decimal(" not in body["detail"]  # values shown as the caller wrote them


@pytest.mark.parametrize(
    ("expression", "position", "fragment"),
    [
        ("org_name eq 'Acme", 12, "Unterminated string"),
        ("org_name eq", 11, "Expected a value"),
        ("org_name xx 'a'", 9, "Expected an operator"),
        ("org_name eq 'a' and", 19, "Expected a field name"),
        ("(org_name eq 'a'", 16, "Expected ')'"),
        ("org_name eq 'a')", 15, "Unexpected ')'"),
        ("org_name eq 'a' org_www eq 'b'", 16, "Unexpected 'org_www'"),
        ("org_name in 'a'", 12, "Expected '('"),
        ("org_name in ('a' 'b')", 17, "Expected ')'"),
        ("org_name is 'x'", 12, "Expected 'null'"),
        ("org_name eq 'a' && org_www eq 'b'", 16, "Unexpected character '&'"),
        ('org_name eq "Acme"', 12, "Unexpected character '\"'"),
        ("and eq 'a'", 0, "Expected a field name"),
        ("", 0, "Expected a field name"),
    ],
)
def test_a_filter_syntax_error_is_a_400_pointing_at_the_position(
    api: Api, expression: str, position: int, fragment: str
):
    body = problem(api.get("/companies", params={"filter": expression}), 400, "filter_syntax")
    assert fragment in body["detail"]
    assert body["detail"].endswith(f"at position {position}")
    assert body["position"] == position  # for a client to point at


@pytest.mark.parametrize(
    ("json_filter", "text_filter"),
    [
        ({"field": "org_type", "op": "eq", "value": "Lead"}, "org_type eq 'Lead'"),
        (
            {"field": "org_type", "op": "in", "value": ["Vendor", "Competitor"]},
            "org_type in ('Vendor', 'Competitor')",
        ),
        ({"field": "org_sla", "op": "is_null"}, "org_sla is null"),
        ({"field": "org_contact", "op": "is_not_null"}, "org_contact is not null"),
        ({"field": "id", "op": "lt", "value": 3}, "id lt 3"),
        (
            {
                "and": [
                    {"field": "org_name", "op": "eq", "value": "Acme Corporation"},
                    {
                        "or": [
                            {"field": "org_type", "op": "in", "value": ["Lead", "Client"]},
                            {"field": "org_www", "op": "contains", "value": "acme"},
                        ]
                    },
                ]
            },
            "org_name eq 'Acme Corporation' and "
            "(org_type in ('Lead','Client') or org_www contains 'acme')",
        ),
        (
            {
                "not": {
                    "or": [
                        {"field": "org_type", "op": "eq", "value": "Client"},
                        {"field": "org_industry", "op": "eq", "value": "Finance"},
                    ]
                }
            },
            "not (org_type eq 'Client' or org_industry eq 'Finance')",
        ),
        ("org_type eq 'Partner'", "org_type eq 'Partner'"),
    ],
)
def test_the_json_filter_of_a_search_finds_what_the_text_form_finds(
    api: Api, json_filter: Any, text_filter: str
):
    expected = ids(api, "/companies", filter=text_filter)
    assert expected  # each case finds something
    found = api.ok("POST", "/companies/search", json={"filter": json_filter, "limit": 1000})
    assert [item["id"] for item in found["items"]] == expected


@pytest.mark.parametrize(
    "json_filter",
    [
        {"field": "org_type", "op": "nope", "value": "Lead"},
        {"field": "org_type", "op": "eq"},
        {"field": "org_type", "op": "eq", "value": None},
        {"field": "org_type", "op": "eq", "value": {"x": 1}},
        {"field": "org_type", "op": "in", "value": []},
        {"field": "org_type", "op": "in", "value": "Lead"},
        {"field": "org_type", "op": "eq", "value": "Lead", "extra": 1},
        {"and": []},
        {"and": {"field": "org_type", "op": "eq", "value": "Lead"}},
        {"or": [{"field": "org_type", "op": "eq", "value": "Lead"}], "field": "id"},
        {"not": [{"field": "org_type", "op": "eq", "value": "Lead"}]},
        {"op": "eq", "value": "Lead"},
    ],
)
def test_a_malformed_json_filter_is_a_400_like_a_text_one(api: Api, json_filter: Any):
    response = api.post("/companies/search", json={"filter": json_filter})
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] in ("invalid_query", "filter_syntax")
    assert response.json()["detail"].startswith("filter")  # names where the mistake is


@pytest.mark.parametrize(
    ("json_filter", "code", "fragment"),
    [
        ({"field": "nope", "op": "eq", "value": "x"}, "invalid_query", "Unknown field 'nope'"),
        ({"field": "org_type", "op": "lt", "value": "x"}, "invalid_query", "order"),
        ("org_type eq", "filter_syntax", "at position 11"),
    ],
)
def test_a_json_filter_is_checked_against_the_fields_as_the_text_form_is(
    api: Api, json_filter: Any, code: str, fragment: str
):
    body = problem(api.post("/companies/search", json={"filter": json_filter}), 400, code)
    assert fragment in body["detail"]
    assert body.get("position") == (11 if code == "filter_syntax" else None)


# Numbers in a JSON filter: fractions and exponents, compared exactly

JSON = {"content-type": "application/json"}
BIG = "12345678901234567890"  # with a fraction, more digits than a float keeps


def searched(api: Api, path: str, json_filter: str) -> Any:
    """A search's reply, for a filter written as JSON text (numbers exactly as written)."""
    body = f'{{"filter": {json_filter}, "limit": 1000}}'
    return api.post(f"{path}/search", content=body, headers=JSON)


def test_whole_numbers_written_with_a_fraction_or_an_exponent_name_ids(api: Api):
    response = searched(api, "/companies", '{"field": "id", "op": "in", "value": [1.0, 3e0]}')
    assert [item["id"] for item in response.json()["items"]] == [1, 3]
    refused = searched(api, "/companies", '{"field": "id", "op": "eq", "value": 1.5}')
    assert "'id' takes whole numbers, not 1.5" in problem(refused, 400, "invalid_query")["detail"]


@pytest.mark.parametrize("value", ["1e101", "-1e101", "1e-101", "[10.5, 1e999999]"])
def test_a_json_number_too_far_from_one_is_a_400_naming_it(api: Api, value: str):
    op = "in" if value.startswith("[") else "eq"
    json_filter = f'{{"field": "product_price", "op": "{op}", "value": {value}}}'
    body = problem(searched(api, PRODUCTS, json_filter), 400, "invalid_query")
    assert body["detail"] == "filter.value: expected a number between 1e-100 and 1e100 in size"


# Times: compared as moments, whatever offset a filter writes them with

COMPARE = {
    "lt": operator.lt,
    "le": operator.le,
    "gt": operator.gt,
    "ge": operator.ge,
    "eq": operator.eq,
    "ne": operator.ne,
}


def moments(api: Api, column: str) -> dict[int, datetime]:
    """Each product's `column` (created_at, updated_at), by id."""
    return {item["id"]: datetime.fromisoformat(item[column]) for item in api.items(PRODUCTS)}


def written(moment: datetime, hours: int) -> str:
    """`moment` in ISO 8601 with a UTC offset of `hours` (`...T14:33:00+01:00`)."""
    return moment.astimezone(timezone(timedelta(hours=hours))).isoformat()


@pytest.mark.parametrize("hours", [1, -5])
def test_a_time_filter_compares_moments_whatever_the_offset_written(api: Api, hours: int):
    for column in ("created_at", "updated_at"):
        held = moments(api, column)
        for minutes in (-30, 0, 30):
            moment = held[1] + timedelta(minutes=minutes)
            for op, holds in COMPARE.items():
                expression = f"{column} {op} '{written(moment, hours)}'"
                expected = [i for i, at in held.items() if holds(at, moment)]
                assert ids(api, PRODUCTS, filter=expression) == expected, expression
    json_filter = f'{{"field": "updated_at", "op": "le", "value": "{written(held[1], hours)}"}}'
    expected = [i for i, at in held.items() if at <= held[1]]
    assert [item["id"] for item in searched(api, PRODUCTS, json_filter).json()["items"]] == expected


def test_a_search_body_takes_paging_sorting_and_fields(api: Api):
    body = {"filter": "org_type eq 'Client'", "sort": "-org_name", "limit": 3, "count": True}
    first = api.ok("POST", "/companies/search", json={**body, "fields": ["org_name"]})
    assert [item["org_name"] for item in first["items"]] == [
        "Umbrella Health",
        "Tyrell Corporation",
        "Soylent",
    ]
    assert first["total"] == 8
    assert all("org_type" not in item for item in first["items"])
    second = api.ok(
        "POST",
        "/companies/search",
        json={**body, "fields": ["org_name"], "cursor": first["next_cursor"]},
    )
    assert [item["org_name"] for item in second["items"]] == [
        "Oceanic Airlines",
        "Northwind Traders",
        "Initech",
    ]
    bad = api.post("/companies/search", json={**body, "bogus": 1})
    assert {e["field"] for e in problem(bad, 422, "invalid_request")["errors"]} == {"bogus"}


# q: text anywhere in the name or a text field


@pytest.mark.parametrize(
    ("path", "q", "expected"),
    [
        ("/companies", "TECH", [5]),
        ("/companies", "corp", [1, 14]),
        ("/companies", "  corp  ", [1, 14]),
        ("/companies", "umbrella.ex", [6]),  # a URL field
        ("/companies", "% deal", [2]),  # a custom text field; % is no wildcard
        ("/companies", "%", [2]),
        ("/companies", "_", []),
        ("/companies", "no such text", []),
        ("/contacts", "@teamlead", [2, 5, 10]),  # an e-mail field
        ("/contacts", "555 0106", [6]),
        (PRODUCTS, "jira", [1, 3]),
    ],
)
def test_q_finds_text_in_the_name_or_any_text_field_ignoring_case(
    api: Api, shop: dict[str, str], path: str, q: str, expected: list[int]
):
    assert ids(api, path, q=q) == expected


def test_q_and_a_filter_both_apply(api: Api):
    assert ids(api, "/companies", q="in", filter="org_type eq 'Client'") == [5, 15, 16]
    found = api.ok("POST", "/companies/search", json={"q": "er", "filter": "org_type eq 'Lead'"})
    assert [item["id"] for item in found["items"]] == [8, 10, 13]


def test_an_empty_q_lists_everything(api: Api):
    assert ids(api, "/companies", q="") == list(range(1, 17))


# Sort


@pytest.mark.parametrize(
    ("path", "sort", "expected"),
    [
        (PRODUCTS, "product_price", [3, 2, 1, 4]),  # as numbers, not as text
        (PRODUCTS, "-product_price", [4, 1, 2, 3]),
        (PRODUCTS, "product_vendor", [4, 1, 2, 3]),  # ties by id
        (PRODUCTS, "product_vendor,-id", [4, 2, 1, 3]),
        (PRODUCTS, "product_vendor,-product_price", [4, 1, 2, 3]),
        (PRODUCTS, "product_vendor,product_price", [4, 2, 1, 3]),
        (PRODUCTS, "-product_vendor,product_price", [3, 2, 1, 4]),
        (PRODUCTS, "+product_price", [3, 2, 1, 4]),
        (PRODUCTS, "-id", [4, 3, 2, 1]),
        (PRODUCTS, "id", [1, 2, 3, 4]),
        (PRODUCTS, "{released}", [3, 1, 2, 4]),  # the empty value first
        (PRODUCTS, "-{released}", [4, 2, 1, 3]),  # ... and last when descending
        (PRODUCTS, "{stock},id", [4, 2, 1, 3]),
        (PRODUCTS, "-{stock},-id", [3, 1, 2, 4]),
        (TRANSACTIONS, "-transaction_date", [4, 3, 2, 1]),
        (TRANSACTIONS, "transaction_amount", [3, 2, 1, 4]),
        (TRANSACTIONS, "transaction_sale,-transaction_amount", [1, 3, 2, 4]),
    ],
)
def test_sort_orders_by_each_key_in_turn(
    api: Api, shop: dict[str, str], path: str, sort: str, expected: list[int]
):
    sort = coded(sort, shop)
    assert ids(api, path, sort=sort) == expected
    assert ids(api, path, sort=sort, limit=1) == expected  # the same order, page by page


@pytest.mark.parametrize(
    ("sort", "fragment"),
    [
        ("nope", "Unknown field 'nope'"),
        ("{services}", "cannot be sorted"),  # several values
        ("org_type", "cannot be sorted"),  # a dictionary
        ("org_contact", "cannot be sorted"),  # a link
        ("org_people", "sorted"),  # computed
        ("org_name,org_www,id,created_at,updated_at", "At most 4"),
        ("org_name,-org_name", "named twice"),
        ("org_name,", "Empty sort key"),
        (",", "Empty sort key"),
    ],
)
def test_a_sort_that_cannot_be_applied_is_a_400_naming_why(
    api: Api, shop: dict[str, str], sort: str, fragment: str
):
    body = problem(api.get("/companies", params={"sort": coded(sort, shop)}), 400, "invalid_query")
    assert fragment in body["detail"]
    assert "filtered" not in body["detail"]


# fields


@pytest.mark.parametrize(
    ("fields", "keys"),
    [
        ("org_name", {"id", "org_name"}),
        ("org_name,org_www", {"id", "org_name", "org_www"}),
        (" org_www , org_name ", {"id", "org_name", "org_www"}),
        ("org_people,version", {"id", "org_people", "version"}),
        ("updated_at", {"id", "updated_at"}),
        ("{services}", {"id", "{services}"}),
    ],
)
def test_fields_returns_the_named_fields_and_the_id(
    api: Api, shop: dict[str, str], fields: str, keys: set[str]
):
    keys = {coded(key, shop) for key in keys}
    listed = api.ok("GET", "/companies", params={"fields": coded(fields, shop)})["items"]
    assert len(listed) == 16
    assert [set(item) for item in listed] == [keys] * 16
    searched = api.ok(
        "POST",
        "/companies/search",
        json={"fields": [f.strip() for f in coded(fields, shop).split(",")]},
    )
    assert searched["items"] == listed


def test_fields_naming_an_unknown_field_is_a_400_naming_it(api: Api):
    body = problem(
        api.get("/companies", params={"fields": "org_name,nope,contact_name"}),
        400,
        "invalid_query",
    )
    assert "nope" in body["detail"]
    assert "contact_name" in body["detail"]


# limit, count


def test_limit_sets_the_page_size(api: Api):
    one = api.ok("GET", "/companies", params={"limit": 1})
    assert [item["id"] for item in one["items"]] == [1]
    assert one["next_cursor"] is not None
    everything = api.ok("GET", "/companies", params={"limit": 1000})
    assert len(everything["items"]) == 16
    assert everything["next_cursor"] is None
    exact = api.ok("GET", "/companies", params={"limit": 16})
    assert len(exact["items"]) == 16
    assert exact["next_cursor"] is None


@pytest.mark.parametrize("limit", ["0", "1001", "-1", "ten", "1.5", ""])
def test_a_limit_out_of_bounds_is_a_400(api: Api, limit: str):
    body = problem(api.get("/companies", params={"limit": limit}), 400, "invalid_query")
    assert "limit" in body["detail"]


@pytest.mark.parametrize("limit", [0, 1001, -1, "ten"])
def test_a_search_with_a_limit_out_of_bounds_is_refused_naming_it(api: Api, limit: Any):
    body = problem(api.post("/companies/search", json={"limit": limit}), 422, "invalid_request")
    assert [e["field"] for e in body["errors"]] == ["limit"]


@pytest.mark.parametrize(
    ("params", "total"),
    [
        ({}, 16),
        ({"filter": "org_type eq 'Client'"}, 8),
        ({"q": "corp"}, 2),
        ({"filter": "id gt 100"}, 0),
    ],
)
def test_count_true_adds_the_total_of_matching_entries(
    api: Api, params: dict[str, str], total: int
):
    page = api.ok("GET", "/companies", params={**params, "limit": 1, "count": "true"})
    assert page["total"] == total
    assert len(page["items"]) == min(1, total)
    if page["next_cursor"]:
        later = {**params, "limit": 1, "count": "true", "cursor": page["next_cursor"]}
        assert api.ok("GET", "/companies", params=later)["total"] == total


@pytest.mark.parametrize("params", [{}, {"count": "false"}])
def test_without_count_there_is_no_total(api: Api, params: dict[str, str]):
    assert "total" not in api.ok("GET", "/companies", params=params)


# Unknown parameters


@pytest.mark.parametrize(
    ("path", "params", "named"),
    [
        ("/companies", {"filtr": "id eq 1"}, "filtr"),
        ("/companies", {"page": "2", "offset": "3"}, "offset, page"),
        ("/companies", {"limit": "5", "Limit": "5"}, "Limit"),
        ("/contacts", {"sort_by": "id"}, "sort_by"),
        (PRODUCTS, {"apiKey": "accord-demo-key"}, "apiKey"),
        ("/companies/1", {"fields": "org_name"}, "fields"),
        ("/companies/1/history", {"limit": "1"}, "limit"),
        ("/me", {"x": "1"}, "x"),
        ("/directories", {"x": "1"}, "x"),
        ("/directories/CLIENTS", {"x": "1"}, "x"),
    ],
)
def test_an_unknown_query_parameter_is_a_400_naming_it(
    api: Api, path: str, params: dict[str, str], named: str
):
    body = problem(api.get(path, params=params), 400, "invalid_query")
    assert body["detail"] == f"Unknown query parameter(s): {named}"


# A URL over 64 KiB (uvicorn's parser reads no more)


def raw_get(server: LiveServer, target: str, token: str) -> tuple[int, str, bytes]:
    """GET a request target as is, however long (httpx refuses URLs over 64 KB)."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        connection.request("GET", target, headers={"Authorization": f"Bearer {token}"})
        response = connection.getresponse()
        return response.status, response.getheader("content-type", ""), response.read()
    finally:
        connection.close()


@pytest.mark.parametrize("path", ["/api/v1/companies", "/api/v1/nothing-here", "/"])
def test_a_url_over_64_kib_is_a_414_problem_outside_the_legacy_api(
    live_server: LiveServer, token: str, path: str
):
    listed = ",".join(str(n) for n in range(1, 12_100))  # an 85 KB query string
    target = f"{path}?filter=" + quote(f"id in ({listed})")
    assert len(target) > 85_000
    status, content_type, body = raw_get(live_server, target, token)
    assert (status, content_type) == (414, "application/problem+json"), body[:300]
    assert json.loads(body) == {
        "type": "urn:accord:problem:uri_too_long",
        "title": HTTPStatus(414).phrase,  # "Request-URI Too Long" before Python 3.13
        "status": 414,
        "detail": "The URL is longer than the 65,535 bytes this server reads"
        " (a long filter fits in the body of POST .../search)",
        "code": "uri_too_long",
        "instance": path,
    }
    legacy = f"{API_PATH}?{quote(f'id in ({listed})')}"
    status, content_type, body = raw_get(live_server, legacy, token)
    assert (status, content_type) == (200, "application/json; charset=utf-8"), body[:300]
    assert json.loads(body) == {"success": False, "details": "Request too large"}


# Cursors


def test_pages_follow_one_another_without_gaps_or_repeats(api: Api):
    seen: list[int] = []
    cursor = None
    for _ in range(10):
        params = {"limit": 5, **({"cursor": cursor} if cursor else {})}
        page = api.ok("GET", "/companies", params=params)
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(range(1, 17))


def test_the_page_size_may_change_from_page_to_page(api: Api):
    first = api.ok("GET", "/companies", params={"limit": 3, "sort": "-org_name"})
    rest = api.items("/companies", sort="-org_name", limit=7, cursor=first["next_cursor"])
    names = [item["org_name"] for item in first["items"] + rest]
    assert names == api.names("/companies", sort="-org_name")
    assert len(names) == 16


def _cursor(api: Api, **params: Any) -> str:
    params = {"limit": 2, **{k: v for k, v in params.items() if v}}
    cursor: str = api.ok("GET", "/companies", params=params)["next_cursor"]
    assert cursor
    return cursor


def _reencoded(cursor: str, change: Any) -> str:
    raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    return base64.urlsafe_b64encode(json.dumps(change(raw)).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    ("made_for", "used_with", "path"),
    [
        ({}, {"filter": "id gt 0"}, "/companies"),
        ({"filter": "id gt 0"}, {"filter": "id gt 1"}, "/companies"),
        ({"filter": "id gt 0"}, {}, "/companies"),
        ({}, {"sort": "-id"}, "/companies"),
        ({"sort": "org_name"}, {"sort": "-org_name"}, "/companies"),
        ({"sort": "org_name"}, {}, "/companies"),
        ({}, {"q": "a"}, "/companies"),
        ({}, {}, "/contacts"),
        ({}, {}, PRODUCTS),
    ],
)
def test_a_cursor_used_with_another_query_is_a_400(
    api: Api, made_for: dict[str, str], used_with: dict[str, str], path: str
):
    cursor = _cursor(api, **made_for)
    body = problem(api.get(path, params={**used_with, "cursor": cursor}), 400, "invalid_query")
    assert "cursor" in body["detail"]


def _positioned(position: list[Any]) -> Any:
    return lambda cursor: _reencoded(cursor, lambda raw: [raw[0], position])


@pytest.mark.parametrize(
    ("sort", "tamper"),
    [
        pytest.param("", lambda c: "garbage", id="garbage"),
        pytest.param("", lambda c: c[:-3], id="truncated"),
        pytest.param("", lambda c: c + "AAAA", id="extended"),
        pytest.param("", lambda c: base64.urlsafe_b64encode(b"\xff\xfe").decode(), id="binary"),
        pytest.param("", lambda c: _reencoded(c, lambda raw: {"a": 1}), id="object"),
        pytest.param("", lambda c: _reencoded(c, lambda raw: raw[0]), id="no-position"),
        pytest.param("", lambda c: _reencoded(c, lambda raw: ["0" * 16, raw[1]]), id="other-query"),
        pytest.param("", _positioned(["2 or 1=1"]), id="id-text"),
        pytest.param("", _positioned([2, 3]), id="id-twice"),
        pytest.param("", _positioned([]), id="id-missing"),
        pytest.param("", _positioned([None]), id="id-null"),
        pytest.param("", _positioned([True]), id="id-boolean"),
        pytest.param("", _positioned([2.5]), id="id-fraction"),
        pytest.param("", _positioned([2**70]), id="id-huge"),
        pytest.param("org_name", _positioned([{"x": 1}, 3]), id="name-object"),
        pytest.param("org_name", _positioned([None, 3]), id="name-null"),
        pytest.param("org_name", _positioned([["adobe"], 3]), id="name-list"),
        pytest.param("org_name", _positioned(["adobe", "3"]), id="name-id-text"),
        pytest.param("created_at", _positioned(["not a time", 3]), id="time-text"),
        pytest.param("created_at", _positioned([None, 3]), id="time-null"),
        pytest.param("created_at", _positioned([12, 3]), id="time-number"),
    ],
)
def test_a_tampered_cursor_is_a_400_never_a_crash(api: Api, sort: str, tamper: Any):
    cursor = tamper(_cursor(api, sort=sort))
    body = problem(
        api.get("/companies", params={"sort": sort, "cursor": cursor}), 400, "invalid_query"
    )
    assert "cursor" in body["detail"]
    searched = api.post("/companies/search", json={"sort": sort, "cursor": cursor})
    assert problem(searched, 400, "invalid_query")["detail"] == body["detail"]


@pytest.mark.parametrize("sort", ["id", "-id"])
def test_a_page_filtered_on_one_value_follows_the_cursor_both_ways(api: Api, sort: str):
    # Such a page walks the value's holders in the index (one statement); with a second
    # condition it takes the general query. Both must page the same entries, in order.
    leads = [4, 8, 10, 13]
    expected = leads if sort == "id" else leads[::-1]
    assert ids(api, "/companies", filter="org_type eq 'Lead'", sort=sort, limit=1) == expected
    assert ids(api, "/companies", filter="org_type eq 'Lead'", sort=sort, limit=3) == expected
    both = "org_type eq 'Lead' and id gt 0"
    assert ids(api, "/companies", filter=both, sort=sort, limit=1) == expected
