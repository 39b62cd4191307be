"""Input no client means to send: integers of thousands of digits, numbers that spell out
as a billion digits, query text that is not UTF-8 or holds control characters, and link
values that would tell a caller which entries exist in a directory it may not see. Each
is a clear 4xx that changes nothing (or, for the legacy API, its envelope), never a 500."""

from typing import Any

import httpx
import pytest

from accord.services.transactions import Database
from tests.functional.api_support import (
    API,
    Api,
    ClientOf,
    add_user,
    error_fields,
    problem,
)
from tests.support import Legacy, dump

HUGE = "9" * 5000
"""More digits than Python turns into an int (4300)."""
LONG = "9" * 25
"""Digits enough to be out of every range, few enough to be read."""
JSON = {"content-type": "application/json"}


def settled(api: Api, db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row, once the token's first use is recorded: nothing may change after."""
    api.ok("GET", "/me")
    return dump(db)


def raw_get(api: Api, target: bytes) -> httpx.Response:
    """GET `target` (a path under the API and its query string) sent byte for byte."""
    url = api.http.base_url.copy_with(raw_path=API.encode() + target)
    return api.http.get(url)


# Integers of thousands of digits (defect 8)

ENTRY_PATHS = [
    ("GET", "/companies/{}"),
    ("GET", "/directories/CLIENTS/entries/{}"),
    ("GET", "/contacts/{}/history"),
    ("PATCH", "/companies/{}"),
    ("PUT", "/directories/PRODUCTS/entries/{}"),
    ("DELETE", "/contacts/{}"),
]


@pytest.mark.parametrize(("method", "path"), ENTRY_PATHS)
def test_an_entry_id_of_thousands_of_digits_is_refused_as_any_id_out_of_range(
    api: Api, db: Database, method: str, path: str
):
    before = settled(api, db)
    body = {"product_name": "Padded"} if method == "PUT" else {} if method == "PATCH" else None
    out_of_range = problem(
        api.request(method, path.format(LONG), json=body), 422, "invalid_request"
    )
    huge = problem(api.request(method, path.format(HUGE), json=body), 422, "invalid_request")
    assert error_fields(huge) == error_fields(out_of_range) == {"entry_id": "less_than_equal"}
    assert dump(db) == before
    padded = api.request(method, path.format("0" * 5000 + "3"), json=body)
    assert padded.status_code < 300, padded.text  # leading zeros: id 3, as "003" is


@pytest.mark.parametrize("method", ["PATCH", "DELETE"])
def test_an_if_match_of_thousands_of_digits_names_a_version_no_entry_is_at(
    api: Api, db: Database, method: str
):
    before = settled(api, db)
    body = {"org_www": "x.example"} if method == "PATCH" else None
    for version in (LONG, HUGE, "1" + "0" * 5000):
        stale = api.request(method, "/companies/3", json=body, headers={"If-Match": f'"{version}"'})
        problem(stale, 412, "stale_version")
    assert dump(db) == before


@pytest.mark.parametrize("tag", ['"\xb2"', '"\xb9"', '"12'])
def test_an_if_match_that_is_no_etag_is_a_400(api: Api, db: Database, tag: str):
    # "²".isdigit() holds, and int("²") raised a ValueError (a 500)
    before = settled(api, db)
    refused = api.patch("/companies/3", json={}, headers={"If-Match": tag.encode("latin-1")})
    problem(refused, 400, "invalid_query", detail='If-Match takes one ETag this API gave, like "3"')
    assert dump(db) == before


TOO_LONG = "The body is not valid JSON: it holds a number too long to be read"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/companies", '{"org_name": "Big Co", "org_type": @}'.replace("@", HUGE)),
        ("/contacts/6", '{"contact_company": {"id": @}}'.replace("@", HUGE)),
        ("/companies/search", '{"limit": @}'.replace("@", HUGE)),
        (
            "/companies/search",
            '{"filter": {"field": "id", "op": "eq", "value": @}}'.replace("@", HUGE),
        ),
        ("/companies/batch", '{"mode": "update", "entries": [{"id": @}]}'.replace("@", HUGE)),
        ("/directories/PRODUCTS/entries/1", '{"product_price": 1e9999999999999999999}'),
        ("/dictionaries", '{"name": "Sizes", "values": [@]}'.replace("@", HUGE)),
        ("/users", '{"login": "bob", "is_admin": @}'.replace("@", HUGE)),
    ],
)
def test_a_body_number_too_long_to_read_is_a_400_invalid_json(
    api: Api, db: Database, path: str, body: str
):
    before = settled(api, db)
    method = "PATCH" if path[-1].isdigit() else "POST"
    refused = api.request(method, path, content=body, headers=JSON)
    problem(refused, 400, "invalid_json", detail=TOO_LONG)
    assert dump(db) == before


