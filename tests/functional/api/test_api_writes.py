"""Writing entries through the REST API: create, replace (PUT), merge patch (PATCH) and
delete; values in every accepted form; refusals as problem JSON that change nothing."""

import json
from decimal import Decimal
from typing import Any

import pytest

from accord.domain.schema import Field, FieldType
from accord.services.transactions import CacheKind, Database, Transaction, run
from accord.store import schema as schema_store
from tests.functional.api_support import Api, error_fields, problem
from tests.support import Legacy, custom_field, dump

PRODUCTS = "/directories/PRODUCTS/entries"


def history(api: Api, path: str) -> list[tuple[str, str, str | None, str | None, str | None]]:
    """An entry's changes as (edge, action, field, old, new)."""
    items = api.ok("GET", f"{path}/history")["items"]
    return [(c["edge"], c["action"], c["field"], c["old"], c["new"]) for c in items]


def matching(api: Api, path: str, expression: str) -> list[int]:
    return [item["id"] for item in api.items(path, filter=expression)]


# Create


def test_a_created_entry_is_201_with_its_location_etag_and_typed_body(api: Api):
    response = api.post(
        "/companies",
        json={
            "org_name": "New Co",
            "org_type": "Lead",
            "org_www": "new.example",
            "org_contact": {"id": 2},
        },
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert response.headers["location"] == f"/api/v1/companies/{created['id']}"
    assert response.headers["etag"] == '"1"'
    assert created["id"] == 17  # the next id of the directory
    assert created["version"] == 1
    assert created["created_at"] == created["updated_at"]
    assert {k: created[k] for k in ("org_name", "org_type", "org_www", "org_contact")} == {
        "org_name": "New Co",
        "org_type": "Lead",
        "org_www": "new.example",
        "org_contact": {"id": 2, "name": "Bob Stone"},
    }
    assert api.entry(response.headers["location"].removeprefix("/api/v1")) == created
    assert history(api, "/companies/17") == [
        ("api", "create", "org_name", None, "New Co"),
        ("api", "create", "org_type", None, "Lead"),
        ("api", "create", "org_www", None, "new.example"),
        ("api", "create", "org_contact", None, "Bob Stone"),
    ]


def test_each_directory_path_creates_in_its_directory(api: Api):
    contact = api.post("/contacts", json={"contact_name": "Zoe Quinn"})
    assert contact.headers["location"] == "/api/v1/contacts/11"
    product = api.post(PRODUCTS, json={"product_name": "Widget", "product_price": 3})
    assert product.headers["location"] == "/api/v1/directories/PRODUCTS/entries/5"
    assert api.entry("/directories/PRODUCTS/entries/5")["product_price"] == 3


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("org_type", "Lead", "Lead"),
        ("org_type", "lead", "Lead"),
        ("org_type", 3, "Lead"),  # a dictionary value's id
        ("org_type", {"id": 3}, "Lead"),
        ("org_type", {"label": "Lead"}, "Lead"),
        ("org_contact", 6, {"id": 6, "name": "Ted Johnson"}),
        ("org_contact", {"id": 6}, {"id": 6, "name": "Ted Johnson"}),
        ("org_contact", {"name": "Ted Johnson"}, {"id": 6, "name": "Ted Johnson"}),
        ("org_contact", "Ted Johnson", {"id": 6, "name": "Ted Johnson"}),
        ("org_contact", "(6)", {"id": 6, "name": "Ted Johnson"}),
        ("org_contact", None, None),
        ("{services}", ["Training", "Development"], ["Training", "Development"]),
        ("{services}", ["Training", "training"], ["Training"]),
        ("{services}", [], []),
        ("org_www", "  spaced.example  ", "spaced.example"),
        ("{notes}", "Line 1\nLine 2 – ünïcödé ✓", "Line 1\nLine 2 – ünïcödé ✓"),
    ],
)
def test_values_may_be_written_in_each_accepted_form(
    api: Api, db: Database, field: str, value: Any, expected: Any
):
    field = field.format(
        services=custom_field(db, "CLIENTS", "Services"), notes=custom_field(db, "CLIENTS", "Notes")
    )
    created = api.ok("POST", "/companies", 201, json={"org_name": "Formed", field: value})
    assert created[field] == expected
    assert api.entry(f"/companies/{created['id']}")[field] == expected


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("19.99", "19.99"),
        ("0.1", "0.1"),
        ("1e3", "1000"),
        ("-0.0", "0"),
        ("100", "100"),
        ('"10,5"', "10.5"),
        ("12345678901234567890.5", "12345678901234567890.5"),
        ("9007199254740993", "9007199254740993"),
        ("123456789012345678901234.123456789012", "123456789012345678901234.123456789012"),
    ],
)
def test_a_json_number_is_stored_exactly_as_written(api: Api, raw: str, stored: str):
    body = '{"product_name": "Exact", "product_price": ' + raw + "}"
    response = api.post(PRODUCTS, content=body, headers={"content-type": "application/json"})
    assert response.status_code == 201, response.text
    read = api.get(response.headers["location"].removeprefix("/api/v1"))
    assert f'"product_price":{stored},' in read.text
    [found] = api.items(PRODUCTS, filter="product_name eq 'Exact'")
    assert found == read.json()
    assert found["id"] in matching(api, PRODUCTS, f"product_price eq {stored}")


