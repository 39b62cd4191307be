"""The export service on a real database: pages in transactions of their own lose and
repeat nothing, even while others write between them; columns stay those of the first
page."""

import csv
import io
from collections.abc import Callable

import pytest

from accord.domain.entries import EntryRef
from accord.domain.schema import FieldType
from accord.domain.users import Actor
from accord.domain.values import RawValue
from accord.services import directories, entries, exports
from accord.services.exports import ExportPage, ExportSpec, Headers
from accord.services.transactions import Database, Transaction, run

ADMIN = Actor.system("cli")


def reader(db: Database) -> Callable[[Callable[[Transaction, Actor], ExportPage]], ExportPage]:
    return lambda work: run(db, lambda tx: work(tx, ADMIN), write=False)


def export(
    db: Database, spec: ExportSpec, between: Callable[[], None] = lambda: None
) -> list[list[str]]:
    """The rows of the export, `between` run after each page is read."""
    read = reader(db)

    def each(work: Callable[[Transaction, Actor], ExportPage]) -> ExportPage:
        between()
        return read(work)

    first = read(lambda tx, actor: exports.export_page(tx, spec, None, actor=actor))
    text = b"".join(exports.export_csv(first, spec, each)).decode("utf-8")
    return list(csv.reader(io.StringIO(text, newline="")))


def add_product(db: Database, name: str) -> int:
    def work(tx: Transaction) -> int:
        found = tx.schema.find_directory("PRODUCTS")
        name_field = tx.schema.find_field(found, "product_name")
        return entries.create_entry(tx, found, [(name_field, RawValue(name))], actor=ADMIN).id

    return run(db, work, write=True)


def all_ids(db: Database) -> list[int]:
    return [int(row[0]) for row in export(db, ExportSpec("PRODUCTS"))[1:]]


@pytest.mark.parametrize("size", [1, 2, 3, 1000])
def test_pages_of_any_size_give_every_entry_once_in_id_order(db: Database, size: int):
    for number in range(7):
        add_product(db, f"Widget {number}")
    rows = export(db, ExportSpec("PRODUCTS", headers=Headers.CODES, page_size=size))
    assert rows[0][:2] == ["id", "product_name"]
    ids = [int(row[0]) for row in rows[1:]]
    assert ids == sorted(set(ids)) == all_ids(db)
    assert len(ids) == 4 + 7  # the demo's four products and the seven


def test_writes_between_pages_lose_and_repeat_nothing_that_was_there_all_along(db: Database):
    before = all_ids(db)
    added: list[int] = []

    def write() -> None:
        if len(added) == 3:
            return
        added.append(add_product(db, f"Late {len(added)}"))
        run(
            db,
            lambda tx: entries.update_entry(
                tx,
                tx.schema.find_directory("PRODUCTS"),
                EntryRef(id=before[0]),
                [
                    (
                        tx.schema.find_field(
                            tx.schema.find_directory("PRODUCTS"), "product_vendor"
                        ),
                        RawValue(f"v{len(added)}"),
                    )
                ],
                actor=ADMIN,
            ),
            write=True,
        )

    ids = [int(row[0]) for row in export(db, ExportSpec("PRODUCTS", page_size=1), write)[1:]]
    assert len(ids) == len(set(ids))
    assert set(before) <= set(ids)
    assert ids == sorted(ids) == before + added  # those added after the cursor too, once


def test_a_field_added_mid_export_is_left_out_so_every_row_has_the_header_width(db: Database):
    added: list[str] = []

    def add_field() -> None:
        if not added:
            field = run(
                db,
                lambda tx: directories.add_field(
                    tx, "PRODUCTS", "Late", FieldType.TEXT, actor=ADMIN
                ),
                write=True,
            )
            added.append(field.code)

    rows = export(db, ExportSpec("PRODUCTS", headers=Headers.CODES, page_size=2), add_field)
    assert added
    assert added[0] not in rows[0]
    assert {len(row) for row in rows} == {len(rows[0])}
