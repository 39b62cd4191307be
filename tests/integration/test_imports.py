"""The import service on a real database: columns matched as the legacy API matches
names, the file read within its bounds, values of every kind read in the text forms an
export writes, and chunks that see the rows of the chunks before them."""

import csv
import io

import pytest

from accord.domain.schema import FieldType
from accord.domain.users import Actor
from accord.services import directories, exports, imports
from accord.services.exports import ExportSpec
from accord.services.imports import ImportRefused, ImportSpec, Plan, SeenValues, Tally
from accord.services.transactions import Database, Transaction, run

ADMIN = Actor.system("cli")


def csv_bytes(*rows: list[str]) -> bytes:
    out = io.StringIO(newline="")
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue().encode("utf-8")


def plan(db: Database, header: list[str], **spec: object) -> Plan:
    wanted = ImportSpec("CLIENTS", **spec)  # type: ignore[arg-type]
    return run(db, lambda tx: imports.plan_import(tx.schema, wanted, header), write=False)


def import_file(db: Database, data: bytes, *, chunk: int = 1000, **spec: object) -> Tally:
    """Import `data` (a header and rows) as the CLI does, each chunk committed."""
    records = imports.read_csv(io.BytesIO(data))
    planned = plan(db, next(records)[1], **spec)
    seen, total = SeenValues(), Tally()
    for rows in imports.chunks(records, chunk):

        def work(tx: Transaction, rows: list[imports.Row] = rows) -> Tally:
            return imports.import_rows(tx, planned, rows, seen, actor=ADMIN)

        tally = run(db, work, write=True)
        total.add(tally)
        total.bad.extend(tally.bad)
    return total


def exported(db: Database, directory: str = "CLIENTS") -> list[list[str]]:
    spec = ExportSpec(directory, guard=False)

    def read(work):  # type: ignore[no-untyped-def]
        return run(db, lambda tx: work(tx, ADMIN), write=False)

    first = read(lambda tx, actor: exports.export_page(tx, spec, None, actor=actor))
    text = b"".join(exports.export_csv(first, spec, read)).decode("utf-8")
    return list(csv.reader(io.StringIO(text, newline="")))


def test_headers_name_fields_by_code_prefixed_code_or_display_name(db: Database):
    found = plan(db, ["org_name", "clients-org_type", "  website ", "SERVICES", "Contacts"])
    assert [c.field.code for c in found.columns if c.field] == [
        "org_name",
        "org_type",
        "org_www",
        found.columns[3].field.code if found.columns[3].field else "",
    ]
    assert found.columns[3].field is not None
    assert found.columns[3].field.name == "Services"
    assert found.left_out == ("Contacts (computed, cannot be written)",)


def test_two_columns_naming_one_field_are_refused(db: Database):
    with pytest.raises(ImportRefused, match="columns org_name and Company name name the same"):
        plan(db, ["org_name", "Company name"])


def test_a_mapping_comes_before_the_rules_and_may_leave_a_column_out(db: Database):
    found = plan(db, ["Type", "Name"], mapping=(("type", ""), ("Name", "org_name")))
    assert [c.header for c in found.columns] == ["Name"]
    assert found.left_out == ("Type (mapped to nothing)",)


def test_without_a_key_the_id_column_is_left_out(db: Database):
    found = plan(db, ["id", "Company name"])
    assert [c.header for c in found.columns] == ["Company name"]
    assert "id (ids are read with --key id only)" in found.left_out
    keyed = plan(db, ["ID", "Company name"], key="org_name")
    assert [c.header for c in keyed.columns] == ["Company name"]


def test_the_file_is_read_within_its_bounds():
    def read(data: bytes) -> list[imports.Row]:
        return list(imports.read_csv(io.BytesIO(data)))

    data = b'\xef\xbb\xbfa,b\r\n\r\n"x\r\ny","q"""\r\n , \r\nc,d'
    assert read(data) == [(1, ["a", "b"]), (3, ["x\r\ny", 'q"']), (5, ["c", "d"])]
    with pytest.raises(ImportRefused, match="line 2 is longer than 1,048,576 characters"):
        read(b"a\r\n" + b"x" * (imports.MAX_LINE + 1) + b"\r\n")
    with pytest.raises(ImportRefused, match="row 2 cannot be read"):
        read(b'a\r\n"open\r\n')
    with pytest.raises(ImportRefused, match="line 1 is not UTF-8 text"):
        read(b"\xff\xfea\x00")


