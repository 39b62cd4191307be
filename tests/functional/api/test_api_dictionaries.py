"""Dictionaries through the REST API: any token reads them; administrators create them; the
dictionary rights add and remove values, checked as the legacy API checks them; and what
one API changes, the other sees at once."""

from concurrent.futures import ThreadPoolExecutor
from threading import Barrier
from typing import Any

import pytest

from accord.services.transactions import Database
from tests.functional.api_support import Api, ClientOf, add_user, problem
from tests.support import Legacy, Server, custom_field, dump

ADD_RIGHT = "Permission denied: Add the values to dictionaries"
REMOVE_RIGHT = "Permission denied: Remove the values from dictionaries"
DEMO_COLORS = ["Red", "Blue", "Yellow"]


def state(db: Database) -> dict[str, Any]:
    """Every table but the tokens' (making and using a token is not a change of data)."""
    return {name: rows for name, rows in dump(db).items() if name != "api_tokens"}


def by_name(api: Api, name: str) -> dict[str, Any]:
    """A dictionary, found by name in the listing."""
    items = api.ok("GET", "/dictionaries")["items"]
    found: dict[str, Any] = next(d for d in items if d["name"] == name)
    return found


def labels(api: Api, name: str) -> list[str]:
    return [v["label"] for v in by_name(api, name)["values"]]


# Reading


def test_any_token_reads_dictionaries_with_their_values_in_order(client_of: ClientOf) -> None:
    viewer = client_of("viewer", read_only=True)
    listed = viewer.ok("GET", "/dictionaries")["items"]
    assert {"Colors", "Services"} <= {d["name"] for d in listed}
    colors = by_name(viewer, "Colors")
    assert [v["label"] for v in colors["values"]] == DEMO_COLORS
    assert all(isinstance(v["id"], int) for v in colors["values"])
    assert viewer.ok("GET", f"/dictionaries/{colors['id']}") == colors


def test_a_field_names_the_dictionary_its_values_come_from(admin: Api) -> None:
    fields = admin.ok("GET", "/directories/PRODUCTS")["fields"]
    color = next(f for f in fields if f["name"] == "Color")
    dictionary = admin.ok("GET", f"/dictionaries/{color['dictionary']['id']}")
    assert dictionary["name"] == "Colors"


def test_an_unknown_dictionary_is_not_found(admin: Api) -> None:
    problem(admin.get("/dictionaries/999999"), 404, "dictionary_not_found")
    problem(
        admin.post("/dictionaries/999999/values", json={"label": "X"}), 404, "dictionary_not_found"
    )
    problem(admin.delete("/dictionaries/999999/values/1"), 404, "dictionary_not_found")
    problem(admin.get("/dictionaries/0"), 422, "invalid_request")


# Creating dictionaries


def test_an_administrator_creates_a_dictionary_the_legacy_api_then_uses(
    admin: Api, legacy: Legacy
) -> None:
    response = admin.post("/dictionaries", json={"name": "Regions", "values": [" North ", "South"]})
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["name"] == "Regions"
    assert [v["label"] for v in created["values"]] == ["North", "South"]
    assert admin.ok("GET", response.headers["Location"].removeprefix("/api/v1")) == created

    assert legacy("adddictionaryvalue", dictionaryName="Regions", newvalue="north") == {
        "success": False,
        "details": "Value 'north' already exists in dictionary 'Regions'",
    }
    assert legacy("adddictionaryvalue", dictionaryName="regions", newvalue="East")["success"]
    assert labels(admin, "Regions") == ["North", "South", "East"]


