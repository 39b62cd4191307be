"""Engines for SQLite (the embedded default) and PostgreSQL."""

import logging
import sqlite3
import time
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import ConnectionPoolEntry

from accord.store import driver, limits

_log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 30_000
SQLITE_MMAP_BYTES = 2_000_000_000
"""Reads straight from the mapped file, no copy into SQLite's cache (SQLite caps this at
its compile-time maximum, 2 GB by default)."""
SQLITE_CACHE_KIB = 32_768
"""Per connection. What it mostly holds is a writer's dirty pages: a batch of 1000
upserts at a million entries dirties about 13 MB, which the default 2 MB spilled to the
log mid-transaction."""
SQLITE_WRITER_CACHE_KIB = 262_144
"""A connection's cache while it writes (`database`), back to `SQLITE_CACHE_KIB` after:
the text index's merges read back the segments they merge, and with 32 MB a load of
contacts spent 2 to 6 times longer in the index at 100,000 to 200,000 of them, the more
the larger it grew. SQLite takes one writer at a time, so at most one connection of a
process holds this much, and only for its transaction."""
SQLITE_CHECKPOINT_PAGES = 40_000
"""Pages (160 MB) the write-ahead log grows to before a commit copies it into the
database itself. A thread checkpoints after writes (`store.checkpoints`), so this is a
fallback for when that thread falls behind, not the rule."""
WRITE_OPTION = "accord_write"
"""Execution option: the transaction will write (SQLite takes the write lock at BEGIN)."""
SQLITE_WAL_LIMIT_BYTES = 64 * 1024 * 1024
"""What SQLite cuts its write-ahead log back to once it is checkpointed (`journal_size_limit`)."""
SQLITE_ANALYSIS_LIMIT = 400
"""Rows of each index that an ANALYZE run by `PRAGMA optimize` samples (SQLite's advice):
its statistics stay close enough, at a cost of milliseconds whatever the table's size."""
SQLITE_OPTIMIZE_SECONDS = 3600.0
"""How often a connection that writes runs `PRAGMA optimize` (Accord keeps connections
for the life of the process, so "when it closes" alone would be never)."""
_OPTIMIZED_AT = "accord_optimized_at"


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def make_engine(
    url: str,
    *,
    sqlite_synchronous: str = "FULL",
    statement_timeout: float = 0.0,
    sqlite_wal_limit_bytes: int = SQLITE_WAL_LIMIT_BYTES,
) -> sa.Engine:
    """An engine for `url`, tuned for Accord's one-transaction-per-request use.

    `statement_timeout`: seconds a statement may run before the database stops it (0:
    no limit; on SQLite, the statements of one transaction together, see `limits`).
    `sqlite_wal_limit_bytes`: what SQLite cuts its write-ahead log back to."""
    if statement_timeout < 0 or sqlite_wal_limit_bytes < 0:
        raise ValueError("The statement timeout and the log limit are 0 or more")
    parsed = make_url(url)
    options: dict[str, Any] = {
        "json_serializer": _json_dumps,
        "json_deserializer": orjson.loads,
        # SQLAlchemy's own cache counts statements, whatever their size (`limits`).
        "query_cache_size": 0,
        "execution_options": {"compiled_cache": limits.CompiledCache()},
    }
    if parsed.get_backend_name() == "sqlite":
        engine = _sqlite_engine(
            parsed, sqlite_synchronous, statement_timeout, sqlite_wal_limit_bytes, options
        )
    else:
        engine = _postgresql_engine(parsed, statement_timeout, options)
    _bound_statements(engine, statement_timeout)
    return engine


def _postgresql_engine(url: URL, statement_timeout: float, options: dict[str, Any]) -> sa.Engine:
    # No pre-ping: it costs a round trip per request. A connection the server dropped
    # fails its first statement, and `services.transactions.run` runs the work again.
    # Sessions in UTC: timestamps come back as UTC whatever the server's own time zone,
    # as on SQLite (the driver-level reads hand them on as they come).
    # The statement timeout is the session's, set when it connects: free, where a SET
    # per transaction would cost a point read a round trip. A streamed read fetches
    # from a server-side cursor, each FETCH a statement of its own, so a long stream
    # that goes on fetching is never cut.
    settings = "-c timezone=UTC"
    if statement_timeout:
        settings += f" -c statement_timeout={max(1, round(statement_timeout * 1000))}"
    engine = sa.create_engine(
        url,
        pool_size=10,
        pool_recycle=1800,
        connect_args={"options": settings},
        **options,
    )

    @sa.event.listens_for(engine, "do_execute")
    def unprepared_if_large(
        cursor: Any, statement: str, parameters: Any, _context: Any
    ) -> bool | None:
        # psycopg prepares a statement run five times on a connection, and PostgreSQL
        # keeps its plan as long as the connection (up to 100 a connection): a large
        # search's plan is megabytes. A server-side cursor (`name`) is never prepared.
        if len(statement) <= limits.LARGE_STATEMENT_CHARS or getattr(cursor, "name", None):
            return None
        cursor.execute(statement, parameters, prepare=False)
        return True

    return engine


