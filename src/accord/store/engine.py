"""Engines for SQLite (the embedded default) and PostgreSQL."""

from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import ConnectionPoolEntry

from accord.store import driver

SQLITE_BUSY_TIMEOUT_MS = 30_000
SQLITE_MMAP_BYTES = 2_000_000_000
"""Reads straight from the mapped file, no copy into SQLite's cache (SQLite caps this at
its compile-time maximum, 2 GB by default)."""
SQLITE_CACHE_KIB = 32_768
"""Per connection. What it mostly holds is a writer's dirty pages: a batch of 1000
upserts at a million entries dirties about 13 MB, which the default 2 MB spilled to the
log mid-transaction."""
SQLITE_CHECKPOINT_PAGES = 40_000
"""Pages (160 MB) the write-ahead log grows to before a commit copies it into the
database itself. A thread checkpoints after writes (`store.checkpoints`), so this is a
fallback for when that thread falls behind, not the rule."""
WRITE_OPTION = "accord_write"
"""Execution option: the transaction will write (SQLite takes the write lock at BEGIN)."""


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def make_engine(url: str, *, sqlite_synchronous: str = "FULL") -> sa.Engine:
    """An engine for `url`, tuned for Accord's one-transaction-per-request use."""
    parsed = make_url(url)
    options: dict[str, Any] = {
        "json_serializer": _json_dumps,
        "json_deserializer": orjson.loads,
    }
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed, sqlite_synchronous, options)
    # No pre-ping: it costs a round trip per request. A connection the server dropped
    # fails its first statement, and `services.transactions.run` runs the work again.
    # Sessions in UTC: timestamps come back as UTC whatever the server's own time zone,
    # as on SQLite (the driver-level reads hand them on as they come).
    return sa.create_engine(
        parsed,
        pool_size=10,
        pool_recycle=1800,
        connect_args={"options": "-c timezone=UTC"},
        **options,
    )


def _sqlite_engine(url: URL, synchronous: str, options: dict[str, Any]) -> sa.Engine:
    if synchronous.upper() not in ("FULL", "NORMAL", "EXTRA"):
        raise ValueError(f"Unsupported SQLite synchronous mode: {synchronous}")
    engine = sa.create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        pool_size=10,
        **options,
    )

    @sa.event.listens_for(engine, "connect")
    def configure(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # Take transaction control from the driver so BEGIN is ours (see `begin`).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute(f"PRAGMA synchronous={synchronous.upper()}")
        cursor.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
        cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
        cursor.execute(f"PRAGMA wal_autocheckpoint={SQLITE_CHECKPOINT_PAGES}")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def begin(connection: sa.Connection) -> None:
        if connection.connection.dbapi_connection.in_transaction:  # type: ignore[union-attr]
            return  # a read transaction begun on the driver (`Database.transaction`)
        # A writer takes the lock up front: a deferred transaction that reads and then
        # writes fails at once when another writer went first, whatever the busy timeout.
        writes = connection.get_execution_options().get(WRITE_OPTION, False)
        # On the driver itself: SQLAlchemy's execution layer would cost ~90 us here.
        driver.execute(connection, "BEGIN IMMEDIATE" if writes else "BEGIN")

    return engine


def is_sqlite(engine: sa.Engine) -> bool:
    return engine.dialect.name == "sqlite"