def test_a_body_that_is_not_utf8_is_a_400_invalid_json(api: Api, db: Database):
    before = settled(api, db)
    for path in ("/companies", "/dictionaries"):
        refused = api.post(path, content=b'{"name": "\xff"}', headers=JSON)
        problem(
            refused, 400, "invalid_json", detail="The body is not valid JSON: it is not UTF-8 text"
        )
    assert dump(db) == before


@pytest.mark.parametrize("number", ["1e999999999", "-1E+999999999", "1e-999999999"])
def test_a_number_value_that_spells_out_as_a_billion_digits_is_refused_as_written(
    api: Api, db: Database, number: str
):
    # Spelled out, 1e999999999 took 4 s and 2 GB of memory before it was refused
    before = settled(api, db)
    body = '{"product_price": @}'.replace("@", number)
    refused = api.patch("/directories/PRODUCTS/entries/1", content=body, headers=JSON)
    shown = number.upper().replace("E9", "E+9").replace("+-", "-")
    detail = f"Invalid value for field Price: {shown}"
    problem(refused, 422, "invalid_value", detail=detail)
    assert dump(db) == before
    for sent, kept in [("1e3", 1000), ("12.50", 12.5), ("-0.0", 0), ("1E-12", 1e-12)]:
        body = '{"product_price": @}'.replace("@", sent)
        written = api.ok("PATCH", "/directories/PRODUCTS/entries/1", content=body, headers=JSON)
        assert written["product_price"] == kept


def test_the_legacy_api_refuses_huge_ids_in_its_envelope(api: Api, legacy: Legacy, db: Database):
    before = settled(api, db)
    assert legacy("getcompanybyname", companyId=HUGE)["details"] == "Company not found"
    assert legacy("editcontact", contactId=HUGE, contact_phone="1")["details"] == (
        "Contact not found"
    )
    table = {"tableName": "PRODUCTS", "crm_param_1": "Price", "crm_param_1_value": "1"}
    assert legacy("updateOrCreateEntity", id=HUGE, **table)["details"] == "Entry not found"
    linked = legacy("editcontact", contactId="6", contact_company=f"({HUGE})")
    assert linked["details"].startswith("Invalid value for field Company: (999")
    assert dump(db) == before
    # And the REST API, for the same id, answers its problem, not a plain-text 500
    problem(api.get(f"/companies/{HUGE}"), 422, "invalid_request")


# Query text that is not UTF-8, or holds control characters (defect 13)


@pytest.mark.parametrize(
    ("target", "parameter"),
    [
        (b"/companies?q=%FF", "q"),
        (b"/companies?q=%00", "q"),
        (b"/companies?q=Ac%C3", "q"),  # a character cut in two
        (b"/companies?q=%ED%A0%80", "q"),  # a surrogate, encoded
        (b"/companies?q=%C0%AF", "q"),  # an overlong "/"
        (b"/companies?filter=org_name%20eq%20%27%FF%27", "filter"),
        (b"/companies?filter=org_name%20eq%20%27a%01%27", "filter"),
        (b"/contacts?filter=contact_company%20eq%20%27%FF%27&limit=5", "filter"),
        (b"/directories/CLIENTS/entries?sort=org_name%FF", "sort"),
        (b"/companies?fields=org_name,%FF", "fields"),
        (b"/companies?cursor=%FF", "cursor"),
        (b"/companies?limit=%FF", "limit"),
        (b"/companies?count=%7F", "count"),
        (b"/companies/3?x%FF=1", "x\ufffd"),
        (b"/grants?right=%FF", "right"),
        (b"/grants?user=no%00body", "user"),
        (b"/users?%00", "\x00"),
    ],
)
def test_a_query_parameter_with_unreadable_text_is_a_400_naming_it(
    api: Api, db: Database, target: bytes, parameter: str
):
    before = settled(api, db)
    body = problem(raw_get(api, target), 400, "invalid_query")
    assert body["detail"].startswith(f"Query parameter '{parameter}' holds undecodable text"), body
    assert error_fields(body) == {parameter: "invalid_query"}
    assert dump(db) == before


@pytest.mark.parametrize(
    ("readable", "unreadable"),
    [
        (b"/companies?q=Ad%C3%B6be", b"/companies?q=Ad%C3be"),  # UTF-8 text, and one cut
        (b"/companies?q=a%09b", b"/companies?q=a%09%FF"),  # a tab is text
        (b"/companies?filter=org_name%20contains%20%27%0A%27", b"/companies?filter=%FF"),
        (b"/companies?q=Adobe+Inc", b"/companies?q=Adobe+%80"),
    ],
)
def test_text_that_reads_is_searched_and_text_that_does_not_is_refused(
    api: Api, readable: bytes, unreadable: bytes
):
    response = raw_get(api, readable)
    assert response.status_code == 200, response.text
    problem(raw_get(api, unreadable), 400, "invalid_query")


