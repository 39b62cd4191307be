"""`accord export DIRECTORY [FILE]`: a directory's entries as CSV or XLSX, page by page."""

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, BinaryIO, NoReturn

import typer

from accord.domain.errors import AccordError, InvalidQuery
from accord.domain.filters import parse_filter
from accord.domain.users import Actor
from accord.services import exports, migrations, spreadsheets
from accord.services.exports import ExportPage, ExportSpec
from accord.services.transactions import Database, DatabaseError, Transaction, open_database, run
from accord.settings import Settings

CLI = Actor.system("cli")
CSV, XLSX = "csv", "xlsx"


FormatOption = Annotated[
    str | None, typer.Option("--format", help="csv or xlsx (default: FILE's suffix, else csv).")
]
"""The file format option, the same for export and import."""


def export(
    directory: Annotated[str, typer.Argument(help="Code or display name of the directory.")],
    file: Annotated[
        Path | None,
        typer.Argument(help="The CSV or XLSX file to write (standard output without it)."),
    ] = None,
    filter: Annotated[
        str | None, typer.Option("--filter", help="Only the entries this filter selects.")
    ] = None,
    headers: Annotated[
        str, typer.Option("--headers", help="Head columns with field names or codes.")
    ] = "names",
    raw: Annotated[
        bool,
        typer.Option("--raw", help="CSV: no ' before cells starting with = + - @ (for re-import)."),
    ] = False,
    format: FormatOption = None,
) -> None:
    """Export a directory's entries (or those FILTER selects) as CSV (UTF-8, RFC 4180) or
    XLSX (one worksheet, every cell a string).

    FILE is written as FILE.part and renamed when complete: a failed export leaves no file.
    """
    try:
        xlsx = format_of(format, file) == XLSX
        spec = ExportSpec(
            directory,
            parse_filter(filter) if filter is not None else None,
            exports.headers_named(headers),
            guard=not raw,
        )
    except AccordError as error:
        fail(error.message)
    database = database_from_env()
    try:
        chunks = _chunks(database, spec, xlsx=xlsx)
        if file is None:
            _write(chunks, sys.stdout.buffer)
        else:
            _write_file(chunks, file)
    except AccordError as error:
        fail(error.message)
    except DatabaseError as error:
        fail(f"database error: {error} (is the database reachable and upgraded?)")
    except OSError as error:
        fail(f"cannot write {file or 'standard output'}: {error.strerror or error}")
    finally:
        database.dispose()


def format_of(named: str | None, file: Path | None) -> str:
    """The format `named` (csv or xlsx), else FILE's suffix's, else csv."""
    if named is None:
        return XLSX if file is not None and file.suffix.lower() == ".xlsx" else CSV
    if named.lower() not in (CSV, XLSX):
        raise InvalidQuery(f"format is csv or xlsx, not {named}")
    return named.lower()


def _chunks(database: Database, spec: ExportSpec, *, xlsx: bool) -> Iterator[bytes]:
    """The file's chunks; the first page is read here, so its errors come before any
    output (an XLSX workbook's every page is read before its first chunk)."""
    migrations.require_current_schema(database)

    def read(work: Callable[[Transaction, Actor], ExportPage]) -> ExportPage:
        return run(database, lambda tx: work(tx, CLI), write=False)

    first = read(lambda tx, actor: exports.export_page(tx, spec, None, actor=actor))
    if xlsx:
        return spreadsheets.export_xlsx(first, spec, read)
    return exports.export_csv(first, spec, read)


def _write(chunks: Iterator[bytes], out: BinaryIO) -> None:
    for chunk in chunks:
        out.write(chunk)
    out.flush()


def _write_file(chunks: Iterator[bytes], file: Path) -> None:
    """Into FILE.part, renamed to FILE once complete (removed if anything fails)."""
    part = file.with_name(file.name + ".part")
    try:
        with part.open("wb") as out:
            _write(chunks, out)
        os.replace(part, file)
    except BaseException:
        part.unlink(missing_ok=True)
        raise


def database_from_env() -> Database:
    settings = Settings.from_env()
    return open_database(
        settings.database_url,
        sqlite_synchronous=settings.sqlite_synchronous,
        sqlite_wal_limit_bytes=settings.sqlite_wal_limit_bytes,
    )


def fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)
