"""Conditional requests (ETag, If-Match, If-None-Match) and Idempotency-Key."""

from typing import Any

import httpx
import pytest

from accord.services.transactions import Database
from tests.functional.api_support import Api, Clients, add_user, create_token, problem
from tests.support import dump


def changes(api: Api, path: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = api.ok("GET", f"{path}/history")["items"]
    return items


def named(api: Api, name: str) -> list[int]:
    return [item["id"] for item in api.items("/companies", filter=f"org_name eq '{name}'")]


# ETag and If-Match


def test_the_etag_is_the_entrys_version_and_each_change_moves_it(api: Api, legacy: Any):
    first = api.get("/companies/3")
    assert first.headers["etag"] == '"1"'
    assert first.json()["version"] == 1
    patched = api.patch("/companies/3", json={"org_www": "adobe.test"})
    assert patched.headers["etag"] == '"2"'
    assert legacy("editcompany", companyId="3", **{"clients-org_www": "adobe.legacy"})["success"]
    assert api.get("/companies/3").headers["etag"] == '"3"'
    replaced = api.put("/companies/3", json={"org_name": "Adobe"})
    assert replaced.headers["etag"] == '"4"'


@pytest.mark.parametrize(
    ("method", "body"),
    [
        ("PATCH", {"org_www": "x.example"}),
        ("PUT", {"org_name": "Adobe", "org_www": "x.example"}),
        ("DELETE", None),
    ],
)
@pytest.mark.parametrize("if_match", ['"1"', 'W/"1"', "*"])
def test_a_write_if_matching_the_current_etag_succeeds(
    api: Api, method: str, body: Any, if_match: str
):
    response = api.request(method, "/companies/3", json=body, headers={"If-Match": if_match})
    assert response.status_code in (200, 204), response.text
    if method == "DELETE":
        problem(api.get("/companies/3"), 404, "entry_not_found")
    else:
        assert response.headers["etag"] == '"2"'
        assert api.entry("/companies/3")["org_www"] == "x.example"


@pytest.mark.parametrize(
    ("method", "body"),
    [
        ("PATCH", {"org_www": "stale.example"}),
        ("PUT", {"org_name": "Stale", "org_www": "stale.example"}),
        ("DELETE", None),
    ],
)
def test_a_write_with_a_stale_etag_is_a_412_and_changes_nothing(
    api: Api, db: Database, method: str, body: Any
):
    api.ok("PATCH", "/companies/3", json={"org_www": "newer.example"})
    before = dump(db)
    response = api.request(method, "/companies/3", json=body, headers={"If-Match": '"1"'})
    detail = problem(response, 412, "stale_version")["detail"]
    assert "version 2" in detail
    assert dump(db) == before
    assert api.entry("/companies/3")["org_www"] == "newer.example"


def test_of_two_clients_writing_from_the_same_version_the_second_is_refused(
    api: Api, clients: Clients, db: Database
):
    other = clients(create_token(db))
    etag = api.get("/companies/4").headers["etag"]
    first = api.patch("/companies/4", json={"org_www": "first.example"}, headers={"If-Match": etag})
    assert first.status_code == 200, first.text
    second = other.patch(
        "/companies/4", json={"org_www": "second.example"}, headers={"If-Match": etag}
    )
    problem(second, 412, "stale_version")
    assert api.entry("/companies/4")["org_www"] == "first.example"
    assert [c["new"] for c in changes(api, "/companies/4") if c["action"] == "update"] == [
        "first.example"
    ]


@pytest.mark.parametrize("if_match", ["1", '"one"', '"1", "2"', "", 'W/"x"'])
def test_an_if_match_that_names_no_version_is_a_400(api: Api, db: Database, if_match: str):
    api.ok("GET", "/me")
    before = dump(db)
    body = problem(
        api.patch("/companies/3", json={"org_www": "x.example"}, headers={"If-Match": if_match}),
        400,
        "invalid_query",
    )
    assert "If-Match" in body["detail"]
    assert dump(db) == before


# If-None-Match


@pytest.mark.parametrize("if_none_match", ['"1"', 'W/"1"', '"7", "1"', '"7" , W/"1"', "*"])
def test_a_read_of_an_unchanged_entry_is_a_304_without_body(api: Api, if_none_match: str):
    response = api.get("/companies/3", headers={"If-None-Match": if_none_match})
    assert response.status_code == 304
    assert response.content == b""
    assert response.headers["etag"] == '"1"'


@pytest.mark.parametrize("if_none_match", ['"2"', '"7", "8"', "garbage"])
def test_a_read_with_another_etag_gets_the_entry(api: Api, if_none_match: str):
    response = api.get("/companies/3", headers={"If-None-Match": if_none_match})
    assert response.status_code == 200
    assert response.json()["org_name"] == "Adobe"


def test_once_the_entry_changes_the_old_etag_gets_the_new_entry(api: Api):
    etag = api.get("/companies/3").headers["etag"]
    api.ok("PATCH", "/companies/3", json={"org_www": "changed.example"})
    response = api.get("/companies/3", headers={"If-None-Match": etag})
    assert response.status_code == 200
    assert response.headers["etag"] == '"2"'
    assert response.json()["org_www"] == "changed.example"


# Idempotency-Key


def test_a_post_repeated_with_its_key_gets_the_first_reply_and_writes_once(api: Api):
    key = {"Idempotency-Key": "create-retry-1"}
    first = api.post("/companies", json={"org_name": "Retried Co"}, headers=key)
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    api.ok("PATCH", f"/companies/{first.json()['id']}", json={"org_www": "later.example"})
    for _ in range(3):
        again = api.post("/companies", json={"org_name": "Retried Co"}, headers=key)
        assert again.status_code == 201
        assert again.headers["idempotent-replayed"] == "true"
        assert again.content == first.content  # the first reply, though the entry changed since
        assert again.headers["location"] == first.headers["location"]
        assert again.headers["etag"] == first.headers["etag"]
    assert named(api, "Retried Co") == [first.json()["id"]]
    assert [c["action"] for c in changes(api, f"/companies/{first.json()['id']}")] == [
        "create",
        "update",
    ]


def test_a_patch_repeated_with_its_key_is_not_applied_again(api: Api):
    key = {"Idempotency-Key": "patch-retry-1"}
    first = api.patch("/companies/5", json={"org_www": "mine.example"}, headers=key)
    assert first.status_code == 200, first.text
    api.ok("PATCH", "/companies/5", json={"org_www": "someone-else.example"})
    again = api.patch("/companies/5", json={"org_www": "mine.example"}, headers=key)
    assert again.status_code == 200
    assert again.headers["idempotent-replayed"] == "true"
    assert again.content == first.content
    assert api.entry("/companies/5")["org_www"] == "someone-else.example"


def replays(again: httpx.Response, first: httpx.Response) -> None:
    """`again` is the first reply given again, status and body, and says so."""
    assert "idempotent-replayed" not in first.headers
    assert (again.status_code, again.content) == (first.status_code, first.content), again.text
    assert again.headers["idempotent-replayed"] == "true"


def field_names(api: Api, directory: str = "CLIENTS") -> dict[str, str]:
    return {f["code"]: f["name"] for f in api.ok("GET", f"/directories/{directory}")["fields"]}


def test_a_directory_created_again_with_its_key_gets_the_first_reply_and_is_made_once(api: Api):
    key = {"Idempotency-Key": "new-directory"}
    body = {"code": "PROJECTS", "name": "Projects"}
    first = api.post("/directories", json=body, headers=key)
    assert first.status_code == 201, first.text
    replays(api.post("/directories", json=body, headers=key), first)
    codes = [d["code"] for d in api.ok("GET", "/directories")["items"]]
    assert codes.count("PROJECTS") == 1
    assert api.ok("GET", "/directories/PROJECTS") == first.json()


def test_a_field_added_again_with_its_key_gets_the_first_reply_and_is_added_once(api: Api):
    key = {"Idempotency-Key": "new-field"}
    body = {"name": "Rank", "type": "number"}
    first = api.post("/directories/CLIENTS/fields", json=body, headers=key)
    assert first.status_code == 201, first.text
    replays(api.post("/directories/CLIENTS/fields", json=body, headers=key), first)
    assert [code for code, name in field_names(api).items() if name == "Rank"] == [
        first.json()["code"]
    ]


def test_a_field_change_repeated_with_its_key_is_not_applied_again(api: Api):
    key = {"Idempotency-Key": "rename-field"}
    path = "/directories/CLIENTS/fields/org_www"
    first = api.patch(path, json={"name": "Site"}, headers=key)
    assert first.status_code == 200, first.text
    api.ok("PATCH", path, json={"name": "Web address"})
    replays(api.patch(path, json={"name": "Site"}, headers=key), first)
    assert field_names(api)["org_www"] == "Web address"


@pytest.mark.parametrize(
    ("method", "path", "body", "other"),
    [
        (
            "POST",
            "/directories",
            {"code": "PROJECTS", "name": "Projects"},
            {"code": "PLANS", "name": "Plans"},
        ),
        (
            "POST",
            "/directories/CLIENTS/fields",
            {"name": "Rank", "type": "number"},
            {"name": "Score", "type": "number"},
        ),
        ("PATCH", "/directories/CLIENTS/fields/org_www", {"name": "Site"}, {"name": "Web"}),
    ],
)
def test_a_schema_writes_key_sent_with_another_body_is_a_409_and_writes_nothing(
    api: Api, db: Database, method: str, path: str, body: dict[str, Any], other: dict[str, Any]
):
    key = {"Idempotency-Key": "schema-write"}
    first = api.request(method, path, json=body, headers=key)
    assert first.status_code in (200, 201), first.text
    before = dump(db)
    refused = problem(
        api.request(method, path, json=other, headers=key), 409, "idempotency_conflict"
    )
    assert "Idempotency-Key" in refused["detail"]
    assert dump(db) == before


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/companies", {"org_name": "Other Body Co"}),
        ("POST", "/companies", {"org_name": "Keyed Co", "org_www": "x.example"}),
        ("POST", "/contacts", {"contact_name": "Keyed Co"}),
        ("PATCH", "/companies/1", {"org_www": "x.example"}),
    ],
)
def test_a_key_reused_for_another_request_is_a_409_and_writes_nothing(
    api: Api, db: Database, method: str, path: str, body: dict[str, Any]
):
    key = {"Idempotency-Key": "used-once"}
    api.ok("POST", "/companies", 201, json={"org_name": "Keyed Co"}, headers=key)
    before = dump(db)
    body = problem(api.request(method, path, json=body, headers=key), 409, "idempotency_conflict")
    assert "Idempotency-Key" in body["detail"]
    assert dump(db) == before