def test_values_of_every_kind_come_back_as_exported(db: Database):
    with_link = run(
        db,
        lambda tx: directories.add_field(
            tx, "CLIENTS", "Partners", FieldType.LINK, link_to="CLIENTS", multiple=True, actor=ADMIN
        ),
        write=True,
    )
    data = csv_bytes(
        ["Company name", "Type", "Services", "Main contact", "Partners", "Notes"],
        ["Comma, Inc.", "Partner", "Training, Support", "Bob Stone", "Acme Corporation", ""],
        ["Plain", "", "", "", "Comma, Inc.", "a note"],
        ["Both", "", "development", "2", "(1),Comma, Inc.", ""],
    )
    tally = import_file(db, data, chunk=1)  # a link names an entry of an earlier chunk
    assert [b.describe() for b in tally.bad] == []
    assert tally.created == 3
    rows = exported(db)
    header, added = rows[0], {row[1]: dict(zip(rows[0], row, strict=True)) for row in rows[-3:]}
    assert "Partners" in header
    assert with_link.multiple
    assert added["Comma, Inc."]["Services"] == "Training,Support"
    assert added["Comma, Inc."]["Main contact"] == "Bob Stone"
    assert added["Plain"]["Partners"] == "Comma, Inc."
    assert added["Both"]["Partners"] == "Acme Corporation,Comma, Inc."
    assert added["Both"]["Main contact"] == "Bob Stone"
    assert added["Both"]["Services"] == "Development"
    again = import_file(db, csv_bytes(*rows), key="id")  # names with commas in lists too
    assert (again.unchanged, again.bad) == (len(rows) - 1, [])


def test_the_demo_exported_and_imported_back_by_id_is_unchanged(db: Database):
    for directory in ("CLIENTS", "CONTACTS", "PRODUCTS"):
        before = exported(db, directory)
        data = b"".join(exports.csv_bytes([row], guard=False) for row in before)
        records = imports.read_csv(io.BytesIO(data))
        header, spec = next(records)[1], ImportSpec(directory, key="id")
        planned = run(
            db, lambda tx, h=header, s=spec: imports.plan_import(tx.schema, s, h), write=False
        )
        rows = next(imports.chunks(records))
        tally = run(
            db,
            lambda tx, rows=rows, p=planned: imports.import_rows(
                tx, p, rows, SeenValues(), actor=ADMIN
            ),
            write=True,
        )
        assert (tally.unchanged, tally.created, tally.updated, tally.bad) == (
            len(before) - 1,
            0,
            0,
            [],
        )
        assert exported(db, directory) == before


def test_an_id_in_an_earlier_chunk_is_a_duplicate_too(db: Database):
    data = csv_bytes(["id", "Company name"], ["1", "Acme 1"], ["", "New"], ["01", "Acme 01"])
    tally = import_file(db, data, chunk=2, key="id")
    assert (tally.updated, tally.created) == (1, 1)
    assert [b.describe() for b in tally.bad] == ["row 4, column id: '01' is in row 2 too"]


def test_a_value_in_an_earlier_chunk_is_a_duplicate_too(db: Database):
    data = csv_bytes(["Company name"], ["Alpha"], ["Beta"], ["Gamma"], ["alpha "], ["Beta"])
    tally = import_file(db, data, chunk=2, key="Company name")
    assert tally.created == 3
    assert [(b.number, b.describe()) for b in tally.bad] == [
        (5, "row 5, column Company name: 'alpha ' is in row 2 too"),
        (6, "row 6, column Company name: 'Beta' is in row 3 too"),
    ]


def test_a_bad_row_frees_its_values_and_a_chunk_run_again_is_not_its_own_duplicate(
    db: Database,
):
    records = imports.read_csv(io.BytesIO(csv_bytes(["Company name", "Type"], ["Delta", "Nope"])))
    planned = plan(db, next(records)[1])
    rows = next(imports.chunks(records))
    seen = SeenValues()

    def attempt(tx: Transaction) -> Tally:
        return imports.import_rows(tx, planned, rows, seen, actor=ADMIN)

    assert [b.describe() for b in run(db, attempt, write=True).bad] == [
        "row 2, column Type: Invalid value for field Type: Nope"
    ]
    fixed = [(2, ["Delta", "Lead"])]
    for _ in range(2):  # a transaction retried runs its chunk again
        with pytest.raises(RolledBack) as undone, db.transaction(write=True) as tx:
            raise RolledBack(imports.import_rows(tx, planned, fixed, seen, actor=ADMIN))
        assert undone.value.tally.bad == []
        assert undone.value.tally.created == 1


class RolledBack(Exception):
    def __init__(self, tally: Tally) -> None:
        super().__init__()
        self.tally = tally