def test_a_dictionary_may_start_empty(admin: Api) -> None:
    created = admin.ok("POST", "/dictionaries", 201, json={"name": "Tiers"})
    assert created["values"] == []


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"name": "colors"}, 409, "conflict"),
        ({"name": "Sizes", "values": ["S", "M", "s"]}, 409, "dictionary_value_exists"),
        ({"name": "Sizes", "values": ["S,M"]}, 422, "invalid_parameter"),
        ({"name": "Sizes", "values": ["  "]}, 422, "parameter_required"),
        ({"name": "A,B"}, 422, "invalid_parameter"),
        ({"name": "ß" * 200}, 422, "invalid_parameter"),  # folds to 400 characters
        ({"name": ""}, 422, "invalid_request"),
        ({"name": "x" * 256}, 422, "invalid_request"),
        ({"name": "Sizes", "values": ["x" * 256]}, 422, "invalid_request"),
        ({"name": "Sizes", "colour": "red"}, 422, "invalid_request"),
        ({"values": ["S"]}, 422, "invalid_request"),
    ],
)
def test_a_refused_dictionary_changes_nothing(
    admin: Api, db: Database, body: dict[str, Any], status: int, code: str
) -> None:
    before = state(db)
    problem(admin.post("/dictionaries", json=body), status, code)
    assert state(db) == before


def test_only_administrators_create_dictionaries(client_of: ClientOf, db: Database) -> None:
    add_user(db, "curator", ["main-menu", "dictionaries.add", "dictionaries.remove"])
    body = {"name": "Regions", "values": ["North"]}
    for client in (
        client_of("curator"),
        client_of("admin", read_only=True),
        client_of("admin", directories=["CLIENTS"]),
    ):
        denied = problem(client.post("/dictionaries", json=body), 403, "permission_denied")
        assert denied["detail"] == "Permission denied: Administrator"
    assert "Regions" not in {
        d["name"] for d in client_of("admin").ok("GET", "/dictionaries")["items"]
    }


# Adding values


def test_the_add_right_adds_a_value_the_legacy_api_then_finds(
    client_of: ClientOf, legacy: Legacy
) -> None:
    manager = client_of("manager")  # holds dictionaries.add through the group Sales
    colors = by_name(manager, "Colors")
    response = manager.post(f"/dictionaries/{colors['id']}/values", json={"label": "  Green "})
    assert response.status_code == 201, response.text
    added = response.json()
    assert added["label"] == "Green"
    assert by_name(manager, "Colors")["values"][-1] == added

    assert legacy("adddictionaryvalue", dictionaryName="Colors", newvalue="Green") == {
        "success": False,
        "details": "Value 'Green' already exists in dictionary 'Colors'",
    }
    product = legacy(
        "updateOrCreateEntity",
        tableName="PRODUCTS",
        id="",
        crm_param_1="Product Name",
        crm_param_1_value="Lamp",
        crm_param_2="Color",
        crm_param_2_value="green",
    )
    assert product["success"], product


def test_a_label_already_there_is_a_conflict(client_of: ClientOf, db: Database) -> None:
    manager = client_of("manager")
    colors = by_name(manager, "Colors")
    before = state(db)
    conflict = problem(
        manager.post(f"/dictionaries/{colors['id']}/values", json={"label": "red"}),
        409,
        "dictionary_value_exists",
    )
    assert conflict["detail"] == "Value 'red' already exists in dictionary 'Colors'"
    assert state(db) == before


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"label": "Green,Blue"}, "invalid_parameter"),
        ({"label": "   "}, "parameter_required"),
        ({"label": "Tab\x00"}, "invalid_parameter"),
        ({"label": ""}, "invalid_request"),
        ({"label": "x" * 256}, "invalid_request"),
        ({}, "invalid_request"),
        ({"label": "Green", "position": 1}, "invalid_request"),
        ({"label": 5}, "invalid_request"),
    ],
)
def test_a_refused_label_changes_nothing(
    admin: Api, db: Database, body: dict[str, Any], code: str
) -> None:
    colors = by_name(admin, "Colors")
    before = state(db)
    problem(admin.post(f"/dictionaries/{colors['id']}/values", json=body), 422, code)
    assert state(db) == before


