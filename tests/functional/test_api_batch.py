"""Batches through the REST API: `POST .../batch` creates, updates or upserts up to 1000
entries, answers per item, can be all-or-nothing, and honours Idempotency-Key."""

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from accord.domain.users import Actor
from accord.services import tokens, users
from accord.services.transactions import Database, Transaction, run
from tests.support import Server, custom_field, dump

CLI = Actor.system("cli")
PROBLEM = "application/problem+json"


def token_for(db: Database, login: str, *, rights: tuple[str, ...] = (), **scope: Any) -> str:
    """A token of `login` (made with `rights` unless it exists, as the CLI makes users)."""

    def work(tx: Transaction) -> str:
        if login not in {u.login for u in users.list_users(tx, actor=CLI)}:
            users.add_user(tx, login, email=f"{login}@test.example", actor=CLI)
            for right in rights:
                users.grant(tx, right, user=login, actor=CLI)
        return tokens.create_token(tx, login, actor=CLI, **scope)[0]

    return run(db, work, write=True)


def client(server: Server, token: str) -> httpx.Client:
    http = server.client(headers={"Authorization": f"Bearer {token}"}, timeout=120)
    http.base_url = http.base_url.join("/api/v1")
    return http


@pytest.fixture
def api(server: Server, db: Database) -> Iterator[httpx.Client]:
    """A client acting as the demo administrator (its token's first use recorded)."""
    with client(server, token_for(db, "admin")) as http:
        assert http.get("/me").status_code == 200
        yield http


def batch(http: httpx.Client, path: str, entries: list[dict[str, Any]], **options: Any) -> Any:
    """The results of a batch that must be answered 200."""
    response = http.post(f"{path}/batch", json={"entries": entries, **options})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    return response.json()["results"]


def statuses(results: list[dict[str, Any]]) -> list[tuple[int, int | str]]:
    """(status, id) of each written entry, (status, error code) of each refused one."""
    return [(r["status"], r["id"] if "entry" in r else r["error"]["code"]) for r in results]


def error_fields(problem: dict[str, Any]) -> dict[str, str]:
    return {e["field"]: e["code"] for e in problem.get("errors", [])}


def names(http: httpx.Client, path: str = "/companies") -> list[str]:
    found, cursor = [], ""
    while True:
        page = http.get(path, params={"limit": 1000, **({"cursor": cursor} if cursor else {})})
        found.extend(
            item.get("org_name") or item.get("contact_name") for item in page.json()["items"]
        )
        if page.json()["next_cursor"] is None:
            return found
        cursor = page.json()["next_cursor"]


def test_create_answers_each_entry_as_a_single_create_would(api: httpx.Client) -> None:
    results = batch(
        api,
        "/companies",
        [
            {"org_name": "Zeta", "org_type": "Lead", "org_contact": {"id": 2}},
            {"org_name": "Omega", "org_www": "omega.example"},
        ],
        mode="create",
    )
    assert statuses(results) == [(201, 17), (201, 18)]
    assert [r["index"] for r in results] == [0, 1]
    for result in results:
        assert api.get(f"/companies/{result['id']}").json() == result["entry"]
    assert results[0]["entry"]["org_contact"] == {"id": 2, "name": "Bob Stone"}
    history = api.get("/companies/17/history").json()["items"]
    assert [(c["edge"], c["action"], c["field"], c["new"]) for c in history] == [
        ("api", "create", "org_name", "Zeta"),
        ("api", "create", "org_type", "Lead"),
        ("api", "create", "org_contact", "Bob Stone"),
    ]


def test_update_by_id_changes_only_the_given_fields_and_bumps_versions(api: httpx.Client) -> None:
    path = "/directories/CLIENTS/entries"
    results = batch(
        api,
        path,
        [
            {"id": 1, "org_type": "Partner", "org_www": None},
            {"id": 3, "org_name": "Adobe"},
            {"id": 404, "org_name": "Nobody"},
        ],
        mode="update",
    )
    assert statuses(results) == [(200, 1), (200, 3), (404, "entry_not_found")]
    acme = api.get(f"{path}/1").json()
    assert (acme["org_type"], acme["org_www"], acme["org_name"], acme["version"]) == (
        "Partner",
        None,
        "Acme Corporation",
        2,
    )
    assert results[1]["entry"]["version"] == 1  # nothing changed: nothing written