def test_a_read_entry_sent_back_with_put_changes_nothing(api: Api):
    before = api.get("/companies/2")
    changes = history(api, "/companies/2")
    again = api.put(
        "/companies/2", content=before.text, headers={"content-type": "application/json"}
    )
    assert again.status_code == 200, again.text
    assert again.headers["etag"] == before.headers["etag"]
    assert json.loads(again.text, parse_float=Decimal) == json.loads(
        before.text, parse_float=Decimal
    )
    assert history(api, "/companies/2") == changes


def test_a_large_number_read_and_written_back_keeps_every_digit(api: Api, legacy: Legacy):
    added = legacy(
        "updateOrCreateEntity",
        tableName="PRODUCTS",
        crm_param_1="Product Name",
        crm_param_1_value="Big",
        crm_param_2="Price",
        crm_param_2_value="1234567890123456789012.5",
    )
    assert added["success"] is True, added
    path = f"{PRODUCTS}/{added['id']}"
    read = api.get(path)
    assert '"product_price":1234567890123456789012.5,' in read.text
    written = api.put(path, content=read.text, headers={"content-type": "application/json"})
    assert written.status_code == 200, written.text
    assert '"product_price":1234567890123456789012.5,' in api.get(path).text
    found = legacy(
        "searchentities", tableName="PRODUCTS", crm_param_1="Product Name", crm_param_1_value="Big"
    )
    assert found["records"][0]["product_price"] == "1234567890123456789012.5"


# Refusals: nothing is written


@pytest.mark.parametrize(
    ("body", "status", "code", "fields"),
    [
        ({"org_www": "x.example"}, 422, "field_required", {"org_name"}),
        ({}, 422, "field_required", {"org_name"}),
        ({"org_name": ""}, 422, "invalid_value", {"org_name"}),  # null clears; "" is no value
        ({"org_name": None}, 422, "field_required", {"org_name"}),
        ({"org_name": "   "}, 422, "invalid_value", {"org_name"}),
        ({"org_name": "X", "org_www": ""}, 422, "invalid_value", {"org_www"}),
        ({"org_name": "X", "nope": 1}, 422, "field_not_found", {"nope"}),
        ({"org_name": "X", "org_type": "Nope"}, 422, "invalid_value", {"org_type"}),
        ({"org_name": "X", "org_type": ["Lead"]}, 422, "invalid_value", {"org_type"}),
        (
            {"org_name": "X", "org_type": {"id": 3, "label": "Lead"}},
            422,
            "invalid_value",
            {"org_type"},
        ),
        ({"org_name": "X", "org_contact": 999}, 422, "invalid_value", {"org_contact"}),
        ({"org_name": "X", "org_contact": "Nobody Known"}, 422, "invalid_value", {"org_contact"}),
        ({"org_name": 12}, 422, "invalid_value", {"org_name"}),
        ({"org_name": ["X"]}, 422, "invalid_value", {"org_name"}),
        ({"org_name": "X", "org_www": "has space.example"}, 422, "invalid_value", {"org_www"}),
        ({"org_name": "x" * 10_001}, 422, "invalid_value", {"org_name"}),
        ({"org_name": "X\u0000Y"}, 422, "invalid_value", {"org_name"}),
        ({"org_name": "Acme Corporation"}, 409, "duplicate_value", None),
        ({"org_name": "ACME CORPORATION"}, 409, "duplicate_value", None),
        ({"org_name": " Acme Corporation "}, 409, "duplicate_value", None),
    ],
)
def test_a_refused_create_is_a_problem_naming_the_fields_and_writes_nothing(
    api: Api, db: Database, body: dict[str, Any], status: int, code: str, fields: set[str] | None
):
    api.ok("GET", "/me")  # the token's first use is recorded; from now on nothing may change
    before = dump(db)
    problem_body = problem(api.post("/companies", json=body), status, code)
    if fields is not None:
        assert set(error_fields(problem_body)) == fields
        assert all(e["message"] for e in problem_body["errors"])
    assert dump(db) == before


