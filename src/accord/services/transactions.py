"""How edges open the database and run a unit of work in one transaction."""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any, TypeVar

from anyio import CapacityLimiter, to_thread
from sqlalchemy.exc import DBAPIError

from accord.store.database import CacheKind, Cancellation, Database, Transaction
from accord.store.engine import SQLITE_WAL_LIMIT_BYTES, make_engine
from accord.store.limits import StatementCancelled

__all__ = [
    "CacheKind",
    "Cancellation",
    "Database",
    "DatabaseError",
    "StatementCancelled",
    "Transaction",
    "now",
    "open_database",
    "run",
    "transaction",
]


class DatabaseError(Exception):
    """The database could not do what was asked (unreachable, not migrated, ...)."""


T = TypeVar("T")
ATTEMPTS = 4
_log = logging.getLogger(__name__)

# Failures that say "another transaction got in the way; do it again" (PostgreSQL's
# deadlock and serialization failures, SQLite's lock timeout).
_TRANSIENT_SQLSTATES = {"40001", "40P01"}


def open_database(
    url: str,
    *,
    sqlite_synchronous: str = "FULL",
    statement_timeout: float = 0.0,
    sqlite_wal_limit_bytes: int = SQLITE_WAL_LIMIT_BYTES,
) -> Database:
    """The database at `url`. `statement_timeout`: seconds a statement may run before it
    is stopped with `StatementCancelled` (0, the default: never; a server passes
    `settings.statement_timeout`, the CLI's long jobs none)."""
    return Database(
        make_engine(
            url,
            sqlite_synchronous=sqlite_synchronous,
            statement_timeout=statement_timeout,
            sqlite_wal_limit_bytes=sqlite_wal_limit_bytes,
        )
    )


def now() -> datetime:
    return datetime.now(UTC)


def transaction(
    database: Database, *, write: bool, cancel: Cancellation | None = None
) -> AbstractContextManager[Transaction]:
    """One transaction, for work that must stay open across steps (a streamed reply)."""
    return database.transaction(write=write, cancel=cancel)


def run(
    database: Database,
    work: Callable[[Transaction], T],
    *,
    write: bool,
    cancel: Cancellation | None = None,
) -> T:
    """`work` in one transaction, committed if it returns and rolled back if it raises.

    Work that lost a race with another transaction (a deadlock, a serialization
    failure, a lock timeout) is run again from the start, a few times. A statement that
    ran past the statement timeout, or that `cancel` stopped, raises `StatementCancelled`
    (an `AccordError`: edges answer it as the request's failure), and is not run again.
    """
    for attempt in range(1, ATTEMPTS + 1):
        try:
            with database.transaction(write=write, cancel=cancel) as tx:
                return work(tx)
        except DBAPIError as error:
            if attempt == ATTEMPTS or not _is_transient(error):
                raise DatabaseError(_first_line(error)) from error
            _log.warning("transaction conflict, retrying (attempt %d): %s", attempt, error.orig)
            time.sleep(0.01 * attempt)
    raise AssertionError("unreachable")  # pragma: no cover


WATCH_AFTER_SECONDS = 0.2
"""How long work runs before its client is watched for going away. Watching costs a task
on the event loop (measured: ~0.2 ms a request here), and work shorter than this is not
worth stopping."""


async def in_thread(
    receive: Callable[[], Awaitable[Mapping[str, Any]]],
    work: Callable[[Cancellation], T],
    *,
    limiter: CapacityLimiter,
) -> T:
    """`work(cancel)` in a worker thread. If the HTTP client goes away meanwhile (the ASGI
    `http.disconnect` message from `receive`), `cancel` stops its statements, so that the
    database is free again at once, not when the work would have ended.

    The request's body must have been read: what else `receive` gives is dropped.
    """
    cancel = Cancellation()
    loop = asyncio.get_running_loop()
    watching: list[asyncio.Task[None]] = []
    timer = loop.call_later(
        WATCH_AFTER_SECONDS, lambda: watching.append(loop.create_task(_watch(receive, cancel)))
    )
    try:
        return await to_thread.run_sync(work, cancel, limiter=limiter)
    finally:
        timer.cancel()
        for task in watching:
            task.cancel()


async def _watch(receive: Callable[[], Awaitable[Mapping[str, Any]]], cancel: Cancellation) -> None:
    try:
        while (await receive())["type"] != "http.disconnect":
            pass
    except Exception:  # a server that cannot tell: nothing to cancel on
        return
    # In a thread: on PostgreSQL a cancel request opens a connection of its own.
    await to_thread.run_sync(cancel.cancel)


def _first_line(error: DBAPIError) -> str:
    return str(error.orig).strip().splitlines()[0] if str(error.orig).strip() else repr(error)


def _is_transient(error: DBAPIError) -> bool:
    if error.connection_invalidated:  # the server dropped it; the pool discarded it
        return True
    sqlstate = getattr(error.orig, "sqlstate", None)
    if sqlstate in _TRANSIENT_SQLSTATES:
        return True
    return "database is locked" in str(error.orig)