def test_upsert_by_id_creates_an_entry_with_an_id_that_does_not_exist(api: httpx.Client) -> None:
    results = batch(
        api,
        "/companies",
        [{"id": 2, "org_www": "teamlead.example.org"}, {"id": 500, "org_name": "Five Hundred"}],
        mode="upsert",
    )
    assert statuses(results) == [(200, 2), (201, 500)]
    assert api.get("/companies/500").json()["org_name"] == "Five Hundred"
    created = api.post("/companies", json={"org_name": "Next"})
    assert created.json()["id"] == 501


def test_upsert_never_gives_a_deleted_entrys_id_again(api: httpx.Client, db: Database) -> None:
    created = api.post("/companies", json={"org_name": "Ghost"}).json()["id"]
    assert api.delete(f"/companies/{created}").status_code == 204
    history = api.get("/companies/1/history").json()
    before = dump(db)
    results = batch(api, "/companies", [{"id": created, "org_name": "Reborn"}], mode="upsert")
    assert statuses(results) == [(409, "conflict")]
    assert results[0]["error"]["detail"] == (
        f"Id {created} was handed out before; ids are not used again"
    )
    assert dump(db) == before
    assert api.get(f"/companies/{created}").status_code == 404
    assert api.get("/companies/1/history").json() == history


def test_the_highest_id_can_be_taken_and_then_no_id_is_left(
    api: httpx.Client, db: Database
) -> None:
    highest = 2**31 - 1
    results = batch(api, "/companies", [{"id": highest, "org_name": "Last"}], mode="upsert")
    assert statuses(results) == [(201, highest)]
    assert api.get(f"/companies/{highest}").json()["org_name"] == "Last"
    before = dump(db)
    refused = api.post("/companies", json={"org_name": "One Too Many"})
    assert refused.status_code == 422, refused.text
    assert (refused.json()["code"], refused.json()["detail"]) == (
        "no_ids_left",
        "No ids are left in Companies",
    )
    results = batch(api, "/companies", [{"org_name": "Two Too Many"}], mode="create")
    assert statuses(results) == [(422, "no_ids_left")]
    assert dump(db) == before


def test_upsert_by_a_unique_field_matches_it_whatever_the_case(api: httpx.Client) -> None:
    results = batch(
        api,
        "/companies",
        [
            {"org_name": "ACME corporation", "org_type": "Vendor"},
            {"org_name": "Brand New", "org_type": "Lead"},
        ],
        mode="upsert",
        match="org_name",
    )
    assert statuses(results) == [(200, 1), (201, 17)]
    acme = api.get("/companies/1").json()
    assert (acme["org_name"], acme["org_type"]) == ("ACME corporation", "Vendor")
    products = batch(
        api,
        "/directories/PRODUCTS/entries",
        [{"product_name": "confluence", "product_price": 6}],
        mode="update",
        match="product_name",
    )
    assert statuses(products) == [(200, 2)]
    assert products[0]["entry"]["product_price"] == 6


def test_contacts_batch_creates_the_companies_it_names(api: httpx.Client) -> None:
    results = batch(
        api,
        "/contacts",
        [
            {"contact_name": "Ann", "contact_company": "Brand New", "contact_position": "Boss"},
            {"contact_name": "Ben", "contact_company": "brand new", "contact_position": "boss"},
        ],
        mode="create",
    )
    assert statuses(results) == [(201, 11), (201, 12)]
    assert [r["entry"]["contact_company"] for r in results] == [{"id": 17, "name": "Brand New"}] * 2
    assert [r["entry"]["contact_position"] for r in results] == ["Boss", "Boss"]


def test_each_refused_item_gets_its_problem_and_leaves_nothing_behind(
    api: httpx.Client, db: Database
) -> None:
    results = batch(
        api,
        "/companies",
        [
            {"org_name": "Good One"},
            {"org_name": "Bad Site", "org_www": "not a url"},
            {"org_name": "Unknown", "no_such_field": 1},
            {"org_name": "good one"},
            {"org_name": "teamlead"},
            {"org_www": "nameless.example"},
            {"org_name": "Good Two"},
        ],
        mode="create",
    )
    assert statuses(results) == [
        (201, 17),
        (422, "invalid_value"),
        (422, "field_not_found"),
        (409, "duplicate_value"),
        (409, "duplicate_value"),
        (422, "field_required"),
        (201, 18),
    ]
    single = api.post("/companies", json={"org_name": "Bad Site", "org_www": "not a url"})
    assert results[1]["error"] == {k: v for k, v in single.json().items() if k != "instance"}
    assert error_fields(results[1]["error"]) == {"org_www": "invalid_value"}
    assert results[4]["error"]["detail"] == (
        "Value 'teamlead' of unique field 'Company name' already exists"
    )
    assert names(api)[16:] == ["Good One", "Good Two"]


