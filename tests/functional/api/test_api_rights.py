"""Rights and tokens: a call needing a right its user lacks is a 403 that changes nothing;
with the right it succeeds. A token is read-only or limited to some directories, and never
allows more than its user holds; a token that is missing, unknown, revoked or expired, or
whose user is disabled, is a 401 asking for a bearer token."""

from dataclasses import dataclass
from typing import Any

import pytest

from accord.services.transactions import Database
from tests.functional.api_support import (
    Api,
    Clients,
    add_user,
    create_token,
    disable_user,
    expire_token,
    issue_token,
    problem,
    revoke_token,
    set_rights,
)
from tests.support import InProcessServer, dump, settings_for

CLERK = "clerk"


@dataclass(frozen=True, slots=True)
class Call:
    method: str
    path: str
    body: Any = None
    ok: int = 200

    def send(self, client: Api) -> Any:
        return client.request(self.method, self.path, json=self.body)


@dataclass(frozen=True, slots=True)
class Case:
    """A call, the right it needs (beyond the others of its directory), and its wording."""

    call: Call
    needs: str
    denied: str


CASES = [
    Case(Call("GET", "/companies"), "companies.view", "View Companies"),
    Case(Call("POST", "/companies/search", {"q": "a"}), "companies.view", "View Companies"),
    Case(Call("GET", "/companies/3"), "companies.view", "View Companies"),
    Case(Call("GET", "/companies/3/history"), "companies.view", "View Companies"),
    Case(Call("GET", "/companies/export"), "companies.view", "View Companies"),
    Case(Call("GET", "/directories/PRODUCTS/export"), "products.view", "View Products"),
    Case(Call("GET", "/directories/CLIENTS"), "companies.view", "View Companies"),
    Case(
        Call("POST", "/companies", {"org_name": "Clerk Co"}, 201), "companies.add", "Add companies"
    ),
    Case(
        Call("PATCH", "/companies/3", {"org_www": "clerk.example"}),
        "companies.edit",
        "Edit companies",
    ),
    Case(Call("PUT", "/companies/3", {"org_name": "Adobe"}), "companies.edit", "Edit companies"),
    Case(Call("DELETE", "/companies/3", None, 204), "companies.remove", "Remove Companies"),
    Case(Call("GET", "/contacts/6"), "contacts.view", "View Contacts"),
    Case(Call("POST", "/contacts", {"contact_name": "Clerk"}, 201), "contacts.add", "Add contacts"),
    Case(Call("PATCH", "/contacts/6", {"contact_phone": "1"}), "contacts.edit", "Edit contacts"),
    Case(Call("DELETE", "/contacts/6", None, 204), "contacts.remove", "Remove Contacts"),
    Case(
        Call("GET", "/directories/TRANSACTIONS/entries"),
        "transactions.view",
        "Search CRM transactions",
    ),
    Case(
        Call("POST", "/directories/PRODUCTS/entries", {"product_name": "Clerk's"}, 201),
        "products.add",
        "Add Products",
    ),
    Case(
        Call("DELETE", "/directories/PRODUCTS/entries/1", None, 204),
        "products.remove",
        "Remove Products",
    ),
    # A contact naming a company that does not exist creates it: that takes companies.add.
    Case(
        Call("POST", "/contacts", {"contact_name": "Clerk", "contact_company": "Clerk Co"}, 201),
        "companies.add",
        "Add companies",
    ),
]
ALL_RIGHTS = sorted(
    {
        f"{d}.{a}"
        for d in ("companies", "contacts", "products", "transactions")
        for a in ("view", "add", "edit", "remove")
    }
)


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.call.method} {c.call.path} {c.needs}")
def test_a_call_lacking_one_right_is_a_403_naming_it_and_changes_nothing(
    clients: Clients, db: Database, case: Case
):
    add_user(db, CLERK, ["main-menu", *(r for r in ALL_RIGHTS if r != case.needs)])
    clerk = clients(create_token(db, CLERK))
    clerk.ok("GET", "/me")  # the token's first use is recorded; from now on nothing may change
    before = dump(db)
    denied = problem(case.call.send(clerk), 403, "permission_denied")
    assert denied["detail"] == f"Permission denied: {case.denied}"
    assert dump(db) == before

    set_rights(db, CLERK, grant=[case.needs])
    allowed = case.call.send(clerk)
    assert allowed.status_code == case.call.ok, allowed.text


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.call.method} {c.call.path}")
def test_without_the_main_menu_every_call_is_a_403_as_in_the_legacy_api(
    clients: Clients, db: Database, case: Case
):
    """The legacy API needs "CRM Main Menu" for every command; so does every REST call."""
    add_user(db, CLERK, ALL_RIGHTS)
    clerk = clients(create_token(db, CLERK))
    before = dump(db)
    for call in (case.call, Call("GET", "/me")):
        denied = problem(call.send(clerk), 403, "permission_denied")
        assert denied["detail"] == "Permission denied: CRM Main Menu"
    assert dump(db) == before

    set_rights(db, CLERK, grant=["main-menu"])
    allowed = case.call.send(clerk)
    assert allowed.status_code == case.call.ok, allowed.text