def test_the_detail_of_a_refusal_says_what_is_wrong(api: Api):
    required = problem(api.post("/companies", json={}), 422, "field_required")["detail"]
    assert "Company name" in required
    assert "required" in required
    duplicate = problem(api.post("/companies", json={"org_name": "adobe"}), 409, "duplicate_value")
    assert duplicate["detail"] == "Value 'adobe' of unique field 'Company name' already exists"
    unknown = problem(
        api.post("/companies", json={"org_name": "X", "nope": 1}), 422, "field_not_found"
    )
    assert unknown["errors"] == [
        {"field": "nope", "code": "field_not_found", "message": "Field not found: nope"}
    ]


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        (
            {"org_name": "X", "org_type": "Nope", "org_www": "a b", "org_contact": 999},
            {
                "org_type": "invalid_value",
                "org_www": "invalid_value",
                "org_contact": "invalid_value",
            },
        ),
        (
            {"org_name": "X", "nope": 1, "other": 2},
            {"nope": "field_not_found", "other": "field_not_found"},
        ),
        (
            {"org_name": "X", "nope": 1, "org_type": "Nope"},
            {"nope": "field_not_found", "org_type": "invalid_value"},
        ),
        (
            {"org_type": "Nope", "org_www": "a b"},
            {"org_name": "field_required", "org_type": "invalid_value", "org_www": "invalid_value"},
        ),
    ],
)
def test_several_invalid_fields_are_all_listed_at_once(
    api: Api, body: dict[str, Any], fields: dict[str, str]
):
    response = api.post("/companies", json=body)
    assert response.status_code == 422, response.text
    assert error_fields(response.json()) == fields
    assert matching(api, "/companies", "id gt 16") == []


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b"[1, 2]", "application/json"),
        (b'"text"', "application/json"),
        (b"{bad json", "application/json"),
        (b"org_name=Form", "application/x-www-form-urlencoded"),
        (b"", "application/json"),
    ],
)
def test_a_body_that_is_not_a_json_object_is_refused(api: Api, content: bytes, content_type: str):
    response = api.post("/companies", content=content, headers={"content-type": content_type})
    assert response.status_code in (400, 415, 422), response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert matching(api, "/companies", "id gt 16") == []


@pytest.mark.parametrize(
    ("method", "path", "content", "where"),
    [
        ("POST", "/companies", '{"org_name": "X",}', "position 17 (line 1, column 18)"),
        ("POST", "/companies", '{"org_name":\n  "X"', "position 18 (line 2, column 6)"),
        ("POST", "/companies", "{bad json", "position 1 (line 1, column 2)"),
        ("POST", "/companies", '{"org_name": "X", "n": NaN}', "position 23 (line 1, column 24)"),
        ("PUT", "/companies/1", '{"org_name": -Infinity}', "position 13 (line 1, column 14)"),
        ("PATCH", "/companies/1", "{'org_name': 'X'}", "position 1 (line 1, column 2)"),
        ("POST", "/companies/search", '{"filter": "id eq 1" "limit": 5}', "position 21"),
        ("POST", PRODUCTS + "/batch", '{"entries": [}', "position 13 (line 1, column 14)"),
        ("POST", "/dictionaries", '{"name": "Sizes"', "position 16 (line 1, column 17)"),
    ],
)
def test_malformed_json_is_a_400_saying_where_and_changes_nothing(
    api: Api, db: Database, method: str, path: str, content: str, where: str
):
    before = dump(db)
    headers = {"content-type": "application/json"}
    response = api.request(method, path, content=content, headers=headers)
    body = problem(response, 400, "invalid_json")
    assert body["detail"].startswith("The body is not valid JSON: "), body
    assert where in body["detail"], body
    assert "errors" not in body  # a character offset is no field
    assert dump(db) == before


