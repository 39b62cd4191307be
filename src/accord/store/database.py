"""The database handle, its transactions, and what a process caches between them.

The schema (directories, fields, dictionaries) and each user's rights are read on every
request, so each process keeps them in memory, tagged with a version counter that every
change bumps in the same transaction. A transaction reads the counters (one row) and
reloads only what changed; a cache is filled only from committed data.
"""

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TypeVar

import sqlalchemy as sa

from accord.domain.schema import Schema
from accord.store import driver, limits
from accord.store import tables as t
from accord.store.checkpoints import Checkpointer
from accord.store.engine import SQLITE_CACHE_KIB, SQLITE_WRITER_CACHE_KIB, WRITE_OPTION
from accord.store.schema import load_schema

T = TypeVar("T")
ACTOR_CACHE_SIZE = 1024


@dataclass(frozen=True, slots=True)
class InstanceState:
    api_key_hash: str | None
    schema_version: int
    auth_version: int


class CacheKind(StrEnum):
    """What cached values depend on; each kind has a version counter in `instance`, which a
    transaction that changes it raises (`Transaction.changed`)."""

    SCHEMA = "schema"
    """Directories, fields and dictionaries."""
    AUTH = "auth"
    """Users, groups, grants, tokens and sessions: who may do what."""


_VERSION_COLUMN = {
    CacheKind.SCHEMA: t.instance.c.schema_version,
    CacheKind.AUTH: t.instance.c.auth_version,
}


class _VersionedCache:
    """A small LRU of values tagged with the version they were read at."""

    def __init__(self, size: int) -> None:
        self._items: OrderedDict[object, tuple[int, object]] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, key: object, version: int) -> object | None:
        with self._lock:
            item = self._items.get(key)
            if item is None or item[0] != version:
                return None
            self._items.move_to_end(key)
            return item[1]

    def put(self, key: object, version: int, value: object) -> None:
        with self._lock:
            self._items[key] = (version, value)
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)


class Database:
    """One database: its engine and this process's caches of it."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self._cache = _VersionedCache(ACTOR_CACHE_SIZE)
        self._writer = threading.Lock()
        self._idle: list[sa.Connection] = []
        self._idle_lock = threading.Lock()
        self._checkpoints = Checkpointer(engine) if _sqlite_file(engine.url) else None

    @property
    def embedded(self) -> bool:
        """SQLite: a file in this process's reach, reads never wait for a lock."""
        return self.engine.dialect.name == "sqlite"

    @property
    def connections(self) -> int:
        """How many connections the pool keeps."""
        size = getattr(self.engine.pool, "size", None)
        return size() if callable(size) else 5

    def transaction(
        self, *, write: bool, cancel: "Cancellation | None" = None
    ) -> AbstractContextManager["Transaction"]:
        """One transaction: committed when the block ends, rolled back if it raises.

        `cancel`: what another thread may use to stop its statements (its client is gone).
        """
        if self.embedded and not write:
            return _DriverRead(self, cancel)
        return self._transaction(write, cancel)

    @contextmanager
    def _transaction(self, write: bool, cancel: "Cancellation | None") -> Iterator["Transaction"]:
        with self._writing(write), self._connection() as connection:
            connection.execution_options(**{WRITE_OPTION: write})
            with _cache_for_writes(connection, write and self.embedded), connection.begin():
                if cancel is None:
                    yield Transaction(self, connection)
                else:
                    with cancel.attached(connection):
                        yield Transaction(self, connection)
        if write and self._checkpoints is not None:
            self._checkpoints.wrote()

    @contextmanager
    def _connection(self) -> Iterator[sa.Connection]:
        # PostgreSQL connections can die with the server, so they come from the pool.
        if not self.embedded:
            with self.engine.connect() as connection:
                try:
                    yield connection
                finally:
                    if _spent(connection):
                        connection.invalidate()
            return
        kept = self._take_idle()
        try:
            yield kept
        finally:
            self._give_back(kept)

    def _take_idle(self) -> sa.Connection:
        # SQLite: connections stay open between transactions, in a list of idle ones,
        # since taking one from the pool and giving it back costs more than a point read
        # (~60 us against ~40 us). Not one per thread, as before: worker threads come
        # and go, and each gone thread's connection stayed checked out, until the pool
        # was empty and every request waited (the hang in the benchmarks' later rounds).
        with self._idle_lock:
            kept = self._idle.pop() if self._idle else None
        if kept is None or kept.closed or kept.invalidated:
            kept = self.engine.connect()
        return kept

    def _give_back(self, kept: sa.Connection) -> None:
        if kept.closed or kept.invalidated or kept.in_transaction():
            kept.close()  # back to the pool, which resets it
        elif _spent(kept):
            kept.invalidate()  # closed, and what it kept with it (`_spent`)
            kept.close()
        else:
            with self._idle_lock:
                self._idle.append(kept)

    @contextmanager
    def _writing(self, write: bool) -> Iterator[None]:
        # SQLite takes one writer at a time. Writers of this process queue here, in
        # order, instead of in SQLite's busy handler, which sleeps up to 100 ms between
        # tries (measured: addcompany p99 1.5 s -> 85 ms with 8 clients).
        if not (write and self.embedded):
            yield
            return
        with self._writer:
            yield

    def exists(self) -> bool:
        """False for an SQLite file that is not there yet (nothing else can tell early)."""
        url = self.engine.url
        return not _sqlite_file(url) or Path(str(url.database)).exists()

    def dispose(self) -> None:
        if self._checkpoints is not None:
            self._checkpoints.stop()
        with self._idle_lock:
            for connection in self._idle:
                connection.close()
            self._idle.clear()
        self.engine.dispose()


