"""What bounds one statement: its time, its cancellation, and the memory its shape keeps.

- Time: PostgreSQL's own `statement_timeout` (set per connection by `engine`); on SQLite,
  a progress handler that interrupts a statement once its transaction's deadline has
  passed (`Deadline`).
- Cancellation: a statement interrupted either way, or cancelled because its client went
  away (`Transaction.cancel`), raises `StatementCancelled`, an error of the request.
- Memory: every layer keeps compiled statements by their text (SQLAlchemy's compiled
  cache, the sqlite3 module's prepared statements, psycopg's prepared statements and the
  plans PostgreSQL keeps for them), and a search's text grows with its conditions: a
  search of 800 conditions kept ~6 MB in SQLAlchemy's cache and ~8 MB in sqlite3's. So
  the caches here are bounded by the length of what they keep, and a statement longer
  than `LARGE_STATEMENT_CHARS` is kept by none of them.
"""

import sqlite3
import threading
import time
from collections import OrderedDict
from typing import Any

from accord.domain.errors import AccordError, Family

PROGRESS_STEPS = 1_000_000
"""SQLite virtual machine instructions between two looks at the deadline: about every
50 ms of a statement's work on the target machine (20 M instructions a second). A
statement that ends sooner never calls it, so a point read pays nothing; a long one pays
one Python call in 50 ms (and may wait for the interpreter's lock at each: less often
means less of that)."""
LARGE_STATEMENT_CHARS = 4_000
"""Statements longer than this are never cached (the application's own are under 1,000
characters; only searches with many conditions grow past it)."""
COMPILED_CACHE_CHARS = 400_000
"""SQLAlchemy's compiled statements kept, by the length of their SQL: a compiled
statement takes about 85 bytes a character, so about 35 MB at most. The application's
own statements come to about 60,000 characters."""
CONNECTION_SQL_CHARS = 120_000
"""On SQLite, the distinct SQL (by length) one connection may have prepared before it is
closed at the end of its transaction, prepared statements and all (sqlite3 keeps the
last 128 statements of each connection, about 120 bytes a character of SQL)."""
TIMEOUT = "accord_statement_timeout"
"""Key of a connection's statement timeout (seconds) in its pool record's `info`."""
DEADLINE = "accord_deadline"
"""Key of an SQLite connection's `Deadline` in its pool record's `info`."""
CANCELLED = "accord_cancelled"
"""Key set in a connection's `info` when its statement is cancelled from outside."""
DISCARD = "accord_discard"
"""Key set in a connection's `info` when it should be closed at the end of its transaction."""
SEEN = "accord_seen"
"""Key of the set of SQL texts an SQLite connection has run (`CONNECTION_SQL_CHARS`)."""
_SQLITE_INTERRUPT = getattr(sqlite3, "SQLITE_INTERRUPT", 9)
_PG_QUERY_CANCELED = "57014"


class StatementCancelled(AccordError):
    """A statement of the request ran past the statement timeout, or was cancelled (its
    client went away); the transaction is rolled back."""

    code = "statement_timeout"
    family = Family.BUSY


def took_too_long(limit: float) -> StatementCancelled:
    return StatementCancelled(
        f"The request took too long: its database work was stopped after {limit:g} s"
    )


def cancelled() -> StatementCancelled:
    return StatementCancelled("The request was cancelled before the database finished it")


def is_cancellation(error: BaseException | None) -> bool:
    """Whether a driver's error says its statement was interrupted or cancelled."""
    if getattr(error, "sqlite_errorcode", None) == _SQLITE_INTERRUPT:
        return True
    return getattr(error, "sqlstate", None) == _PG_QUERY_CANCELED


def error_for(info: dict[Any, Any]) -> StatementCancelled:
    """The error for a cancellation on the connection whose `info` this is."""
    limit = info.get(TIMEOUT)
    return cancelled() if info.get(CANCELLED) or not limit else took_too_long(limit)


class Deadline:
    """When an SQLite connection's current transaction must end its statements by.

    Armed when a transaction begins (and again before each batch a streamed read
    fetches, as PostgreSQL times each FETCH of a cursor); the connection's progress
    handler interrupts the statement running once it has passed.
    """

    __slots__ = ("at", "limit")

    def __init__(self, limit: float) -> None:
        self.limit = limit
        self.at = float("inf")

    def arm(self) -> None:
        self.at = time.monotonic() + self.limit

    def passed(self) -> bool:
        """The progress handler: True interrupts the statement."""
        return time.monotonic() > self.at


def arm(info: dict[Any, Any]) -> None:
    """Start the statement time of an SQLite connection (by its `info`), if it has one."""
    deadline = info.get(DEADLINE)
    if deadline is not None:
        deadline.arm()


def disarm(info: dict[Any, Any]) -> None:
    """No statement time for an SQLite connection (by its `info`) from now on."""
    deadline = info.get(DEADLINE)
    if deadline is not None:
        deadline.limit = deadline.at = float("inf")


def note_statement(info: dict[Any, Any], statement: str) -> None:
    """Record that an SQLite connection ran `statement`: a large one, or too much SQL in
    all, has the connection closed (its prepared statements freed) after its transaction."""
    if len(statement) > LARGE_STATEMENT_CHARS:
        info[DISCARD] = True
        return
    seen: _Seen | None = info.get(SEEN)
    if seen is None:
        seen = info[SEEN] = _Seen()
    if statement not in seen.texts:
        seen.texts.add(statement)
        seen.chars += len(statement)
        if seen.chars > CONNECTION_SQL_CHARS:
            info[DISCARD] = True


class _Seen:
    __slots__ = ("chars", "texts")

    def __init__(self) -> None:
        self.texts: set[str] = set()
        self.chars = 0


class CompiledCache:
    """SQLAlchemy's cache of compiled statements (its `compiled_cache` execution option),
    least recently used first out, bounded by the length of the statements' SQL.

    SQLAlchemy's own is bounded by a count (500), whatever each holds: 500 searches of
    800 conditions would keep 3 GB.
    """

    def __init__(
        self, chars: int = COMPILED_CACHE_CHARS, largest: int = LARGE_STATEMENT_CHARS
    ) -> None:
        self._items: OrderedDict[Any, tuple[Any, int]] = OrderedDict()
        self._chars = chars
        self._largest = largest
        self.weight = 0
        """The length of the SQL of the statements kept."""
        self._lock = threading.Lock()

    def get(self, key: Any, default: Any = None) -> Any:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return default
            self._items.move_to_end(key)
            return item[0]

    def __setitem__(self, key: Any, compiled: Any) -> None:
        weight = len(getattr(compiled, "string", "") or "")
        if weight > self._largest:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self.weight -= old[1]
            self._items[key] = (compiled, weight)
            self.weight += weight
            while self.weight > self._chars:
                _, (_, dropped) = self._items.popitem(last=False)
                self.weight -= dropped

    def __len__(self) -> int:
        return len(self._items)

    def values(self) -> list[Any]:
        """The compiled statements kept, least recently used first."""
        with self._lock:
            return [compiled for compiled, _ in self._items.values()]

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.weight = 0
