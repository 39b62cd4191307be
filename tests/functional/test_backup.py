"""`accord db backup`, `restore` and `check`, run as real `accord` processes on a real
database: a restored database is the one backed up, row for row."""

import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from accord.services.transactions import open_database
from tests.functional import test_cli
from tests.functional.test_cli import Cli
from tests.support import Templates, dump

bare_url = test_cli.bare_url  # the fixture: a database never upgraded


def _snapshot(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the database, read by a connection closed afterwards (a restore
    refuses a database others are connected to, and replaces an SQLite file)."""
    database = open_database(url, sqlite_synchronous="NORMAL")
    try:
        return dump(database)
    finally:
        database.dispose()


@pytest.fixture
def tools(templates: Templates) -> None:
    if templates.backend == "postgresql" and not (
        shutil.which("pg_dump") and shutil.which("pg_restore")
    ):
        pytest.skip("pg_dump and pg_restore (PostgreSQL's client tools) are not installed")


@pytest.fixture
def cli(demo_url: str, tmp_path: Path, tools: None) -> Cli:
    return Cli(demo_url, tmp_path)


def test_a_restore_brings_back_the_database_as_it_was_at_the_backup(
    cli: Cli, demo_url: str, tmp_path: Path
) -> None:
    at_backup = _snapshot(demo_url)
    [said] = cli("db", "backup", "saved.backup")
    assert said.startswith("database backed up to saved.backup")
    cli("user", "add", "written-after-the-backup")
    after_write = _snapshot(demo_url)
    assert after_write != at_backup

    refused = cli.fails("db", "restore", "saved.backup")
    assert "use --force to replace" in refused
    assert _snapshot(demo_url) == after_write  # refused: nothing changed

    assert cli("db", "restore", "--force", "saved.backup") == [
        "database restored from saved.backup"
    ]
    assert _snapshot(demo_url) == at_backup
    assert "written-after-the-backup" not in "\n".join(cli("user", "list"))
    assert cli("db", "check")[0] == "integrity: ok"


def test_a_backup_never_overwrites_a_file_unless_forced(cli: Cli, tmp_path: Path) -> None:
    kept = tmp_path / "saved.backup"
    kept.write_text("an older backup")
    assert cli.fails("db", "backup", "saved.backup") == (
        "error: saved.backup exists: use --force to overwrite it"
    )
    assert kept.read_text() == "an older backup"
    cli("db", "backup", "--force", "saved.backup")
    assert kept.read_text(errors="replace") != "an older backup"
    assert [p.name for p in tmp_path.iterdir()] == ["saved.backup"]  # no partial file left


def test_a_backup_restores_into_a_database_not_created_yet(
    cli: Cli, demo_url: str, bare_url: str, tmp_path: Path
) -> None:
    cli("db", "backup", "saved.backup")
    Cli(bare_url, tmp_path)("db", "restore", "saved.backup")
    assert _snapshot(bare_url) == _snapshot(demo_url)


def test_a_restore_of_what_is_not_a_backup_changes_nothing(
    cli: Cli, demo_url: str, tmp_path: Path
) -> None:
    before = _snapshot(demo_url)
    (tmp_path / "notes.txt").write_text("not a backup")
    assert cli.fails("db", "restore", "--force", "notes.txt").startswith("error: ")
    assert cli.fails("db", "restore", "--force", "missing.backup") == (
        "error: there is no backup at missing.backup"
    )
    assert _snapshot(demo_url) == before


def test_a_restore_is_refused_while_the_database_is_open_elsewhere(
    cli: Cli, templates: Templates, demo_url: str
) -> None:
    if templates.backend != "sqlite":
        pytest.skip("SQLite's locks; PostgreSQL refuses any other session (tested below)")
    cli("db", "backup", "saved.backup")
    path = sa.make_url(demo_url).database or ""
    before = _snapshot(demo_url)
    writer = sqlite3.connect(path, isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")  # a server writing
        refused = cli.fails("db", "restore", "--force", "saved.backup")
        assert refused == f"error: {path} is in use: stop the server before restoring"
        writer.execute("ROLLBACK")  # a server idle, its connection open
        assert cli.fails("db", "restore", "--force", "saved.backup") == refused
    finally:
        writer.close()
    assert _snapshot(demo_url) == before
    cli("db", "restore", "--force", "saved.backup")  # once it is closed


def test_a_postgresql_restore_is_refused_while_another_session_is_connected(
    cli: Cli, templates: Templates, demo_url: str
) -> None:
    if templates.backend != "postgresql":
        pytest.skip("PostgreSQL only")
    cli("db", "backup", "saved.backup")
    other = open_database(demo_url)
    try:
        with other.engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
            assert "other session(s) are connected" in cli.fails(
                "db", "restore", "--force", "saved.backup"
            )
    finally:
        other.dispose()


def test_without_postgresqls_tools_a_backup_says_which_are_missing(
    cli: Cli, templates: Templates, tmp_path: Path
) -> None:
    if templates.backend != "postgresql":
        pytest.skip("PostgreSQL only: SQLite needs no tool")
    cli.env["PATH"] = str(tmp_path / "no-tools")
    assert cli.fails("db", "backup", "saved.backup") == (
        "error: pg_dump and pg_restore not found: install PostgreSQL's client tools "
        "(pg_dump, pg_restore; the Debian package postgresql-client)"
    )


TEXTS = "text index: 80 rows"
"""The demo's texts: names, e-mails, websites and the like, one row each."""


def test_check_passes_on_the_demo_and_names_entries_whose_index_rows_are_wrong(
    cli: Cli, demo_url: str
) -> None:
    assert cli("db", "check") == ["integrity: ok", "value index: 34 entries, 165 rows", TEXTS]
    engine = sa.create_engine(demo_url, poolclass=sa.NullPool)
    try:
        with engine.begin() as connection:
            # Company 1 loses its name's row; company 2 gains a key no value of it calls for.
            connection.exec_driver_sql(
                "DELETE FROM entry_values WHERE entry_pk = (SELECT pk FROM entries "
                "WHERE directory_id = 1 AND number = 1) "
                "AND field_id = (SELECT id FROM fields WHERE code = 'org_name')"
            )
            connection.exec_driver_sql(
                "INSERT INTO entry_values (field_id, key, entry_pk) "
                "SELECT f.id, 'not a value of it', e.pk FROM fields f, entries e "
                "WHERE f.code = 'org_www' AND e.directory_id = 1 AND e.number = 2"
            )
            # Company 3's name reads otherwise in the text index.
            connection.exec_driver_sql(
                "UPDATE entry_texts SET text = 'not its name' WHERE "
                + (
                    "rowid = (SELECT (e.pk << 16) | f.id FROM entries e, fields f "
                    if connection.dialect.name == "sqlite"
                    else "(entry_pk, field_id) = (SELECT e.pk, f.id FROM entries e, fields f "
                )
                + "WHERE e.directory_id = 1 AND e.number = 3 AND f.code = 'org_name')"
            )
    finally:
        engine.dispose()
    result = cli.run("db", "check")
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        "integrity: ok",
        "value index: 34 entries, 165 rows",
        TEXTS,
        "missing value index rows: 1 (entries CLIENTS 1)",
        "extra value index rows: 1 (entries CLIENTS 2)",
        "missing text index rows: 1 (entries CLIENTS 3)",
        "extra text index rows: 1 (entries CLIENTS 3)",
    ]
    assert result.stderr == "error: the database check found problems\n"