def test_both_apis_refuse_unreadable_text_each_in_its_form(api: Api, legacy: Legacy, db: Database):
    before = settled(api, db)
    start = "command={}&apiKey=accord-demo-key&userName=admin&"
    for value in (b"%FF", b"%00", b"%C0%AF"):
        read = legacy.get(start.format("getcompanybyname").encode() + b"companyName=" + value)
        assert read == {"success": False, "details": "Company not found"}
        added = legacy.get(start.format("addcompany").encode() + b"clients-org_name=" + value)
        assert added["success"] is False
        assert added["details"].startswith("Invalid value for field Company name: ")
        problem(raw_get(api, b"/companies?q=" + value), 400, "invalid_query")
    assert dump(db) == before


# Existence across scopes: a link names an entry only where the caller may look (defect 15)

EXISTING, MISSING = "Adobe", "Nowhere Ltd"


def contacts_only(client_of: ClientOf, db: Database) -> Api:
    """A token of the administrator limited to CONTACTS, its first use recorded."""
    clerk = client_of("admin", directories=["CONTACTS"])
    clerk.ok("GET", "/me")
    return clerk


@pytest.mark.parametrize(
    ("existing", "missing"),
    [
        (EXISTING, MISSING),
        ({"name": EXISTING}, {"name": MISSING}),
        ({"id": 3}, {"id": 999}),
        (3, 999),
        ("(3)", "(999)"),
    ],
)
def test_a_link_to_a_directory_out_of_scope_answers_alike_whether_the_entry_exists(
    client_of: ClientOf, db: Database, existing: Any, missing: Any
):
    clerk = contacts_only(client_of, db)
    before = dump(db)
    for value in (existing, missing):
        created = clerk.post("/contacts", json={"contact_name": "Probe", "contact_company": value})
        edited = clerk.patch("/contacts/6", json={"contact_company": value})
        for response in (created, edited):
            body = problem(response, 403, "permission_denied")
            assert body["detail"] == "Permission denied: Add companies"
            assert error_fields(body) == {"contact_company": "permission_denied"}
    assert dump(db) == before


def test_a_batch_out_of_scope_answers_alike_whether_the_entry_exists(
    client_of: ClientOf, db: Database
):
    clerk = contacts_only(client_of, db)
    before = dump(db)
    items = [{"contact_name": "A", "contact_company": name} for name in (EXISTING, MISSING)]
    results = clerk.ok("POST", "/contacts/batch", json={"mode": "create", "entries": items})
    assert [(r["status"], r["error"]["detail"]) for r in results["results"]] == [
        (403, "Permission denied: Add companies")
    ] * 2
    assert dump(db) == before
    # A link out of scope may still be cleared: that names nothing
    cleared = clerk.ok("PATCH", "/contacts/6", json={"contact_company": None})
    assert cleared["contact_company"] is None


def test_without_view_a_link_is_refused_as_view_even_with_add(client_of: ClientOf, db: Database):
    add_user(db, "adder", ["main-menu", "contacts.all", "companies.add"])
    adder = client_of("adder")
    before = settled(adder, db)
    for name in (EXISTING, MISSING):
        body = problem(
            adder.post("/contacts", json={"contact_name": "P", "contact_company": name}),
            403,
            "permission_denied",
        )
        assert body["detail"] == "Permission denied: View Companies"
    assert dump(db) == before
    # Who may view companies links them, and needs companies.add only to create one
    add_user(db, "viewer2", ["main-menu", "contacts.all", "companies.view"])
    viewer = client_of("viewer2")
    linked = viewer.ok(
        "POST", "/contacts", 201, json={"contact_name": "P", "contact_company": EXISTING}
    )
    assert linked["contact_company"] == {"id": 3, "name": EXISTING}
    refused = viewer.post("/contacts", json={"contact_name": "Q", "contact_company": MISSING})
    problem(refused, 403, "permission_denied", detail="Permission denied: Add companies")


def test_the_legacy_api_keeps_its_contract_for_links_where_rest_answers_alike(
    client_of: ClientOf, legacy: Legacy, db: Database
):
    # legacy-api.md §3.1: a contact naming an existing company takes contacts.add alone; one it
    # would create takes companies.add (else "Permission denied: Add companies"). Over
    # REST, the same user is refused alike for both.
    add_user(db, "clerk", ["main-menu", "contacts.all"])
    rest = client_of("clerk")
    for name in (EXISTING, MISSING):
        refused = rest.post("/contacts", json={"contact_name": "R", "contact_company": name})
        problem(refused, 403, "permission_denied", detail="Permission denied: Add companies")
    clerk = legacy.as_user("clerk")
    try:
        linked = clerk("addcontact", contact_name="Rita", contact_company=EXISTING)
        assert linked["success"] is True, linked
        assert linked["contact_company"] == EXISTING
        refused = clerk("addcontact", contact_name="Nina", contact_company=MISSING)
        assert refused == {"success": False, "details": "Permission denied: Add companies"}
        moved = clerk("setcontact", contactId="6", companyName="Teamlead")
        assert moved == {"success": True}
    finally:
        clerk.close()
