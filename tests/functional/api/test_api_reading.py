"""Reading entries through the REST API: every field type as typed JSON, on a single read
and in a listing; numbers exactly as stored; `/me` and the directories."""

import json
from decimal import Decimal
from typing import Any

import pytest

from accord.domain.schema import FieldType
from accord.services.transactions import Database
from tests.functional.api_support import Api, Clients, add_field, add_user, create_token, problem
from tests.support import Legacy, custom_field, dump


@pytest.fixture
def typed(db: Database, legacy: Legacy) -> dict[str, Any]:
    """Custom fields of every type on companies, and a company holding a value in each,
    written through the legacy API (so the values start as the legacy API's text)."""
    codes = {
        "services": custom_field(db, "CLIENTS", "Services"),
        "notes": custom_field(db, "CLIENTS", "Notes"),
        "active": add_field(db, "CLIENTS", "Active", FieldType.CHECKBOX),
        "founded": add_field(db, "CLIENTS", "Founded", FieldType.DATE),
        "revenue": add_field(db, "CLIENTS", "Revenue", FieldType.NUMBER),
        "owner": add_field(db, "CLIENTS", "Owner", FieldType.USER),
        "team": add_field(db, "CLIENTS", "Team", FieldType.GROUP),
        "suppliers": add_field(
            db, "CLIENTS", "Suppliers", FieldType.LINK, link_to="CLIENTS", multiple=True
        ),
        "billing": add_field(db, "CLIENTS", "Billing e-mail", FieldType.EMAIL),
        "creator": add_field(db, "CLIENTS", "Created by", FieldType.CREATOR),
        "created": add_field(db, "CLIENTS", "Created on", FieldType.CREATED_AT),
    }
    reply = legacy(
        "addcompany",
        **{
            "clients-org_name": "Typed Co",
            "clients-org_type": "Client",
            "clients-org_industry": "Finance",
            "clients-org_www": "typed.example",
            "clients-org_contact": "Ted Johnson",
            f"clients-{codes['services']}": "Development,Training",
            f"clients-{codes['notes']}": "Two\nlines",
            f"clients-{codes['active']}": "yes",
            f"clients-{codes['founded']}": "31.12.1999",
            f"clients-{codes['revenue']}": "1234567890123,45",
            f"clients-{codes['owner']}": "manager",
            f"clients-{codes['team']}": "Sales",
            f"clients-{codes['suppliers']}": "(3),(1)",
            f"clients-{codes['billing']}": "billing@typed.example",
        },
    )
    assert reply["success"] is True, reply
    company = reply["id"]
    for contact in ("8", "6"):
        moved = legacy("setcontact", companyId=company, contactId=contact)
        assert moved["success"] is True, moved
    return {"id": int(company), "codes": codes}


def typed_values(codes: dict[str, str], created_at: str) -> dict[str, Any]:
    return {
        "org_name": "Typed Co",
        "org_type": "Client",
        "org_industry": "Finance",
        "org_www": "typed.example",
        "org_sla": None,
        "org_contact": {"id": 6, "name": "Ted Johnson"},
        "org_people": [{"id": 6, "name": "Ted Johnson"}, {"id": 8, "name": "Grace Hopper"}],
        codes["services"]: ["Development", "Training"],
        codes["notes"]: "Two\nlines",
        codes["active"]: True,
        codes["founded"]: "1999-12-31",
        codes["revenue"]: Decimal("1234567890123.45"),
        codes["owner"]: "manager",
        codes["team"]: "Sales",
        codes["suppliers"]: [{"id": 3, "name": "Adobe"}, {"id": 1, "name": "Acme Corporation"}],
        codes["billing"]: "billing@typed.example",
        codes["creator"]: "admin",
        codes["created"]: created_at,
    }


def exact(text: str) -> Any:
    """JSON with every number read as an exact decimal (and only numbers as decimals)."""
    return json.loads(text, parse_float=Decimal, parse_int=Decimal)


def test_an_entry_reads_as_typed_json_with_every_field_type(api: Api, typed: dict[str, Any]):
    response = api.get(f"/companies/{typed['id']}")
    assert response.status_code == 200, response.text
    entry = exact(response.text)
    assert entry["id"] == typed["id"]
    assert entry["version"] >= 1
    assert {
        k: entry[k] for k in entry if k not in ("id", "version", "created_at", "updated_at")
    } == (typed_values(typed["codes"], entry["created_at"]))


