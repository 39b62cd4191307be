"""What one statement may keep: memory for its shape (issue 12, defect 4) and, on SQLite,
write-ahead log on disk (defect 14)."""

import gc
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from accord.services.transactions import Database, open_database, run
from accord.store import tables as t

MB = 1024 * 1024


def _search(columns: int) -> sa.Select[tuple[int, ...]]:
    """A statement whose SQL grows with `columns`, as a search's grew with its pairs (any
    large statement would do; this one is as cheap to plan on PostgreSQL as to run)."""
    number = t.entries.c.number
    return sa.select(*(number + i for i in range(columns))).where(number < 0)


def _rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096


def _grown(url: str) -> tuple[int, int]:
    """Over 40 searches of distinct large shapes, after 5 that make what is made once
    (connections, first statements): the bytes the process grew by, and the characters
    of SQL that SQLAlchemy keeps compiled."""
    database = open_database(url, sqlite_synchronous="NORMAL")

    def search(columns: int) -> None:
        run(database, lambda tx: tx.connection.execute(_search(columns)).all(), write=False)

    for columns in range(1000, 1005):
        search(columns)
    gc.collect()
    rss = _rss()
    for columns in range(1005, 1045):
        search(columns)
    gc.collect()
    grown = _rss() - rss
    options = database.engine.get_execution_options()
    cache: Any = options.get("compiled_cache", database.engine._compiled_cache)
    kept = sum(len(str(compiled.string)) for compiled in cache.values())
    database.dispose()
    return grown, kept


def test_distinct_large_statements_keep_memory_bounded(db: Database, demo_url: str) -> None:
    # In a process of its own: a test process's memory moves with whatever else its
    # threads do meanwhile (52 MB once in a full run, 2 to 6 MB alone).
    measure = f"from {__name__} import _grown; print(*_grown({demo_url!r}))"
    done = subprocess.run(
        [sys.executable, "-c", measure], capture_output=True, text=True, timeout=300, check=True
    )
    grown, kept = map(int, done.stdout.split()[-2:])
    # Before: each shape kept megabytes of Python objects in SQLAlchemy's cache, and on
    # SQLite more of prepared statement in the connection that ran it.
    assert grown < 50 * MB, f"{grown / MB:.0f} MB more after 40 searches"
    # What SQLAlchemy keeps compiled (before: all 40, 1.6 MB of SQL, ~100 MB of objects).
    assert kept < 400_000, f"{kept} characters of SQL kept compiled"
    # The database is still used as usual afterwards.
    assert run(db, lambda tx: tx.connection.execute(_search(3)).all(), write=False) == []


def test_the_sqlite_log_is_cut_back_to_the_limit_after_a_checkpoint(empty_url: str) -> None:
    if not empty_url.startswith("sqlite"):
        pytest.skip("the write-ahead log is SQLite's")
    limit = 1 * MB
    database = open_database(empty_url, sqlite_synchronous="NORMAL", sqlite_wal_limit_bytes=limit)
    log = Path(str(database.engine.url.database) + "-wal")
    try:
        run(database, lambda tx: tx.connection.exec_driver_sql("CREATE TABLE junk (x)"), write=True)
        for _ in range(8):  # 8 MB of pages, in transactions of their own

            def write(tx: object) -> None:
                tx.connection.exec_driver_sql(  # type: ignore[attr-defined]
                    "INSERT INTO junk SELECT randomblob(1000) FROM"
                    " (WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n"
                    " WHERE i < 1000) SELECT i FROM n)"
                )

            run(database, write, write=True)
        assert log.stat().st_size > 4 * limit  # it grew past the limit
        # The checkpoint thread runs soon after writes; then the log is cut back.
        deadline = time.monotonic() + 10
        while log.exists() and log.stat().st_size > limit and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not log.exists() or log.stat().st_size <= limit
        count = run(
            database,
            lambda tx: tx.connection.exec_driver_sql("SELECT count(*) FROM junk").scalar(),
            write=False,
        )
        assert count == 8000  # nothing lost
    finally:
        database.dispose()
