"""Cursor pages over 100,000 companies, read while two other clients insert and delete.

Every company that existed throughout (there when the reading began, not deleted while
it went on) is returned exactly once, no id is returned twice, and nothing is returned
that never existed; in id order and in the order of a field.

The server is a real `accord serve` process: the clients and the server do not share a
process, and a request still running when the test ends dies with the server.
"""

import random
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from accord.domain.schema import COMPANIES
from accord.domain.text import compact_form, index_key
from accord.domain.values import index_keys
from accord.services.transactions import Database, Transaction, now, open_database, run
from accord.store import tables as t
from accord.store.schema import allocate_entry_ids
from tests.functional.api_support import Api, create_token
from tests.functional.test_concurrency import ServerProcess
from tests.support import Templates

COMPANIES_LOADED = 100_000
BATCH = 10_000
PAGE = 1000
DEMO_COMPANIES = set(range(1, 17))
WAIT_FOR_WRITERS = 120  # seconds; only reached when a writer is stuck
PAGE_TIMEOUT = 120
"""Seconds a client waits for one reply: a page takes well under a second, so a reply this
late means the server is stuck (the test fails instead of hanging)."""


def bulk_load(db: Database, count: int) -> None:
    """`count` companies named "Bulk nnnnn", their names in a scattered order.

    Written straight into the tables, as `create_entry` would write the row and its index
    keys, because creating 100,000 entries one by one takes minutes and this test is
    about reading pages, not about creating entries. (No history rows: nothing here
    reads them.)
    """

    def load(tx: Transaction, first: int, size: int) -> None:
        directory = tx.schema.directory_by_code(COMPANIES)
        name_field = tx.schema.name_field(directory)
        start = allocate_entry_ids(tx.connection, directory.id, size)
        at = now()
        rows, names = [], []
        for number in range(start, start + size):
            name = f"Bulk {((first + number - start) * 7919) % count:05d}"
            names.append(name)
            rows.append(
                {
                    "directory_id": directory.id,
                    "number": number,
                    "name": name,
                    "name_compact": index_key(compact_form(name)),
                    "data": {name_field.code: name},
                    "version": 1,
                    "created_at": at,
                    "created_by": None,
                    "updated_at": at,
                    "updated_by": None,
                }
            )
        insert = sa.insert(t.entries).returning(t.entries.c.pk, sort_by_parameter_order=True)
        pks = list(tx.connection.execute(insert, rows).scalars())
        tx.connection.execute(
            sa.insert(t.entry_values),
            [
                {"field_id": name_field.id, "key": key, "entry_pk": pk, "unique_key": key}
                for pk, name in zip(pks, names, strict=True)
                for key in index_keys(name_field, name)
            ],
        )

    for first in range(0, count, BATCH):
        run(db, lambda tx, first=first: load(tx, first, min(BATCH, count - first)), write=True)


@dataclass(frozen=True)
class Loaded:
    url: str
    database: Database


@pytest.fixture(scope="module")
def loaded(templates: Templates) -> Iterator[Loaded]:
    """A demo database holding 100,000 more companies, loaded once for this module's tests
    (each reads which companies are there when it starts)."""
    with templates.fresh("demo") as url:
        database = open_database(url, sqlite_synchronous="NORMAL")
        try:
            bulk_load(database, COMPANIES_LOADED)
            yield Loaded(url, database)
        finally:
            database.dispose()


def company_ids(database: Database) -> set[int]:
    with database.transaction(write=False) as tx:
        directory = tx.schema.directory_by_code(COMPANIES)
        query = sa.select(t.entries.c.number).where(t.entries.c.directory_id == directory.id)
        return set(tx.connection.execute(query).scalars())