def test_writing_a_computed_field_is_ignored_so_a_read_body_can_be_sent_back(api: Api):
    created = api.ok(
        "POST", "/companies", 201, json={"org_name": "Computed", "org_people": [{"id": 1}]}
    )
    assert created["org_people"] == []
    assert api.entry("/contacts/1")["contact_company"] == {"id": 1, "name": "Acme Corporation"}


def test_a_company_named_by_a_new_contact_is_created_with_it(api: Api):
    contact = api.ok(
        "POST",
        "/contacts",
        201,
        json={"contact_name": "Nina New", "contact_company": "Brand New Co"},
    )
    company = contact["contact_company"]
    assert company["name"] == "Brand New Co"
    [listed] = api.items("/companies", filter="org_name eq 'Brand New Co'")
    assert listed["id"] == company["id"]
    assert listed["org_people"] == [{"id": contact["id"], "name": "Nina New"}]


def test_writes_to_a_directory_or_entry_that_does_not_exist_are_404(api: Api):
    problem(api.post("/directories/NOPE/entries", json={"x": 1}), 404, "directory_not_found")
    problem(api.put("/companies/999", json={"org_name": "X"}), 404, "entry_not_found")
    problem(api.patch("/companies/999", json={"org_www": "x"}), 404, "entry_not_found")
    problem(api.delete("/companies/999"), 404, "entry_not_found")
    problem(api.delete("/contacts/999"), 404, "entry_not_found")


# Replace (PUT)


def test_put_replaces_every_field_and_clears_those_left_out(api: Api):
    replaced = api.put("/companies/1", json={"org_name": "Acme Renamed", "org_type": "Vendor"})
    assert replaced.status_code == 200, replaced.text
    assert replaced.headers["etag"] == '"2"'
    body = replaced.json()
    assert (body["org_name"], body["org_type"], body["version"]) == ("Acme Renamed", "Vendor", 2)
    assert (body["org_industry"], body["org_www"], body["org_sla"]) == (None, None, None)
    assert api.entry("/companies/1") == body
    changed = {
        (field, old, new) for _, action, field, old, new in history(api, "/companies/1")[-5:]
    }
    assert changed == {
        ("org_name", "Acme Corporation", "Acme Renamed"),
        ("org_type", "Client", "Vendor"),
        ("org_industry", "Manufacturing", ""),  # history keeps values as text
        ("org_www", "acme.example", ""),
        ("org_sla", "SLA-2 Standard", ""),
    }


def test_put_without_a_required_field_is_refused(api: Api, db: Database):
    api.ok("GET", "/me")
    before = dump(db)
    body = problem(api.put("/companies/1", json={"org_www": "x.example"}), 422, "invalid_value")
    assert set(error_fields(body)) == {"org_name"}
    assert dump(db) == before


# Merge patch (PATCH)


def test_patch_changes_only_the_fields_it_names_and_null_clears(api: Api, db: Database):
    services = custom_field(db, "CLIENTS", "Services")
    api.ok("PATCH", "/companies/3", json={services: ["Support", "Consulting"]})
    patched = api.ok(
        "PATCH",
        "/companies/3",
        json={"org_www": None, "org_sla": "SLA-3 Premium", services: ["Training"]},
    )
    assert (patched["org_www"], patched["org_sla"], patched[services]) == (
        None,
        "SLA-3 Premium",
        ["Training"],
    )
    assert (patched["org_name"], patched["org_type"], patched["org_industry"]) == (
        "Adobe",
        "Client",
        "Information Technology",
    )
    assert patched["version"] == 3
    assert api.entry("/companies/3") == patched