def test_a_listing_renders_entries_as_a_single_read_does(api: Api, typed: dict[str, Any]):
    single = exact(api.get(f"/companies/{typed['id']}").text)
    page = exact(api.get("/companies", params={"filter": f"id eq {typed['id']}"}).text)
    assert page["items"] == [single]
    found = exact(api.post("/companies/search", json={"q": "typed co"}).text)
    assert found["items"] == [single]


def test_empty_fields_are_null_and_empty_lists(api: Api, typed: dict[str, Any]):
    codes = typed["codes"]
    entry = api.entry("/companies/11")  # Vandelay Industries: no SLA, no contact
    assert entry["org_name"] == "Vandelay Industries"
    assert entry["org_sla"] is None
    assert entry["org_contact"] is None
    assert entry["org_people"] == []
    assert entry[codes["services"]] == []
    assert entry[codes["suppliers"]] == []
    nulls = ("notes", "active", "founded", "revenue", "owner", "team", "billing")
    assert {name: entry[codes[name]] for name in nulls} == dict.fromkeys(nulls)


def test_an_unchecked_checkbox_reads_false_not_null(api: Api, typed: dict[str, Any]):
    active = typed["codes"]["active"]
    api.ok("PATCH", f"/companies/{typed['id']}", json={active: False})
    assert api.entry(f"/companies/{typed['id']}")[active] is False


@pytest.mark.parametrize(
    ("typed_text", "json_text"),
    [
        ("10", "10"),
        ("10,5", "10.5"),
        ("0.50", "0.5"),
        ("-0.25", "-0.25"),
        ("0", "0"),
        ("1000000", "1000000"),
        ("123456789012345678901234.123456789012", "123456789012345678901234.123456789012"),
        ("-999999999999999999999999,999999999999", "-999999999999999999999999.999999999999"),
    ],
)
def test_numbers_are_json_numbers_with_exactly_the_stored_digits(
    api: Api, legacy: Legacy, typed_text: str, json_text: str
):
    added = legacy(
        "updateOrCreateEntity",
        tableName="PRODUCTS",
        crm_param_1="Product Name",
        crm_param_1_value="Numbered",
        crm_param_2="Price",
        crm_param_2_value=typed_text,
    )
    assert added["success"] is True, added
    response = api.get(f"/directories/PRODUCTS/entries/{added['id']}")
    assert f'"product_price":{json_text},' in response.text
    assert exact(response.text)["product_price"] == Decimal(json_text)


def test_links_show_the_current_name_of_what_they_point_at(api: Api):
    api.ok("PATCH", "/contacts/2", json={"contact_name": "Robert Stone"})
    company = api.entry("/companies/2")
    assert company["org_contact"] == {"id": 2, "name": "Robert Stone"}
    assert api.entry("/contacts/2")["contact_company"] == {"id": 2, "name": "Teamlead"}


def test_the_contacts_of_a_company_are_listed_on_every_read_of_it(api: Api):
    expected = [
        {"id": 2, "name": "Bob Stone"},
        {"id": 5, "name": "Eve Black"},
        {"id": 10, "name": "Ivan Petrov"},
    ]
    listed = api.ok("GET", "/companies", params={"filter": "id eq 2"})["items"][0]
    assert listed["org_people"] == expected
    assert api.entry("/companies/2")["org_people"] == expected
    patched = api.ok("PATCH", "/companies/2", json={"org_www": "teamlead.test"})
    assert patched["org_people"] == expected


@pytest.mark.parametrize(
    ("path", "item"),
    [
        (
            "/directories/TRANSACTIONS/entries/2",
            {
                "transaction_date": "2026-02-03",
                "transaction_amount": Decimal("350.5"),
                "transaction_currency": "EUR",
                "transaction_company": {"id": 2, "name": "Teamlead"},
                "transaction_sale": "SALES-2",
                "transaction_comment": "Add-on",
            },
        ),
        (
            "/contacts/6",
            {
                "contact_name": "Ted Johnson",
                "contact_email": "ted@oceanic.example",
                "contact_position": "Manager",
                "contact_login": None,
                "contact_company": {"id": 15, "name": "Oceanic Airlines"},
                "contact_phone": "+1 555 0106",
            },
        ),
        (
            "/directories/products/entries/2",
            {
                "product_name": "Confluence",
                "product_price": Decimal("5.5"),
                "product_vendor": "Atlassian",
                "product_area": "Documentation",
            },
        ),
    ],
)
def test_builtin_directories_read_as_typed_json(api: Api, path: str, item: dict[str, Any]):
    response = api.get(path)
    assert response.status_code == 200, response.text
    assert response.headers["etag"] == '"1"'
    entry = exact(response.text)
    assert {k: entry[k] for k in item} == item
    assert set(entry) >= {"id", "version", "created_at", "updated_at"}


