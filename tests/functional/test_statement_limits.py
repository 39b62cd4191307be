"""A statement that runs too long is stopped, and one whose client went away is cancelled,
on both APIs (issue 12, defect 2): the database is never held for a request nobody waits
for, and the client that waits gets a clear answer, never a 500.

The slow statement is reached through a test hook in the request's own transaction (a
recursive count on SQLite, `pg_sleep` on PostgreSQL), so that these tests hold whatever
shape the searches take."""

import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from accord.services import auth, listings
from accord.services.transactions import Database, open_database
from tests.functional.api_support import create_token
from tests.support import API_PATH, KEY, PG_URL, LiveServer, settings_for

REST_SLOW = "/api/v1/directories/CLIENTS/entries/1/history"
"""A REST read the hooks below slow down."""
TIMEOUT = 1.0
"""The statement timeout of the server under test, in seconds."""


class Slow:
    """A statement that runs about `seconds` (unless stopped), run by the hooks below;
    `ended` is set once it is over, however it ended."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.started = threading.Event()
        self.ended = threading.Event()

    def run(self, connection: sa.Connection) -> None:
        if connection.dialect.name == "sqlite":
            # About 1.2 million rows a second here: stopped by nothing but its end.
            rows = int(self.seconds * 1_200_000)
            sql = (
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n"
                f" WHERE i < {rows}) SELECT count(*) FROM n"
            )
        else:
            sql = f"SELECT pg_sleep({self.seconds})"
        self.started.set()
        try:
            connection.exec_driver_sql(sql).all()
        finally:
            self.ended.set()


def slowed(monkeypatch: pytest.MonkeyPatch, slow: Slow) -> None:
    """Each legacy call and each REST entry-history read runs `slow` in its transaction."""
    original_auth = auth.authenticate_digest
    original_history = listings.entry_history

    def authenticate_digest(tx: Any, **options: Any) -> Any:
        slow.run(tx.connection)
        return original_auth(tx, **options)

    def entry_history(tx: Any, *args: Any, **options: Any) -> Any:
        slow.run(tx.connection)
        return original_history(tx, *args, **options)

    monkeypatch.setattr(auth, "authenticate_digest", authenticate_digest)
    monkeypatch.setattr(listings, "entry_history", entry_history)


@pytest.fixture
def timed(demo_url: str) -> Iterator[tuple[LiveServer, Database]]:
    """A server whose statements are stopped after `TIMEOUT` seconds."""
    database = open_database(demo_url, sqlite_synchronous="NORMAL", statement_timeout=TIMEOUT)
    settings = settings_for(demo_url, statement_timeout=TIMEOUT)
    with LiveServer(settings, database) as live:
        yield live, database
    database.dispose()


def test_a_statement_past_the_timeout_is_a_clear_error_on_both_apis(
    timed: tuple[LiveServer, Database],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    live, database = timed
    token = create_token(database)
    slow = Slow(seconds=TIMEOUT * 8)
    slowed(monkeypatch, slow)
    with live.client() as http:
        started = time.monotonic()
        reply = http.get(REST_SLOW, headers={"Authorization": f"Bearer {token}"})
        took = time.monotonic() - started
        assert reply.status_code == 503, reply.text
        assert reply.headers["content-type"] == "application/problem+json"
        problem = reply.json()
        assert problem["code"] == "statement_timeout"
        assert problem["detail"] == (
            "The request took too long: its database work was stopped after 1 s"
        )
        assert took < TIMEOUT * 5  # stopped, not run to its end (8 timeouts)

        query = {"command": "getcompanies", "apiKey": KEY, "userName": "admin"}
        legacy = http.get(API_PATH, params=query)
        assert legacy.status_code == 200
        assert legacy.json() == {
            "success": False,
            "details": "The request took too long: its database work was stopped after 1 s",
        }
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_a_timed_out_request_leaves_the_server_serving(
    timed: tuple[LiveServer, Database], monkeypatch: pytest.MonkeyPatch
) -> None:
    live, _ = timed
    with monkeypatch.context() as patched:
        slowed(patched, Slow(seconds=TIMEOUT * 8))
        with live.client() as http:
            query = {"command": "getcompanies", "apiKey": KEY, "userName": "admin"}
            assert http.get(API_PATH, params=query).json()["success"] is False
    with live.client() as http:
        query = {"command": "getcompanies", "apiKey": KEY, "userName": "admin"}
        reply = http.get(API_PATH, params=query).json()
    assert reply["success"] is True
    assert reply["companies"]


def _active_sleeps(database: Database) -> int:
    """PostgreSQL backends of this database running the slow statement now."""
    engine = sa.create_engine(database.engine.url)
    try:
        with engine.connect() as connection:
            return int(
                connection.execute(
                    sa.text(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                        " AND state = 'active' AND query LIKE 'SELECT pg_sleep%'"
                    )
                ).scalar_one()
            )
    finally:
        engine.dispose()


def _wait_for(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


@pytest.mark.parametrize("api", ["rest", "legacy"])
def test_a_statement_is_cancelled_when_its_client_goes_away(
    api: str, demo_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No statement timeout: only the client's going away can stop the statement.
    database = open_database(demo_url, sqlite_synchronous="NORMAL")
    token = create_token(database)
    slow = Slow(seconds=60)
    slowed(monkeypatch, slow)
    if api == "rest":
        path, headers, query = REST_SLOW, {"Authorization": f"Bearer {token}"}, {}
    else:
        path, headers, query = (
            API_PATH,
            {},
            {"command": "getcompanies", "apiKey": KEY, "userName": "admin"},
        )
    with LiveServer(settings_for(demo_url, statement_timeout=0), database) as live:
        try:
            with (
                live.client(timeout=httpx.Timeout(60, read=1.0)) as http,
                pytest.raises(httpx.ReadTimeout),  # the client gives up and hangs up
            ):
                http.get(path, headers=headers, params=query)
            assert slow.started.is_set()
            # The database is free again soon after, not in a minute.
            assert _wait_for(slow.ended.is_set, 10), "the statement ran on"
            if PG_URL and database.engine.dialect.name == "postgresql":
                assert _wait_for(lambda: _active_sleeps(database) == 0, 5)
            # And the server goes on serving, on the same database.
            monkeypatch.undo()
            with live.client() as http:
                query = {"command": "getcompanies", "apiKey": KEY, "userName": "admin"}
                assert http.get(API_PATH, params=query).json()["success"] is True
        finally:
            monkeypatch.undo()
    database.dispose()
