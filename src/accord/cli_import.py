"""`accord import DIRECTORY FILE`: a CSV file's or XLSX workbook's rows as entries, a
chunk at a time.

Each chunk of rows is written in a transaction of its own (`services.imports`); a dry run
rolls each back, and an all-or-nothing import runs a dry run over the whole file first.
"""

import csv
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, TextIO

import typer

from accord.cli_export import XLSX, FormatOption, database_from_env, fail, format_of
from accord.domain.errors import AccordError
from accord.domain.users import Actor
from accord.services import imports, migrations, spreadsheets
from accord.services.imports import BadRow, ImportSpec, Plan, SeenValues, Tally
from accord.services.transactions import Database, DatabaseError, Transaction, run

CLI = Actor.system("cli")
BAR_WIDTH = 30
KEY_HELP = (
    "Update the entries this unique field (or id) names and create the others;"
    " without it every row creates an entry."
)
MAP_HELP = (
    "HEADER=FIELD: the column HEADER holds FIELD (code or name; empty: leave the column"
    " out). Repeatable."
)


class _Undo(Exception):
    """Raised out of a chunk's transaction to roll it back, carrying what it found."""

    def __init__(self, tally: Tally) -> None:
        super().__init__()
        self.tally = tally


def import_(
    directory: Annotated[str, typer.Argument(help="Code or display name of the directory.")],
    file: Annotated[
        Path,
        typer.Argument(help="The CSV file (UTF-8, RFC 4180) or XLSX workbook, a header row first."),
    ],
    key: Annotated[str | None, typer.Option("--key", help=KEY_HELP)] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Report every problem; write nothing.")
    ] = False,
    bad_rows: Annotated[
        Path | None,
        typer.Option("--bad-rows", help="Write the rows not imported here, with a column error."),
    ] = None,
    all_or_nothing: Annotated[
        bool,
        typer.Option("--all-or-nothing", help="Check every row first; write only if none is bad."),
    ] = False,
    map_: Annotated[list[str] | None, typer.Option("--map", help=MAP_HELP)] = None,
    ignore_unknown: Annotated[
        bool, typer.Option("--ignore-unknown", help="Leave out columns that name no field.")
    ] = False,
    format: FormatOption = None,
) -> None:
    """Import a CSV file's or XLSX workbook's (first worksheet's) rows into a directory
    (values as `accord export` writes them).

    Good rows are imported and bad ones reported (row, column, message); exit status 1
    when nothing could be imported, or the file cannot be read.
    """
    spec = ImportSpec(directory, key, _mapping(map_ or []), ignore_unknown)
    with _errors():
        source = Source(file, format_of(format, file) == XLSX)
    database = database_from_env()
    try:
        with _errors(), _bad_rows_file(bad_rows) as keep_bad:
            migrations.require_current_schema(database)
            header, plan, rows = _plan(database, spec, source)
            keep_bad(imports.bad_rows_header(header))
            for note in plan.left_out:
                typer.echo(f"left out: {note}", err=True)
            if all_or_nothing and not dry_run:
                tally = _all_or_nothing(database, plan, source, rows, keep_bad)
            else:
                tally = _import(database, plan, source, rows, keep_bad, dry=dry_run)
            _summary(tally, dry=dry_run)
    finally:
        database.dispose()


def _mapping(pairs: list[str]) -> tuple[tuple[str, str], ...]:
    mapped: list[tuple[str, str]] = []
    for pair in pairs:
        header, sep, target = pair.partition("=")
        if not sep or not header.strip():
            fail(f"--map takes HEADER=FIELD, not {pair}")
        mapped.append((header, target))
    return tuple(mapped)


class Source:
    """The file to import, and how to read its rows."""

    def __init__(self, file: Path, xlsx: bool) -> None:
        self.file, self.xlsx = file, xlsx

    @contextmanager
    def records(self) -> Iterator[Iterator[imports.Row]]:
        if self.xlsx:
            rows = spreadsheets.read_xlsx(self.file)
            try:
                yield rows
            finally:
                rows.close()  # closes the workbook
            return
        with self.file.open("rb") as stream:
            yield imports.read_csv(stream)


def _plan(database: Database, spec: ImportSpec, source: Source) -> tuple[list[str], Plan, int]:
    """The header, the plan, and the number of rows: the file is read through once
    before anything is written, so that a file that cannot be read changes nothing."""
    with source.records() as records:
        _, header = next(records, (0, []))
        if not header:
            kind = "an XLSX workbook" if source.xlsx else "a CSV file"
            fail(f"{source.file} is empty: {kind} to import starts with a header row")
        plan = run(database, lambda tx: imports.plan_import(tx.schema, spec, header), write=False)
        return header, plan, sum(1 for _ in records)


