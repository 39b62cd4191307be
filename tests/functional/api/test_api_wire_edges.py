"""The REST API at the edges of what its wire format can carry: lone surrogates, values
nested deep, bodies that are no object, repeated query parameters, the OpenAPI document
against `fields=` replies, and dictionary values and links written as `{"id": N}`.
Each refusal is a clear 4xx that changes nothing."""

from typing import Any

import pytest

from accord.services.transactions import Database
from tests.functional.api_support import Api, error_fields, problem
from tests.support import dump

JSON = {"content-type": "application/json"}
REPLACED = "\ufffd"
"""How a message shows a character no UTF-8 text can hold (a lone surrogate)."""


def settled(api: Api, db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row, once the token's first use is recorded: nothing may change after."""
    api.ok("GET", "/me")
    return dump(db)


def nested(depth: int, inner: str = "1") -> str:
    return "[" * depth + inner + "]" * depth


# Lone surrogates (`\ud800` written as a JSON escape) are refused, shown as U+FFFD


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code", "field"),
    [
        ("PATCH", "/companies/3", r'{"org_name": "a\ud800b"}', 422, "invalid_value", "org_name"),
        ("PATCH", "/companies/3", r'{"org_\ud800": "x"}', 422, "field_not_found", "org_\ufffd"),
        ("PUT", "/companies/3", r'{"org_name":"A","\udfff":1}', 422, "field_not_found", "\ufffd"),
        ("POST", "/companies", r'{"org_name":"A","x\ud800":1}', 422, "field_not_found", "x\ufffd"),
        ("PATCH", "/companies/3", r'{"org_type": ["\ud800"]}', 422, "invalid_value", "org_type"),
        ("PATCH", "/companies/3", r'{"org_type": {"\ud800": 1}}', 422, "invalid_value", "org_type"),
        ("PATCH", "/companies/3", r'{"org_type": "\ud800"}', 422, "invalid_value", "org_type"),
        ("POST", "/companies/search", r'{"fields": ["\ud800"]}', 400, "invalid_query", None),
        (
            "POST",
            "/companies/search",
            r'{"filter": {"field": "\ud800", "op": "eq", "value": 1}}',
            400,
            "invalid_query",
            None,
        ),
    ],
)
def test_a_lone_surrogate_is_refused_and_shown_as_a_replacement_character(
    api: Api,
    db: Database,
    method: str,
    path: str,
    body: str,
    status: int,
    code: str,
    field: str | None,
):
    before = settled(api, db)
    refused = problem(api.request(method, path, content=body, headers=JSON), status, code)
    assert REPLACED in refused["detail"], refused
    if field is not None:
        assert field in error_fields(refused), refused
    assert dump(db) == before


def test_a_lone_surrogate_in_a_batch_item_is_that_items_refusal(api: Api, db: Database):
    before = settled(api, db)
    items = r'{"id": 3, "org_\ud800": "x"}, {"id": 4, "org_type": ["\ud800"]}'
    body = '{"mode": "update", "entries": [' + items + "]}"
    results = api.ok("POST", "/companies/batch", content=body, headers=JSON)["results"]
    assert [r["status"] for r in results] == [422, 422]
    assert error_fields(results[0]["error"]) == {"org_\ufffd": "field_not_found"}
    assert results[1]["error"]["detail"] == f'Invalid value for field Type: ["{REPLACED}"]'
    assert dump(db) == before


# Values nested deep


@pytest.mark.parametrize("depth", [1, 254, 255, 256, 300, 900])
def test_a_value_nested_deep_is_a_value_of_the_wrong_type(api: Api, db: Database, depth: int):
    before = settled(api, db)
    body = '{"org_name": ' + nested(depth) + "}"
    refused = problem(api.patch("/companies/3", content=body, headers=JSON), 422, "invalid_value")
    assert error_fields(refused) == {"org_name": "invalid_value"}
    shown = nested(depth)[:200]
    expected = f"Invalid value for field Company name: {shown}"
    assert refused["detail"] == (expected + "…" if len(nested(depth)) > 200 else expected)
    assert dump(db) == before


@pytest.mark.parametrize("depth", [256, 900])
def test_a_batch_item_nested_deep_is_that_items_refusal(api: Api, db: Database, depth: int):
    before = settled(api, db)
    body = '{"mode": "update", "entries": [{"id": 3, "org_name": ' + nested(depth) + "}]}"
    results = api.ok("POST", "/companies/batch", content=body, headers=JSON)["results"]
    assert [r["status"] for r in results] == [422]
    assert error_fields(results[0]["error"]) == {"org_name": "invalid_value"}
    assert dump(db) == before


@pytest.mark.parametrize(
    ("method", "path", "prefix"),
    [
        ("PATCH", "/companies/3", '{"org_name": '),
        ("POST", "/companies", '{"org_name": '),
        ("POST", "/companies/batch", '{"mode": "create", "entries": [{"org_name": '),
        ("POST", "/companies/search", '{"filter": '),
        ("POST", "/dictionaries", '{"name": '),
    ],
)
def test_a_body_nested_absurdly_deep_is_a_400_saying_so(
    api: Api, db: Database, method: str, path: str, prefix: str
):
    before = settled(api, db)
    body = prefix + nested(100_000) + "}" * prefix.count("{") + "]" * prefix.count("[")
    refused = problem(api.request(method, path, content=body, headers=JSON), 400, "invalid_json")
    assert "nested too deeply" in refused["detail"], refused
    assert dump(db) == before


# A body must be an object


