"""Issue links over REST: an issue's linked entries, an entry's issues, links added and
removed with the edit right, read and written alike by the legacy API, and bad input
refused with nothing changed."""

from typing import Any

import pytest
import sqlalchemy as sa

from accord.services.transactions import Database
from accord.store import tables as t
from tests.functional.api_support import Api, Clients, add_user, create_token, problem
from tests.support import Legacy, dump

FIELD = "customfield_10100"
"""The demo's contact field: SALES-1 links contacts 6 and 2 through it."""


def link(issue: str, directory: str, entry_id: int, role: str = FIELD) -> dict[str, Any]:
    return {"issue": issue, "directory": directory, "id": entry_id, "role": role}


def keys(items: list[dict[str, Any]]) -> list[tuple[str, str, int, str]]:
    return [(i["issue"], i["directory"], i["id"], i["role"]) for i in items]


def emails(legacy: Legacy, issue: str, field: str = FIELD) -> list[str]:
    reply = legacy("getContactEmail", issueKey=issue, customFieldId=field)
    assert reply["success"] is True, reply
    found: list[str] = reply["emails"]
    return found


def email_of(api: Api, contact: int) -> str:
    return str(api.entry(f"/contacts/{contact}")["contact_email"])


def test_an_issues_links_name_each_entry_and_role(api: Api) -> None:
    items = api.ok("GET", "/issues/SALES-1/links")["items"]
    assert keys(items) == [("SALES-1", "CONTACTS", 2, FIELD), ("SALES-1", "CONTACTS", 6, FIELD)]
    assert items[1]["name"] == api.entry("/contacts/6")["contact_name"]
    # Keys are read as Jira reads them, in any case; an issue with no links has none.
    assert api.ok("GET", "/issues/sales-1/links")["items"] == items
    assert api.ok("GET", "/issues/NONE-1/links") == {"items": []}
    issues = api.ok("GET", "/directories/CONTACTS/entries/6/issues")["items"]
    assert keys(issues) == [("SALES-1", "CONTACTS", 6, FIELD)]
    assert api.ok("GET", "/directories/CONTACTS/entries/1/issues") == {"items": []}


def test_a_link_added_over_rest_is_read_by_the_legacy_api_and_added_once(
    api: Api, legacy: Legacy, db: Database
) -> None:
    body = {"directory": "CONTACTS", "id": 1, "role": FIELD}
    first = api.ok("POST", "/issues/CRM-5/links", 201, json=body)
    assert keys([first]) == [("CRM-5", "CONTACTS", 1, FIELD)]
    assert first["name"] == api.entry("/contacts/1")["contact_name"]
    assert emails(legacy, "CRM-5") == [email_of(api, 1)]
    # Again: the same link, not a second one.
    assert api.ok("POST", "/issues/crm-5/links", 200, json=body) == first
    assert keys(api.ok("GET", "/issues/CRM-5/links")["items"]) == [keys([first])[0]]
    # Another directory, another role: links of their own.
    api.ok("POST", "/issues/CRM-5/links", 201, json={"directory": "CLIENTS", "id": 2, "role": "c"})
    issues = api.ok("GET", "/directories/CLIENTS/entries/2/issues")["items"]
    assert keys(issues) == [("CRM-5", "CLIENTS", 2, "c")]
    # Recorded as setcrmproperties records it: the role's property, by whom and when.
    with db.engine.connect() as connection:
        p = t.issue_properties.c
        found = connection.execute(
            sa.select(p.value, t.users.c.login)
            .join(t.users, t.users.c.id == p.updated_by)
            .where(p.issue_key == "CRM-5", p.field_key == FIELD)
        ).one()
    assert tuple(found) == ("(1)", "admin")


def test_a_link_set_by_the_legacy_api_is_read_and_removed_over_rest(
    api: Api, legacy: Legacy
) -> None:
    reply = legacy("setcrmproperties", issueKey="CRM-6", customFieldId=FIELD, value="(3),(4)")
    assert reply["success"] is True, reply
    found = api.ok("GET", "/issues/CRM-6/links")["items"]
    assert keys(found) == [("CRM-6", "CONTACTS", 3, FIELD), ("CRM-6", "CONTACTS", 4, FIELD)]
    assert keys(api.ok("GET", "/directories/CONTACTS/entries/3/issues")["items"]) == [
        ("CRM-6", "CONTACTS", 3, FIELD)
    ]
    gone = api.delete("/issues/CRM-6/links/CONTACTS/3", params={"role": FIELD})
    assert gone.status_code == 204, gone.text
    assert emails(legacy, "CRM-6") == [email_of(api, 4)]
    # Unlinking what is not linked is a 404, and changes nothing.
    problem(api.delete("/issues/CRM-6/links/CONTACTS/3"), 404, "link_not_found")
    problem(
        api.delete("/issues/CRM-6/links/CONTACTS/4", params={"role": "other"}),
        404,
        "link_not_found",
    )
    assert emails(legacy, "CRM-6") == [email_of(api, 4)]


def test_unlinking_without_a_role_removes_the_entry_from_every_role(api: Api) -> None:
    for role in ("a", "b"):
        api.ok(
            "POST", "/issues/CRM-7/links", 201, json={"directory": "CLIENTS", "id": 1, "role": role}
        )
    api.ok("POST", "/issues/CRM-7/links", 201, json={"directory": "CLIENTS", "id": 2, "role": "a"})
    assert api.delete("/issues/CRM-7/links/CLIENTS/1").status_code == 204
    assert keys(api.ok("GET", "/issues/CRM-7/links")["items"]) == [("CRM-7", "CLIENTS", 2, "a")]