def test_rights_held_through_a_group_count_as_a_users_own(clients: Clients, db: Database):
    manager = clients(create_token(db, "manager"))  # companies.all through the group Sales
    assert manager.post("/companies", json={"org_name": "Sales Co"}).status_code == 201
    assert manager.get("/directories/PRODUCTS/entries").status_code == 200
    problem(
        manager.post("/directories/PRODUCTS/entries", json={"product_name": "X"}),
        403,
        "permission_denied",
    )
    viewer = clients(create_token(db, "viewer"))  # companies.view of its own
    assert viewer.get("/companies/1").status_code == 200
    problem(viewer.post("/companies", json={"org_name": "Viewer Co"}), 403, "permission_denied")


@pytest.mark.parametrize(
    "call",
    [
        Call("POST", "/directories", {"code": "PROJECTS", "name": "Projects"}, 201),
        Call("POST", "/directories/CLIENTS/fields", {"name": "Rank", "type": "number"}, 201),
        Call("PATCH", "/directories/CLIENTS/fields/org_www", {"name": "Site"}),
    ],
    ids=lambda c: f"{c.method} {c.path}",
)
def test_changing_directories_and_fields_takes_an_administrator(
    clients: Clients, db: Database, api: Api, call: Call
):
    manager = clients(create_token(db, "manager"))
    manager.ok("GET", "/me")
    before = dump(db)
    denied = problem(call.send(manager), 403, "permission_denied")
    assert denied["detail"] == "Permission denied: Administrator"
    assert dump(db) == before
    assert call.send(api).status_code == call.ok


WRITES = [
    Call("POST", "/companies", {"org_name": "Read Only Co"}, 201),
    Call("PATCH", "/companies/3", {"org_www": "ro.example"}),
    Call("PUT", "/companies/3", {"org_name": "Adobe"}),
    Call("DELETE", "/companies/3", None, 204),
    Call("POST", "/contacts", {"contact_name": "Read Only"}, 201),
    Call("POST", "/directories", {"code": "PROJECTS", "name": "Projects"}, 201),
    Call("POST", "/directories/CLIENTS/fields", {"name": "Rank", "type": "number"}, 201),
]


@pytest.mark.parametrize("call", WRITES, ids=lambda c: f"{c.method} {c.path}")
def test_a_read_only_token_reads_but_cannot_write(
    clients: Clients, db: Database, api: Api, call: Call
):
    reader = clients(create_token(db, read_only=True))
    assert reader.ok("GET", "/companies/3")["org_name"] == "Adobe"
    assert reader.ok("POST", "/companies/search", json={"q": "adobe"})["items"]
    assert reader.ok("GET", "/me")["login"] == "admin"
    before = dump(db)
    problem(call.send(reader), 403, "permission_denied")
    assert dump(db) == before
    assert call.send(api).status_code == call.ok  # the same user's full token may


def test_a_token_limited_to_some_directories_cannot_touch_the_others(
    clients: Clients, db: Database
):
    limited = clients(create_token(db, directories=["CONTACTS"]))
    assert limited.ok("GET", "/contacts/6")["contact_name"] == "Ted Johnson"
    created = limited.post("/contacts", json={"contact_name": "Scoped"})
    assert created.status_code == 201, created.text
    assert [d["code"] for d in limited.ok("GET", "/directories")["items"]] == ["CONTACTS"]
    before = dump(db)
    for call in [
        Call("GET", "/companies"),
        Call("GET", "/companies/1"),
        Call("POST", "/companies", {"org_name": "Out Of Scope"}),
        Call("PATCH", "/companies/1", {"org_www": "x.example"}),
        Call("DELETE", "/companies/1"),
        Call("GET", "/directories/PRODUCTS/entries"),
        Call("GET", "/directories/CLIENTS"),
        Call("POST", "/contacts", {"contact_name": "Scoped", "contact_company": "New Co"}),
        Call("POST", "/contacts", {"contact_name": "Scoped", "contact_company": 1}),  # exists
        Call("POST", "/directories", {"code": "PROJECTS", "name": "Projects"}),
    ]:
        problem(call.send(limited), 403, "permission_denied")
    assert dump(db) == before


def test_a_limited_read_only_token_only_reads_its_directories(clients: Clients, db: Database):
    token = clients(create_token(db, read_only=True, directories=["CLIENTS", "PRODUCTS"]))
    assert len(token.items("/companies")) == 16
    assert len(token.items("/directories/PRODUCTS/entries")) == 4
    problem(token.get("/contacts"), 403, "permission_denied")
    problem(token.post("/companies", json={"org_name": "X"}), 403, "permission_denied")
    problem(token.delete("/directories/PRODUCTS/entries/1"), 403, "permission_denied")


