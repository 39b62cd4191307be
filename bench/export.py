"""Benchmark of the CSV and XLSX exports: companies loaded as bench/rest_api.py loads
them, then exported through the services the CLI and REST run (`services.exports`, and
`services.spreadsheets` for XLSX: pages of 1,000, each in a read transaction of its own),
to /dev/null, once per --format in the order given (`--format csv --format xlsx` compares
them in one run).

Prints each export's time, its rate, the bytes written, and the growth of the process's
resident memory from the first page to the largest seen, in all and anonymous only
(without the database file's pages SQLite maps in; flat memory: the anonymous growth
must not grow with the number of entries). Run `.venv/bin/python bench/export.py --help`.
"""

import argparse
import os
import time
from collections.abc import Callable
from pathlib import Path

import rest_api
from accord.domain.users import Actor
from accord.services import exports, spreadsheets
from accord.services.exports import ExportPage, ExportSpec
from accord.services.transactions import Database, Transaction, open_database, run

PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


def resident_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE_BYTES


def anonymous_bytes() -> int:
    """Resident memory less file-backed pages: SQLite maps the database file (mmap_size),
    so the pages it reads count as resident, though the kernel may drop them at will."""
    with open("/proc/self/statm") as statm:
        _, resident, shared, *_ = statm.read().split()
    return (int(resident) - int(shared)) * PAGE_BYTES


def export(
    database: Database, spec: ExportSpec, kind: str
) -> tuple[float, int, int, tuple[int, int]]:
    """Seconds, rows, bytes, and the largest growth of resident and of anonymous memory
    after page one (measured as each page is read, and as each chunk is written)."""
    actor = Actor.system("bench")
    base, peak, rows = (0, 0), (0, 0), 0

    def measure() -> None:
        nonlocal peak
        now = (resident_bytes() - base[0], anonymous_bytes() - base[1])
        peak = (max(peak[0], now[0]), max(peak[1], now[1]))

    def read(work: Callable[[Transaction, Actor], ExportPage]) -> ExportPage:
        nonlocal rows
        page = run(database, lambda tx: work(tx, actor), write=False)
        rows += len(page.rows)
        if base[0]:  # page one is the baseline
            measure()
        return page

    started = time.perf_counter()
    first = read(lambda tx, a: exports.export_page(tx, spec, None, actor=a))
    base, size = (resident_bytes(), anonymous_bytes()), 0
    write = spreadsheets.export_xlsx if kind == "xlsx" else exports.export_csv
    for chunk in write(first, spec, read):
        size += len(chunk)
        measure()
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
    parser.add_argument(
        "--format", action="append", choices=["csv", "xlsx"], help="repeatable; default csv"
    )
    args = parser.parse_args()
    database = open_database(args.url, sqlite_synchronous="NORMAL")
    try:
        load_companies(database, reuse=args.reuse, companies=args.companies)
        for kind in args.format or ["csv"]:
            seconds, rows, size, growth = export(database, ExportSpec("CLIENTS"), kind)
            print(
                f"\n{kind} export of {rows:,} companies: {seconds:.1f} s"
                f" ({rows / seconds:,.0f} rows/s), {size / 1e6:,.1f} MB of {kind.upper()},"
                f" growth after page one: resident {growth[0] / 1e6:.1f} MB, anonymous"
                f" {growth[1] / 1e6:.1f} MB"
            )
    finally:
        database.dispose()


if __name__ == "__main__":
    main()
