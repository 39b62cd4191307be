"""The server's log as `accord serve` writes it (issue 15, item 3): JSON lines that carry
the request id the client got back, on the access line and on any line logged while
serving the request."""

import io
import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from accord import logs
from accord.legacy import routes as legacy_routes
from tests.support import API_PATH, KEY, InProcessServer, ServerProcess, settings_for

POINT_READ = {"command": "getcompanybyname", "companyId": "1", "apiKey": KEY, "userName": "admin"}


@pytest.fixture
def log() -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """The process's logging configured as `accord serve` does, in JSON, into a buffer;
    gives what reads the lines written so far (each parsed)."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    stream = io.StringIO()
    logs.configure("json", stream=stream)

    def lines() -> list[dict[str, Any]]:
        logs.flush()
        return [json.loads(line) for line in stream.getvalue().splitlines()]

    yield lines
    logs.shutdown()
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def http(db: Any, demo_url: str) -> Iterator[httpx.Client]:
    with (
        InProcessServer(settings_for(demo_url, access_log=True), db) as served,
        served.client() as client,
    ):
        yield client


def test_the_access_line_is_json_with_the_request_id_of_the_reply(
    log: Callable[[], list[dict[str, Any]]], http: httpx.Client
) -> None:
    reply = http.get(API_PATH, params=POINT_READ)
    given = http.get("/api/v1/directories", headers={"X-Request-Id": "trace-42"})
    access = [line for line in log() if line["logger"] == "accord.access"]
    assert [line["request_id"] for line in access] == [reply.headers["x-request-id"], "trace-42"]
    first = access[0]
    assert first["level"] == "INFO"
    assert first["time"].endswith("Z")
    assert first["method"] == "GET"
    assert first["path"] == API_PATH
    assert first["command"] == "getcompanybyname"
    assert first["status"] == 200
    assert first["duration_ms"] > 0
    assert first["message"].startswith(f"GET {API_PATH} command=getcompanybyname 200 ")
    assert access[1]["status"] == given.status_code == 401
    assert access[1]["command"] is None
    # Never the query string: it carries the API key (httpx, the client, logs its URLs).
    assert all(KEY not in json.dumps(line) for line in log() if line["logger"] != "httpx")


def test_a_line_logged_while_serving_a_request_carries_its_id(
    log: Callable[[], list[dict[str, Any]]],
    http: httpx.Client,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def crashes(*_: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(legacy_routes, "_respond", crashes)
    reply = http.get(API_PATH, params=POINT_READ)
    assert reply.status_code == 500
    request_id = reply.headers["x-request-id"]
    failure = next(line for line in log() if line["logger"] == "accord.legacy.routes")
    assert failure["level"] == "ERROR"
    assert failure["request_id"] == request_id
    assert "RuntimeError: a bug" in failure["exception"]
    access = next(line for line in log() if line["logger"] == "accord.access")
    assert (access["request_id"], access["status"]) == (request_id, 500)


def test_a_line_logged_outside_any_request_has_no_request_id(
    log: Callable[[], list[dict[str, Any]]],
) -> None:
    logging.getLogger("accord.test").warning("alone %d", 1)
    (line,) = log()
    assert line["message"] == "alone 1"
    assert line["level"] == "WARNING"
    assert "request_id" not in line


def test_accord_serve_writes_json_lines_when_asked(demo_url: str, tmp_path: Path) -> None:
    """The real command: `ACCORD_LOG_FORMAT=json accord serve` logs each request as a JSON
    line on stderr, with the id its reply carried."""
    settings = {"ACCORD_LOG_FORMAT": "json", "ACCORD_ACCESS_LOG": "1"}
    with ServerProcess(demo_url, tmp_path, "json", env=settings) as served:
        served.wait_until_listening()
        with served.client() as client:
            reply = client.get("/healthz", headers={"X-Request-Id": "probe-7"})
    assert reply.headers["x-request-id"] == "probe-7"
    lines = [json.loads(line) for line in served.output().splitlines() if line.startswith("{")]
    access = [line for line in lines if line["logger"] == "accord.access"]
    assert [(a["path"], a["status"], a["request_id"]) for a in access] == [
        ("/healthz", 200, "probe-7")
    ]
    assert {line["level"] for line in lines} <= {"INFO", "WARNING"}
