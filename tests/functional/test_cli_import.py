"""`accord import`, run in-process through Typer's runner on a real database: what an
administrator reads, the bad-rows file, and the entries as `accord export` gives them back
(the same command, so that a round trip is checked by the tools a user would use)."""

import csv
import io
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from accord.cli import app
from accord.domain.users import Actor
from accord.domain.values import RawValue
from accord.services import entries, imports, listings
from accord.services.imports import Plan, SeenValues, Tally
from accord.services.transactions import Transaction, open_database, run
from tests.support import Templates


class Accord:
    """`accord ...` in this process, with ACCORD_DATABASE_URL naming one database."""

    def __init__(self, url: str, folder: Path) -> None:
        self.url, self.folder = url, folder
        self.runner = CliRunner()

    def __call__(self, *args: str) -> Result:
        return self.runner.invoke(app, list(args), env={"ACCORD_DATABASE_URL": self.url})

    def export(self, directory: str) -> list[list[str]]:
        result = self("export", directory, "--raw")
        assert result.exit_code == 0, result.stderr
        return list(csv.reader(io.StringIO(result.stdout, newline="")))

    def file(self, name: str, *rows: list[str], bom: bool = False) -> str:
        out = io.StringIO(newline="")
        csv.writer(out, lineterminator="\r\n").writerows(rows)
        path = self.folder / name
        path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + out.getvalue().encode("utf-8"))
        return str(path)

    def imports(self, *args: str) -> Result:
        """An import that must succeed."""
        result = self("import", *args)
        assert result.exit_code == 0, result.output
        return result


@pytest.fixture
def accord(demo_url: str, tmp_path: Path) -> Accord:
    return Accord(demo_url, tmp_path)


def names(rows: list[list[str]]) -> list[str]:
    return [row[1] for row in rows[1:]]


HEADER = ["Company name", "Type", "Website"]


def test_rows_are_created_with_headers_by_name_or_code_and_a_summary(accord: Accord):
    before = accord.export("CLIENTS")
    path = accord.file(
        "new.csv",
        ["company NAME", "org_type", "clients-org_www"],
        ["Zeta", "Partner", "zeta.example"],
        ["Eta", "2", ""],
        bom=True,
    )
    result = accord.imports("CLIENTS", path)
    assert result.stdout.strip() == "created 2, updated 0, unchanged 0, bad 0"
    after = accord.export("CLIENTS")
    assert names(after) == [*names(before), "Zeta", "Eta"]
    assert after[-2][1:5] == ["Zeta", "Partner", "", "zeta.example"]
    assert after[-1][2] != ""  # a dictionary value by id


def test_unknown_columns_are_all_named_and_nothing_is_written(accord: Accord):
    before = accord.export("CLIENTS")
    path = accord.file("u.csv", ["Company name", "Colour", "Size"], ["Zeta", "red", "XL"])
    result = accord("import", "CLIENTS", path)
    assert result.exit_code == 1
    assert result.stderr.strip() == "error: no field of Companies is named Colour, Size"
    assert accord.export("CLIENTS") == before


def test_unknown_columns_may_be_left_out_or_mapped(accord: Accord):
    path = accord.file("m.csv", ["Name", "Colour", "Kind"], ["Zeta", "red", "Partner"])
    result = accord.imports(
        "CLIENTS", path, "--ignore-unknown", "--map", "name=org_name", "--map", "Kind=Type"
    )
    assert "left out: Colour" in result.stderr
    assert accord.export("CLIENTS")[-1][1:3] == ["Zeta", "Partner"]


def test_a_key_that_is_not_unique_or_not_in_the_file_is_refused(accord: Accord):
    path = accord.file("k.csv", HEADER, ["Zeta", "Partner", ""])
    assert accord("import", "CLIENTS", path, "--key", "Type").stderr.startswith(
        "error: the key is id or a unique field of Companies"
    )
    assert accord("import", "CLIENTS", path, "--key", "id").stderr.strip() == (
        "error: the file has no column for the key id"
    )


BAD_ROWS: list[tuple[list[str], str]] = [
    (["", "Client", ""], "column Company name: Parameter Company name is required"),
    (["Nu", "Nope", ""], "column Type: Invalid value for field Type: Nope"),
    (["Theta", "Client", "a b"], "column Website: Invalid value for field Website: a b"),
    (["Acme Corporation", "", ""], "column Company name: Value 'Acme Corporation' of unique"),
    (["ZETA", "Lead", ""], "column Company name: 'ZETA' is in row 2 too"),
    (["Iota", "Client", "x" * 10_001], "column Website: longer than 10,000 characters"),
    (["Kappa", "Client"], "the row has 2 cells, the header 3"),
]
"""Each kind of bad row, and what its error says (after `row N, `)."""