def test_adding_a_value_needs_the_add_right(client_of: ClientOf, db: Database) -> None:
    colors = by_name(client_of("admin"), "Colors")
    before = state(db)
    for client in (client_of("viewer"), client_of("manager", read_only=True)):
        denied = problem(
            client.post(f"/dictionaries/{colors['id']}/values", json={"label": "Green"}),
            403,
            "permission_denied",
        )
        assert denied["detail"] == ADD_RIGHT
    # The right is checked first: without it, nothing tells which dictionaries exist.
    problem(
        client_of("viewer").post("/dictionaries/999999/values", json={"label": "Green"}),
        403,
        "permission_denied",
    )
    assert state(db) == before


def test_a_token_limited_to_directories_changes_no_dictionary(
    client_of: ClientOf, db: Database, legacy: Legacy
) -> None:
    # Dictionaries are shared by every directory: Type is the companies', and a value
    # removed would leave company 11 (Vandelay Industries), outside the token's scope.
    admin = client_of("admin")
    types = by_name(admin, "Type")
    vendor = next(v for v in types["values"] if v["label"] == "Vendor")
    assert admin.entry("/companies/11")["org_type"] == "Vendor"
    values = f"/dictionaries/{types['id']}/values"
    before = state(db)
    for limited in (
        client_of("admin", directories=["CONTACTS"]),
        client_of("manager", directories=["CONTACTS"]),  # holds dictionaries.add
    ):
        removal = limited.delete(f"{values}/{vendor['id']}")
        problem(removal, 403, "permission_denied", detail=REMOVE_RIGHT)
        addition = limited.post(values, json={"label": "Supplier"})
        problem(addition, 403, "permission_denied", detail=ADD_RIGHT)
    assert state(db) == before
    company = admin.entry("/companies/11")
    assert (company["org_type"], company["version"]) == ("Vendor", 1)
    # The same users keep their rights with a full token and through the legacy API.
    assert client_of("manager").ok("POST", values, 201, json={"label": "Supplier"})
    removed = legacy("removedictionaryvalue", dictionaryName="Type", valuetoremove="Supplier")
    assert removed["success"] is True, removed


def test_a_token_limited_to_contacts_still_types_a_new_position(client_of: ClientOf) -> None:
    # A new Position label needs the contact's edit right only (docs/decisions.md).
    limited = client_of("manager", directories=["CONTACTS"])
    edited = limited.ok("PATCH", "/contacts/6", json={"contact_position": "Astronaut"})
    assert edited["contact_position"] == "Astronaut"
    assert "Astronaut" in labels(limited, "Position")


