"""What the text index costs the writes, in process, on a database `bench/search.py` loaded.

Runs the search bench's writes through the services, alternately with the text index
written and with its writes left out (`store.texts.replace` made to do nothing), in the
same process on the same database, and prints the median of each and their ratio:

- a batch upsert of 1,000 companies matched by name (`services.batches.write_batch`,
  as `POST /companies/batch` does): three in four update a company's website, one in
  four is a new company, each batch a transaction of its own;
- single creates of a contact (`services.entries.create_entry`), each a transaction.

Alternating in one process cancels most of the machine's noise, which two runs of the
HTTP bench minutes apart do not. What it leaves out: HTTP and JSON (the same either way).
The entries written without their texts are missing from the text index afterwards (a
few thousand, named `Index cost ...`): run it on a bench database, not on real data;
`accord db check` names them.

    .venv/bin/python bench/index_cost.py --database-url URL [--rounds 9]
"""

import argparse
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from accord.domain.schema import COMPANIES, CONTACTS
from accord.domain.users import Actor
from accord.domain.values import RawValue
from accord.services import batches, entries
from accord.services.batches import Mode
from accord.services.transactions import Database, Transaction, open_database, run
from accord.store import texts

ACTOR = Actor.system("api")
BATCH = 1000
CREATES_EVERY = 4


@contextmanager
def without_text_index() -> Iterator[None]:
    """The services' writes leave the text index alone while this holds."""
    real = texts.replace
    texts.replace = lambda connection, rows: None  # type: ignore[assignment]
    try:
        yield
    finally:
        texts.replace = real  # type: ignore[assignment]


class Writes:
    """The writes measured, each new one with names no earlier run used."""

    def __init__(self, database: Database, companies: int) -> None:
        self.database = database
        self.companies = companies
        self.run_tag = time.time_ns() % 10**9
        self.count = 0

    def upsert_batch(self) -> None:
        self.count += 1
        n = self.count
        items: list[dict[str, object]] = []
        for i in range(BATCH):
            if i % CREATES_EVERY == CREATES_EVERY - 1:
                name = f"Index cost {self.run_tag}-{n}-{i}"
                items.append({"org_name": name, "org_www": f"new{i}.example"})
            else:
                number = ((n * BATCH + i) * 104729 + self.run_tag) % self.companies + 1
                www = f"v{self.run_tag}{n}.company{number}.example"
                items.append({"org_name": f"Bench Company {number:07d}", "org_www": www})

        def work(tx: Transaction) -> None:
            directory = tx.schema.directory_by_code(COMPANIES)
            outcomes = batches.write_batch(
                tx, directory, items, mode=Mode.UPSERT, match="org_name", actor=ACTOR
            )
            failed = [o.error for o in outcomes if o.error]
            if failed:
                raise SystemExit(f"upsert failed: {failed[:3]}")

        run(self.database, work, write=True)

    def create(self) -> None:
        self.count += 1
        name = f"Index cost {self.run_tag}-{self.count} Kowalska"

        def work(tx: Transaction) -> None:
            directory = tx.schema.directory_by_code(CONTACTS)
            values = {"contact_name": name, "contact_email": f"ic{self.count}@example.org"}
            inputs = [
                (tx.schema.field_by_code(directory, code), RawValue(value))
                for code, value in values.items()
            ]
            entries.create_entry(tx, directory, inputs, actor=ACTOR)

        run(self.database, work, write=True)


def timed(write: Callable[[], None], times: int) -> float:
    """Milliseconds a write, over `times` of them."""
    started = time.perf_counter()
    for _ in range(times):
        write()
    return (time.perf_counter() - started) * 1000 / times


def measure(write: Callable[[], None], rounds: int, times: int) -> tuple[float, float]:
    """Medians (with the index, without) of `rounds` alternating runs of `times` writes."""
    with_index, without = [], []
    timed(write, 1)  # warm
    for _ in range(rounds):
        with_index.append(timed(write, times))
        with without_text_index():
            without.append(timed(write, times))
    return statistics.median(with_index), statistics.median(without)


def companies_held(database: Database) -> int:
    def count(tx: Transaction) -> int:
        directory = tx.schema.directory_by_code(COMPANIES)
        return int(
            tx.connection.exec_driver_sql(
                f"SELECT max(number) FROM entries WHERE directory_id = {directory.id}"
            ).scalar_one()
            or 0
        )

    return run(database, count, write=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--batches", type=int, default=2, help="upsert batches a run")
    parser.add_argument("--creates", type=int, default=50, help="creates a run")
    args = parser.parse_args()
    database = open_database(args.database_url, sqlite_synchronous="FULL")
    writes = Writes(database, companies_held(database))
    print(
        f"{database.engine.dialect.name}, {writes.companies:,} companies; medians of "
        f"{args.rounds} alternating runs"
    )
    for label, write, times, per in (
        ("batch upsert of 1,000", writes.upsert_batch, args.batches, BATCH),
        ("create one contact", writes.create, args.creates, 1),
    ):
        indexed, bare = measure(write, args.rounds, times)
        print(
            f"  {label:22} with the index {indexed:7.1f} ms ({per * 1000 / indexed:6,.0f}/s), "
            f"without {bare:7.1f} ms ({per * 1000 / bare:6,.0f}/s): "
            f"rate {(bare / indexed - 1) * 100:+.1f} %",
            flush=True,
        )
    database.dispose()


if __name__ == "__main__":
    main()