def test_good_rows_are_imported_and_bad_ones_given_back_with_row_column_and_message(
    accord: Accord, tmp_path: Path
):
    good = ["Zeta", "Client", "zeta.example"]
    path = accord.file("b.csv", HEADER, good, *[row for row, _ in BAD_ROWS], ["Lambda", "", ""])
    bad_file = tmp_path / "bad.csv"
    result = accord.imports("CLIENTS", path, "--bad-rows", str(bad_file))
    assert result.stdout.strip() == f"created 2, updated 0, unchanged 0, bad {len(BAD_ROWS)}"
    given_back = list(csv.reader(io.StringIO(bad_file.read_text("utf-8"), newline="")))
    assert given_back[0] == [*HEADER, "error"]
    assert len(given_back) == 1 + len(BAD_ROWS)
    for number, ((row, message), back) in enumerate(
        zip(BAD_ROWS, given_back[1:], strict=True), start=3
    ):
        assert back[:-1] == row
        assert back[-1].startswith(f"row {number}")
        assert message in back[-1]
        assert f"row {number}" in result.stderr
    assert names(accord.export("CLIENTS"))[-2:] == ["Zeta", "Lambda"]


def test_a_dry_run_reports_every_problem_and_writes_nothing(accord: Accord):
    before = accord.export("CLIENTS")
    path = accord.file("d.csv", HEADER, ["Zeta", "Client", ""], *[r for r, _ in BAD_ROWS])
    result = accord("import", "CLIENTS", path, "--dry-run")
    assert result.exit_code == 1
    assert len(result.stderr.strip().splitlines()) == len(BAD_ROWS)
    assert "dry run: 1 to create" in result.stdout
    assert accord.export("CLIENTS") == before


def test_all_or_nothing_writes_nothing_when_one_row_is_bad(accord: Accord):
    before = accord.export("CLIENTS")
    rows = [[f"Company {n}", "Client", ""] for n in range(5)]
    path = accord.file("a.csv", HEADER, *rows, ["Bad", "Nope", ""])
    result = accord("import", "CLIENTS", path, "--all-or-nothing")
    assert result.exit_code == 1
    assert "error: 1 bad rows, so nothing was written" in result.stderr
    assert accord.export("CLIENTS") == before
    fixed = accord.file("f.csv", HEADER, *rows)
    assert accord.imports("CLIENTS", fixed, "--all-or-nothing").stdout.startswith("created 5,")


def test_a_second_run_with_a_key_changes_nothing_and_records_no_history(accord: Accord):
    rows = [["Zeta", "Client", "zeta.example"], ["Acme Corporation", "Vendor", "acme.example"]]
    path = accord.file("k.csv", HEADER, *rows)
    first = accord.imports("CLIENTS", path, "--key", "Company name")
    assert first.stdout.strip() == "created 1, updated 1, unchanged 0, bad 0"
    exported = accord.export("CLIENTS")
    changes = history(accord.url, 1)
    second = accord.imports("CLIENTS", path, "--key", "org_name")
    assert second.stdout.strip() == "created 0, updated 0, unchanged 2, bad 0"
    assert accord.export("CLIENTS") == exported
    assert history(accord.url, 1) == changes
    assert changes[-1] == ("org_type", "cli")  # Acme's type, changed by the import


def history(url: str, entry_id: int) -> list[tuple[str | None, str]]:
    database = open_database(url)
    try:
        items = run(
            database,
            lambda tx: listings.entry_history(
                tx, tx.schema.find_directory("CLIENTS"), entry_id, actor=Actor.system("test")
            ),
            write=False,
        )
    finally:
        database.dispose()
    return [(i.change.field_code, i.change.edge) for i in items]


def test_a_file_that_cannot_be_read_or_has_no_rows_fails(accord: Accord, tmp_path: Path):
    before = accord.export("CLIENTS")
    latin = tmp_path / "latin.csv"
    latin.write_bytes("Company name\r\nZeta\r\nCaf\xe9\r\n".encode("latin-1"))
    result = accord("import", "CLIENTS", str(latin))
    assert result.exit_code == 1
    assert "line 3 is not UTF-8 text" in result.stderr
    empty = accord.file("e.csv", HEADER)
    assert accord("import", "CLIENTS", empty).stderr.strip() == (
        "error: the file has no rows under its header"
    )
    missing = accord("import", "CLIENTS", str(tmp_path / "nope.csv"))
    assert missing.exit_code == 1
    assert "No such file" in missing.stderr
    assert accord.export("CLIENTS") == before  # the file is read through before any write