def test_a_repeated_idempotency_key_adds_the_value_once(admin: Api) -> None:
    colors = by_name(admin, "Colors")
    path = f"/dictionaries/{colors['id']}/values"
    headers = {"Idempotency-Key": "add-green"}
    first = admin.post(path, json={"label": "Green"}, headers=headers)
    again = admin.post(path, json={"label": "Green"}, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert labels(admin, "Colors") == [*DEMO_COLORS, "Green"]


def at_once(server: Server, admin: Api, path: str, body: dict[str, Any]) -> list[int]:
    """The statuses of the same POST sent by 8 client_of at the same moment, sorted."""
    callers = 8
    start = Barrier(callers)
    token = admin.http.headers["Authorization"].removeprefix("Bearer ")

    def send(_: int) -> int:
        client = Api(server.client(), token)
        try:
            start.wait()
            return client.post(path, json=body).status_code
        finally:
            client.close()

    with ThreadPoolExecutor(callers) as pool:
        return sorted(pool.map(send, range(callers)))


def test_the_same_label_added_at_once_by_many_is_added_once(admin: Api, server: Server) -> None:
    colors = by_name(admin, "Colors")
    statuses = at_once(server, admin, f"/dictionaries/{colors['id']}/values", {"label": "Green"})
    assert statuses == [201] + [409] * 7
    assert labels(admin, "Colors") == [*DEMO_COLORS, "Green"]


def test_the_same_dictionary_created_at_once_by_many_is_created_once(
    admin: Api, server: Server
) -> None:
    statuses = at_once(server, admin, "/dictionaries", {"name": "Regions", "values": ["North"]})
    assert statuses == [201] + [409] * 7
    assert labels(admin, "Regions") == ["North"]


# Removing values


@pytest.fixture
def services_of_teamlead(db: Database, legacy: Legacy) -> str:
    """Teamlead's Services set to Development and Training (through the legacy API)."""
    code = custom_field(db, "CLIENTS", "Services")
    edited = legacy("editcompany", companyId="2", **{f"clients-{code}": "Development,Training"})
    assert edited["success"], edited
    return code


def test_removing_a_value_takes_it_out_of_entries_with_history(
    client_of: ClientOf, db: Database, legacy: Legacy, services_of_teamlead: str
) -> None:
    add_user(db, "curator", ["main-menu", "dictionaries.remove", "companies.view"])
    curator = client_of("curator")
    services = by_name(curator, "Services")
    training = next(v for v in services["values"] if v["label"] == "Training")

    removed = curator.delete(f"/dictionaries/{services['id']}/values/{training['id']}")
    assert removed.status_code == 204, removed.text
    assert removed.content == b""

    assert labels(curator, "Services") == ["Development", "Consulting", "Support"]
    assert curator.ok("GET", "/companies/2")[services_of_teamlead] == ["Development"]
    assert legacy("getcompanybyname", companyId="2")[services_of_teamlead] == "Development"
    last = curator.ok("GET", "/companies/2/history")["items"][-1]
    assert (last["user"], last["edge"], last["field"]) == ("curator", "api", services_of_teamlead)
    assert (last["old"], last["new"]) == ("Development,Training", "Development")
    # The label is gone, so the legacy API may add it again.
    assert legacy("adddictionaryvalue", dictionaryName="Services", newvalue="Training")["success"]


def test_removing_a_value_needs_the_remove_right(client_of: ClientOf, db: Database) -> None:
    colors = by_name(client_of("admin"), "Colors")
    path = f"/dictionaries/{colors['id']}/values/{colors['values'][0]['id']}"
    before = state(db)
    # The manager may add values, not remove them.
    for client in (client_of("manager"), client_of("viewer"), client_of("admin", read_only=True)):
        denied = problem(client.delete(path), 403, "permission_denied")
        assert denied["detail"] == REMOVE_RIGHT
    assert state(db) == before


def test_a_value_not_in_the_dictionary_is_not_found(admin: Api, db: Database) -> None:
    colors, services = by_name(admin, "Colors"), by_name(admin, "Services")
    before = state(db)
    missing = problem(
        admin.delete(f"/dictionaries/{colors['id']}/values/999999"),
        404,
        "dictionary_value_not_found",
    )
    assert missing["detail"] == "Value '999999' not found in dictionary 'Colors'"
    elsewhere = services["values"][0]["id"]
    problem(
        admin.delete(f"/dictionaries/{colors['id']}/values/{elsewhere}"),
        404,
        "dictionary_value_not_found",
    )
    assert state(db) == before


def test_a_value_removed_by_the_legacy_api_is_gone_from_the_rest_api(
    admin: Api, legacy: Legacy
) -> None:
    assert legacy("removedictionaryvalue", dictionaryName="Colors", valuetoremove="Blue")["success"]
    assert labels(admin, "Colors") == ["Red", "Yellow"]


# Authentication


ROUTES = [
    ("GET", "/dictionaries", None),
    ("POST", "/dictionaries", {"name": "Regions"}),
    ("GET", "/dictionaries/1", None),
    ("POST", "/dictionaries/1/values", {"label": "Green"}),
    ("DELETE", "/dictionaries/1/values/1", None),
]


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
@pytest.mark.parametrize("token", [None, "acc_not-a-token"])
def test_every_route_needs_a_valid_token(
    server: Server,
    db: Database,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    token: str | None,
) -> None:
    client = Api(server.client(), token)
    before = state(db)
    try:
        response = client.request(method, path, json=body)
    finally:
        client.close()
    problem(response, 401, "invalid_token")
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="accord"'
    assert state(db) == before
