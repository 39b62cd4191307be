"""`accord serve --workers 2`: real processes on one socket, on SQLite and PostgreSQL.

A connection stays with the worker that accepted it, so a client kept to one connection
talks to one worker; `/metrics` names the worker that answered (`accord_worker_info`).
"""

import os
import re
import signal
import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx

from accord.services.transactions import open_database
from tests.functional.api_support import create_token
from tests.support import API_PATH, KEY, ServerProcess

WORKER = re.compile(r'accord_worker_info\{jobs="([01])",pid="(\d+)"\} 1\.0')
AS_ADMIN = {"apiKey": KEY, "userName": "admin"}
TRIES = 300
"""New connections made, at most, to find each worker (the kernel picks the worker)."""


def worker_of(client: httpx.Client) -> tuple[int, bool]:
    """The pid of the worker that answers `client`, and whether it runs the job worker."""
    found = WORKER.search(client.get("/metrics").text)
    assert found is not None
    return int(found[2]), found[1] == "1"


@contextmanager
def one_client_per_worker(server: ServerProcess, workers: int = 2) -> Iterator[list[httpx.Client]]:
    """A client kept to one connection for each of `workers` distinct workers."""
    with ExitStack() as stack:
        by_pid: dict[int, httpx.Client] = {}
        for _ in range(TRIES):
            client = stack.enter_context(
                server.client(limits=httpx.Limits(max_connections=1, max_keepalive_connections=1))
            )
            by_pid.setdefault(worker_of(client)[0], client)
            if len(by_pid) == workers:
                break
        assert len(by_pid) == workers, f"found {len(by_pid)} workers"
        yield list(by_pid.values())


def seen_workers(server: ServerProcess, count: int) -> dict[int, bool]:
    """Workers answering new connections (pid: runs jobs) till `count` distinct are seen."""
    seen: dict[int, bool] = {}
    for _ in range(TRIES):
        with server.client() as client:
            pid, jobs = worker_of(client)
            seen[pid] = jobs
        if len(seen) == count:
            break
    return seen


def started(demo_url: str, tmp_path: Path, **env: str) -> ServerProcess:
    """Two workers, both answering (the socket takes connections before they serve)."""
    server = ServerProcess(
        demo_url, tmp_path, "workers", env={"ACCORD_RUN_JOBS": "1", **env}, workers=2
    )
    server.wait_until_listening()
    assert len(seen_workers(server, 2)) == 2, server.output()
    return server


def test_the_rate_limit_and_the_failure_throttle_count_across_workers(
    demo_url: str, tmp_path: Path
) -> None:
    limits = {"ACCORD_API_RATE_LIMIT": "5", "ACCORD_AUTH_FAILURE_LIMIT": "3"}
    with (
        started(demo_url, tmp_path, **limits) as server,
        one_client_per_worker(server) as (first, second),
    ):
        statuses = [
            client.get("/api/v1/directories").status_code
            for _ in range(6)
            for client in (first, second)
        ]
        guesses = {**AS_ADMIN, "apiKey": "a guess", "command": "getcompanies"}
        details = [
            client.get(API_PATH, params=guesses).json()["details"]
            for _ in range(2)
            for client in (first, second)
        ]
    assert statuses.count(429) == 7  # 5 answered in all (401: no token), not 5 each
    assert details[:3] == ["Wrong API key"] * 3
    assert details[3].startswith("Too many failed authentications from this address")


def test_a_field_added_through_one_worker_is_seen_by_the_other(
    demo_url: str, tmp_path: Path
) -> None:
    database = open_database(demo_url)
    try:
        token = create_token(database)
    finally:
        database.dispose()
    auth = {"Authorization": f"Bearer {token}"}
    with started(demo_url, tmp_path) as server, one_client_per_worker(server) as (first, second):
        before = second.get("/api/v1/directories/CLIENTS", headers=auth)
        added = first.post(
            "/api/v1/directories/CLIENTS/fields",
            json={"name": "Loyalty tier", "type": "text"},
            headers=auth,
        )
        after = second.get("/api/v1/directories/CLIENTS", headers=auth)
    assert before.status_code == 200
    assert "Loyalty tier" not in before.text
    assert added.status_code == 201
    assert "Loyalty tier" in after.text


def test_sigterm_lets_a_request_in_flight_finish_then_exits_0(
    demo_url: str, tmp_path: Path
) -> None:
    body = f"apiKey={KEY}&userName=admin&command=addcompany&clients-org_name=After+SIGTERM".encode()
    with started(demo_url, tmp_path) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as connection:
            head = (
                f"POST {API_PATH} HTTP/1.1\r\nHost: test\r\n"
                "Content-Type: application/x-www-form-urlencoded\r\n"
                f"Content-Length: {len(body)}\r\n\r\n"
            )
            connection.sendall(head.encode() + body[:10])
            time.sleep(0.3)  # the head is read: the request is in flight
            server.process.send_signal(signal.SIGTERM)
            time.sleep(0.5)
            connection.sendall(body[10:])
            reply = _read_reply(connection)
        status = server.process.wait(timeout=60)
        with server.client() as client:
            refused = _refused(client)
    assert reply.startswith(b"HTTP/1.1 200"), reply[:200]
    assert b'"success":false' not in reply, reply
    assert b'"id"' in reply, reply
    assert status == 0
    assert refused


def test_two_workers_answer_one_runs_the_jobs_and_a_killed_one_is_replaced(
    demo_url: str, tmp_path: Path
) -> None:
    with started(demo_url, tmp_path) as server:
        before = seen_workers(server, 2)
        with server.client() as client:
            reply = client.get(API_PATH, params={**AS_ADMIN, "command": "getcompanies"})
        jobs_worker = next(pid for pid, jobs in before.items() if jobs)
        os.kill(jobs_worker, signal.SIGKILL)
        after: dict[int, bool] = {}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(after) < 2:
            time.sleep(0.2)
            after = seen_workers(server, 2)
    assert reply.status_code == 200
    assert reply.json()["companies"]
    assert len(before) == 2
    assert sorted(before.values()) == [False, True]
    assert len(after) == 2
    assert jobs_worker not in after
    assert sorted(after.values()) == [False, True]


def _read_reply(connection: socket.socket) -> bytes:
    """A whole reply with a Content-Length (read till its body has come)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    length = int(re.search(rb"(?i)content-length: *(\d+)", head)[1])  # type: ignore[index]
    while len(rest) < length:
        chunk = connection.recv(65536)
        if not chunk:
            break
        rest += chunk
    return head + b"\r\n\r\n" + rest


def _refused(client: httpx.Client) -> bool:
    try:
        client.get("/healthz", timeout=2)
    except httpx.ConnectError:
        return True
    return False