def test_a_token_never_allows_more_than_its_user_holds(clients: Clients, db: Database):
    # viewer: companies.view and contacts.view only.
    scoped = clients(create_token(db, "viewer", directories=["CLIENTS", "PRODUCTS"]))
    assert scoped.get("/companies").status_code == 200
    problem(scoped.get("/directories/PRODUCTS/entries"), 403, "permission_denied")
    problem(scoped.post("/companies", json={"org_name": "X"}), 403, "permission_denied")
    problem(scoped.get("/contacts"), 403, "permission_denied")
    assert scoped.ok("GET", "/me")["is_admin"] is False
    full = clients(create_token(db, "viewer"))
    problem(full.post("/companies", json={"org_name": "X"}), 403, "permission_denied")
    problem(full.get("/directories/PRODUCTS/entries"), 403, "permission_denied")


def test_rights_taken_from_a_user_leave_their_tokens_at_once(clients: Clients, db: Database):
    viewer = clients(create_token(db, "viewer"))
    assert viewer.get("/companies").status_code == 200
    set_rights(db, "viewer", revoke=["companies.view"])
    problem(viewer.get("/companies"), 403, "permission_denied")
    set_rights(db, "viewer", grant=["companies.view", "companies.add"])
    assert viewer.post("/companies", json={"org_name": "Granted Co"}).status_code == 201


# 401: no usable token


def _no_header(db: Database) -> dict[str, str]:
    return {}


def _header(value: str) -> Any:
    return lambda db: {"Authorization": value}


def _revoked(db: Database) -> dict[str, str]:
    issued = issue_token(db)
    revoke_token(db, issued.id)
    return {"Authorization": f"Bearer {issued.text}"}


def _expired(db: Database) -> dict[str, str]:
    issued = issue_token(db, expires_days=1)
    expire_token(db, issued.id)
    return {"Authorization": f"Bearer {issued.text}"}


def _disabled_user(db: Database) -> dict[str, str]:
    add_user(db, CLERK, ["main-menu", "companies.all"])
    text = create_token(db, CLERK)
    disable_user(db, CLERK)
    return {"Authorization": f"Bearer {text}"}


def _legacy_key(db: Database) -> dict[str, str]:
    return {"X-Api-Key": "accord-demo-key"}


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param(_no_header, id="no token"),
        pytest.param(_header("Bearer"), id="empty bearer"),
        pytest.param(_header("Basic YWRtaW46YWRtaW4="), id="basic"),
        pytest.param(_header("Token acc_x"), id="other scheme"),
        pytest.param(_header("Bearer garbage"), id="garbage"),
        pytest.param(_header("Bearer acc_" + "A" * 43), id="unknown"),
        pytest.param(_header("Bearer accord-demo-key"), id="the legacy key"),
        pytest.param(_revoked, id="revoked"),
        pytest.param(_expired, id="expired"),
        pytest.param(_disabled_user, id="disabled user"),
        pytest.param(_legacy_key, id="legacy key header"),
    ],
)
@pytest.mark.parametrize(
    "call",
    [
        Call("GET", "/companies"),
        Call("GET", "/companies/1"),
        Call("POST", "/companies", {"org_name": "Intruder Co"}),
        Call("DELETE", "/companies/1"),
        Call("GET", "/me"),
        Call("GET", "/directories"),
        Call("GET", "/directories/NOPE/entries"),
    ],
    ids=lambda c: f"{c.method} {c.path}",
)
def test_a_call_without_a_usable_token_is_a_401_asking_for_one(
    clients: Clients, db: Database, headers: Any, call: Call
):
    sent = headers(db)
    before = dump(db)
    anonymous = clients(None)
    response = anonymous.request(call.method, call.path, json=call.body, headers=sent)
    problem(response, 401, "invalid_token")
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert dump(db) == before


def test_a_revoked_token_stops_working_at_once(clients: Clients, db: Database):
    issued = issue_token(db)
    client = clients(issued.text)
    assert client.get("/companies/1").status_code == 200
    revoke_token(db, issued.id)
    problem(client.get("/companies/1"), 401, "invalid_token")


@pytest.mark.parametrize("days", [1, 30, 3650])
def test_a_token_with_an_expiry_works_until_then(clients: Clients, db: Database, days: int):
    client = clients(create_token(db, expires_days=days))
    assert client.ok("GET", "/companies/1")["org_name"] == "Acme Corporation"
    assert client.post("/companies", json={"org_name": f"Expiring {days}"}).status_code == 201


def test_a_token_keeps_working_in_another_server_process(api: Api, db: Database, demo_url: str):
    assert api.ok("GET", "/me")["login"] == "admin"  # its use is recorded
    token = api.http.headers["authorization"].removeprefix("Bearer ")
    with InProcessServer(settings_for(demo_url), db) as restarted:
        again = Api(restarted.client(), token)
        try:
            assert again.ok("GET", "/me")["login"] == "admin"
            assert again.ok("GET", "/companies/1")["org_name"] == "Acme Corporation"
        finally:
            again.close()