def test_nothing_imported_is_a_failure(accord: Accord):
    path = accord.file("n.csv", HEADER, ["Acme Corporation", "", ""], ["", "Client", ""])
    result = accord("import", "CLIENTS", path)
    assert result.exit_code == 1
    assert result.stdout.strip() == "created 0, updated 0, unchanged 0, bad 2"


def test_too_many_columns_are_refused(accord: Accord):
    path = accord.file("w.csv", ["Company name", *(f"c{n}" for n in range(1000))])
    result = accord("import", "CLIENTS", path)
    assert result.stderr.strip() == "error: the file has 1,001 columns; at most 1,000"


@pytest.mark.parametrize("suffix", ["csv", "xlsx"])
@pytest.mark.parametrize("key", ["id", None])
def test_an_export_imported_into_an_empty_accord_gives_back_the_same_entries(
    templates: Templates, tmp_path: Path, key: str | None, suffix: str
):
    """CSV or XLSX (each chosen by the file's suffix, on export and import alike)."""
    with templates.fresh("empty") as source_url, templates.fresh("empty") as target_url:
        source, target = Accord(source_url, tmp_path), Accord(target_url, tmp_path)
        fill(source)
        keyed = ["--key", key] if key else []
        for directory in ("CLIENTS", "CONTACTS"):
            file = str(tmp_path / f"{directory}.{suffix}")
            exported = source("export", directory, file, "--raw")
            assert exported.exit_code == 0, exported.output
            target.imports(directory, file, *keyed)
        for directory in ("CLIENTS", "CONTACTS"):
            assert target.export(directory) == source.export(directory)


def fill(source: Accord) -> None:
    """Companies with dictionary values (one field of several), a comma in a name and a
    formula's text, and contacts linked to them: what a round trip must give back."""
    source.imports(
        "CLIENTS",
        source.file(
            "c.csv",
            ["Company name", "Type", "SLA", "Website"],
            *[[f"Company {n}", "Client", "SLA-1 Free", f"c{n}.example"] for n in range(3)],
            ["Plain, Inc.", "", "", ""],
            ["=SUM(1,2)", "Partner", "", ""],
        ),
    )
    source.imports(
        "CONTACTS",
        source.file(
            "p.csv",
            ["Full name", "Company", "Position"],
            ["Ann", "Company 1", "CEO"],
            ["Bo", "Plain, Inc.", ""],
            ["Cy", "=SUM(1,2)", "Seller"],
        ),
    )


def test_all_or_nothing_stops_where_a_row_went_bad_after_its_check(
    accord: Accord, monkeypatch: pytest.MonkeyPatch
):
    """Another writer takes a row's unique name between the check and the write: the
    chunks before stay written, that chunk and the rest are not."""
    real_chunks, real_rows = imports.chunks, imports.import_rows
    calls: list[int] = []

    def taken_meanwhile(
        tx: Transaction, plan: Plan, rows: list[imports.Row], seen: SeenValues, *, actor: Actor
    ) -> Tally:
        calls.append(len(rows))
        if len(calls) == 4:  # the write pass's first chunk (after the 3 checked)
            name_field = tx.schema.find_field(plan.directory, "org_name")
            entries.create_entry(
                tx,
                plan.directory,
                [(name_field, RawValue("Company 3"))],
                actor=Actor.system("test"),
            )
        return real_rows(tx, plan, rows, seen, actor=actor)

    monkeypatch.setattr(imports, "chunks", lambda rows: real_chunks(rows, 2))
    monkeypatch.setattr(imports, "import_rows", taken_meanwhile)
    before = names(accord.export("CLIENTS"))
    path = accord.file("r.csv", HEADER, *[[f"Company {n}", "", ""] for n in range(5)])
    result = accord("import", "CLIENTS", path, "--all-or-nothing")
    assert result.exit_code == 1
    assert "row 5, column Company name: Value 'Company 3' of unique" in result.stderr
    assert "the import stopped at row 5, after 2 rows written" in result.stderr
    taken = ["Company 3"]  # by the other writer, before the first chunk was written
    assert names(accord.export("CLIENTS")) == [*before, *taken, "Company 0", "Company 1"]
