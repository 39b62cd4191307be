"""XLSX cells: what a spreadsheet's values become as import text, and an export's cells
read back as the strings written (never formulas or errors), without a database."""

import datetime
import tempfile
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook

from accord.services import spreadsheets
from accord.services.exports import ExportPage, ExportSpec
from accord.services.imports import ImportRefused
from accord.services.spreadsheets import ExportRefused, cell_text, export_xlsx, read_xlsx


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""),
        ("", ""),
        (" Acme ", " Acme "),
        (12, "12"),
        (12.0, "12"),
        (-12.5, "-12.5"),
        (0.1, "0.1"),
        (1e-7, "0.0000001"),
        (1e20, "100000000000000000000"),
        (True, "true"),
        (False, "false"),
        (datetime.datetime(2004, 3, 15), "2004-03-15"),
        (datetime.datetime(2004, 3, 15, 9, 30), "2004-03-15 09:30:00"),
        (datetime.date(2004, 3, 15), "2004-03-15"),
        (datetime.time(9, 30), "09:30:00"),
    ],
)
def test_a_cell_is_read_in_the_text_form_the_csv_import_reads(value: object, text: str):
    assert cell_text(value) == text


ROWS = [
    ["id", "Name", "Notes"],
    ["1", "=1+1", "#N/A"],
    ["2", "", "  spaced  "],
    ["3", '=HYPERLINK("http://evil.example")', "-12.5"],
]


def exported(tmp_path: Path, rows: list[list[str]]) -> Path:
    path = tmp_path / "out.xlsx"
    path.write_bytes(b"".join(export_xlsx(ExportPage(rows, (), None), ExportSpec("X"), _never)))
    return path


def _never(work: object) -> ExportPage:
    raise AssertionError("one page only")


def test_every_exported_cell_is_a_string_never_a_formula_or_an_error(tmp_path: Path):
    path = exported(tmp_path, ROWS)
    sheet = load_workbook(path).worksheets[0]
    cells = [[(cell.value, cell.data_type) for cell in row] for row in sheet.iter_rows()]
    assert cells[1] == [("1", "s"), ("=1+1", "s"), ("#N/A", "s")]
    assert cells[3][1] == ('=HYPERLINK("http://evil.example")', "s")
    assert cells[2][1][0] is None  # empty is an empty cell
    assert [cells for _, cells in read_xlsx(path)] == ROWS


def test_a_value_too_long_for_a_cell_is_refused_before_any_byte(tmp_path: Path):
    rows = [["id", "Notes"], ["1", "x" * 32_768]]
    with pytest.raises(ExportRefused, match="row 2 holds a value of 32,768 characters"):
        exported(tmp_path, rows)


def test_rows_are_read_as_they_are_with_trailing_empty_cells_and_blank_rows_dropped(
    tmp_path: Path,
):
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["Company name", "Amount", None])
    sheet.append([None, None, None])
    sheet.append(["Zeta", 12.0, None])
    sheet["F9"] = "far"
    path = tmp_path / "made.xlsx"
    workbook.save(path)
    assert list(read_xlsx(path)) == [
        (1, ["Company name", "Amount"]),
        (3, ["Zeta", "12"]),
        (9, ["", "", "", "", "", "far"]),  # wider than the header: the import refuses it
    ]


def test_a_file_that_is_not_a_workbook_is_refused(tmp_path: Path):
    text = tmp_path / "text.xlsx"
    text.write_text("Company name\r\nZeta\r\n")
    with pytest.raises(ImportRefused, match=r"text\.xlsx is not an XLSX workbook"):
        list(read_xlsx(text))
    archive = tmp_path / "zip.xlsx"
    with zipfile.ZipFile(archive, "w") as out:
        out.writestr("hello.txt", "not a workbook")
    with pytest.raises(ImportRefused, match=r"zip\.xlsx cannot be read as an XLSX workbook"):
        list(read_xlsx(archive))


def test_a_workbook_declaring_too_many_bytes_is_refused_before_it_is_opened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    path = exported(tmp_path, ROWS)
    unpacked = sum(part.file_size for part in zipfile.ZipFile(path).infolist())
    monkeypatch.setattr(spreadsheets, "MAX_UNPACKED", unpacked - 1)
    monkeypatch.setattr(spreadsheets, "load_workbook", _never)
    with pytest.raises(ImportRefused, match=f"would inflate to {unpacked:,} bytes"):
        list(read_xlsx(path))


def test_a_control_character_is_refused_and_a_failed_export_leaves_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with pytest.raises(ExportRefused, match="row 3 holds a control character"):
        exported(tmp_path, [["id", "Notes"], ["1", "fine"], ["2", "bell\x07"]])
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def _pages(count: int) -> tuple[ExportPage, object]:
    """A first page and a reader giving `count - 1` more, one row each."""
    given = iter(range(2, count + 1))

    def read(work: object) -> ExportPage:
        number = next(given)
        return ExportPage([[str(number)]], (), None if number == count else str(number))

    return ExportPage([["id"], ["1"]], (), "1" if count > 1 else None), read


def test_the_build_pauses_after_each_page_read_before_any_byte(tmp_path: Path):
    """An empty chunk after each page read, then the workbook: a server takes a thread for
    each page, not for the whole build, and may stop when its client has gone."""
    first, read = _pages(3)
    chunks = list(export_xlsx(first, ExportSpec("X"), read))  # type: ignore[arg-type]
    assert chunks[:2] == [b"", b""]
    assert all(chunks[2:])
    path = tmp_path / "pages.xlsx"
    path.write_bytes(b"".join(chunks))
    assert [cells for _, cells in read_xlsx(path)] == [["id"], ["1"], ["2"], ["3"]]


def test_more_rows_than_a_worksheet_holds_are_refused_before_any_byte(
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.setattr(spreadsheets, "MAX_ROWS", 3)
    first, read = _pages(3)  # the header and three rows: four
    chunks = export_xlsx(first, ExportSpec("X"), read)  # type: ignore[arg-type]
    with pytest.raises(ExportRefused, match="at most 2 entries below its header row"):
        assert not any(chunks)