def _bound_statements(engine: sa.Engine, statement_timeout: float) -> None:
    @sa.event.listens_for(engine, "connect")
    def timed(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        record.info[limits.TIMEOUT] = statement_timeout

    @sa.event.listens_for(engine, "handle_error")
    def cancelled(context: sa.engine.ExceptionContext) -> None:
        # A statement stopped by the timeout or cancelled is the request's error (a clear
        # reply), not the database's (a 500); the transaction is rolled back as usual.
        if limits.is_cancellation(context.original_exception):
            info = context.connection.info if context.connection is not None else {}
            raise limits.error_for(info) from context.sqlalchemy_exception


def _sqlite_engine(
    url: URL,
    synchronous: str,
    statement_timeout: float,
    wal_limit_bytes: int,
    options: dict[str, Any],
) -> sa.Engine:
    if synchronous.upper() not in ("FULL", "NORMAL", "EXTRA"):
        raise ValueError(f"Unsupported SQLite synchronous mode: {synchronous}")
    engine = sa.create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        pool_size=10,
        **options,
    )

    @sa.event.listens_for(engine, "connect")
    def configure(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
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
        # Once a checkpoint has copied the whole log back, the next commit starts it
        # over and cuts the file back to this (SQLite otherwise keeps its largest size).
        cursor.execute(f"PRAGMA journal_size_limit={int(wal_limit_bytes)}")
        # Statistics kept current by SQLite itself (decisions.md, "Statistics"): sampled,
        # and analysed when they are missing or stale (0x10000 from SQLite 3.46; older
        # ones skip it and rely on the runs after writes and at close, below).
        cursor.execute(f"PRAGMA analysis_limit={SQLITE_ANALYSIS_LIMIT}")
        cursor.execute("PRAGMA optimize=0x10002")
        cursor.close()
        record.info[_OPTIMIZED_AT] = time.monotonic()
        if statement_timeout:
            deadline = limits.Deadline(statement_timeout)
            record.info[limits.DEADLINE] = deadline
            dbapi_connection.set_progress_handler(deadline.passed, limits.PROGRESS_STEPS)

    @sa.event.listens_for(engine, "close")
    def optimized(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        _optimize(dbapi_connection)

    @sa.event.listens_for(engine, "before_cursor_execute")
    def noted(connection: sa.Connection, _cursor: Any, statement: str, *_: Any) -> None:
        limits.note_statement(connection.info, statement)

    @sa.event.listens_for(engine, "begin")
    def begin(connection: sa.Connection) -> None:
        if connection.connection.dbapi_connection.in_transaction:  # type: ignore[union-attr]
            return  # a read transaction begun on the driver (`Database.transaction`)
        # A writer takes the lock up front: a deferred transaction that reads and then
        # writes fails at once when another writer went first, whatever the busy timeout.
        writes = connection.get_execution_options().get(WRITE_OPTION, False)
        limits.arm(connection.info)
        if writes:
            _optimize_now_and_then(connection)
        # On the driver itself: SQLAlchemy's execution layer would cost ~90 us here.
        driver.execute(connection, "BEGIN IMMEDIATE" if writes else "BEGIN")

    return engine


def _optimize_now_and_then(connection: sa.Connection) -> None:
    """`PRAGMA optimize` before a write, once per `SQLITE_OPTIMIZE_SECONDS` a connection:
    writes are what make statistics stale, and reads (point reads) never pay for it."""
    info = connection.connection.info
    now = time.monotonic()
    if now - info.get(_OPTIMIZED_AT, now) < SQLITE_OPTIMIZE_SECONDS:
        return
    info[_OPTIMIZED_AT] = now
    _optimize(connection.connection.dbapi_connection)


def _optimize(dbapi_connection: Any) -> None:
    """Analyse the tables this connection's queries used whose statistics are missing or
    stale (bounded by `analysis_limit`). Best effort: a busy or interrupted run is
    skipped, never the caller's error."""
    try:
        dbapi_connection.execute("PRAGMA optimize")
    except sqlite3.Error as error:
        _log.info("PRAGMA optimize skipped: %s", error)


def is_sqlite(engine: sa.Engine) -> bool:
    return engine.dialect.name == "sqlite"


def renew_deadline(connection: sa.Connection) -> None:
    """Give a streamed read's next fetch the whole statement time again (SQLite; on
    PostgreSQL each FETCH is a statement of its own)."""
    limits.arm(connection.info)
