"""The text index: every text value of every entry, in its search form, for finding a
piece of it (`icontains`, `q`, and as a sieve before `contains`) without reading the
directory.

SQLite: an FTS5 table with the trigram tokenizer (`entry_texts`), one row per entry
and text field, its rowid `text_row(entry row, field id)`: the entry's row key shifted
past the field id, so the index lists matches in id order and a page in id order reads
the matches from the cursor and stops (`listing._in_text_order`). A phrase query of a
piece of at least 3 characters is an exact substring test (its trigrams, one after
another). Each text is held after a `START` mark, which no value holds, so "starts
with" is a phrase too, and as selective as its first characters: FTS5's own `^` tests
the place of every text that holds the piece (35 ms for a surname, held by one name in
16 at a million contacts but at the start of none).

PostgreSQL: a table of (entry row, field id, text) with a GIN index of its `pg_trgm`
trigrams, which serves `LIKE '%piece%'` and `LIKE 'piece%'` (rechecking each match).
Its planner misjudges how many texts hold a piece, so `listing` counts them (up to a
bound) to choose between starting from them and walking the directory. The table is
partitioned by directory (`add_partition`; a directory's row keys are one range), each
partition with its own indexes: a trigram index cannot tell the fields apart, so with one
index for all, counting a piece in one directory read its holders in every other.

Both are written in the same transaction as the entry (`replace`), by the services'
single and batch writes alike.
"""

from collections.abc import Iterable, Sequence

import sqlalchemy as sa

from accord.store import driver
from accord.store import tables as t

FIELD_BITS = 16
"""SQLite rowids hold the field id in their low 16 bits."""
MAX_FIELD_ID = 2**FIELD_BITS - 1
MAX_DIRECTORY_ID = 2**15 - 1
"""An entry row key times 2^16 fits a signed 64-bit rowid up to this directory id."""
MIN_INDEXED = 3
"""The shortest piece the index finds (a trigram); shorter ones are tested per entry."""

START_CHARS = 64
"""PostgreSQL keeps a b-tree of each text's first 64 characters (migration 0011), which
finds the texts that start with a piece of at most that length."""
START = "\x02"
"""Marks the start of each text SQLite holds (a control character: no value holds one)."""

TextRow = tuple[int, int, str | None]
"""(entry row, field id, text in search form; None: the field is now empty)."""


def row_keys_of(directory_id: int) -> tuple[int, int]:
    """The row keys of a directory's entries: from the first, up to (not including) the
    first of the next directory. On PostgreSQL, the bounds of its text partition."""
    return t.entry_row_key(directory_id, 0), t.entry_row_key(directory_id + 1, 0)


def add_partition(connection: sa.Connection, directory_id: int) -> None:
    """PostgreSQL: the partition of the text index that holds a new directory's texts
    (with its own indexes, made from the partitioned table's). In the directory's own
    transaction: its DDL commits or rolls back with it. It locks the text index until
    the transaction ends, which adding a directory (rare, and short) can afford."""
    if connection.dialect.name != "postgresql":
        return
    low, high = row_keys_of(directory_id)
    connection.exec_driver_sql(
        f"CREATE TABLE {partition_name(directory_id)} PARTITION OF entry_texts "
        f"FOR VALUES FROM ({low}) TO ({high})"
    )


def partition_name(directory_id: int) -> str:
    return f"entry_texts_{int(directory_id)}"


def text_row(entry_row: int, field_id: int) -> int:
    """The SQLite rowid of an entry's text of one field."""
    return (entry_row << FIELD_BITS) | field_id


def replace(connection: sa.Connection, rows: Sequence[TextRow]) -> None:
    """Set the indexed text of each (entry, field): None removes it."""
    if not rows:
        return
    if connection.dialect.name == "sqlite":
        _replace_sqlite(connection, rows)
    else:
        _replace_postgresql(connection, rows)


_CHUNK = 500