def test_a_user_sees_only_the_links_of_directories_they_may_view(
    api: Api, clients: Clients, db: Database
) -> None:
    api.ok(
        "POST", "/issues/SALES-1/links", 201, json={"directory": "CLIENTS", "id": 1, "role": "c"}
    )
    add_user(db, "clerk", ["main-menu", "contacts.view"])
    clerk = clients(create_token(db, "clerk"))
    assert [i["directory"] for i in clerk.ok("GET", "/issues/SALES-1/links")["items"]] == [
        "CONTACTS",
        "CONTACTS",
    ]
    problem(clerk.get("/directories/CLIENTS/entries/1/issues"), 403, "permission_denied")
    # A token limited to companies sees none of the contacts' links.
    scoped = clients(create_token(db, "admin", directories=["CLIENTS"]))
    assert keys(scoped.ok("GET", "/issues/SALES-1/links")["items"]) == [
        ("SALES-1", "CLIENTS", 1, "c")
    ]


def test_without_the_edit_right_a_link_is_neither_added_nor_removed(
    api: Api, clients: Clients, db: Database
) -> None:
    add_user(db, "clerk", ["main-menu", "contacts.view", "clients.all"])
    clerk = clients(create_token(db, "clerk"))
    read_only = clients(create_token(db, "admin", read_only=True))
    for client in (clerk, read_only):
        client.ok("GET", "/me")  # the token's first use is recorded before the dump
    before = dump(db)
    denied = clerk.post("/issues/CRM-8/links", json={"directory": "CONTACTS", "id": 1, "role": "r"})
    assert problem(denied, 403, "permission_denied")["detail"] == "Permission denied: Edit contacts"
    problem(clerk.delete("/issues/SALES-1/links/CONTACTS/6"), 403, "permission_denied")
    problem(read_only.delete("/issues/SALES-1/links/CONTACTS/6"), 403, "permission_denied")
    assert dump(db) == before
    # The edit right on companies links companies.
    body = {"directory": "CLIENTS", "id": 1, "role": "r"}
    assert clerk.post("/issues/CRM-8/links", json=body).status_code == 201


BAD_BODIES = [
    ({"directory": "NOPE", "id": 1, "role": FIELD}, "directory_not_found", "directory"),
    ({"directory": "CONTACTS", "id": 9999, "role": FIELD}, "entry_not_found", "id"),
    ({"directory": "CONTACTS", "id": 0, "role": FIELD}, "invalid_request", "id"),
    ({"directory": "CONTACTS", "id": "1", "role": FIELD}, "invalid_request", "id"),
    ({"directory": "CONTACTS", "id": 1, "role": "x" * 256}, "invalid_request", "role"),
    ({"directory": "CONTACTS", "id": 1, "role": " "}, "parameter_required", None),
    ({"directory": "CONTACTS", "id": 1, "role": "a\x00b"}, "invalid_parameter", None),
    ({"directory": "CONTACTS", "id": 1}, "invalid_request", "role"),
    ({"directory": "CONTACTS", "id": 1, "role": FIELD, "more": 1}, "invalid_request", "more"),
]


@pytest.mark.parametrize(("body", "code", "field"), BAD_BODIES, ids=lambda v: repr(v)[:40])
def test_a_bad_body_is_a_422_and_changes_nothing(
    api: Api, db: Database, body: dict[str, Any], code: str, field: str | None
) -> None:
    api.ok("GET", "/me")
    before = dump(db)
    refused = problem(api.post("/issues/CRM-9/links", json=body), 422, code)
    if field is not None:
        assert field in [e["field"] for e in refused["errors"]], refused
    assert dump(db) == before


@pytest.mark.parametrize(
    "key", ["PROJ", "PROJ-", "-12", "PROJ-12a", "PR OJ-1", "1PROJ-1", "P-" + "9" * 19, "Ж-1"]
)
def test_a_key_not_of_jiras_form_is_refused_and_changes_nothing(
    api: Api, db: Database, key: str
) -> None:
    api.ok("GET", "/me")
    before = dump(db)
    body = {"directory": "CONTACTS", "id": 1, "role": FIELD}
    for response in (
        api.get(f"/issues/{key}/links"),
        api.post(f"/issues/{key}/links", json=body),
        api.delete(f"/issues/{key}/links/CONTACTS/6"),
    ):
        assert problem(response, 422, "invalid_parameter")["detail"].startswith(
            "Invalid value for parameter key"
        )
    assert dump(db) == before
    too_long = "P" * 101 + "-1"
    assert api.get(f"/issues/{too_long}/links").status_code == 422


def test_unlinking_from_an_unknown_directory_or_entry_is_a_404(api: Api, db: Database) -> None:
    api.ok("GET", "/me")
    before = dump(db)
    problem(api.delete("/issues/SALES-1/links/NOPE/6"), 404, "directory_not_found")
    problem(api.delete("/issues/SALES-1/links/CONTACTS/9999"), 404, "entry_not_found")
    problem(api.get("/directories/CONTACTS/entries/9999/issues"), 404, "entry_not_found")
    assert dump(db) == before
