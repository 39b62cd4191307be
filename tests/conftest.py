"""Fixtures: each test gets its own database (SQLite always, PostgreSQL when
ACCORD_TEST_DATABASE_URL is set), copied from a migrated template, and the real app over
it, served in the test process (`server`) or, for tests about the wire, on a socket
(`live_server`)."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from accord.services.transactions import Database, open_database
from tests.support import PG_URL, InProcessServer, Legacy, LiveServer, Templates, settings_for

BACKENDS = ["sqlite", *(["postgresql"] if PG_URL else [])]


@pytest.fixture(scope="session", params=BACKENDS)
def templates(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Templates]:
    folder: Path = tmp_path_factory.mktemp(f"db-{request.param}")
    built = Templates(request.param, folder)
    yield built
    built.close()


@pytest.fixture
def demo_url(templates: Templates) -> Iterator[str]:
    """A fresh database holding the demo data set."""
    with templates.fresh("demo") as url:
        yield url


@pytest.fixture
def empty_url(templates: Templates) -> Iterator[str]:
    """A fresh database holding only the default template."""
    with templates.fresh("empty") as url:
        yield url


@pytest.fixture
def db(demo_url: str) -> Iterator[Database]:
    database = open_database(demo_url, sqlite_synchronous="NORMAL")
    yield database
    database.dispose()


@pytest.fixture
def empty_db(empty_url: str) -> Iterator[Database]:
    database = open_database(empty_url, sqlite_synchronous="NORMAL")
    yield database
    database.dispose()


@pytest.fixture
def server(db: Database, demo_url: str) -> Iterator[InProcessServer]:
    """The app over the test's database, its lifespan run, without a socket: reach it
    through `server.client()` (an httpx.Client)."""
    with InProcessServer(settings_for(demo_url), db) as served:
        yield served


@pytest.fixture
def live_server(db: Database, demo_url: str) -> Iterator[LiveServer]:
    """The app served by uvicorn over a real socket: for tests about the wire itself."""
    with LiveServer(settings_for(demo_url), db) as live:
        yield live


@pytest.fixture
def legacy(server: InProcessServer) -> Iterator[Legacy]:
    """A legacy API client acting as the demo administrator."""
    client = Legacy(server.client())
    yield client
    client.close()
