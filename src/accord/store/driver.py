"""The hottest reads, through the database driver itself.

Every legacy call reads the instance row, most read one entry and the names of what it
links to. Measured on the target machine, SQLAlchemy's execution layer costs 90-170 us
per statement here against 6 us for the same statement on the driver, so these
statements (and BEGIN) skip it. They run on the same connection, inside the same
transaction, as everything else; the SQL is written once per dialect below, and the
conversions SQLAlchemy's types would make (JSON text, timestamps) are made here.
"""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import orjson
import sqlalchemy as sa

from accord.store import limits

_SQL = {
    "instance": "SELECT api_key_hash, schema_version, auth_version FROM instance WHERE id = 1",
    "entry": "SELECT {e} FROM entries e WHERE e.directory_id = {p} AND e.number = {p}",
    # In row-key order, which is id order within a directory, as the index lists holders.
    "first_entry_with_key": (
        "SELECT {e} FROM entry_values v JOIN entries e ON e.pk = v.entry_pk "
        'WHERE v.field_id = {p} AND v."key" = {p} ORDER BY v.entry_pk LIMIT 1'
    ),
    # What `listing` runs for a page filtered on one value, in id order: the value index
    # leads (`+ 0` keeps SQLite off the directory index) and is read in row-key order.
    "holders_page": (
        "SELECT {e} FROM entry_values v JOIN entries e ON e.pk = v.entry_pk "
        'WHERE v.field_id = {p} AND v."key" = {p} AND e.directory_id + 0 = {p} '
        "AND v.entry_pk {{after}} {p} ORDER BY v.entry_pk {{order}} LIMIT {p}"
    ),
    "names": "SELECT number, name FROM entries WHERE directory_id = {p} AND number IN ({ps})",
    "numbers_with_key": (
        "SELECT e.number FROM entries e JOIN entry_values v ON v.entry_pk = e.pk "
        'WHERE v.field_id = {p} AND v."key" = {p} ORDER BY e.number'
    ),
    "numbers_with_compact_name": (
        "SELECT number FROM entries WHERE directory_id = {p} AND name_compact = {p} ORDER BY number"
    ),
}
ENTRY_COLUMNS = (
    "e.pk, e.directory_id, e.number, e.data, e.version, e.created_at, e.created_by, "
    "e.updated_at, e.updated_by"
)
"""An entry's columns (the table named `e`), in the order `decoded_entry_row` takes them."""
PLACEHOLDERS = {"sqlite": "?", "postgresql": "%s"}
"""How a statement on the driver marks a parameter, by dialect."""


def placeholder(connection: sa.Connection) -> str:
    """The parameter mark of statements run on `connection`'s driver."""
    return PLACEHOLDERS[connection.dialect.name]


# Formatted once per dialect: formatting on every call cost a point read ~1 us.
_BY_DIALECT = {
    dialect: {name: sql.format(p=p, ps="{ps}", e=ENTRY_COLUMNS) for name, sql in _SQL.items()}
    for dialect, p in PLACEHOLDERS.items()
}


def execute(connection: sa.Connection, sql: str, params: Sequence[Any] = ()) -> Any:
    """Run `sql` on the driver; its rows. Driver errors become SQLAlchemy's, as usual (and
    an interrupted or cancelled statement `limits.StatementCancelled`)."""
    # No context manager and no `with`: on a point read, which runs this three or four
    # times, entering and leaving one cost as much as the statement.
    try:
        # `dbapi_connection` is the driver's own connection for the sync drivers Accord
        # uses (`driver_connection` differs only for async ones, and costs three calls).
        cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(sql, params)
            return cursor.fetchall() if cursor.description else []
        finally:
            cursor.close()
    except connection.dialect.loaded_dbapi.Error as error:
        raise _translated(connection, sql, params, error) from error


@contextmanager
def translated_errors(
    connection: sa.Connection, sql: str, params: Sequence[Any] = ()
) -> Iterator[None]:
    """Raise the driver's errors as SQLAlchemy's (OperationalError, IntegrityError, ...),
    so that callers see one kind of error whichever layer ran the statement."""
    try:
        yield
    except connection.dialect.loaded_dbapi.Error as error:
        raise _translated(connection, sql, params, error) from error