def _replace_sqlite(connection: sa.Connection, rows: Sequence[TextRow]) -> None:
    # In rowid order: FTS5 buffers a transaction's changes in rowid order and writes out
    # what it holds whenever a rowid comes below the last one (a batch's updates, in the
    # order of its items, wrote it out for nearly every row: 6x slower).
    keyed = sorted((text_row(entry, field), text) for entry, field, text in rows)
    gone = [key for key, text in keyed if not text]
    for start in range(0, len(gone), _CHUNK):
        chunk = gone[start : start + _CHUNK]
        marks = ", ".join("?" * len(chunk))
        driver.execute(connection, f"DELETE FROM entry_texts WHERE rowid IN ({marks})", chunk)
    kept = [(key, START + text) for key, text in keyed if text]
    for start in range(0, len(kept), _CHUNK):
        new = kept[start : start + _CHUNK]
        values = ", ".join(["(?, ?)"] * len(new))
        driver.execute(
            connection,
            f"REPLACE INTO entry_texts (rowid, text) VALUES {values}",
            [value for row in new for value in row],
        )


def _replace_postgresql(connection: sa.Connection, rows: Sequence[TextRow]) -> None:
    gone = [(entry, field) for entry, field, text in rows if not text]
    if gone:
        driver.execute(
            connection,
            "DELETE FROM entry_texts WHERE (entry_pk, field_id) IN "
            "(SELECT * FROM unnest(%s::bigint[], %s::integer[]))",
            [[entry for entry, _ in gone], [field for _, field in gone]],
        )
    kept = [(entry, field, text) for entry, field, text in rows if text]
    if kept:
        # One statement, its rows as three arrays (a statement of its own size each time,
        # as a multi-row VALUES would be, is never prepared again).
        driver.execute(
            connection,
            "INSERT INTO entry_texts (entry_pk, field_id, text) "
            "SELECT * FROM unnest(%s::bigint[], %s::integer[], %s::text[]) "
            "ON CONFLICT (entry_pk, field_id) DO UPDATE SET text = excluded.text",
            [list(column) for column in zip(*kept, strict=True)],
        )


def remove_entries(connection: sa.Connection, entry_rows: Iterable[int]) -> None:
    """Forget the texts of deleted entries (on PostgreSQL, the foreign key does)."""
    if connection.dialect.name != "sqlite":
        return
    for entry_row in entry_rows:
        first = text_row(entry_row, 0)
        driver.execute(
            connection,
            "DELETE FROM entry_texts WHERE rowid BETWEEN ? AND ?",
            [first, first + MAX_FIELD_ID],
        )


def rows_between(
    connection: sa.Connection, after: int | None, upto: int | None
) -> dict[int, set[tuple[int, str]]]:
    """The text index's rows of the entry row keys in (after, upto] (None: no bound), as
    {entry row: {(field id, text)}}: what `accord db check` compares with the entries."""
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        sql = "SELECT rowid >> 16, rowid & 65535, text FROM entry_texts WHERE 1 = 1"
        tests = (" AND rowid > ?", " AND rowid <= ?")
    else:
        sql = "SELECT entry_pk, field_id, text FROM entry_texts WHERE TRUE"
        tests = (" AND entry_pk > %s", " AND entry_pk <= %s")
    params = []
    for bound, test in zip((after, upto), tests, strict=True):
        if bound is not None:
            sql += test
            params.append(text_row(bound, MAX_FIELD_ID) if sqlite else bound)
    found: dict[int, set[tuple[int, str]]] = {}
    for entry_row, field_id, text in driver.execute(connection, sql, params):
        found.setdefault(entry_row, set()).add((field_id, text.removeprefix(START)))
    return found


def sqlite_piece(piece: str, *, at_start: bool = False) -> str:
    """What a text SQLite holds contains when it holds `piece` (at its start, if asked)."""
    return START + piece if at_start else piece


def phrase(piece: str, *, at_start: bool = False) -> str:
    """An FTS5 query matching texts that hold `piece` (at their start, if asked)."""
    return '"' + sqlite_piece(piece, at_start=at_start).replace('"', '""') + '"'


def like_pattern(piece: str, *, at_start: bool = False) -> str:
    """A LIKE pattern (escape `\\`) matching texts that hold `piece`."""
    escaped = piece.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%" if at_start else "%" + escaped + "%"