def test_patch_accepts_the_merge_patch_media_type(api: Api):
    response = api.patch(
        "/companies/4",
        content=b'{"org_www": "globex.test", "org_sla": null}',
        headers={"content-type": "application/merge-patch+json"},
    )
    assert response.status_code == 200, response.text
    assert (response.json()["org_www"], response.json()["org_sla"]) == ("globex.test", None)


def test_an_empty_patch_changes_nothing(api: Api):
    before = api.get("/companies/5")
    after = api.patch("/companies/5", json={})
    assert after.status_code == 200, after.text
    assert after.json() == before.json()
    assert after.headers["etag"] == before.headers["etag"]


def test_a_patch_writing_the_same_values_makes_no_new_version(api: Api):
    same = api.ok(
        "PATCH", "/companies/5", json={"org_www": "initech.example", "org_type": "client"}
    )
    assert same["version"] == 1
    assert [action for _, action, *_ in history(api, "/companies/5")] == ["create"] * 5


@pytest.mark.parametrize(
    ("body", "status", "code", "fields"),
    [
        ({"org_name": None}, 422, "invalid_value", {"org_name"}),
        ({"org_name": ""}, 422, "invalid_value", {"org_name"}),
        ({"nope": 1}, 422, "field_not_found", {"nope"}),
        ({"org_type": "Nope", "org_sla": "Nope"}, 422, "invalid_fields", {"org_type", "org_sla"}),
        ({"org_name": "Adobe"}, 409, "duplicate_value", None),
        ({"org_name": "adobe "}, 409, "duplicate_value", None),
    ],
)
def test_a_refused_patch_is_a_problem_and_writes_nothing(
    api: Api, db: Database, body: dict[str, Any], status: int, code: str, fields: set[str] | None
):
    api.ok("GET", "/me")
    before = dump(db)
    problem_body = problem(api.patch("/companies/1", json=body), status, code)
    if fields is not None:
        assert set(error_fields(problem_body)) == fields
    assert dump(db) == before


def test_renaming_to_a_name_freed_by_a_rename_succeeds(api: Api):
    api.ok("PATCH", "/companies/3", json={"org_name": "Adobe Inc."})
    assert api.ok("PATCH", "/companies/9", json={"org_name": "adobe"})["org_name"] == "adobe"


# Delete


def test_delete_removes_the_entry_and_clears_links_to_it(api: Api, legacy: Legacy):
    response = api.delete("/companies/2")
    assert response.status_code == 204
    assert response.content == b""
    problem(api.get("/companies/2"), 404, "entry_not_found")
    problem(api.delete("/companies/2"), 404, "entry_not_found")
    assert legacy("getcompanybyname", companyId="2") == {
        "success": False,
        "details": "Company not found",
    }
    for contact in (2, 5, 10):
        assert api.entry(f"/contacts/{contact}")["contact_company"] is None
        assert history(api, f"/contacts/{contact}")[-1] == (
            "api",
            "update",
            "contact_company",
            "Teamlead",
            "",
        )
    assert 2 not in [item["id"] for item in api.items("/companies")]


def test_a_deleted_entrys_id_is_never_given_again(api: Api):
    first = api.ok("POST", "/companies", 201, json={"org_name": "Short Lived"})
    assert api.delete(f"/companies/{first['id']}").status_code == 204
    second = api.ok("POST", "/companies", 201, json={"org_name": "Short Lived"})
    assert second["id"] == first["id"] + 1


# A custom directory


def test_a_directory_an_administrator_adds_takes_entries_at_once(api: Api):
    directory = api.ok("POST", "/directories", 201, json={"code": "PROJECTS", "name": "Projects"})
    name = directory["name_field"]
    assert [f["code"] for f in directory["fields"]] == [name]
    field = api.ok(
        "POST",
        "/directories/PROJECTS/fields",
        201,
        json={"name": "Budget", "type": "number", "required": True},
    )
    assert (field["type"], field["required"], field["read_only"]) == ("number", True, False)
    base = "/directories/PROJECTS/entries"
    created = api.post(base, json={name: "Apollo", field["code"]: 1.5})
    assert created.status_code == 201, created.text
    assert created.headers["location"] == f"/api/v1{base}/1"
    assert api.entry(f"{base}/1")[field["code"]] == 1.5
    missing = problem(api.post(base, json={name: "Gemini"}), 422, "field_required")
    assert set(error_fields(missing)) == {field["code"]}
    assert api.ok("GET", "/directories/projects")["fields"][1] == field
    renamed = api.ok(
        "PATCH", f"/directories/PROJECTS/fields/{field['code']}", json={"name": "Cost"}
    )
    assert (renamed["code"], renamed["name"]) == (field["code"], "Cost")
    assert [item[name] for item in api.items(base, sort=f"-{field['code']}")] == ["Apollo"]