def test_the_same_directory_answers_under_each_of_its_paths(api: Api):
    expected = api.entry("/companies/3")
    for path in ("/directories/CLIENTS/entries/3", "/directories/companies/entries/3"):
        assert api.entry(path) == expected
    assert api.entry("/directories/CONTACTS/entries/3") == api.entry("/contacts/3")


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("/companies/999", "entry_not_found"),
        ("/contacts/999", "entry_not_found"),
        ("/directories/PRODUCTS/entries/999", "entry_not_found"),
        ("/companies/999/history", "entry_not_found"),
        ("/directories/NOPE/entries", "directory_not_found"),
        ("/directories/NOPE/entries/1", "directory_not_found"),
        ("/directories/NOPE", "directory_not_found"),
        ("/nothing-here", "not_found"),
    ],
)
def test_what_does_not_exist_is_a_404_problem(api: Api, path: str, code: str):
    problem(api.get(path), 404, code)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/companies/abc"),
        ("GET", "/contacts/1.5"),
        ("GET", "/directories/PRODUCTS/entries/x1"),
        ("GET", "/companies/-3"),
        ("GET", "/companies/%20"),
        ("GET", "/companies/abc/history"),
        ("PUT", "/companies/abc"),
        ("PATCH", "/companies/abc"),
        ("DELETE", "/contacts/abc"),
    ],
)
def test_an_entry_id_that_is_no_number_names_nothing_404(
    api: Api, db: Database, method: str, path: str
):
    before = dump(db)
    body = {"org_name": "X"} if method in ("PUT", "PATCH") else None
    problem(api.request(method, path, json=body), 404, "not_found", detail="Not Found")
    assert dump(db) == before


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
@pytest.mark.parametrize("path", ["/companies/search", "/directories/PRODUCTS/entries/batch"])
def test_search_and_batch_take_only_post_405(api: Api, method: str, path: str):
    response = api.request(method, path)
    problem(response, 405, "method_not_allowed")
    assert response.headers["allow"] == "POST"


def test_a_method_a_route_does_not_have_is_a_405_problem_naming_those_it_has(api: Api):
    response = api.delete("/companies")
    problem(response, 405, "method_not_allowed")
    assert {m.strip() for m in response.headers["allow"].split(",")} == {"GET", "POST"}


def test_me_names_the_tokens_user(api: Api, clients: Clients, db: Database):
    assert api.ok("GET", "/me") == {
        "login": "admin",
        "display_name": "admin",
        "email": "admin@accord.example",
        "is_admin": True,
    }
    add_user(db, "clerk", ["main-menu"])
    clerk = clients(create_token(db, "clerk"))
    me = clerk.ok("GET", "/me")
    assert (me["login"], me["email"], me["is_admin"]) == ("clerk", "clerk@test.example", False)


def test_directories_list_what_the_caller_may_view_with_their_fields(
    api: Api, clients: Clients, db: Database
):
    listed = api.ok("GET", "/directories")["items"]
    assert [d["code"] for d in listed] == ["CLIENTS", "CONTACTS", "PRODUCTS", "TRANSACTIONS"]
    companies = listed[0]
    assert (companies["name"], companies["name_field"], companies["builtin"]) == (
        "Companies",
        "org_name",
        True,
    )
    by_code = {f["code"]: f for f in companies["fields"]}
    assert by_code["org_name"] == {
        "code": "org_name",
        "name": "Company name",
        "type": "text",
        "multiple": False,
        "required": True,
        "unique": True,
        "read_only": False,
    }
    assert by_code["org_type"]["dictionary"]["name"] == "Type"
    assert by_code["org_contact"]["link_to"] == "CONTACTS"
    assert by_code["org_people"]["read_only"] is True
    assert api.ok("GET", "/directories/CLIENTS") == companies

    viewer = clients(create_token(db, "viewer"))
    assert [d["code"] for d in viewer.ok("GET", "/directories")["items"]] == [
        "CLIENTS",
        "CONTACTS",
    ]
    problem(viewer.get("/directories/PRODUCTS"), 403, "permission_denied")
