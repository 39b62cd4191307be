"""XLSX beside CSV: an export's pages as one workbook, and a workbook's rows as an import
reads a CSV file's, both through openpyxl.

Writing uses openpyxl's write-only workbook: each row goes to the worksheet's temporary
file as it is appended, and the zip is assembled from that file into an anonymous
temporary file of ours, which is then given out a chunk at a time; memory stays flat
whatever the number of rows. Every cell is a string (never a formula), in the legacy
API's text forms, as the CSV export writes it.

Reading uses openpyxl's read-only mode (rows parsed as they are needed), after the zip's
declared sizes are checked, so that a zip bomb is refused before anything is inflated.
"""

import datetime
import math
import tempfile
import zipfile
import zlib
from collections.abc import Generator, Iterator
from decimal import Decimal
from pathlib import Path
from typing import IO
from xml.etree.ElementTree import ParseError

from openpyxl import Workbook, load_workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ERROR_CODES, ILLEGAL_CHARACTERS_RE
from openpyxl.utils.exceptions import InvalidFileException
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from accord.domain.errors import AccordError
from accord.domain.values import CREATED_AT_FORMAT
from accord.services.exports import ExportPage, ExportSpec, Reader, next_page
from accord.services.imports import ImportRefused, Row

MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SHEET_TITLE = "Entries"
MAX_ROWS = 1_048_576
"""The rows a worksheet holds (Excel's limit), the header row among them."""
MAX_CELL = 32_767
"""The longest text a cell holds (Excel's limit; openpyxl would cut a longer one)."""
CHUNK = 1 << 20
"""The bytes of the finished workbook given out at a time."""
MAX_UNPACKED = 1 << 30
"""The most bytes a workbook to import may declare its parts hold once inflated (1 GiB):
past it, the file is refused before anything is inflated."""
MAX_PARTS = 10_000
"""The most parts (zip entries) a workbook to import may hold."""
_UNREADABLE = (
    zipfile.BadZipFile,
    zlib.error,
    ParseError,
    InvalidFileException,
    KeyError,
    ValueError,
    TypeError,
    IndexError,
    AttributeError,
    EOFError,
)
"""What openpyxl raises for a damaged or hostile workbook (it has no error of its own)."""


class ExportRefused(AccordError):
    """An export that cannot be written in the format asked for."""

    code = "export_refused"


# Writing


def export_xlsx(first: ExportPage, spec: ExportSpec, read: Reader) -> Iterator[bytes]:
    """The whole export as one XLSX workbook (one worksheet, the header row first), given
    out `CHUNK` bytes at a time, after an empty chunk for each page read (a caller may
    stop there, and take a thread for each page rather than for the whole build). Every
    page is read (`first`, then each next by `read`) before the first byte: an error on
    any page (ExportRefused for a cell too long for a spreadsheet, or more rows than one
    holds) comes before any. The workbook is built in temporary files, not in memory."""
    with tempfile.TemporaryFile() as out:
        yield from _write_workbook(first, spec, read, out)
        out.seek(0)
        while chunk := out.read(CHUNK):
            yield chunk


def _write_workbook(
    first: ExportPage, spec: ExportSpec, read: Reader, out: IO[bytes]
) -> Iterator[bytes]:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(SHEET_TITLE)
    assert isinstance(sheet, WriteOnlyWorksheet)
    try:
        page, number = first, 0
        while True:
            for row in page.rows:
                number += 1
                if number > MAX_ROWS:
                    raise ExportRefused(
                        f"a spreadsheet holds at most {MAX_ROWS - 1:,} entries below its"
                        " header row (export them as CSV, or fewer with a filter)"
                    )
                sheet.append([_cell(sheet, text, number) for text in row])
            if page.next_cursor is None:
                break
            yield b""
            page = read(next_page(spec, page))
        workbook.save(out)
    finally:
        _discard(sheet)


def _cell(sheet: WriteOnlyWorksheet, text: str, row: int) -> object:
    """`text` as a string cell: openpyxl reads a str starting with = as a formula and
    #N/A and the like as errors, so those are given as cells typed as strings."""
    if len(text) > MAX_CELL:
        raise ExportRefused(
            f"row {row:,} holds a value of {len(text):,} characters; a spreadsheet cell holds"
            f" at most {MAX_CELL:,} (export it as CSV)"
        )
    if ILLEGAL_CHARACTERS_RE.search(text):
        raise ExportRefused(
            f"row {row:,} holds a control character, which a spreadsheet cell cannot hold"
            " (export it as CSV)"
        )
    if not text:
        return None
    if text.startswith("=") or text in ERROR_CODES:
        cell = WriteOnlyCell(sheet, text)
        cell.data_type = "s"
        return cell
    return text


def _discard(sheet: WriteOnlyWorksheet) -> None:
    """Close the worksheet and remove its temporary file, which openpyxl removes only
    when the workbook is saved (or the process ends): an export that failed would leave
    it behind in a long-running server."""
    if sheet.closed:  # saved: openpyxl removed it
        return
    sheet.close()
    writer = getattr(sheet, "_writer", None)
    if writer is not None and Path(writer.out).exists():
        writer.cleanup()


# Reading


def read_xlsx(path: Path) -> Generator[Row]:
    """The rows of the workbook's first worksheet as text, read as they are needed and
    numbered as a spreadsheet numbers them; blank ones are skipped, and each row after the
    first is as wide as the first (a workbook stores no empty cells at a row's end), or
    wider if it holds more. Cells are given in the legacy API's text forms (`cell_text`).
    ImportRefused for a file that is not a workbook, declares more than `MAX_UNPACKED`
    bytes, or cannot be read."""
    _check_archive(path)
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (*_UNREADABLE, OSError) as error:
        raise ImportRefused(f"{path.name} cannot be read as an XLSX workbook: {error}") from None
    number, width = 0, 0
    try:
        if not workbook.worksheets:
            raise ImportRefused(f"{path.name} has no worksheet")
        sheet = workbook.worksheets[0]
        sheet.reset_dimensions()  # read each row as it is, not as the file says it is sized
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            cells = [cell_text(value) for value in values]
            while cells and not cells[-1]:
                cells.pop()
            if any(cell.strip() for cell in cells):
                width = width or len(cells)
                yield number, cells + [""] * (width - len(cells))
    except _UNREADABLE as error:
        raise ImportRefused(f"row {number + 1} cannot be read: {error}") from None
    finally:
        workbook.close()


def _check_archive(path: Path) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            parts = archive.infolist()
    except zipfile.BadZipFile:
        raise ImportRefused(f"{path.name} is not an XLSX workbook (not a zip archive)") from None
    if len(parts) > MAX_PARTS:
        raise ImportRefused(f"{path.name} holds {len(parts):,} parts; at most {MAX_PARTS:,}")
    unpacked = sum(part.file_size for part in parts)
    if unpacked > MAX_UNPACKED:
        raise ImportRefused(
            f"{path.name} would inflate to {unpacked:,} bytes; at most {MAX_UNPACKED:,}"
        )


def cell_text(value: object) -> str:
    """A cell's value in the text form the CSV import reads: numbers without ".0" when
    whole and never in exponent form, dates as yyyy-MM-dd (with the time when it has
    one), booleans as true/false, empty as ""."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _number_text(value)
    if isinstance(value, datetime.datetime):
        if value.time() == datetime.time():
            return value.date().isoformat()
        return value.strftime(CREATED_AT_FORMAT)
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    return str(value)


def _number_text(value: float) -> str:
    if not math.isfinite(value):
        return str(value)
    if value.is_integer():
        return str(int(value))
    return format(Decimal(repr(value)), "f")