def test_a_missing_right_refuses_the_items_that_need_it(server: Server, db: Database) -> None:
    editor = token_for(db, "editor", rights=("main-menu", "companies.view", "companies.edit"))
    with client(server, editor) as http:
        results = batch(
            http,
            "/companies",
            [{"org_name": "Acme Corporation", "org_www": "acme.example.org"}, {"org_name": "New"}],
            mode="upsert",
            match="org_name",
        )
        assert statuses(results) == [(200, 1), (403, "permission_denied")]
        assert results[1]["error"]["detail"] == "Permission denied: Add companies"
    viewer = token_for(db, "viewer")
    before = dump(db)
    with client(server, viewer) as http:
        results = batch(http, "/companies", [{"id": 1, "org_www": "x.example"}], mode="update")
    assert statuses(results) == [(403, "permission_denied")]
    read_only = token_for(db, "admin", read_only=True)
    with client(server, read_only) as http:
        results = batch(http, "/contacts", [{"contact_name": "Nope"}], mode="create")
    assert statuses(results) == [(403, "permission_denied")]
    assert _without_tokens(dump(db)) == _without_tokens(before)


def _without_tokens(rows: dict[str, list[Any]]) -> dict[str, list[Any]]:
    return {table: found for table, found in rows.items() if table != "api_tokens"}