def _spent(connection: sa.Connection) -> bool:
    """Whether a connection must be closed rather than used again: a statement of it was
    cancelled from outside (PostgreSQL may deliver a cancel late, to whatever the session
    runs next; SQLite's interrupt holds until no statement runs), or it has prepared
    more SQL than `limits` lets one keep."""
    info = connection.info
    return limits.CANCELLED in info or limits.DISCARD in info


def _sqlite_file(url: sa.URL) -> bool:
    """An SQLite database kept in a file (not in memory)."""
    return url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:")


class _DriverRead:
    """An SQLite read transaction, begun and ended on the driver.

    SQLAlchemy's own begin and commit (its transaction object, events, execution
    options) and two generator-based context managers cost a legacy point read ~12 us
    of ~48 us in the app. A statement run through SQLAlchemy inside still works: it
    joins the transaction begun here (the engine's `begin` listener sees it), and the
    commit at the end ends both.
    """

    __slots__ = ("_cancel", "_connection", "_database")

    def __init__(self, database: Database, cancel: "Cancellation | None" = None) -> None:
        self._database = database
        self._cancel = cancel

    def __enter__(self) -> "Transaction":
        connection = self._connection = self._database._take_idle()
        try:
            limits.arm(connection.info)
            driver.execute(connection, "BEGIN")
            if self._cancel is not None:
                self._cancel.attach(connection)
        except BaseException:
            self._database._give_back(connection)
            raise
        return Transaction(self._database, connection)

    def __exit__(self, *_: object) -> None:
        connection = self._connection
        if self._cancel is not None:
            self._cancel.detach()
        try:
            if connection.in_transaction():
                connection.commit()
            else:
                driver.execute(connection, "COMMIT")
        except BaseException:
            connection.invalidate()  # never handed out again half-ended
            raise
        finally:
            self._database._give_back(connection)


class Cancellation:
    """Stops the statements of the transaction it is given to, from another thread: what
    a request's edge holds while the request's work runs, to cancel it when the client
    goes away. A cancelled statement raises `limits.StatementCancelled`; cancelled
    before the transaction begins, the transaction does not begin.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._connection: sa.Connection | None = None
        self.requested = False

    def cancel(self) -> None:
        """Stop the statement running now, and every later one of the transaction.

        On PostgreSQL this sends a cancel request over a new connection and waits for it
        to go: call it from a thread, not an event loop.
        """
        with self._lock:
            self.requested = True
            if self._connection is not None:
                _interrupt(self._connection)

    def attach(self, connection: sa.Connection) -> None:
        with self._lock:
            if self.requested:
                connection.info[limits.CANCELLED] = True
                raise limits.cancelled()
            self._connection = connection

    def detach(self) -> None:
        with self._lock:
            self._connection = None

    @contextmanager
    def attached(self, connection: sa.Connection) -> Iterator[None]:
        self.attach(connection)
        try:
            yield
        finally:
            self.detach()


def _interrupt(connection: sa.Connection) -> None:
    connection.info[limits.CANCELLED] = True  # the connection is not used again
    dbapi_connection = connection.connection.dbapi_connection
    if connection.dialect.name == "sqlite":
        dbapi_connection.interrupt()  # type: ignore[union-attr]
    else:
        dbapi_connection.cancel_safe()  # type: ignore[union-attr]


class Transaction:
    """A unit of work: the connection in one transaction, and its view of the caches."""

    def __init__(self, database: Database, connection: sa.Connection) -> None:
        self.database = database
        self.connection = connection
        self._instance: InstanceState | None = None
        self._schema: Schema | None = None
        self._dirty: set[CacheKind] = set()

    @property
    def dialect(self) -> str:
        return self.connection.dialect.name

    @property
    def instance(self) -> InstanceState:
        if self._instance is None:
            self._instance = InstanceState(*driver.instance_row(self.connection))
        return self._instance

    @property
    def schema(self) -> Schema:
        if self._schema is None:
            self._schema = self.cached(CacheKind.SCHEMA, "schema", self._load_schema)
        return self._schema

    def _load_schema(self) -> Schema:
        return load_schema(self.connection, self.instance.schema_version)

    def cached(self, kind: CacheKind, key: object, load: Callable[[], T]) -> T:
        """`load()`'s result, shared across transactions while `kind` is unchanged."""
        version = self._version(kind)
        if kind not in self._dirty:
            hit = self.database._cache.get((kind, key), version)
            if hit is not None:
                return hit  # type: ignore[return-value]
        value = load()
        if kind not in self._dirty:
            self.database._cache.put((kind, key), version, value)
        return value

    def _version(self, kind: CacheKind) -> int:
        version: int = getattr(self.instance, _VERSION_COLUMN[kind].name)
        return version

    def changed(self, kind: CacheKind) -> None:
        """Record that this transaction changes what `kind` covers."""
        column = _VERSION_COLUMN[kind]
        if kind not in self._dirty:
            self.connection.execute(
                sa.update(t.instance).where(t.instance.c.id == 1).values({column: column + 1})
            )
            self._dirty.add(kind)
        if kind is CacheKind.SCHEMA:
            self._schema = None


@contextmanager
def _cache_for_writes(connection: sa.Connection, sqlite_write: bool) -> Iterator[None]:
    """SQLite: the larger cache of a writer (`engine.SQLITE_WRITER_CACHE_KIB`) for the
    transaction; the pages past the usual size are freed when it ends."""
    if not sqlite_write:
        yield
        return
    driver.execute(connection, f"PRAGMA cache_size=-{SQLITE_WRITER_CACHE_KIB}")
    try:
        yield
    finally:
        driver.execute(connection, f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
