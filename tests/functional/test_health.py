"""What an orchestrator asks of a process (`/healthz`, `/readyz`), and the request id every
reply carries and the access log writes (issue 15, item 3)."""

import logging
import re
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from accord.jobs.worker import JobWorker
from accord.services.transactions import Database, open_database
from accord.store import migrate
from tests.support import (
    API_PATH,
    KEY,
    PG_URL,
    InProcessServer,
    Templates,
    settings_for,
    statements,
)

POINT_READ = {"command": "getcompanybyname", "companyId": "1", "apiKey": KEY, "userName": "admin"}
GENERATED = re.compile(r"[0-9a-f]{16}")
Serve = Callable[..., httpx.Client]


@pytest.fixture
def http(server: InProcessServer) -> Iterator[httpx.Client]:
    with server.client() as client:
        yield client


@pytest.fixture
def serve() -> Iterator[Serve]:
    """Serves the app over a database URL with settings of the test's own: a client of it."""
    with ExitStack() as stack:

        def start(url: str, **settings: Any) -> httpx.Client:
            database = open_database(url, sqlite_synchronous="NORMAL")
            stack.callback(database.dispose)
            served = InProcessServer(settings_for(url, **settings), database)
            stack.enter_context(served)
            return stack.enter_context(served.client())

        yield start


def test_healthz_answers_while_the_process_serves_without_a_token(http: httpx.Client) -> None:
    reply = http.get("/healthz")
    assert (reply.status_code, reply.json()) == (200, {"status": "ok"})
    assert reply.headers["cache-control"] == "no-store"


def test_readyz_is_ready_over_a_current_database_with_jobs_off(http: httpx.Client) -> None:
    reply = http.get("/readyz")
    assert reply.status_code == 200
    assert reply.json() == {
        "status": "ready",
        "checks": {"database": "ok", "schema": "ok", "jobs": "off"},
    }
    assert reply.headers["cache-control"] == "no-store"


# The worker's thread dying is what this test is about.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_readyz_says_when_the_job_worker_has_died(
    demo_url: str, serve: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    die = threading.Event()

    def dies_when_told(_worker: JobWorker) -> bool:
        die.wait(30)
        raise SystemExit  # what the worker's loop does not catch: its thread ends

    monkeypatch.setattr(JobWorker, "run_once", dies_when_told)
    http = serve(demo_url, run_jobs=True)
    ready = http.get("/readyz")
    assert (ready.status_code, ready.json()["checks"]["jobs"]) == (200, "ok")
    die.set()
    for _ in range(100):  # the thread ends at once; within a generous bound
        reply = http.get("/readyz")
        if reply.status_code == 503:
            break
        threading.Event().wait(0.1)
    assert reply.status_code == 503
    assert reply.json() == {
        "status": "unready",
        "checks": {"database": "ok", "schema": "ok", "jobs": "failing"},
        "reasons": {"jobs": "the job worker's thread has stopped"},
    }


def test_readyz_is_unready_when_the_database_is_unreachable(
    templates: Templates, tmp_path: Path, serve: Serve
) -> None:
    name = f"accord_gone_{uuid.uuid4().hex[:8]}"
    if templates.backend == "sqlite":
        url = f"sqlite:///{tmp_path / name}.db"
    else:
        url = sa.make_url(PG_URL or "").set(database=name).render_as_string(False)
    http = serve(url)
    reply = http.get("/readyz")
    assert reply.status_code == 503
    body = reply.json()
    assert body["status"] == "unready"
    assert body["checks"] == {"database": "failing", "schema": "unchecked", "jobs": "off"}
    assert set(body["reasons"]) == {"database"}
    assert name not in reply.text  # nothing of the server's setup to anyone who asks
    assert not (tmp_path / f"{name}.db").exists()  # asking made no database
    assert http.get("/healthz").status_code == 200  # alive all the same


def test_readyz_is_unready_until_the_schema_is_upgraded(empty_url: str, serve: Serve) -> None:
    behind = open_database(empty_url)
    migrate.downgrade(behind.engine, "-1")
    http = serve(empty_url)
    reply = http.get("/readyz")
    assert reply.status_code == 503
    assert reply.json()["checks"] == {"database": "ok", "schema": "failing", "jobs": "off"}
    assert "accord db upgrade" in reply.json()["reasons"]["schema"]
    migrate.upgrade(behind.engine)
    behind.dispose()
    assert http.get("/readyz").status_code == 200


@pytest.mark.parametrize(
    "path", [API_PATH, "/api/v1/directories", "/healthz", "/nowhere", "/api/v1/openapi.json"]
)
def test_every_reply_carries_the_clients_request_id(http: httpx.Client, path: str) -> None:
    sent = "req-42.Abc_~!" + "x" * 115  # 128 visible characters
    reply = http.get(path, params=POINT_READ, headers={"X-Request-Id": sent})
    assert reply.headers.get_list("x-request-id") == [sent]


def test_a_request_without_an_id_gets_a_new_one(http: httpx.Client) -> None:
    first = http.get(API_PATH, params=POINT_READ).headers["x-request-id"]
    second = http.get(API_PATH, params=POINT_READ).headers["x-request-id"]
    assert GENERATED.fullmatch(first)
    assert GENERATED.fullmatch(second)
    assert first != second


@pytest.mark.parametrize(
    "hostile",
    [b"x" * 129, b"a\x01b", b"line\r\nSet-Cookie: x=1", b"a b", b"caf\xe9", b"", b"\x7f"],
    ids=["too-long", "control", "crlf", "space", "not-ascii", "empty", "delete"],
)
def test_a_malformed_request_id_is_replaced(http: httpx.Client, hostile: bytes) -> None:
    reply = http.get("/healthz", headers=[(b"X-Request-Id", hostile)])
    assert reply.status_code == 200
    assert GENERATED.fullmatch(reply.headers["x-request-id"])
    assert "set-cookie" not in reply.headers


def test_the_access_log_line_carries_the_request_id(
    demo_url: str, serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    http = serve(demo_url, access_log=True)
    with caplog.at_level(logging.INFO, logger="accord.access"):
        given = http.get(API_PATH, params=POINT_READ, headers={"X-Request-Id": "trace-7"})
        made = http.get("/api/v1/directories")
    lines = [record.getMessage() for record in caplog.records if record.name == "accord.access"]
    assert given.headers["x-request-id"] == "trace-7"
    assert lines[0].startswith(f"GET {API_PATH} command=getcompanybyname 200 ")
    assert lines[0].endswith(" id=trace-7")
    assert lines[1].startswith("GET /api/v1/directories - 401 ")
    assert lines[1].endswith(f" id={made.headers['x-request-id']}")
    assert len(lines) == 2


def test_a_readiness_check_costs_two_statements(db: Database, http: httpx.Client) -> None:
    """A probe is cheap: it reads only whether the schema has a revision, and which."""
    with statements(db) as sent:
        assert http.get("/readyz").status_code == 200
    assert len(sent) <= 2, sent
