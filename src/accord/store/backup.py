"""Backups, restores and checks of the database: the files, the tools and the SQL.

SQLite is copied with its own online backup (a consistent snapshot; readers and writers
go on) and restored by an atomic rename. PostgreSQL is dumped and restored by its client
tools, `pg_dump` and `pg_restore`, in their custom format.
"""

import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from accord.domain.entries import Entry
from accord.domain.errors import AccordError
from accord.store import tables as t
from accord.store import texts
from accord.store.engine import renew_deadline
from accord.store.entries import COLUMNS, STREAM_BATCH, entry_from_row

PG_TOOLS = ("pg_dump", "pg_restore")
WRITE_LOCK_WAIT_SECONDS = 2.0
"""How long a restore waits for SQLite's exclusive lock before saying the file is in use."""

IndexRow = tuple[int, str, str | None]
"""A row of the value index as (field_id, key, unique_key)."""


class BackupRefused(AccordError):
    """A backup, restore or check that cannot be done as asked; nothing was changed."""

    code = "backup_refused"


# Which database


def sqlite_path(url: str) -> Path | None:
    """The file of an SQLite URL; None for PostgreSQL. An in-memory database is refused."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    if parsed.database in (None, "", ":memory:"):
        raise BackupRefused("an in-memory SQLite database cannot be backed up or restored")
    return Path(parsed.database or "")


def libpq_url(url: str) -> tuple[str, dict[str, str]]:
    """A SQLAlchemy PostgreSQL URL as libpq takes it (no "+psycopg"), and the environment
    that carries its password (a password on a command line is seen by every user)."""
    parsed = sa.make_url(url)
    environment = {} if parsed.password is None else {"PGPASSWORD": str(parsed.password)}
    plain = parsed.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), environment


# SQLite


def backup_sqlite(source: Path, target: Path, *, force: bool) -> None:
    """Copy the database at `source` into `target` (a single file, checked), online."""
    _refuse_existing(target, force)
    if not source.exists():
        raise BackupRefused(f"there is no database at {source}")
    partial = _partial(target)
    try:
        with closing(_open(source, "rw")) as db, closing(sqlite3.connect(partial)) as copy:
            # One step: the copy is one read transaction of the source, a consistent
            # snapshot. In WAL mode writers go on meanwhile (step by step, a write would
            # restart the copy, which might then never end under steady writes).
            db.backup(copy)
            # A file of its own: no log beside it, whoever opens it.
            copy.execute("PRAGMA journal_mode=DELETE")
        _require_sound(partial, "the copy")
        _put_in_place(partial, target, force=force)
    finally:
        partial.unlink(missing_ok=True)


def restore_sqlite(backup: Path, target: Path, *, force: bool) -> None:
    """Replace the database at `target` by the backup at `backup`, atomically.

    Refused while another connection has `target` open (a server, even idle, would go
    on using the old file), and, unless `force`, when `target` holds tables.
    """
    if not backup.is_file():
        raise BackupRefused(f"there is no backup at {backup}")
    _require_sound(backup, f"the backup {backup}")
    if target.exists():
        _require_replaceable(target, force)
    partial = _partial(target)
    try:
        with closing(_open(backup, "ro")) as source, closing(sqlite3.connect(partial)) as copy:
            source.backup(copy)
        _require_sound(partial, "the restored copy")
        _fsync(partial)
        # The old database's log must not be replayed onto the new file: gone first.
        for stale in _sidecars(target):
            stale.unlink(missing_ok=True)
        os.replace(partial, target)
        _fsync(target.parent)
    finally:
        partial.unlink(missing_ok=True)


def _require_replaceable(target: Path, force: bool) -> None:
    try:
        with closing(_open(target, "rw", timeout=WRITE_LOCK_WAIT_SECONDS)) as db:
            db.isolation_level = None
            # Exclusive, not only the write lock: in WAL mode every connection holds a
            # shared lock on the file while it is open, so this also finds a server
            # that is idle (its pooled connections), which would go on using the old file.
            db.execute("PRAGMA locking_mode=EXCLUSIVE")
            try:
                db.execute("BEGIN EXCLUSIVE")
            except sqlite3.OperationalError as error:
                if "locked" in str(error) or "busy" in str(error):
                    raise BackupRefused(
                        f"{target} is in use: stop the server before restoring"
                    ) from error
                raise
            tables = db.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'")
            holds_tables = tables.fetchone()[0] > 0
            db.execute("ROLLBACK")
    except sqlite3.DatabaseError as error:
        if not force:
            raise BackupRefused(f"{target} is not a database ({error}): use --force") from error
        return
    if holds_tables and not force:
        raise BackupRefused(f"{target} already holds a database: use --force to replace it")


def _require_sound(path: Path, what: str) -> None:
    """Raise unless the SQLite file at `path` passes `PRAGMA integrity_check` and holds an
    Accord schema (its migration version)."""
    try:
        with closing(_open(path, "ro")) as db:
            problems = [row[0] for row in db.execute("PRAGMA integrity_check")]
            found = db.execute(
                "SELECT count(*) FROM sqlite_master WHERE name = 'alembic_version'"
            ).fetchone()[0]
    except sqlite3.DatabaseError as error:
        raise BackupRefused(f"{what} is not an SQLite database: {error}") from error
    if problems != ["ok"]:
        raise BackupRefused(f"{what} fails its integrity check: {problems[0]}")
    if not found:
        raise BackupRefused(f"{what} is not an Accord database")


def _open(path: Path, mode: str, *, timeout: float = 30.0) -> sqlite3.Connection:
    """An existing file, never created by opening it."""
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode={mode}", uri=True, timeout=timeout)


def _sidecars(database: Path) -> list[Path]:
    return [database.with_name(database.name + suffix) for suffix in ("-wal", "-shm", "-journal")]


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


# Files


def _refuse_existing(target: Path, force: bool) -> None:
    if target.exists() and not force:
        raise BackupRefused(f"{target} exists: use --force to overwrite it")
    if not target.parent.is_dir():
        raise BackupRefused(f"there is no folder {target.parent}")


def _partial(target: Path) -> Path:
    """Where a file is written before it takes its name (same folder: the rename is atomic)."""
    return target.with_name(f".{target.name}.partial-{os.getpid()}")


def _put_in_place(partial: Path, target: Path, *, force: bool) -> None:
    _fsync(partial)
    if force:
        os.replace(partial, target)
    else:
        try:
            os.link(partial, target)  # fails if the name was taken meanwhile
        except FileExistsError:
            raise BackupRefused(f"{target} exists: use --force to overwrite it") from None
    _fsync(target.parent)


# PostgreSQL


def backup_postgresql(url: str, target: Path, *, force: bool) -> None:
    """`pg_dump --format=custom` of the database at `url` into `target`."""
    _refuse_existing(target, force)
    libpq, environment = libpq_url(url)
    partial = _partial(target)
    try:
        _run_tool(["pg_dump", "--format=custom", "--file", str(partial), libpq], environment)
        _put_in_place(partial, target, force=force)
    finally:
        partial.unlink(missing_ok=True)


def restore_postgresql(url: str, backup: Path, *, force: bool) -> None:
    """`pg_restore` of `backup` into the database at `url`, in one transaction.

    Refused while another session is connected to the database and, unless `force`,
    when it holds tables.
    """
    if not backup.is_file():
        raise BackupRefused(f"there is no backup at {backup}")
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        with engine.connect() as connection:
            others, tables = connection.execute(_IN_USE).one()
    finally:
        engine.dispose()  # its own session must be gone before pg_restore begins
    if others:
        raise BackupRefused(
            f"{others} other session(s) are connected to the database: stop the server "
            "before restoring"
        )
    if tables and not force:
        raise BackupRefused("the database already holds tables: use --force to replace them")
    libpq, environment = libpq_url(url)
    command = ["pg_restore", "--clean", "--if-exists", "--no-owner", "--single-transaction"]
    _run_tool([*command, "--dbname", libpq, str(backup)], environment)


_IN_USE = sa.text(
    "SELECT (SELECT count(*) FROM pg_stat_activity"
    "        WHERE datname = current_database() AND pid <> pg_backend_pid()"
    "          AND backend_type = 'client backend'),"
    "       (SELECT count(*) FROM pg_tables"
    "        WHERE schemaname NOT IN ('pg_catalog', 'information_schema'))"
)


def _run_tool(command: list[str], environment: dict[str, str]) -> None:
    missing = [tool for tool in PG_TOOLS if shutil.which(tool) is None]
    if missing:
        raise BackupRefused(
            f"{' and '.join(missing)} not found: install PostgreSQL's client tools "
            "(pg_dump, pg_restore; the Debian package postgresql-client)"
        )
    done = subprocess.run(
        command,
        env={**os.environ, **environment},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        told = [line for line in done.stderr.splitlines() if line.strip()]
        raise BackupRefused(f"{command[0]} failed: {told[0] if told else done.returncode}")


# Checks


def integrity_problems(connection: sa.Connection) -> list[str]:
    """What SQLite's `PRAGMA integrity_check` finds wrong (nothing: []); [] on PostgreSQL,
    which keeps its own pages sound."""
    if connection.dialect.name != "sqlite":
        return []
    rows = [str(row[0]) for row in connection.exec_driver_sql("PRAGMA integrity_check")]
    return [] if rows == ["ok"] else rows


def begin_snapshot(connection: sa.Connection) -> None:
    """Make the transaction, which must not have run a statement yet, see one moment
    throughout (PostgreSQL; an SQLite read transaction always does)."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")


