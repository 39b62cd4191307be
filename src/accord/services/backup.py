"""Backing up, restoring and checking the whole database (`accord db backup|restore|check`)."""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from accord.domain import writes
from accord.domain.entries import Entry
from accord.domain.schema import Schema
from accord.domain.values import index_keys
from accord.services.entries import text_rows
from accord.services.transactions import Database, Transaction, run
from accord.store import backup as store

SHOWN = 5
"""Entries a check names for each kind of difference (the count says how many in all)."""


def backup_database(url: str, target: Path, *, force: bool = False) -> str:
    """Copy the database at `url` into the file `target`, online (readers and writers go
    on); refused if `target` exists, unless `force`. Returns how it was copied."""
    path = store.sqlite_path(url)
    if path is None:
        store.backup_postgresql(url, target, force=force)
        return "pg_dump custom format"
    store.backup_sqlite(path, target, force=force)
    return "SQLite online backup, integrity checked"


def restore_database(url: str, source: Path, *, force: bool = False) -> None:
    """Replace the database at `url` by the backup `source`. Only while no server uses it;
    refused if the database holds data, unless `force`."""
    path = store.sqlite_path(url)
    if path is None:
        store.restore_postgresql(url, source, force=force)
    else:
        store.restore_sqlite(source, path, force=force)


@dataclass(slots=True)
class Difference:
    """Rows of the value index one side has and the other lacks."""

    rows: int = 0
    entries: list[str] = field(default_factory=list)
    """The first few entries concerned, as `DIRECTORY id`."""

    def add(self, rows: int, entry: str) -> None:
        self.rows += rows
        if len(self.entries) < SHOWN:
            self.entries.append(entry)


@dataclass(slots=True)
class CheckReport:
    integrity: list[str] = field(default_factory=list)
    """What the database's own integrity check found wrong (SQLite)."""
    entries: int = 0
    rows: int = 0
    """Value index rows read."""
    missing: Difference = field(default_factory=Difference)
    """Rows an entry's values call for that the index lacks."""
    extra: Difference = field(default_factory=Difference)
    """Rows the index holds that no entry's values call for."""
    texts: int = 0
    """Text index rows read."""
    missing_texts: Difference = field(default_factory=Difference)
    extra_texts: Difference = field(default_factory=Difference)

    @property
    def sound(self) -> bool:
        differences = (self.missing, self.extra, self.missing_texts, self.extra_texts)
        return not (self.integrity or any(d.rows for d in differences))


def check_database(database: Database) -> CheckReport:
    """The database's integrity, and whether the value and text indexes hold exactly the
    rows that the entries' values call for, read in batches at one moment."""
    return run(database, _check, write=False)


def _check(tx: Transaction) -> CheckReport:
    store.begin_snapshot(tx.connection)
    report = CheckReport(integrity=store.integrity_problems(tx.connection))
    schema = tx.schema
    for batch in store.index_batches(tx.connection):
        report.entries += len(batch.entries)
        report.rows += sum(len(rows) for rows in batch.rows.values())
        report.texts += sum(len(rows) for rows in batch.texts.values())
        values, texts = (report.missing, report.extra), (report.missing_texts, report.extra_texts)
        for entry in batch.entries:
            wanted = expected_index_rows(schema, entry)
            _compare(values, schema, entry.row, wanted, batch.rows.pop(entry.row, set()))
            wanted_texts = expected_texts(schema, entry)
            _compare(texts, schema, entry.row, wanted_texts, batch.texts.pop(entry.row, set()))
        for row_key, held in batch.rows.items():  # rows of no entry
            _compare(values, schema, row_key, set(), held)
        for row_key, held_texts in batch.texts.items():
            _compare(texts, schema, row_key, set(), held_texts)
    return report


def expected_index_rows(schema: Schema, entry: Entry) -> set[store.IndexRow]:
    """The value index rows an entry's values call for: its stored fields' index keys, the
    key repeated as `unique_key` for a unique field."""
    return {
        (f.id, key, key if f.unique else None)
        for f in writes.stored_fields(schema, schema.directory(entry.directory_id))
        for key in index_keys(f, entry.values.get(f.code))
    }


def expected_texts(schema: Schema, entry: Entry) -> set[tuple[int, str]]:
    """The text index rows an entry's values call for: (field id, text in search form),
    as the writes compute them (`entries.text_rows`)."""
    fields = schema.fields_of(schema.directory(entry.directory_id))
    rows = text_rows(entry.row, fields, entry.values)
    return {(field_id, text) for _, field_id, text in rows if text is not None}


def _compare(
    found: tuple[Difference, Difference],
    schema: Schema,
    row_key: int,
    wanted: set[Any],
    held: set[Any],
) -> None:
    """Count into `found` (missing, extra) what the index lacks and holds beyond `wanted`."""
    if wanted == held:
        return
    name = _entry_name(schema, row_key)
    missing, extra = found
    if wanted - held:
        missing.add(len(wanted - held), name)
    if held - wanted:
        extra.add(len(held - wanted), name)


def _entry_name(schema: Schema, row_key: int) -> str:
    directory_id, number = store.entry_place(row_key)
    try:
        return f"{schema.directory(directory_id).code} {number}"
    except KeyError:
        return f"directory#{directory_id} {number}"