def test_keys_belong_to_their_user(api: Api, clients: Clients, db: Database):
    add_user(db, "clerk", ["main-menu", "companies.all"])
    clerk = clients(create_token(db, "clerk"))
    key = {"Idempotency-Key": "shared-key"}
    mine = api.ok("POST", "/companies", 201, json={"org_name": "Admin Co"}, headers=key)
    theirs = clerk.post("/companies", json={"org_name": "Clerk Co"}, headers=key)
    assert theirs.status_code == 201, theirs.text
    assert "idempotent-replayed" not in theirs.headers
    assert theirs.json()["id"] == mine["id"] + 1
    # Another token of the same user shares the user's keys.
    second_token = clients(create_token(db, "clerk"))
    replay = second_token.post("/companies", json={"org_name": "Clerk Co"}, headers=key)
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.content == theirs.content


def test_a_refused_request_with_a_key_can_be_corrected_and_sent_again(api: Api):
    key = {"Idempotency-Key": "fix-and-retry"}
    problem(api.post("/companies", json={"org_name": "Adobe"}, headers=key), 409, "duplicate_value")
    again = api.post("/companies", json={"org_name": "Adobe"}, headers=key)
    problem(again, 409, "duplicate_value")
    assert "idempotent-replayed" not in again.headers


@pytest.mark.parametrize("key", ["", "k" * 256])
def test_an_idempotency_key_that_cannot_be_one_is_a_400(api: Api, db: Database, key: str):
    api.ok("GET", "/me")
    before = dump(db)
    response = api.post(
        "/companies", json={"org_name": "Badly Keyed"}, headers={"Idempotency-Key": key}
    )
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert "Idempotency-Key" in response.json()["detail"]
    assert dump(db) == before


def test_a_key_of_255_characters_is_accepted(api: Api):
    key = {"Idempotency-Key": "k" * 255}
    first = api.post("/companies", json={"org_name": "Long Key Co"}, headers=key)
    assert first.status_code == 201, first.text
    assert (
        api.post("/companies", json={"org_name": "Long Key Co"}, headers=key).headers[
            "idempotent-replayed"
        ]
        == "true"
    )
