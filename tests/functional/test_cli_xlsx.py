"""`accord export --format xlsx` and `accord import FILE.xlsx`, in-process through Typer's
runner on a real database: a workbook a spreadsheet made (numbers, dates, booleans) is
imported in the export's text forms, and a file that is no workbook changes nothing (the
round trip through an empty Accord is in test_cli_import.py, for CSV and XLSX)."""

import datetime
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook

from accord.services import spreadsheets
from tests.functional.test_cli_import import Accord, accord, names

__all__ = ["accord"]


def workbook(path: Path, *rows: list[object]) -> str:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    book.save(path)
    return str(path)


def sheet_rows(path: Path) -> list[list[object]]:
    sheet = load_workbook(path).worksheets[0]
    return [[cell.value for cell in row] for row in sheet.iter_rows()]


def test_an_xlsx_export_holds_what_the_csv_export_holds_every_cell_a_string(
    accord: Accord, tmp_path: Path
):
    csv_rows = accord.export("CLIENTS")
    target = tmp_path / "clients.xlsx"
    result = accord("export", "CLIENTS", str(target))  # the format from the suffix
    assert result.exit_code == 0, result.output
    assert sheet_rows(target) == [[cell or None for cell in row] for row in csv_rows]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clients.xlsx"]
    piped = accord("export", "CLIENTS", "--format", "xlsx")
    assert piped.exit_code == 0
    assert piped.stdout_bytes.startswith(b"PK")  # a zip archive on standard output


def test_a_formula_is_exported_as_its_text_and_imported_back_as_it(accord: Accord, tmp_path: Path):
    path = accord.file("f.csv", ["Company name", "Website"], ["=1+1", ""])
    accord.imports("CLIENTS", path)
    target = tmp_path / "f.xlsx"
    assert accord("export", "CLIENTS", str(target), "--filter", "org_name eq '=1+1'").exit_code == 0
    cell = load_workbook(target).worksheets[0]["B2"]
    assert (cell.value, cell.data_type) == ("=1+1", "s")  # text, not a formula


def test_a_spreadsheets_numbers_dates_and_empty_cells_are_imported_as_text(
    accord: Accord, tmp_path: Path
):
    path = workbook(
        tmp_path / "made.xlsx",
        ["Company name", "Type", "Website"],
        ["Zeta", 2, None],  # a dictionary value by its id, typed as a number
        [1234.0, "Partner", "zeta.example"],
        [datetime.datetime(2004, 3, 15), None, None],
    )
    result = accord.imports("CLIENTS", path)
    assert result.stdout.strip() == "created 3, updated 0, unchanged 0, bad 0"
    after = accord.export("CLIENTS")
    assert names(after)[-3:] == ["Zeta", "1234", "2004-03-15"]
    assert after[-3][2] != ""
    assert after[-2][2] == "Partner"
    assert after[-1][2:5] == ["", "", ""]


def test_bad_rows_of_a_workbook_are_named_by_row_and_column(accord: Accord, tmp_path: Path):
    path = workbook(
        tmp_path / "bad.xlsx",
        ["Company name", "Type"],
        ["Zeta", "Client"],
        [None, "Client"],
        ["Eta", "Nope"],
    )
    result = accord("import", "CLIENTS", path, "--bad-rows", str(tmp_path / "bad.csv"))
    assert result.exit_code == 0
    assert "row 3, column Company name: Parameter Company name is required" in result.stderr
    assert "row 4, column Type: Invalid value for field Type: Nope" in result.stderr
    assert result.stdout.strip() == "created 1, updated 0, unchanged 0, bad 2"


def test_a_file_that_is_no_workbook_is_one_error_and_changes_nothing(
    accord: Accord, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    before = accord.export("CLIENTS")
    text = tmp_path / "text.xlsx"
    text.write_text("Company name\r\nZeta\r\n")
    result = accord("import", "CLIENTS", str(text))
    assert result.exit_code == 1
    assert result.stderr.strip() == "error: text.xlsx is not an XLSX workbook (not a zip archive)"
    csv_file = accord.file("z.csv", ["Company name"], ["Zeta"])
    forced = accord("import", "CLIENTS", csv_file, "--format", "xlsx")
    assert forced.stderr.strip() == "error: z.csv is not an XLSX workbook (not a zip archive)"
    good = workbook(tmp_path / "good.xlsx", ["Company name"], ["Zeta"])
    monkeypatch.setattr(spreadsheets, "MAX_UNPACKED", 1_000)
    bomb = accord("import", "CLIENTS", good)
    assert bomb.exit_code == 1
    assert "would inflate to" in bomb.stderr
    assert "at most 1,000" in bomb.stderr
    assert accord.export("CLIENTS") == before


def test_a_bad_format_and_a_wide_workbook_are_refused(accord: Accord, tmp_path: Path):
    target = tmp_path / "out.ods"
    refused = accord("export", "CLIENTS", str(target), "--format", "ods")
    assert refused.stderr.strip() == "error: format is csv or xlsx, not ods"
    assert not target.exists()
    wide = workbook(tmp_path / "w.xlsx", ["Company name", *(f"c{n}" for n in range(1000))])
    result = accord("import", "CLIENTS", wide)
    assert result.stderr.strip() == "error: the file has 1,001 columns; at most 1,000"
