"""GET /api/v1/search: the first entries of every directory the caller may view that hold a
piece of text (issue 17), through HTTP on both databases."""

from typing import Any

import pytest

from accord.services.transactions import Database
from tests.functional.api_support import Api, ClientOf, Clients, problem
from tests.support import statements

Results = dict[str, list[str]]


def found(api: Api, **params: Any) -> Results:
    """Directory code -> names of the entries found, from a search that must succeed."""
    body = api.ok("GET", "/search", params=params)
    return {r["directory"]["code"]: [item["name"] for item in r["items"]] for r in body["results"]}


def test_finds_companies_and_contacts_by_a_piece_of_text_in_one_call(api: Api) -> None:
    body = api.ok("GET", "/search", params={"q": "  TeamLead "})
    assert body["q"] == "TeamLead"
    results = {r["directory"]["code"]: r for r in body["results"]}
    assert results["CLIENTS"]["directory"] == {"code": "CLIENTS", "name": "Companies"}
    assert [i["name"] for i in results["CLIENTS"]["items"]] == ["Teamlead"]
    # Contacts hold it in their e-mail: found as q finds them in the list, in id order.
    contacts = api.ok("GET", "/contacts", params={"q": "teamlead", "limit": 5})["items"]
    assert results["CONTACTS"]["items"] == [
        {"id": c["id"], "name": c["contact_name"]} for c in contacts
    ]
    assert [i["name"] for i in results["CONTACTS"]["items"]] == [
        "Bob Stone",
        "Eve Black",
        "Ivan Petrov",
    ]
    assert results["CLIENTS"]["more"] is False
    # The order is the order directories are listed; no directory without a match.
    listed = [d["code"] for d in api.ok("GET", "/directories")["items"]]
    assert [r["directory"]["code"] for r in body["results"]] == [
        code for code in listed if code in results
    ]
    assert "TRANSACTIONS" not in results
    assert api.ok("GET", "/search", params={"q": "no such thing"}) == {
        "q": "no such thing",
        "results": [],
    }


def test_limit_and_more(api: Api) -> None:
    body = api.ok("GET", "/search", params={"q": "teamlead", "limit": 2})
    results = {r["directory"]["code"]: r for r in body["results"]}
    assert [i["name"] for i in results["CONTACTS"]["items"]] == ["Bob Stone", "Eve Black"]
    assert results["CONTACTS"]["more"] is True
    assert [i["name"] for i in results["CLIENTS"]["items"]] == ["Teamlead"]
    assert results["CLIENTS"]["more"] is False
    at_three = {
        r["directory"]["code"]: r for r in api.ok("GET", "/search?q=teamlead&limit=3")["results"]
    }
    assert at_three["CONTACTS"]["more"] is False
    assert len(found(api, q="a", limit=20)["CLIENTS"]) == 16
    assert len(found(api, q="a")["CLIENTS"]) == 5  # by default


def test_a_contacts_only_token_sees_only_contacts(client_of: ClientOf, api: Api) -> None:
    assert {"CLIENTS", "CONTACTS", "PRODUCTS"} <= set(found(api, q="teamlead"))
    contacts_only = client_of("admin", directories=["CONTACTS"], read_only=True)
    assert set(found(contacts_only, q="teamlead")) == {"CONTACTS"}
    # Naming a directory the token does not reach is as naming none that exists.
    assert found(contacts_only, q="teamlead", directories="CLIENTS") == {}
    assert found(contacts_only, q="teamlead", directories="NOPE") == {}


def test_a_user_without_view_on_a_directory_does_not_see_it(client_of: ClientOf) -> None:
    viewer = client_of("viewer")  # views companies and contacts, not products
    assert set(found(viewer, q="teamlead")) == {"CLIENTS", "CONTACTS"}
    assert found(viewer, q="teamlead", directories="PRODUCTS") == {}
    assert set(found(viewer, q="teamlead", directories="PRODUCTS,CONTACTS")) == {"CONTACTS"}


def test_directories_narrows_the_search(api: Api) -> None:
    assert set(found(api, q="teamlead", directories="CONTACTS, COMPANIES")) == {
        "CLIENTS",
        "CONTACTS",
    }
    assert set(found(api, q="teamlead", directories="products")) == {"PRODUCTS"}
    problem(api.get("/search?q=a&directories=,"), 400, "invalid_query")
    many = ",".join(f"D{n}" for n in range(21))
    problem(api.get("/search", params={"q": "a", "directories": many}), 400, "invalid_query")


@pytest.mark.parametrize(
    "query",
    ["", "?q=", "?q=%20%20", f"?q={'a' * 201}", "?q=a&limit=0", "?q=a&limit=21"],
)
def test_bad_text_or_limit_is_refused(api: Api, query: str) -> None:
    """As a list refuses a bad parameter: a 400 naming it."""
    body = problem(api.get(f"/search{query}"), 400, "invalid_query")
    assert body["errors"][0]["field"] == ("limit" if "limit" in query else "q")


@pytest.mark.parametrize("query", ["?q=%FF", "?q=a%00", "?q=a&qq=1", "?q=a&q=b"])
def test_unreadable_or_unknown_parameters_are_400(api: Api, query: str) -> None:
    problem(api.get(f"/search{query}"), 400, "invalid_query")


def test_without_a_token_401(clients: Clients, api: Api) -> None:
    problem(clients(None).get("/search?q=teamlead"), 401, "invalid_token")
    assert "CLIENTS" in found(api, q="teamlead")  # with one, found


def test_one_query_per_directory_searched(api: Api, db: Database) -> None:
    api.ok("GET", "/search?q=warm")  # authenticated and the schema loaded once
    reads = {}
    for directories in ("CLIENTS", "CLIENTS,CONTACTS,PRODUCTS,TRANSACTIONS"):
        with statements(db) as sent:
            api.ok("GET", "/search", params={"q": "a", "directories": directories})
        reads[directories] = [s for s in sent if "entry_texts" in s]
    # A rank at a time (the names that start with the text, then the others), each in at
    # most three statements (PostgreSQL: the next ids first, then a count and a page).
    assert 1 <= len(reads["CLIENTS"]) <= 2 * 3
    assert 4 <= len(reads["CLIENTS,CONTACTS,PRODUCTS,TRANSACTIONS"]) <= 4 * 2 * 3