Keep = Callable[[list[str]], None]


def _import(
    database: Database, plan: Plan, source: Source, rows: int, keep: Keep, *, dry: bool
) -> Tally:
    """Every chunk in a transaction of its own, committed (rolled back: `dry`)."""
    total = Tally()
    for tally in _chunks(database, plan, source, strict=False, dry=dry):
        total.add(tally)
        _report(tally.bad, keep, total)
        _progress("checking" if dry else "importing", total.imported + len(total.bad), rows)
    return total


def _all_or_nothing(database: Database, plan: Plan, source: Source, rows: int, keep: Keep) -> Tally:
    checked = _import(database, plan, source, rows, keep, dry=True)
    if checked.bad:
        _report_end()
        fail(f"{len(checked.bad):,} bad rows, so nothing was written")
    total = Tally()
    try:
        for tally in _chunks(database, plan, source, strict=True, dry=False):
            total.add(tally)
            _progress("importing", total.imported, rows)
    except _Undo as undone:
        _report(undone.tally.bad, keep, total)
        _report_end()
        fail(
            f"a row went bad since it was checked (another writer?): the import stopped at"
            f" row {undone.tally.bad[0].number}, after {total.imported:,} rows written"
        )
    return total


def _chunks(
    database: Database, plan: Plan, source: Source, *, strict: bool, dry: bool
) -> Iterator[Tally]:
    seen = SeenValues()
    with source.records() as records:
        next(records)  # the header
        for rows in imports.chunks(records):

            def work(tx: Transaction, rows: list[imports.Row] = rows) -> Tally:
                tally = imports.import_rows(tx, plan, rows, seen, actor=CLI)
                if dry or (strict and tally.bad):
                    raise _Undo(tally)
                return tally

            try:
                yield run(database, work, write=True)
            except _Undo as undone:
                if not dry:
                    raise
                yield undone.tally


def _report(bad: list[BadRow], keep: Keep, total: Tally) -> None:
    total.bad.extend(bad)
    for row in bad:
        _report_end()
        typer.echo(row.describe(), err=True)
        keep(imports.bad_row_cells(row))


def _summary(tally: Tally, *, dry: bool) -> None:
    _report_end()
    bad = len(tally.bad)
    if dry:
        typer.echo(
            f"dry run: {tally.created:,} to create, {tally.updated:,} to update,"
            f" {tally.unchanged:,} unchanged, {bad:,} bad; nothing was written"
        )
    else:
        typer.echo(
            f"created {tally.created:,}, updated {tally.updated:,},"
            f" unchanged {tally.unchanged:,}, bad {bad:,}"
        )
    if not tally.imported and not bad:
        fail("the file has no rows under its header")
    if (dry and bad) or not tally.imported:
        raise typer.Exit(1)


_shown = {"bar": False}


def _progress(doing: str, done: int, total: int) -> None:
    if not sys.stderr.isatty() or not total:
        return
    filled = min(BAR_WIDTH, BAR_WIDTH * done // total)
    bar = "#" * filled + "-" * (BAR_WIDTH - filled)
    typer.echo(f"\r{doing} [{bar}] {done:,}/{total:,} rows", nl=False, err=True)
    _shown["bar"] = True


def _report_end() -> None:
    """End the progress bar's line before anything else is written to the terminal."""
    if _shown["bar"]:
        typer.echo("", err=True)
        _shown["bar"] = False


@contextmanager
def _bad_rows_file(path: Path | None) -> Iterator[Keep]:
    """A writer of rows into `path`, which it creates with the first row (the header,
    written once the columns are known), or one that keeps nothing."""
    if path is None:
        yield lambda row: None
        return
    opened: list[TextIO] = []

    def keep(row: list[str]) -> None:
        if not opened:
            opened.append(path.open("w", encoding="utf-8", newline=""))
        csv.writer(opened[0], lineterminator="\r\n").writerow(row)

    try:
        yield keep
    finally:
        for out in opened:
            out.close()


@contextmanager
def _errors() -> Iterator[None]:
    try:
        yield
    except AccordError as error:
        _report_end()
        fail(error.message)
    except DatabaseError as error:
        fail(f"database error: {error} (is the database reachable and upgraded?)")
    except OSError as error:
        fail(f"{error.filename or 'file'}: {error.strerror or error}")
