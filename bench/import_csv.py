"""Benchmark of the CSV import: companies loaded as bench/export.py loads them (into
bench/export.db, or --source), exported as `accord export --raw` writes them, then that
file imported into a new database (bench/import.db, or --target) through the service
`accord import` runs (`services.imports`: chunks of 1,000, each in a transaction of its
own), first by create, then again with --key id (every row unchanged).

Prints each pass's time and rate, and the growth of the process's resident memory from
the first chunk to the largest seen. Run `.venv/bin/python bench/import_csv.py --help`.
"""

import argparse
import os
import time
from collections.abc import Callable
from pathlib import Path

import rest_api
from accord.domain.schema import FieldType
from accord.domain.users import Actor
from accord.services import directories, exports, imports, migrations
from accord.services.exports import ExportPage, ExportSpec
from accord.services.imports import ImportSpec, SeenValues, Tally
from accord.services.transactions import Database, Transaction, open_database, run
from export import load_companies

ACTOR = Actor.system("bench")
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")
HERE = Path(__file__).parent


def resident_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE_BYTES


def export_file(database: Database, path: Path) -> None:
    spec = ExportSpec("CLIENTS", guard=False)

    def read(work: Callable[[Transaction, Actor], ExportPage]) -> ExportPage:
        return run(database, lambda tx: work(tx, ACTOR), write=False)

    first = read(lambda tx, a: exports.export_page(tx, spec, None, actor=a))
    with path.open("wb") as out:
        for chunk in exports.export_csv(first, spec, read):
            out.write(chunk)


def import_file(database: Database, path: Path, key: str | None) -> tuple[float, float, Tally, int]:
    """Seconds, seconds of this process's CPU, what became of the rows, and the largest
    growth of resident memory after the first chunk: what `accord import` runs, without
    its terminal output."""
    started, cpu = time.perf_counter(), time.process_time()
    with path.open("rb") as stream:
        records = imports.read_csv(stream)
        header, spec = next(records)[1], ImportSpec("CLIENTS", key=key)
        plan = run(database, lambda tx: imports.plan_import(tx.schema, spec, header), write=False)
        seen, total, base, peak = SeenValues(), Tally(), 0, 0
        for rows in imports.chunks(records):

            def work(tx: Transaction, rows: list[imports.Row] = rows) -> Tally:
                return imports.import_rows(tx, plan, rows, seen, actor=ACTOR)

            tally = run(database, work, write=True)
            total.add(tally)
            total.bad.extend(tally.bad)
            base = base or resident_bytes()
            peak = max(peak, resident_bytes() - base)
    return time.perf_counter() - started, time.process_time() - cpu, total, peak


def empty_target(url: str) -> Database:
    if url.startswith("sqlite:///"):
        for suffix in ("", "-wal", "-shm"):
            Path(url.removeprefix("sqlite:///") + suffix).unlink(missing_ok=True)
    database = open_database(url, sqlite_synchronous="NORMAL")
    migrations.upgrade_schema(database)
    run(
        database,
        lambda tx: directories.add_field(
            tx, "CLIENTS", rest_api.SEGMENT, FieldType.TEXT, actor=ACTOR
        ),
        write=True,
    )
    return database


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--companies", type=int, default=100_000)
    parser.add_argument("--source", default=f"sqlite:///{HERE / 'export.db'}")
    parser.add_argument("--reuse", action="store_true", help="the source holds them already")
    parser.add_argument(
        "--target", default=f"sqlite:///{HERE / 'import.db'}", help="emptied (SQLite) first"
    )
    parser.add_argument("--csv", type=Path, default=HERE / "import.csv")
    args = parser.parse_args()
    source = open_database(args.source, sqlite_synchronous="NORMAL")
    try:
        load_companies(source, reuse=args.reuse, companies=args.companies)
        export_file(source, args.csv)
    finally:
        source.dispose()
    target = empty_target(args.target)
    try:
        for key in (None, "id"):
            seconds, cpu, tally, growth = import_file(target, args.csv, key)
            rows = tally.imported + len(tally.bad)
            print(
                f"\nimport of {rows:,} companies{' with --key id' if key else ''}:"
                f" {seconds:.1f} s ({rows / seconds:,.0f} rows/s, {cpu:.1f} s of CPU);"
                f" created {tally.created:,}, updated {tally.updated:,},"
                f" unchanged {tally.unchanged:,}, bad {len(tally.bad):,};"
                f" resident memory growth after the first chunk {growth / 1e6:.1f} MB"
            )
    finally:
        target.dispose()


if __name__ == "__main__":
    main()
