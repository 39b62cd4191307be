"""How edges open the database and run a unit of work in one transaction."""

import logging
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import TypeVar

from sqlalchemy.exc import DBAPIError

from accord.store.database import Database, Transaction
from accord.store.engine import make_engine

__all__ = [
    "Database",
    "DatabaseError",
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


def open_database(url: str, *, sqlite_synchronous: str = "FULL") -> Database:
    return Database(make_engine(url, sqlite_synchronous=sqlite_synchronous))


def now() -> datetime:
    return datetime.now(UTC)


def transaction(database: Database, *, write: bool) -> AbstractContextManager[Transaction]:
    """One transaction, for work that must stay open across steps (a streamed reply)."""
    return database.transaction(write=write)


def run(database: Database, work: Callable[[Transaction], T], *, write: bool) -> T:
    """`work` in one transaction, committed if it returns and rolled back if it raises.

    Work that lost a race with another transaction (a deadlock, a serialization
    failure, a lock timeout) is run again from the start, a few times.
    """
    for attempt in range(1, ATTEMPTS + 1):
        try:
            with database.transaction(write=write) as tx:
                return work(tx)
        except DBAPIError as error:
            if attempt == ATTEMPTS or not _is_transient(error):
                raise DatabaseError(_first_line(error)) from error
            _log.warning("transaction conflict, retrying (attempt %d): %s", attempt, error.orig)
            time.sleep(0.01 * attempt)
    raise AssertionError("unreachable")  # pragma: no cover


def _first_line(error: DBAPIError) -> str:
    return str(error.orig).strip().splitlines()[0] if str(error.orig).strip() else repr(error)


def _is_transient(error: DBAPIError) -> bool:
    if error.connection_invalidated:  # the server dropped it; the pool discarded it
        return True
    sqlstate = getattr(error.orig, "sqlstate", None)
    if sqlstate in _TRANSIENT_SQLSTATES:
        return True
    return "database is locked" in str(error.orig)
