"""Concurrent upserts by a unique field are upserts on both databases: of several batches
naming the same new companies at once, one creates each, the others update it, and no
item is refused because another batch or a legacy `addcompany` created its name first."""

import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import httpx

from accord.domain.values import RawValue
from accord.services import entries
from accord.services.transactions import Database, Transaction, run
from tests.functional.api_support import CLI, create_token
from tests.support import API_PATH, KEY, LiveServer

BATCHES = 8
NAMES = [f"Racer {i:03d}" for i in range(200)]
T = TypeVar("T")


def together(count: int, work: Callable[[int], T]) -> list[T]:
    """work(0) ... work(count - 1), each in a thread of its own, released at one moment."""
    start = threading.Barrier(count)

    def run(n: int) -> T:
        start.wait(timeout=60)
        return work(n)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))


def rest(server: LiveServer, token: str) -> httpx.Client:
    return server.client(headers={"Authorization": f"Bearer {token}"}, timeout=120)


def upsert(http: httpx.Client, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    reply = http.post(
        "/api/v1/companies/batch", json={"mode": "upsert", "match": "org_name", "entries": entries}
    )
    assert reply.status_code == 200, reply.text
    results: list[dict[str, Any]] = reply.json()["results"]
    return results


def refused(results: list[dict[str, Any]]) -> list[tuple[int, str]]:
    return [(r["index"], r["error"]["code"]) for r in results if r["status"] not in (200, 201)]


def companies_named(http: httpx.Client, names: list[str]) -> dict[str, list[int]]:
    """name -> the ids of the companies holding it (ignoring case), for each of `names`."""
    found: dict[str, list[int]] = {name.casefold(): [] for name in names}
    cursor = None
    while True:
        params: dict[str, str | int] = {"limit": 1000, "fields": "org_name"}
        if cursor:
            params["cursor"] = cursor
        page = http.get("/api/v1/companies", params=params).json()
        for item in page["items"]:
            if item["org_name"].casefold() in found:
                found[item["org_name"].casefold()].append(item["id"])
        cursor = page["next_cursor"]
        if cursor is None:
            return found


def test_concurrent_upserts_of_the_same_names_create_each_once_and_update_it_after(
    server: LiveServer, db: Database
) -> None:
    token = create_token(db)

    def one_batch(n: int) -> list[dict[str, Any]]:
        entries = [{"org_name": name, "org_www": f"www{n}.example"} for name in NAMES]
        with rest(server, token) as http:
            assert http.get("/api/v1/me").status_code == 200  # connected before the race
            return upsert(http, entries)

    replies = together(BATCHES, one_batch)

    assert [refused(results) for results in replies] == [[]] * BATCHES
    created = Counter(r["id"] for results in replies for r in results if r["status"] == 201)
    updated = Counter(r["id"] for results in replies for r in results if r["status"] == 200)
    assert len(created) == len(NAMES)
    assert set(created.values()) == {1}
    assert set(updated) == set(created)
    assert set(updated.values()) == {BATCHES - 1}
    with rest(server, token) as http:
        holders = companies_named(http, NAMES)
        assert {name: ids for name, ids in holders.items() if len(ids) != 1} == {}
        for company in sorted(created)[:: len(NAMES) // 10]:
            history = http.get(f"/api/v1/companies/{company}/history").json()["items"]
            actions = Counter((c["action"], c["field"]) for c in history)
            # One creation (a row per field it set), then every other batch's website.
            assert actions == {
                ("create", "org_name"): 1,
                ("create", "org_www"): 1,
                ("update", "org_www"): BATCHES - 1,
            }


def test_a_legacy_addcompany_racing_upserts_of_its_name_creates_it_or_is_told_it_exists(
    server: LiveServer, db: Database
) -> None:
    token = create_token(db)
    added = NAMES[::20]

    def one_client(n: int) -> Any:
        if n % 2:
            with server.client() as http:
                params = {"command": "addcompany", "apiKey": KEY, "userName": "admin"}
                return [
                    http.get(API_PATH, params={**params, "clients-org_name": name}).json()
                    for name in added
                ]
        with rest(server, token) as http:
            return upsert(http, [{"org_name": name} for name in NAMES])

    replies = together(4, one_client)

    assert [refused(replies[n]) for n in (0, 2)] == [[], []]
    for legacy in (replies[1], replies[3]):
        for name, reply in zip(added, legacy, strict=True):
            exists = f"Value '{name}' of unique field 'Company name' already exists"
            assert reply.get("name") == name or reply == {"success": False, "details": exists}
    with rest(server, token) as http:
        holders = companies_named(http, NAMES)
    assert {name: ids for name, ids in holders.items() if len(ids) != 1} == {}


def test_an_upsert_updates_the_company_another_writer_creates_while_it_runs(
    server: LiveServer, db: Database
) -> None:
    """Another transaction has created "Late Racer" and not yet committed when the batch
    looks its names up: the batch waits for it and updates that company."""
    created = threading.Event()

    def other_writer(tx: Transaction) -> None:
        companies = tx.schema.directory_by_code("CLIENTS")
        name = tx.schema.field(companies, "org_name")
        entries.create_entry(tx, companies, [(name, RawValue("Late Racer"))], actor=CLI)
        created.set()
        time.sleep(0.5)  # commits while the batch waits for it

    other = threading.Thread(target=run, args=(db, other_writer), kwargs={"write": True})
    other.start()
    assert created.wait(10)
    with rest(server, create_token(db)) as http:
        results = upsert(
            http,
            [{"org_name": "late racer", "org_www": "late.example"}, {"org_name": "Early"}],
        )
        other.join()
        assert [(r["status"], r.get("error", {}).get("code")) for r in results] == [
            (200, None),
            (201, None),
        ]
        assert results[0]["entry"]["org_www"] == "late.example"
        assert companies_named(http, ["Late Racer", "Early"]) == {
            "late racer": [results[0]["id"]],
            "early": [results[1]["id"]],
        }


def test_concurrent_upserts_by_an_id_not_yet_handed_out_create_it_once_and_update_it_after(
    server: LiveServer, db: Database
) -> None:
    token = create_token(db)
    ids = list(range(700, 750))

    def one_batch(n: int) -> list[dict[str, Any]]:
        entries = [{"id": i, "org_name": f"By id {i}", "org_www": f"www{n}.example"} for i in ids]
        with rest(server, token) as http:
            assert http.get("/api/v1/me").status_code == 200
            reply = http.post(
                "/api/v1/companies/batch", json={"mode": "upsert", "entries": entries}
            )
            assert reply.status_code == 200, reply.text
            results: list[dict[str, Any]] = reply.json()["results"]
            return results

    replies = together(4, one_batch)

    assert [refused(results) for results in replies] == [[]] * 4
    created = Counter(r["id"] for results in replies for r in results if r["status"] == 201)
    assert created == Counter(ids)
    with rest(server, token) as http:
        assert http.post("/api/v1/companies", json={"org_name": "Next"}).json()["id"] == 750