def _translated(
    connection: sa.Connection, sql: str, params: Sequence[Any], error: Exception
) -> Exception:
    """SQLAlchemy's error for a driver's, as its own execution layer would raise it."""
    dbapi = connection.dialect.loaded_dbapi
    if limits.is_cancellation(error):
        return limits.error_for(connection.info)
    return sa.exc.DBAPIError.instance(sql, params, error, dbapi.Error)


def _sql(connection: sa.Connection, name: str) -> str:
    return _BY_DIALECT[connection.dialect.name][name]


def instance_row(connection: sa.Connection) -> tuple[str | None, int, int]:
    (row,) = execute(connection, _SQL["instance"])
    return row[0], int(row[1]), int(row[2])


def entry_row(connection: sa.Connection, directory_id: int, number: int) -> Sequence[Any] | None:
    """(pk, directory_id, number, data, version, created_at, created_by, updated_at,
    updated_by) of one entry, with `data` decoded and timestamps as aware datetimes."""
    return _decoded(execute(connection, _sql(connection, "entry"), (directory_id, number)))


def first_entry_with_key(
    connection: sa.Connection, field_id: int, key: str
) -> Sequence[Any] | None:
    """The row (as `entry_row` gives it) of the lowest-id entry whose `field_id` holds
    the index key `key`."""
    return _decoded(execute(connection, _sql(connection, "first_entry_with_key"), (field_id, key)))


def holders_page(
    connection: sa.Connection,
    directory_id: int,
    field_id: int,
    key: str,
    *,
    after_row: int,
    descending: bool,
    limit: int,
) -> list[Sequence[Any]]:
    """Rows (as `entry_row` gives them) of up to `limit` entries of a directory whose
    `field_id` holds the index key `key`, in row-key order (descending: the other way)
    from the row key `after_row` on, that row excluded."""
    sql = _sql(connection, "holders_page").format(
        after="<" if descending else ">", order="DESC" if descending else "ASC"
    )
    rows = execute(connection, sql, (field_id, key, directory_id, after_row, limit))
    return [decoded_entry_row(row) for row in rows]


def _decoded(rows: Sequence[Sequence[Any]]) -> Sequence[Any] | None:
    return decoded_entry_row(rows[0]) if rows else None


def decoded_entry_row(row: Sequence[Any]) -> Sequence[Any]:
    """An entry's `ENTRY_COLUMNS` as the driver gives them, with `data` decoded and
    timestamps as aware datetimes (what SQLAlchemy's types would make of them)."""
    if isinstance(row[3], str | bytes):  # SQLite keeps JSON and timestamps as text
        return (
            *row[:3],
            orjson.loads(row[3]),
            row[4],
            _moment(row[5]),
            row[6],
            _moment(row[7]),
            row[8],
        )
    return row


def entry_names(
    connection: sa.Connection, directory_id: int, numbers: Sequence[int]
) -> list[tuple[int, str]]:
    p = placeholder(connection)
    sql = _sql(connection, "names").format(ps=", ".join([p] * len(numbers)))
    return [(int(n), str(name)) for n, name in execute(connection, sql, (directory_id, *numbers))]


def numbers_with_key(connection: sa.Connection, field_id: int, key: str) -> list[int]:
    """Ids of the entries whose `field_id` holds the index key `key`, ascending."""
    rows = execute(connection, _sql(connection, "numbers_with_key"), (field_id, key))
    return [int(number) for (number,) in rows]


def numbers_with_compact_name(
    connection: sa.Connection, directory_id: int, compact: str
) -> list[int]:
    """Ids of the entries whose compact name key is `compact`, ascending."""
    sql = _sql(connection, "numbers_with_compact_name")
    return [int(number) for (number,) in execute(connection, sql, (directory_id, compact))]


def _moment(value: str) -> datetime:
    """A timestamp as SQLite keeps it (text, UTC, no offset), as an aware datetime."""
    # Parsed with the offset appended: setting it afterwards (`replace`) cost ~1 us more.
    try:
        return datetime.fromisoformat(value + "+00:00")
    except ValueError:  # it carries an offset of its own
        moment = datetime.fromisoformat(value)
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
