"""Benchmark of the CSV export: companies loaded as bench/rest_api.py loads them, then
exported through the service the CLI and REST run (`services.exports`: pages of 1,000,
each in a read transaction of its own), to /dev/null.

Prints the export's time, its rate, the bytes written, and the growth of the process's
resident memory from the first page to the largest seen (flat memory: it must not grow
with the number of entries). Run `.venv/bin/python bench/export.py --help`.
"""

import argparse
import os
import time
from collections.abc import Callable
from pathlib import Path

import rest_api
from accord.domain.users import Actor
from accord.services import exports
from accord.services.exports import ExportPage, ExportSpec
from accord.services.transactions import Database, Transaction, open_database, run

PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


def resident_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE_BYTES


def export(database: Database, spec: ExportSpec) -> tuple[float, int, int, int]:
    """Seconds, rows, bytes, and the largest growth of resident memory after page one."""
    actor = Actor.system("bench")

    def read(work: Callable[[Transaction, Actor], ExportPage]) -> ExportPage:
        return run(database, lambda tx: work(tx, actor), write=False)

    started = time.perf_counter()
    first = read(lambda tx, a: exports.export_page(tx, spec, None, actor=a))
    base, peak, rows, size = resident_bytes(), 0, 0, 0
    for chunk in exports.export_csv(first, spec, read):
        size += len(chunk)
        rows += chunk.count(b"\r\n")
        peak = max(peak, resident_bytes() - base)
    return time.perf_counter() - started, rows - 1, size, peak


def load_companies(database: Database, *, reuse: bool, companies: int) -> None:
    """Companies 1..`companies` as bench/rest_api.py loads them (`reuse`: there already)."""
    code, token = rest_api.prepare(database, reuse=reuse, companies=companies)
    if not reuse:
        rest_api.announce_load(10_000)
        rest_api.load_entries(
            database,
            token,
            "CLIENTS",
            lambda n: rest_api.company(n, code, companies),
            companies,
            10_000,
            progress="{last:,} companies",
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--companies", type=int, default=100_000)
    parser.add_argument("--url", default=f"sqlite:///{Path(__file__).parent / 'export.db'}")
    parser.add_argument("--reuse", action="store_true", help="the database holds them already")
    args = parser.parse_args()
    database = open_database(args.url, sqlite_synchronous="NORMAL")
    try:
        load_companies(database, reuse=args.reuse, companies=args.companies)
        seconds, rows, size, growth = export(database, ExportSpec("CLIENTS"))
        print(
            f"\nexport of {rows:,} companies: {seconds:.1f} s ({rows / seconds:,.0f} rows/s),"
            f" {size / 1e6:,.1f} MB of CSV, resident memory growth after page one"
            f" {growth / 1e6:.1f} MB"
        )
    finally:
        database.dispose()


if __name__ == "__main__":
    main()
