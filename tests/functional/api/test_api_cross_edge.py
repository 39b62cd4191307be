"""The REST API and the legacy API are two renderings of the same services: what one
writes the other reads at once, under the same rights, in one history that names the
edge of each change."""

from typing import Any

import pytest

from accord.services.transactions import Database
from tests.functional.api_support import Api, Clients, create_token, problem
from tests.support import Legacy, custom_field


def ok(reply: dict[str, Any]) -> dict[str, Any]:
    assert reply["success"] is True, reply
    return reply


def test_a_company_created_through_rest_is_read_at_once_through_the_legacy_api(
    api: Api, legacy: Legacy, db: Database
):
    services = custom_field(db, "CLIENTS", "Services")
    created = api.ok(
        "POST",
        "/companies",
        201,
        json={
            "org_name": "Bridge Co",
            "org_type": "Partner",
            "org_www": "bridge.example",
            "org_contact": 6,
            services: ["Development", "Training"],
        },
    )
    found = ok(legacy("getcompanybyname", companyName="Bridge Co"))
    assert found["id"] == str(created["id"])
    assert (found["org_type"], found["org_www"], found["org_contact"]) == (
        "Partner",
        "bridge.example",
        "Ted Johnson",
    )
    assert found[services] == "Development,Training"
    assert ok(legacy("getcompanybyname", companyId=str(created["id"])))["name"] == "Bridge Co"


def test_a_company_written_through_the_legacy_api_is_read_at_once_through_rest(
    api: Api, legacy: Legacy
):
    added = ok(
        legacy(
            "addcompany",
            **{
                "clients-org_name": "Legacy Co",
                "clients-org_type": "Lead",
                "clients-org_sla": "SLA-1 Free",
            },
        )
    )
    entry = api.entry(f"/companies/{added['id']}")
    assert (entry["org_name"], entry["org_type"], entry["org_sla"]) == (
        "Legacy Co",
        "Lead",
        "SLA-1 Free",
    )
    ok(legacy("editcompany", companyId=added["id"], **{"clients-org_www": "legacy.example"}))
    assert api.entry(f"/companies/{added['id']}")["org_www"] == "legacy.example"
    assert [i["id"] for i in api.items("/companies", filter="org_www eq 'legacy.example'")] == [
        int(added["id"])
    ]


def test_an_edit_through_the_legacy_api_makes_a_rest_etag_stale(api: Api, legacy: Legacy):
    etag = api.get("/companies/3").headers["etag"]
    ok(legacy("editcompany", companyId="3", **{"clients-org_www": "adobe.legacy"}))
    problem(
        api.patch("/companies/3", json={"org_www": "adobe.rest"}, headers={"If-Match": etag}),
        412,
        "stale_version",
    )
    assert ok(legacy("getcompanybyname", companyId="3"))["org_www"] == "adobe.legacy"


def test_deletes_through_either_edge_are_seen_by_the_other(api: Api, legacy: Legacy):
    assert api.delete("/companies/4").status_code == 204
    assert legacy("getcompanybyname", companyId="4") == {
        "success": False,
        "details": "Company not found",
    }
    ok(legacy("deletecompany", companyId="5"))
    problem(api.get("/companies/5"), 404, "entry_not_found")
    assert [i["id"] for i in api.items("/companies", filter="id in (4, 5)")] == []


def test_a_name_taken_through_one_edge_is_taken_for_the_other(api: Api, legacy: Legacy):
    ok(legacy("addcompany", **{"clients-org_name": "Unique Co"}))
    problem(api.post("/companies", json={"org_name": "unique co"}), 409, "duplicate_value")
    api.ok("POST", "/companies", 201, json={"org_name": "Rest Unique Co"})
    assert legacy("addcompany", **{"clients-org_name": "REST UNIQUE CO"}) == {
        "success": False,
        "details": "Value 'REST UNIQUE CO' of unique field 'Company name' already exists",
    }


def test_one_history_names_the_edge_and_user_of_each_change(api: Api, legacy: Legacy):
    created = api.ok("POST", "/companies", 201, json={"org_name": "Storied Co"})
    path = f"/companies/{created['id']}"
    ok(legacy("editcompany", companyId=str(created["id"]), **{"clients-org_www": "one.example"}))
    api.ok("PATCH", path, json={"org_www": "two.example"})
    ok(legacy("editcompany", companyId=str(created["id"]), **{"clients-org_type": "Client"}))
    items = api.ok("GET", f"{path}/history")["items"]
    assert [(c["edge"], c["user"], c["action"], c["field"], c["old"], c["new"]) for c in items] == [
        ("api", "admin", "create", "org_name", None, "Storied Co"),
        ("legacy", "admin", "update", "org_www", "", "one.example"),
        ("api", "admin", "update", "org_www", "one.example", "two.example"),
        ("legacy", "admin", "update", "org_type", "", "Client"),
    ]
    times = [c["at"] for c in items]
    assert times == sorted(times)


def test_the_history_of_a_demo_entry_names_who_loaded_it(api: Api):
    items = api.ok("GET", "/companies/2/history")["items"]
    assert {(c["edge"], c["user"]) for c in items} == {("cli", "admin")}
    assert [c["field"] for c in items if c["action"] == "update"] == ["org_contact"]


@pytest.mark.parametrize(
    ("user", "command", "params", "method", "path", "body", "denied"),
    [
        (
            "viewer",
            "addcompany",
            {"clients-org_name": "Viewer Co"},
            "POST",
            "/companies",
            {"org_name": "Viewer Co"},
            "Add companies",
        ),
        (
            "viewer",
            "editcontact",
            {"contactId": "6", "clients-contact_phone": "1"},
            "PATCH",
            "/contacts/6",
            {"contact_phone": "1"},
            "Edit contacts",
        ),
        (
            "manager",
            "updateOrCreateEntity",
            {"tableName": "PRODUCTS", "crm_param_1": "Product Name", "crm_param_1_value": "M"},
            "POST",
            "/directories/PRODUCTS/entries",
            {"product_name": "M"},
            "Add Products",
        ),
        (
            "viewer",
            "transactionslist",
            {"saleVal": "SALES-1"},
            "GET",
            "/directories/TRANSACTIONS/entries",
            None,
            "Search CRM transactions",
        ),
    ],
)
def test_both_edges_refuse_the_same_calls_with_the_same_right_named(
    clients: Clients,
    legacy: Legacy,
    db: Database,
    user: str,
    command: str,
    params: dict[str, str],
    method: str,
    path: str,
    body: Any,
    denied: str,
):
    other = legacy.as_user(user)
    try:
        assert other(command, **params) == {
            "success": False,
            "details": f"Permission denied: {denied}",
        }
    finally:
        other.close()
    rest = clients(create_token(db, user))
    response = rest.request(method, path, json=body)
    assert problem(response, 403, "permission_denied")["detail"] == f"Permission denied: {denied}"