def test_all_or_nothing_writes_nothing_when_an_item_fails(api: httpx.Client, db: Database) -> None:
    before = dump(db)
    response = api.post(
        "/contacts/batch",
        json={
            "mode": "create",
            "atomic": True,
            "entries": [
                {"contact_name": "Ann", "contact_company": "Brand New", "contact_position": "Boss"},
                {"contact_name": "Ben", "contact_email": "not an e-mail"},
                {"contact_name": "Cid", "contact_company": {"id": 999}},
                {"contact_email": "cid@example.com"},
            ],
        },
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert (body["code"], body["status"], body["instance"]) == (
        "batch_refused",
        422,
        "/api/v1/contacts/batch",
    )
    assert body["detail"] == "3 of 4 entries were refused, so none was written"
    assert error_fields(body) == {
        "entries.1.contact_email": "invalid_value",
        "entries.2.contact_company": "invalid_value",
        "entries.3.contact_name": "field_required",
    }
    assert dump(db) == before


def test_an_item_with_a_stale_version_fails_alone_and_changes_nothing(
    api: httpx.Client, db: Database
) -> None:
    """A version read and sent back guards an item as If-Match guards a single write."""
    acme = api.get("/companies/1").json()
    assert api.patch("/companies/1", json={"org_www": "elsewhere.example"}).status_code == 200
    teamlead = api.get("/companies/2").json()
    before = dump(db)
    results = batch(
        api,
        "/companies",
        [
            {**acme, "org_type": "Partner"},  # read before the PATCH: version 1, now 2
            {"id": 404, "version": 1, "org_www": "nobody.example"},
        ],
        mode="upsert",
    )
    assert statuses(results) == [(412, "stale_version"), (404, "entry_not_found")]
    assert results[0]["error"]["detail"] == (
        "The entry changed since version was read; it is now at version 2"
    )
    assert dump(db) == before
    current = {**teamlead, "org_www": "teamlead.example.org"}
    results = batch(api, "/companies", [current], mode="update")
    assert statuses(results) == [(200, 2)]
    assert results[0]["entry"]["version"] == teamlead["version"] + 1
    assert api.get("/companies/1").json()["org_type"] == acme["org_type"]


def test_all_or_nothing_names_the_stale_version_and_writes_nothing(
    api: httpx.Client, db: Database
) -> None:
    before = dump(db)
    response = api.post(
        "/companies/batch",
        json={
            "mode": "update",
            "atomic": True,
            "entries": [
                {"id": 1, "version": 1, "org_type": "Partner"},
                {"id": 2, "version": 7, "org_type": "Partner"},
                {"id": 3, "version": "1", "org_type": "Partner"},
            ],
        },
    )
    assert response.status_code == 422, response.text
    assert error_fields(response.json()) == {
        "entries.1.version": "stale_version",
        "entries.2.version": "invalid_parameter",
    }
    assert dump(db) == before


def test_a_version_means_nothing_to_a_create_batch(api: httpx.Client) -> None:
    results = batch(api, "/companies", [{"org_name": "Versioned", "version": 9}], mode="create")
    assert statuses(results) == [(201, results[0]["id"])]
    assert results[0]["entry"]["version"] == 1


def test_all_or_nothing_writes_everything_when_every_item_passes(api: httpx.Client) -> None:
    results = batch(
        api,
        "/companies",
        [{"org_name": "One"}, {"id": 2, "org_www": "teamlead.example.org"}],
        mode="upsert",
        atomic=True,
    )
    assert statuses(results) == [(201, 17), (200, 2)]


def test_a_batch_holds_up_to_1000_entries(api: httpx.Client, db: Database) -> None:
    notes = custom_field(db, "CLIENTS", "Notes")
    entries = [{"org_name": f"Bulk {n:04d}", notes: f"note {n}"} for n in range(1000)]
    results = batch(api, "/companies", entries, mode="create")
    assert statuses(results) == [(201, 17 + n) for n in range(1000)]
    found = api.get("/companies", params={"filter": f"{notes} eq 'NOTE 999'"}).json()["items"]
    assert [item["org_name"] for item in found] == ["Bulk 0999"]
    before = dump(db)
    response = api.post(
        "/companies/batch", json={"mode": "create", "entries": [*entries, {"org_name": "x"}]}
    )
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "invalid_request"
    assert response.json()["errors"][0]["field"] == "entries"
    assert dump(db) == before


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"mode": "create", "entries": []}, 422, "invalid_request"),
        ({"mode": "merge", "entries": [{}]}, 422, "invalid_request"),
        ({"mode": "create", "entries": [{}], "extra": 1}, 422, "invalid_request"),
        ({"mode": "update", "match": "org_www", "entries": [{}]}, 422, "invalid_batch"),
        ({"mode": "update", "match": "nope", "entries": [{}]}, 422, "invalid_batch"),
    ],
)
def test_a_batch_that_cannot_run_is_refused_whole(
    api: httpx.Client, body: dict[str, Any], status: int, code: str
) -> None:
    response = api.post("/companies/batch", json=body)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["code"] == code


def test_an_unknown_directory_is_404(api: httpx.Client) -> None:
    response = api.post("/directories/NOPE/entries/batch", json={"mode": "create", "entries": [{}]})
    assert response.status_code == 404
    assert response.json()["code"] == "directory_not_found"


def test_a_repeated_idempotency_key_returns_the_first_reply_and_writes_once(
    api: httpx.Client,
) -> None:
    body = {"mode": "create", "entries": [{"org_name": "Once"}, {"org_name": "Twice"}]}
    headers = {"Idempotency-Key": "batch-1"}
    first = api.post("/companies/batch", json=body, headers=headers)
    again = api.post("/companies/batch", json=body, headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.content == first.content
    assert again.headers["idempotent-replayed"] == "true"
    assert names(api)[16:] == ["Once", "Twice"]
    other = api.post("/companies/batch", json={**body, "atomic": True}, headers=headers)
    assert other.status_code == 409
    assert other.json()["code"] == "idempotency_conflict"


def test_an_all_or_nothing_refusal_is_not_kept_for_its_idempotency_key(
    api: httpx.Client, db: Database
) -> None:
    """As for a single write refused: nothing written, nothing kept; a retry runs again."""
    body: dict[str, Any] = {"mode": "create", "atomic": True, "entries": [{"org_name": "A"}, {}]}
    headers = {"Idempotency-Key": "batch-2"}
    first = api.post("/companies/batch", json=body, headers=headers)
    assert first.status_code == 422
    assert "idempotent-replayed" not in first.headers
    body["entries"][1] = {"org_name": "B"}
    again = api.post("/companies/batch", json=body, headers=headers)
    assert statuses(again.json()["results"]) == [(201, 17), (201, 18)]
