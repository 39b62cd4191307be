"""The same request with the same Idempotency-Key, sent by many clients at once, is
carried out once: every client gets the same reply, one of them the original.

Once through the server of the test process, once through two `accord serve` processes
on one database (so the race is decided by the database, not by one process's locks).
"""

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from accord.services.transactions import Database
from tests.functional.api_support import API, Api, create_token
from tests.functional.test_concurrency import ServerProcess
from tests.support import Server

CLIENTS = 8
ROUNDS = 4


def send_together(
    servers: list[Server], token: str, method: str, path: str, key: str, body: dict[str, Any]
) -> list[httpx.Response]:
    """The same request sent once through each server, all released at the same moment."""
    start = threading.Barrier(len(servers))

    def send(server: Server) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": key}
        with server.client(headers=headers, timeout=120) as http:
            http.base_url = http.base_url.join(API)
            http.get("/me")  # connected and authenticated before the race starts
            start.wait(timeout=60)
            return http.request(method, path, json=body)

    with ThreadPoolExecutor(max_workers=len(servers)) as pool:
        return list(pool.map(send, servers))


def assert_one_reply(replies: list[httpx.Response], status: int) -> None:
    """Every reply is the original's, and exactly one is the original."""
    shown = {
        (r.status_code, r.content, r.headers.get("etag"), r.headers.get("location"))
        for r in replies
    }
    assert len(shown) == 1, shown
    assert replies[0].status_code == status, replies[0].text
    originals = [r for r in replies if "idempotent-replayed" not in r.headers]
    assert len(originals) == 1
    assert all(r.headers["idempotent-replayed"] == "true" for r in replies if r not in originals)


def creates_a_company_once(api: Api, servers: list[Server], token: str) -> None:
    for n in range(ROUNDS):
        name = f"Raced Co {n}"
        replies = send_together(
            servers, token, "POST", "/companies", f"company-{n}", {"org_name": name}
        )
        assert_one_reply(replies, 201)
        created = replies[0].json()
        assert [c["id"] for c in api.items("/companies", filter=f"org_name eq '{name}'")] == [
            created["id"]
        ]
        history = api.ok("GET", f"/companies/{created['id']}/history")["items"]
        assert [(c["action"], c["field"]) for c in history] == [("create", "org_name")]


def creates_a_contact_once(api: Api, servers: list[Server], token: str) -> None:
    """Contacts have no unique field: only the key can keep a second one out."""
    for n in range(ROUNDS):
        name = f"Raced Contact {n}"
        replies = send_together(
            servers, token, "POST", "/contacts", f"contact-{n}", {"contact_name": name}
        )
        assert_one_reply(replies, 201)
        found = api.items("/contacts", filter=f"contact_name eq '{name}'")
        assert [c["id"] for c in found] == [replies[0].json()["id"]]


def patches_once(api: Api, servers: list[Server], token: str) -> None:
    before = api.entry("/companies/3")["version"]
    for n in range(ROUNDS):
        replies = send_together(
            servers, token, "PATCH", "/companies/3", f"patch-{n}", {"org_www": f"raced{n}.example"}
        )
        assert_one_reply(replies, 200)
        assert replies[0].json()["version"] == before + n + 1
    updates = [
        c["new"] for c in api.ok("GET", "/companies/3/history")["items"] if c["action"] == "update"
    ]
    assert updates == [f"raced{n}.example" for n in range(ROUNDS)]


SCENARIOS = [
    pytest.param(creates_a_company_once, id="company"),
    pytest.param(creates_a_contact_once, id="contact"),
    pytest.param(patches_once, id="patch"),
]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_one_key_sent_by_many_clients_at_once_is_carried_out_once(
    server: Server, api: Api, token: str, scenario: Any
):
    scenario(api, [server] * CLIENTS, token)


@pytest.fixture
def processes(demo_url: str, tmp_path: Path) -> Iterator[list[ServerProcess]]:
    """Two `accord serve` processes on the test's database; neither may log a traceback."""
    with ExitStack() as stack:
        pair = [stack.enter_context(ServerProcess(demo_url, tmp_path, n)) for n in ("1", "2")]
        for process in pair:
            process.wait_until_listening()
        yield pair
    for process in pair:
        assert "Traceback" not in process.output(), process.output()


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_one_key_sent_through_two_server_processes_at_once_is_carried_out_once(
    processes: list[ServerProcess], db: Database, scenario: Any
):
    token = create_token(db)
    api = Api(processes[0].client(), token)
    try:
        scenario(api, [processes[n % 2] for n in range(CLIENTS)], token)
    finally:
        api.close()
