"""Many entries at once: lookups by ids or unique keys, and multi-row writes.

What `store.entries` does for one entry (insert, update, index rows), done for a batch
with a few statements: a multi-row INSERT for the entries, executemany for
the rest. The statements are built once, with bind parameters. The rows written are the
caller's to compute (the batches service computes what the one-by-one services would).
"""

import functools
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from accord.domain.entries import Entry, StoredValue
from accord.store import driver
from accord.store import tables as t
from accord.store.entries import entry_from_row


class Refused(Exception):
    """The database refused a write: a unique value or an id was taken meanwhile."""


@contextmanager
def savepoint(connection: sa.Connection) -> Iterator[None]:
    """A savepoint: released if the block ends, rolled back if it raises.

    A unique violation inside is raised as Refused; the transaction goes on either way
    (on PostgreSQL, a failed statement would otherwise end it).
    """
    try:
        with connection.begin_nested():
            yield
    except IntegrityError as error:
        raise Refused(str(error.orig).strip().splitlines()[0]) from error


# Lookups, on the driver (see Writes below): a batch asks about up to a thousand ids or
# keys at once, and SQLAlchemy renders and processes an expanding IN list of that size
# slower than the database answers it.

_ENTRY = driver.ENTRY_COLUMNS


def entries_by_numbers(
    connection: sa.Connection, directory_id: int, numbers: Sequence[int]
) -> dict[int, Entry]:
    """The entries of a directory with these ids, by id, locked for update."""
    wanted = sorted(set(numbers))
    if not wanted:
        return {}
    p, lock = driver.placeholder(connection), _lock(connection, "")
    sql = (
        f"SELECT {_ENTRY} FROM entries e WHERE e.directory_id = {p} "
        f"AND e.number IN ({', '.join([p] * len(wanted))}){lock}"
    )
    rows = driver.execute(connection, sql, [directory_id, *wanted])
    return {entry.id: entry for entry in map(_entry, rows)}


def entries_by_unique_keys(
    connection: sa.Connection, field_id: int, keys: Sequence[str]
) -> dict[str, Entry]:
    """The entries holding these keys in a unique field, by key, locked for update."""
    wanted = sorted(set(keys))
    if not wanted:
        return {}
    p, lock = driver.placeholder(connection), _lock(connection, " OF e")
    sql = (
        f"SELECT v.unique_key, {_ENTRY} FROM entry_values v JOIN entries e ON e.pk = v.entry_pk "
        f"WHERE v.field_id = {p} AND v.unique_key IN ({', '.join([p] * len(wanted))}){lock}"
    )
    rows = driver.execute(connection, sql, [field_id, *wanted])
    return {row[0]: _entry(row[1:]) for row in rows}


def unique_holders(
    connection: sa.Connection, keys: Sequence[tuple[int, str]]
) -> dict[tuple[int, str], int]:
    """(field id, key) -> the id of the entry holding it, for those of `keys` held."""
    found: dict[tuple[int, str], int] = {}
    by_field: dict[int, list[str]] = {}
    for field_id, key in set(keys):
        by_field.setdefault(field_id, []).append(key)
    p = driver.placeholder(connection)
    for field_id, wanted in sorted(by_field.items()):
        sql = (
            "SELECT v.unique_key, e.number FROM entry_values v JOIN entries e "
            f"ON e.pk = v.entry_pk WHERE v.field_id = {p} "
            f"AND v.unique_key IN ({', '.join([p] * len(wanted))})"
        )
        rows = driver.execute(connection, sql, [field_id, *sorted(wanted)])
        found.update(((field_id, key), number) for key, number in rows)
    return found


def wait_for_creators_of_keys(
    connection: sa.Connection, directory_id: int, field_id: int, keys: Sequence[str]
) -> None:
    """Make the reads that follow see every entry of the directory that another
    transaction creates with one of these keys of a unique field: see `_wait_for_creators`."""
    sql = "SELECT count(*) FROM entry_values WHERE field_id = %s AND unique_key = ANY(%s)"
    _wait_for_creators(connection, directory_id, sql, field_id, keys)


def wait_for_creators_of_numbers(
    connection: sa.Connection, directory_id: int, numbers: Sequence[int]
) -> None:
    """Make the reads that follow see every entry with one of these ids that another
    transaction creates in the directory: see `_wait_for_creators`."""
    sql = "SELECT count(*) FROM entries WHERE directory_id = %s AND number = ANY(%s)"
    _wait_for_creators(connection, directory_id, sql, directory_id, numbers)