@dataclass
class Writers:
    """Two clients writing while the pages are read: one inserts, one deletes.

    Each page waits until both have written again since the page before, so every page
    boundary has inserts and deletes on both sides of it.
    """

    inserter: Api
    deleter: Api
    deletable: list[int]
    inserted: list[int] = field(default_factory=list)
    deleted: list[int] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    changed: threading.Condition = field(default_factory=threading.Condition)
    failures: list[str] = field(default_factory=list)

    def insert_until_stopped(self) -> None:
        """New companies whose names fall anywhere in the name order."""
        spread, run_tag = random.Random(1), uuid.uuid4().hex[:6]  # the data set is shared
        while not self.stop.is_set():
            number = spread.randrange(COMPANIES_LOADED)
            name = f"Bulk {number:05d} new {run_tag} {len(self.inserted)}"
            self._write(self.inserted, lambda name=name: self._create(name))

    def _create(self, name: str) -> int:
        response = self.inserter.post("/companies", json={"org_name": name})
        assert response.status_code == 201, response.text
        entry_id: int = response.json()["id"]
        return entry_id

    def delete_until_stopped(self) -> None:
        """Companies that were there at the start, anywhere in either order."""
        while not self.stop.is_set() and self.deletable:
            self._write(self.deleted, lambda: self._delete(self.deletable.pop()))

    def _delete(self, entry_id: int) -> int:
        response = self.deleter.delete(f"/companies/{entry_id}")
        assert response.status_code == 204, response.text
        return entry_id

    def _write(self, done: list[int], write: Callable[[], int]) -> None:
        try:
            entry_id = write()
        except Exception as error:  # the reader is told at once, not after a timeout
            with self.changed:
                self.failures.append(repr(error))
                self.stop.set()
                self.changed.notify_all()
            raise
        with self.changed:
            done.append(entry_id)
            self.changed.notify_all()

    def wait_for_both(self, inserted: int, deleted: int) -> None:
        """Until each writer has written more than it had (or one failed)."""
        with self.changed:
            moved = self.changed.wait_for(
                lambda: (
                    self.failures or (len(self.inserted) > inserted and len(self.deleted) > deleted)
                ),
                timeout=WAIT_FOR_WRITERS,
            )
        assert moved, "the writers stopped writing"
        assert self.failures == []


def read_all_pages(reader: Api, writers: Writers, sort: str) -> list[dict[str, Any]]:
    """Every page of the companies, in `sort` order, waiting for the writers between."""
    items: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": PAGE, "fields": "org_name"}
    if sort:
        params["sort"] = sort
    while True:
        marks = len(writers.inserted), len(writers.deleted)
        page = reader.ok("GET", "/companies", params=params)
        items.extend(page["items"])
        if page["next_cursor"] is None:
            return items
        params["cursor"] = page["next_cursor"]
        writers.wait_for_both(*marks)


def page_through_while_writing(reader: Api, writers: Writers, sort: str) -> list[dict[str, Any]]:
    with ThreadPoolExecutor(max_workers=2) as pool:
        running = [
            pool.submit(writers.insert_until_stopped),
            pool.submit(writers.delete_until_stopped),
        ]
        try:
            items = read_all_pages(reader, writers, sort)
        finally:
            writers.stop.set()
            for done in running:
                done.result()
    assert writers.failures == []
    return items


def check_pages(items: list[dict[str, Any]], present: set[int], writers: Writers) -> None:
    """No id twice; every entry there throughout; nothing that was never there."""
    returned = [item["id"] for item in items]
    twice = sorted(i for i, n in Counter(returned).items() if n > 1)
    assert twice == []
    throughout = present - set(writers.deleted)
    missing = sorted(throughout - set(returned))
    assert missing == []
    never_there = sorted(set(returned) - present - set(writers.inserted))
    assert never_there == []


def ids_ascending(items: list[dict[str, Any]]) -> bool:
    ids = [item["id"] for item in items]
    return ids == sorted(ids)


def names_descending(items: list[dict[str, Any]]) -> bool:
    names = [item["org_name"].casefold() for item in items]
    return names == sorted(names, reverse=True)


@pytest.mark.parametrize(
    ("sort", "in_order"),
    [
        pytest.param("", ids_ascending, id="by-id"),
        pytest.param("-org_name", names_descending, id="by-name-descending"),
    ],
)
def test_pages_return_every_entry_that_existed_throughout_exactly_once(
    loaded: Loaded, tmp_path: Path, sort: str, in_order: Callable[[list[dict[str, Any]]], bool]
):
    present = company_ids(loaded.database)
    deletable = sorted(present - DEMO_COMPANIES)  # the demo's companies have contacts to clear
    random.Random(sort).shuffle(deletable)
    token = create_token(loaded.database)
    with ServerProcess(loaded.url, tmp_path, "server") as server:
        server.wait_until_listening()
        reader, inserter, deleter = clients = [Api(server.client(), token) for _ in range(3)]
        for client in clients:
            client.http.timeout = httpx.Timeout(PAGE_TIMEOUT)
        try:
            writers = Writers(inserter, deleter, deletable)
            items = page_through_while_writing(reader, writers, sort)
        finally:
            for client in clients:
                client.close()
    assert "Traceback" not in server.output(), server.output()

    check_pages(items, present, writers)
    assert in_order(items)
    # The writers were busy all along: every page boundary saw both kinds of write.
    pages = -(-len(items) // PAGE)
    assert len(writers.inserted) >= pages - 1
    assert len(writers.deleted) >= pages - 1
