"""SQLite's log is copied into the database file by a thread of its own, after writes."""

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from accord.services.transactions import Database, open_database
from tests.integration.test_database import add_company


def sqlite_path(db: Database) -> Path:
    if not db.embedded:
        pytest.skip("checkpoints are SQLite's")
    return Path(str(db.engine.url.database))


def in_file_itself(path: Path, name: str) -> bool:
    """Whether the database file holds the company, not counting its log: `immutable`
    makes SQLite read the file alone."""
    reader = sqlite3.connect(f"file:{path}?immutable=1", uri=True)
    try:
        return bool(reader.execute("SELECT 1 FROM entries WHERE name = ?", (name,)).fetchall())
    finally:
        reader.close()


def checkpoint_threads() -> int:
    return sum(t.name == "sqlite-checkpoints" and t.is_alive() for t in threading.enumerate())


def wait_for(condition: object, seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.02)
    return False


def test_a_small_write_reaches_the_database_file_soon_after_it_commits(db: Database) -> None:
    # A write this small stays far below the log's automatic checkpoint (40,000 pages),
    # so only the checkpointing thread can have copied it.
    path = sqlite_path(db)
    add_company(db, "Checkpointed Soon")
    assert wait_for(lambda: in_file_itself(path, "Checkpointed Soon"))
    add_company(db, "Checkpointed Too")
    assert wait_for(lambda: in_file_itself(path, "Checkpointed Too"))


def test_disposing_of_the_database_stops_its_thread(demo_url: str) -> None:
    before = checkpoint_threads()
    database = open_database(demo_url)
    sqlite_path(database)
    add_company(database, "Before Dispose")
    assert checkpoint_threads() == before + 1
    database.dispose()
    assert checkpoint_threads() == before


def test_a_database_that_only_reads_starts_no_thread(demo_url: str) -> None:
    before = checkpoint_threads()
    database = open_database(demo_url)
    try:
        sqlite_path(database)
        with database.transaction(write=False) as tx:
            assert tx.schema.directory_by_code("CLIENTS")
        assert checkpoint_threads() == before
    finally:
        database.dispose()