@pytest.mark.parametrize(
    ("path", "body", "status", "code"),
    [
        ("/directories", {"code": "CLIENTS", "name": "Other"}, 409, "conflict"),
        ("/directories", {"code": "OTHER", "name": "companies"}, 409, "conflict"),
        # A code or name that already reaches another directory (its name, its code,
        # or the COMPANIES alias) would send that one's requests elsewhere.
        ("/directories", {"code": "COMPANIES", "name": "Firms"}, 409, "conflict"),
        ("/directories", {"code": "PRODUCTS_2", "name": "Products"}, 409, "conflict"),
        ("/directories", {"code": "CONTACTS_2", "name": "contacts"}, 409, "conflict"),
        ("/directories", {"code": "Products", "name": "Wares"}, 409, "conflict"),
        ("/directories", {"code": "bad code!", "name": "Bad"}, 422, "invalid_directory_code"),
        ("/directories", {"code": "OK", "name": " "}, 422, "invalid_name"),
        ("/directories", {"code": "OK", "name": "Fine", "extra": 1}, 422, "invalid_request"),
        ("/directories/CLIENTS/fields", {"name": "Website", "type": "text"}, 409, "conflict"),
        ("/directories/CLIENTS/fields", {"name": "X", "type": "nope"}, 422, "invalid_request"),
        (
            "/directories/CLIENTS/fields",
            {"name": "X", "type": "dictionary"},
            422,
            "invalid_field_option",
        ),
        (
            "/directories/CLIENTS/fields",
            {"name": "X", "type": "text", "multiple": True},
            422,
            "invalid_field_option",
        ),
        ("/directories/NOPE/fields", {"name": "X", "type": "text"}, 404, "directory_not_found"),
    ],
)
def test_a_refused_directory_or_field_is_a_problem_and_changes_nothing(
    api: Api, db: Database, path: str, body: dict[str, Any], status: int, code: str | None
):
    api.ok("GET", "/me")
    before = dump(db)
    response = api.post(path, json=body)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    if code is not None:
        assert response.json()["code"] == code
    assert dump(db) == before


@pytest.mark.parametrize(
    ("field", "changes", "status", "code"),
    [
        ("nope", {"name": "X"}, 404, "field_not_found"),
        ("org_www", {"type": "text"}, 422, "invalid_field_option"),
        ("org_www", {"name": "Company name"}, 409, "conflict"),
        ("org_www", {"required": "yes"}, 422, "invalid_field_option"),
        ("org_www", {"name": "\x00"}, 422, "invalid_name"),
    ],
)
def test_a_refused_field_change_is_a_problem_and_changes_nothing(
    api: Api, db: Database, field: str, changes: dict[str, Any], status: int, code: str | None
):
    api.ok("GET", "/me")
    before = dump(db)
    response = api.patch(f"/directories/CLIENTS/fields/{field}", json=changes)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    if code is not None:
        assert response.json()["code"] == code
    assert dump(db) == before


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/directories", {"code": "bad code!", "name": "Bad"}, "code"),
        ("/directories/CLIENTS/fields", {"name": "X", "type": "dictionary"}, "dictionary"),
        ("/directories/CLIENTS/fields", {"name": "X", "type": "link"}, "link_to"),
        (
            "/directories/CLIENTS/fields",
            {"name": "X", "type": "text", "multiple": True},
            "multiple",
        ),
        ("/directories/CLIENTS/fields", {"name": "X", "type": "date", "unique": True}, "unique"),
        # Only a company has contacts: elsewhere the list was a company's of the same id.
        ("/directories/PRODUCTS/fields", {"name": "People", "type": "contacts"}, "type"),
        ("/directories/CLIENTS/fields", {"name": "", "type": "text"}, "name"),
    ],
)
def test_a_refused_directory_or_field_names_the_option_at_fault(
    api: Api, path: str, body: dict[str, Any], field: str
):
    response = api.post(path, json=body)
    assert response.status_code == 422, response.text
    assert set(error_fields(response.json())) == {field}