@pytest.mark.parametrize("path", ["/companies/search", "/companies/batch", "/companies"])
def test_a_body_that_is_not_an_object_is_a_422(api: Api, db: Database, path: str):
    before = settled(api, db)
    for body in ("0.0", "1.5e3", "-2.5", "1e400", "5", '"x"', "[]", "null", "true"):
        refused = problem(api.post(path, content=body, headers=JSON), 422, "invalid_request")
        assert refused["errors"][0]["field"] == "body", (body, refused)
    assert dump(db) == before


def test_an_empty_object_is_a_search_of_everything_as_the_document_says(api: Api):
    document = api.ok("GET", "/openapi.json")
    assert "required" not in document["components"]["schemas"]["SearchModel"]
    assert api.ok("POST", "/companies/search", json={}) == api.ok("GET", "/companies")
    assert problem(api.post("/companies/search", json=0.0), 422, "invalid_request")


# Repeated query parameters


@pytest.mark.parametrize(
    ("path", "repeated"),
    [
        ("/companies?filter=id eq 1&filter=id eq 2", "filter"),
        ("/companies?limit=1&limit=3", "limit"),
        ("/companies?limit=3&limit=3", "limit"),
        ("/companies?fields=id&sort=id&fields=org_name", "fields"),
        ("/contacts?q=a&q=b", "q"),
        ("/directories/PRODUCTS/entries?count=true&count=false", "count"),
        ("/companies?cursor=&cursor=", "cursor"),
        ("/grants?right=companies.view&right=contacts.view", "right"),
        ("/grants?user=admin&group=Sales&user=manager", "user"),
    ],
)
def test_a_repeated_query_parameter_is_a_400_naming_it(api: Api, path: str, repeated: str):
    refused = problem(api.get(path), 400, "invalid_query")
    assert refused["detail"] == f"Query parameter(s) given more than once: {repeated}"


# The OpenAPI document against `fields=` replies


def test_a_page_item_needs_only_its_id_as_fields_returns_it(api: Api):
    document = api.ok("GET", "/openapi.json")
    schemas = document["components"]["schemas"]
    page = schemas["PageModel"]["properties"]["items"]["items"]["$ref"].rsplit("/", 1)[1]
    assert schemas[page]["required"] == ["id"]
    assert set(schemas[page]["properties"]) >= {"id", "version", "created_at", "updated_at"}
    assert schemas["EntryModel"]["required"] == ["id", "version", "created_at", "updated_at"]
    items = api.ok("GET", "/companies", params={"fields": "org_name", "limit": 2})["items"]
    assert [set(item) for item in items] == [{"id", "org_name"}] * 2


# Dictionary values and links written as {"id": N}


@pytest.fixture
def lookalike(api: Api) -> tuple[int, int]:
    """A Type value "x", and another whose label is x's id: (x's id, the other's id)."""
    dictionary = next(d for d in api.ok("GET", "/dictionaries")["items"] if d["name"] == "Type")
    added = api.ok("POST", f"/dictionaries/{dictionary['id']}/values", 201, json={"label": "x"})
    other = api.ok(
        "POST", f"/dictionaries/{dictionary['id']}/values", 201, json={"label": str(added["id"])}
    )
    return added["id"], other["id"]


def test_a_dictionary_value_written_as_an_id_object_is_found_by_id_only(
    api: Api, lookalike: tuple[int, int]
):
    x_id, other_id = lookalike
    assert api.ok("PATCH", "/companies/3", json={"org_type": {"id": x_id}})["org_type"] == "x"
    written = api.ok("PATCH", "/companies/3", json={"org_type": {"id": other_id}})
    assert written["org_type"] == str(x_id)
    # A bare number or string is read as the legacy API reads it: a label first, then an id
    for bare in (x_id, str(x_id), other_id):
        assert api.ok("PATCH", "/companies/3", json={"org_type": bare})["org_type"] == str(x_id)


@pytest.mark.parametrize(
    "value",
    [
        {"id": 999_999},
        {"id": 0},
        {"id": -3},
        {"id": 2**63},
        {"id": "3"},
        {"id": "Lead"},
        {"id": True},
        {"id": 3.0},
        {"id": None},
        {"id": [3]},
        {"id": 3, "label": "Lead"},
    ],
)
def test_an_id_object_naming_no_dictionary_value_is_refused(
    api: Api, db: Database, value: dict[str, Any]
):
    before = settled(api, db)
    refused = problem(api.patch("/companies/3", json={"org_type": value}), 422, "invalid_value")
    assert error_fields(refused) == {"org_type": "invalid_value"}
    assert dump(db) == before


def test_a_position_id_that_does_not_exist_is_refused_not_added(api: Api, db: Database):
    before = settled(api, db)
    body = {"contact_position": {"id": 999_999}}
    refused = problem(api.patch("/contacts/1", json=body), 422, "invalid_value")
    assert refused["detail"] == 'Invalid value for field Position: {"id":999999}'
    assert dump(db) == before
    # A bare number that is neither a label nor an id is a new label, as a typed one is
    added = api.ok("PATCH", "/contacts/1", json={"contact_position": 999_999})
    assert added["contact_position"] == "999999"


@pytest.mark.parametrize(
    "value", [{"id": 999}, {"id": "2"}, {"id": "Ted Johnson"}, {"id": 0}, {"id": 2**40}]
)
def test_a_link_written_as_an_id_object_is_found_by_id_only(
    api: Api, db: Database, value: dict[str, Any]
):
    api.ok("POST", "/contacts", 201, json={"contact_name": "6"})
    assert api.ok("PATCH", "/companies/3", json={"org_contact": {"id": 6}})["org_contact"] == {
        "id": 6,
        "name": "Ted Johnson",
    }
    before = dump(db)
    refused = problem(api.patch("/companies/3", json={"org_contact": value}), 422, "invalid_value")
    assert error_fields(refused) == {"org_contact": "invalid_value"}
    assert dump(db) == before