def _wait_for_creators(
    connection: sa.Connection, directory_id: int, count: str, scope: int, wanted: Sequence[Any]
) -> None:
    """Before an upsert looks up what it updates: what it does not find, it creates, so
    it must see what another transaction is creating meanwhile, else both create and
    the database refuses the second (a 409 where an update was asked for).

    Every transaction that creates entries holds its directory's id counter row from
    its first creation to its end (`schema.allocate_entry_ids`). When something wanted
    is missing (`count`: how many of `wanted` there are), wait for that row, as a
    creator would, and look again: what the creator made is committed by then. Still
    missing: keep the row, so that no one creates it before this transaction, which
    will, commits. All there: let the row go at once (the savepoint it was taken in is
    rolled back), so that a batch that only updates holds no creator up.

    SQLite: nothing to do; its single writer runs one write transaction at a time.
    """
    if connection.dialect.name != "postgresql":
        return
    distinct = sorted(set(wanted))
    if not distinct or _count(connection, count, scope, distinct) == len(distinct):
        return
    savepoint = connection.begin_nested()
    lock = "SELECT next_number FROM directories WHERE id = %s FOR NO KEY UPDATE"
    driver.execute(connection, lock, [directory_id])
    if _count(connection, count, scope, distinct) == len(distinct):
        savepoint.rollback()  # lets the row go: this transaction creates none of them
    else:
        savepoint.commit()  # keeps the row till the end


def _count(connection: sa.Connection, sql: str, scope: int, wanted: list[Any]) -> int:
    with driver.translated_errors(connection, sql):
        cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            # Never prepared: after a few runs PostgreSQL would plan it once for any array,
            # and that plan reads every holder of the field (10 ms -> 300 ms at 6,500).
            cursor.execute(sql, [scope, wanted], prepare=False)
            return int(cursor.fetchone()[0])
        finally:
            cursor.close()


def _lock(connection: sa.Connection, of: str) -> str:
    return f" FOR UPDATE{of}" if connection.dialect.name == "postgresql" else ""


def _entry(row: Sequence[Any]) -> Entry:
    return entry_from_row(driver.decoded_entry_row(row))


# Writes
#
# On the driver itself, as `store.driver` does for the hottest reads: SQLAlchemy's
# execution layer processes every parameter of every row (~10 us a row here), which
# costs more than SQLite's insert. The values are converted as SQLAlchemy's types
# would: JSON as orjson's text, timestamps by `tables.UtcDateTime` (in UTC; on SQLite,
# as its text form).


@dataclass(frozen=True, slots=True)
class NewEntry:
    number: int
    name: str
    name_compact: str
    values: Mapping[str, StoredValue]


@dataclass(frozen=True, slots=True)
class ChangedEntry:
    entry: Entry
    """The entry as it is (its row and version)."""
    name: str | None
    """Its new name (None: the name stays)."""
    name_compact: str | None
    values: Mapping[str, StoredValue]


IndexKey = tuple[int, int, str, bool]
"""One row of the value index: (entry row, field id, key, whether the field is unique:
then `unique_key` repeats the key, and the database refuses a second holder)."""

_ENTRY_COLUMNS = (
    "pk, directory_id, number, name, name_compact, data, version, "
    "created_at, created_by, updated_at, updated_by"
)
_SQL = {
    "rename_entry": (
        "UPDATE entries SET data = {json}, version = {p}, updated_at = {p}, updated_by = {p}, "
        "name = {p}, name_compact = {p} WHERE pk = {p}"
    ),
    # Without the name when it stays: SQLite then leaves the name index alone (-40 %).
    "update_entry": (
        "UPDATE entries SET data = {json}, version = {p}, updated_at = {p}, updated_by = {p} "
        "WHERE pk = {p}"
    ),
    "delete_key": "DELETE FROM entry_values WHERE entry_pk = {p} AND field_id = {p} AND key = {p}",
}
_INSERTS = {
    "entry_values": ("field_id", "key", "entry_pk", "unique_key"),
    "history": (
        "directory_id",
        "entry_number",
        "at",
        "user_id",
        "edge",
        "action",
        "field_code",
        "old_value",
        "new_value",
    ),
}
ROWS_PER_INSERT = 1000
"""Rows a multi-row INSERT holds: twice as fast a row as executemany on SQLite."""


def _sql(connection: sa.Connection, name: str) -> str:
    p = driver.placeholder(connection)
    return _SQL[name].format(p=p, json=p if p == "?" else "CAST(%s AS JSONB)")


def _executemany(connection: sa.Connection, sql: str, rows: Sequence[Sequence[Any]]) -> None:
    with driver.translated_errors(connection, sql):
        cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.executemany(sql, rows)
        finally:
            cursor.close()


def _insert(connection: sa.Connection, table: str, rows: Sequence[Sequence[Any]]) -> None:
    if connection.dialect.name == "postgresql":
        _copy(connection, table, rows)
        return
    for start in range(0, len(rows), ROWS_PER_INSERT):
        chunk = rows[start : start + ROWS_PER_INSERT]
        sql = _insert_sql(connection.dialect.name, table, len(chunk))
        driver.execute(connection, sql, [value for row in chunk for value in row])