def test_a_contacts_field_outside_companies_lists_no_company_s_contacts(api: Api, db: Database):
    # Made before such a field was refused: it must not list the contacts of the
    # company that happens to share the entry's id.
    def work(tx: Transaction) -> str:
        products = tx.schema.directory_by_code("PRODUCTS")
        field = Field(0, products.id, "clients_field_people", "People", FieldType.CONTACTS)
        schema_store.insert_field(tx.connection, field)
        tx.changed(CacheKind.SCHEMA)
        return field.code

    code = run(db, work, write=True)
    assert api.entry("/companies/2")["org_people"] != []
    assert api.entry("/directories/PRODUCTS/entries/2")[code] == []


BUILT_IN = "is built in: only its name can change"


@pytest.mark.parametrize(
    ("directory", "field", "changes"),
    [
        ("CLIENTS", "org_name", {"required": False}),
        ("CLIENTS", "org_www", {"required": True}),
        ("CONTACTS", "contact_name", {"name": "Name", "required": False}),
        ("PRODUCTS", "product_name", {"required": False}),
        ("TRANSACTIONS", "transaction_amount", {"required": True}),
    ],
)
def test_only_the_name_of_a_built_in_field_can_change(
    api: Api, db: Database, directory: str, field: str, changes: dict[str, Any]
):
    api.ok("GET", "/me")
    before = dump(db)
    path = f"/directories/{directory}/fields/{field}"
    refused = problem(api.patch(path, json=changes), 422, "builtin_field")
    assert f"({field}) {BUILT_IN}" in refused["detail"]
    assert error_fields(refused) == {"required": "builtin_field"}
    assert dump(db) == before


def test_a_built_in_field_is_renamed_and_stays_required(api: Api, legacy: Legacy):
    problem(
        api.patch("/directories/CLIENTS/fields/org_name", json={"required": False}),
        422,
        "builtin_field",
        detail=f"Field 'Company name' (org_name) {BUILT_IN}",
    )
    missing = problem(api.post("/companies", json={"org_name": None}), 422, "field_required")
    assert set(error_fields(missing)) == {"org_name"}
    # Its name, and its required flag sent back as it is, can change.
    path = "/directories/CLIENTS/fields/org_name"
    renamed = api.ok("PATCH", path, json={"name": "Organisation", "required": True})
    assert (renamed["code"], renamed["name"], renamed["required"]) == (
        "org_name",
        "Organisation",
        True,
    )
    added = legacy(
        "updateOrCreateEntity",
        tableName="CLIENTS",
        id="",
        crm_param_1="Organisation",
        crm_param_1_value="Renamed Co",
    )
    assert added["success"], added


def test_a_custom_directorys_name_field_stays_required(api: Api, db: Database):
    directory = api.ok("POST", "/directories", 201, json={"code": "PROJECTS", "name": "Projects"})
    path = f"/directories/PROJECTS/fields/{directory['name_field']}"
    before = dump(db)
    problem(api.patch(path, json={"required": False}), 422, "builtin_field")
    assert dump(db) == before
    assert api.ok("PATCH", path, json={"name": "Title"})["required"] is True


def test_a_custom_field_of_a_built_in_directory_can_be_made_required(api: Api, db: Database):
    notes = custom_field(db, "CLIENTS", "Notes")
    path = f"/directories/CLIENTS/fields/{notes}"
    assert api.ok("PATCH", path, json={"required": True})["required"] is True
    missing = problem(api.post("/companies", json={"org_name": "No Notes"}), 422, "field_required")
    assert set(error_fields(missing)) == {notes}
    assert api.ok("PATCH", path, json={"required": False})["required"] is False
    api.ok("POST", "/companies", 201, json={"org_name": "No Notes"})
