"""Exporting a directory's entries as CSV, page by page, in flat memory.

Each page is read in a short read transaction of its own (`export_page`), through the
cursor listing, so an export of a million entries holds no transaction, no connection
and no more than one page in memory at any time; the edges run the pages
(`export_csv`) in whatever thread or transaction they open.
"""

import csv
import functools
import io
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from accord.domain.errors import InvalidQuery
from accord.domain.filters import Filter
from accord.domain.users import Actor
from accord.domain.values import flat_fields
from accord.services.listings import MAX_LIMIT, ListQuery, list_entries
from accord.store.database import Transaction

PAGE_SIZE = MAX_LIMIT
ID_COLUMN = "id"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""What a spreadsheet may read as the start of a formula (OWASP's CSV injection list)."""
_PLAIN_NUMBER = re.compile(r"[+-]?[0-9]+(?:[.,][0-9]+)?")


class Headers(StrEnum):
    """What heads each column: the field's display name, or its code."""

    NAMES = "names"
    CODES = "codes"


def headers_named(text: str) -> Headers:
    """The `Headers` that `text` names (InvalidQuery for anything else)."""
    try:
        return Headers(text)
    except ValueError:
        raise InvalidQuery("headers is names or codes") from None


@dataclass(frozen=True, slots=True)
class ExportSpec:
    directory: str
    """The directory's code, display name or alias."""
    filter: Filter | None = None
    headers: Headers = Headers.NAMES
    guard: bool = True
    """Prefix a cell a spreadsheet would read as a formula with `'` (`guarded`)."""
    page_size: int = PAGE_SIZE


@dataclass(frozen=True, slots=True)
class ExportPage:
    rows: list[list[str]]
    """The first page's first row is the header."""
    columns: tuple[str, ...]
    """The field codes of the columns after the id, fixed by the first page."""
    next_cursor: str | None = field(default=None)


Reader = Callable[[Callable[[Transaction, Actor], ExportPage]], ExportPage]
"""Runs a page's work in a read transaction of its own, as the acting user."""


def export_page(
    tx: Transaction, spec: ExportSpec, previous: ExportPage | None, *, actor: Actor
) -> ExportPage:
    """The page after `previous` (None: the first, headed by the header row), as CSV rows:
    the id, then every field as the legacy API renders it. Needs the view right on the
    directory; a field added since the first page is left out, one removed is empty."""
    directory = tx.schema.find_directory(spec.directory)
    cursor = "" if previous is None else previous.next_cursor or ""
    query = ListQuery(filter=spec.filter, cursor=cursor, limit=spec.page_size)
    page = list_entries(tx, directory, query, actor=actor)
    renders = dict(flat_fields(tx.schema, directory))
    if previous is None:
        fields = tx.schema.fields_of(directory)
        columns = tuple(f.code for f in fields)
        named = spec.headers is Headers.NAMES
        head = [[ID_COLUMN, *(f.name if named else f.code for f in fields)]]
    else:
        columns, head = previous.columns, []
    rows = [
        [str(entry.id), *(renders[c](entry) if c in renders else "" for c in columns)]
        for entry in page.entries
    ]
    return ExportPage(head + rows, columns, page.next_cursor)


def export_csv(first: ExportPage, spec: ExportSpec, read: Reader) -> Iterator[bytes]:
    """The whole export as UTF-8 CSV (RFC 4180), one chunk a page: `first` (read by the
    caller, so that its errors come before any byte), then each next page by `read`."""
    page = first
    yield csv_bytes(page.rows, guard=spec.guard)
    while page.next_cursor is not None:
        page = read(next_page(spec, page))
        yield csv_bytes(page.rows, guard=spec.guard)


def next_page(spec: ExportSpec, previous: ExportPage) -> Callable[[Transaction, Actor], ExportPage]:
    """The work of reading the page after `previous`, for a `Reader` to run."""
    return functools.partial(_next_page, spec=spec, previous=previous)


def _next_page(
    tx: Transaction, actor: Actor, *, spec: ExportSpec, previous: ExportPage
) -> ExportPage:
    return export_page(tx, spec, previous, actor=actor)


def csv_bytes(rows: Sequence[Sequence[str]], *, guard: bool) -> bytes:
    """`rows` as CSV lines (CRLF ends, quoted only where needed), UTF-8."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for row in rows:
        writer.writerow([guarded(cell) for cell in row] if guard else row)
    return out.getvalue().encode("utf-8")


def guarded(cell: str) -> str:
    """`cell`, with `'` before it if a spreadsheet would read it as a formula: it starts
    with = + - @, a tab or a carriage return, and is not a plain number (-12.5)."""
    if cell.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(cell):
        return "'" + cell
    return cell