def _copy(connection: sa.Connection, table: str, rows: Sequence[Sequence[Any]]) -> None:
    """PostgreSQL: the rows through COPY. A multi-row INSERT of 1000 history rows took 38
    ms, of which psycopg spent 12 turning its 9000 placeholders into PostgreSQL's (a
    statement that long is not cached); COPY takes 21. Constraints hold as for INSERT: a
    taken unique value fails the COPY, as it would the INSERT."""
    sql = f"COPY {table} ({', '.join(_INSERTS[table])}) FROM STDIN"
    with driver.translated_errors(connection, sql):
        cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            with cursor.copy(sql) as copy:
                for row in rows:
                    copy.write_row(row)
        finally:
            cursor.close()


@functools.cache
def _insert_sql(dialect: str, table: str, count: int) -> str:
    columns = _INSERTS[table]
    p = driver.PLACEHOLDERS[dialect]
    row = "(" + ", ".join([p] * len(columns)) + ")"
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES " + ", ".join([row] * count)


def _time(connection: sa.Connection, moment: datetime) -> Any:
    """A timestamp as SQLAlchemy's type binds it on this database (in UTC; on SQLite, as
    the text every other write and every comparison uses)."""
    dialect = connection.dialect
    process = t.history.c.at.type.dialect_impl(dialect).bind_processor(dialect)
    return moment if process is None else process(moment)


def _json(values: Mapping[str, StoredValue]) -> str:
    return orjson.dumps(values).decode()


def insert_entries(
    connection: sa.Connection,
    directory_id: int,
    new: Sequence[NewEntry],
    *,
    at: datetime,
    by: int | None,
) -> list[Entry]:
    """Insert new entries (version 1), a multi-row statement a chunk; them, in order."""
    if not new:
        return []
    sqlite = connection.dialect.name == "sqlite"
    p, stamp = driver.placeholder(connection), _time(connection, at)
    row = (
        f"({p}, {p}, {p}, {p}, {p}, {p if sqlite else 'CAST(%s AS JSONB)'}, 1, {p}, {p}, {p}, {p})"
    )
    for start in range(0, len(new), INSERT_CHUNK):
        chunk = new[start : start + INSERT_CHUNK]
        sql = f"INSERT INTO entries ({_ENTRY_COLUMNS}) VALUES " + ", ".join([row] * len(chunk))
        params = [
            value
            for n in chunk
            for value in (
                t.entry_row_key(directory_id, n.number),
                directory_id,
                n.number,
                n.name,
                n.name_compact,
                _json(n.values),
                stamp,
                by,
                stamp,
                by,
            )
        ]
        driver.execute(connection, sql, params)
    return [
        Entry(
            directory_id,
            n.number,
            n.values,
            1,
            at,
            by,
            at,
            by,
            row=t.entry_row_key(directory_id, n.number),
        )
        for n in new
    ]


INSERT_CHUNK = 500
"""Entries a multi-row INSERT holds (SQLite takes up to 32,766 parameters)."""


def update_entries(
    connection: sa.Connection, changed: Sequence[ChangedEntry], *, at: datetime, by: int | None
) -> list[Entry]:
    """Write new values of entries, each one version up; them, in order."""
    if not changed:
        return []
    stamp = _time(connection, at)
    for renamed in (False, True):
        rows = [
            (_json(c.values), c.entry.version + 1, stamp, by)
            + ((c.name, c.name_compact, c.entry.row) if renamed else (c.entry.row,))
            for c in changed
            if (c.name is not None) is renamed
        ]
        if rows:
            _executemany(
                connection, _sql(connection, "rename_entry" if renamed else "update_entry"), rows
            )
    return [
        Entry(
            c.entry.directory_id,
            c.entry.id,
            c.values,
            c.entry.version + 1,
            c.entry.created_at,
            c.entry.created_by,
            at,
            by,
            row=c.entry.row,
        )
        for c in changed
    ]


def update_index(
    connection: sa.Connection, *, removed: Sequence[IndexKey], added: Sequence[IndexKey]
) -> None:
    """Remove, then add, rows of the value index (removing first frees unique values)."""
    if removed:
        _executemany(
            connection,
            _sql(connection, "delete_key"),
            [(pk, field_id, key) for pk, field_id, key, _ in removed],
        )
    if added:
        _insert(
            connection,
            "entry_values",
            [(field_id, key, pk, key if unique else None) for pk, field_id, key, unique in added],
        )


HistoryRow = tuple[int, str, str | None, str | None, str | None]
"""(entry id, action, field code, old value, new value): one row of `history`."""


def append_history(
    connection: sa.Connection,
    directory_id: int,
    rows: Sequence[HistoryRow],
    *,
    at: datetime,
    by: int | None,
    edge: str,
) -> None:
    """Append changes of a directory's entries to the history, all made at `at` by `by`
    through `edge` (what `store.history.append` writes for them)."""
    if not rows:
        return
    stamp = _time(connection, at)
    _insert(
        connection,
        "history",
        [(directory_id, number, stamp, by, edge, *rest) for number, *rest in rows],
    )