@dataclass(frozen=True, slots=True)
class IndexBatch:
    entries: list[Entry]
    rows: dict[int, set[IndexRow]]
    """The value index's rows by entry row key, for every key from just after the previous
    batch's last entry up to this batch's last (the last batch: to the end), so that a
    row of no entry is seen too."""
    texts: dict[int, set[tuple[int, str]]]
    """The text index's rows, alike: {entry row key: {(field id, text)}}."""


def index_batches(connection: sa.Connection, size: int = STREAM_BATCH) -> Iterator[IndexBatch]:
    """Every entry and every value index row, in batches of `size` entries by row key:
    memory stays flat however many there are."""
    entries, values = t.entries.c, t.entry_values.c
    after: int | None = None
    while True:
        query = sa.select(*COLUMNS).order_by(entries.pk).limit(size)
        if after is not None:
            query = query.where(entries.pk > after)
        batch = [entry_from_row(row) for row in connection.execute(query)]
        upto = batch[-1].row if len(batch) == size else None
        rows = sa.select(values.entry_pk, values.field_id, values.key, values.unique_key)
        if after is not None:
            rows = rows.where(values.entry_pk > after)
        if upto is not None:
            rows = rows.where(values.entry_pk <= upto)
        found: dict[int, set[IndexRow]] = {}
        for pk, field_id, key, unique_key in connection.execute(rows):
            found.setdefault(pk, set()).add((field_id, key, unique_key))
        yield IndexBatch(batch, found, texts.rows_between(connection, after, upto))
        renew_deadline(connection)
        if upto is None:
            return
        after = upto


def entry_place(row_key: int) -> tuple[int, int]:
    """(directory id, entry id) of an entry row key, whether or not the entry exists."""
    return divmod(row_key, t.ROW_KEYS_PER_DIRECTORY)
