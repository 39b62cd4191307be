"""Importing a CSV file into a directory, in chunks written through `batches.write_batch`.

The file is read as it goes (`read_csv`), never whole; the edge hands the rows over a
chunk at a time (`chunks`), each to `import_rows` in a transaction of its own, so memory
and transactions stay bounded whatever the file's size. What the edge does with a chunk's
transaction makes the three ways to import: committed (the good rows are imported, the
bad ones given back), rolled back (a dry run), or rolled back as soon as one row is bad
(the write pass of an all-or-nothing import, after a dry run found none).

Columns are matched to fields as the legacy API matches parameter names (`clients-<code>`,
the code, the display name; `plan_import`), values are read in the legacy API's text
forms, which is what `accord export` writes.
"""

import codecs
import csv
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import BinaryIO

from accord.domain.errors import AccordError, InvalidFields
from accord.domain.schema import Directory, Field, FieldType, Schema
from accord.domain.text import fold, name_form, printable
from accord.domain.users import Actor
from accord.domain.values import MAX_TEXT_LENGTH, canonical_date, canonical_number
from accord.services.batches import MAX_ITEMS, Mode, Outcome, write_batch
from accord.services.exports import ID_COLUMN
from accord.services.resolver import StoreResolver
from accord.store.database import Transaction

CHUNK_SIZE = MAX_ITEMS
MAX_COLUMNS = 1_000
MAX_CELL = MAX_TEXT_LENGTH
"""The longest cell, in characters: the longest value a field takes."""
MAX_LINE = 1_048_576
"""The longest line of the file, in characters: past it, the file is not read further."""
FIELD_PREFIX = "clients-"
"""The legacy API's prefix of a parameter naming a field by its code."""


class ImportRefused(AccordError):
    """An import that cannot start (its columns, its key) or go on (the file)."""

    code = "import_refused"


@dataclass(frozen=True, slots=True)
class ImportSpec:
    directory: str
    """The directory's code, display name or alias."""
    key: str | None = None
    """A unique field (code or display name), or `id`, to upsert by; None: create."""
    mapping: tuple[tuple[str, str], ...] = ()
    """(header, field code or name, or `id`; "" leaves the column out), before the rules."""
    ignore_unknown: bool = False


@dataclass(frozen=True, slots=True)
class Column:
    index: int
    header: str
    field: Field | None
    """None: the id column."""


@dataclass(frozen=True, slots=True)
class Plan:
    """What each column of a file holds, and how its rows are written."""

    directory: Directory
    width: int
    columns: tuple[Column, ...]
    left_out: tuple[str, ...]
    """Columns not imported, each with why."""
    mode: Mode
    match: str
    uniques: tuple[Column, ...]
    """The columns whose values no two rows of the file may share (unique fields, ids)."""

    def header_of(self, schema: Schema, code: str | None) -> str | None:
        """The header of the column holding field `code` (its display name when no
        column does: a required field the file lacks)."""
        for column in self.columns:
            if (column.field.code if column.field else ID_COLUMN) == code:
                return column.header
        found = schema.field_by_code(self.directory, code) if code else None
        return found.name if found is not None else code


@dataclass(frozen=True, slots=True)
class BadRow:
    number: int
    """The row's number in the file, the header being row 1."""
    cells: list[str]
    problems: list[tuple[str | None, str]]
    """(the column's header, or None for the row as a whole; the message)."""

    def describe(self) -> str:
        """`row N, column C: message; ...`, as the bad-rows file and the report say it."""
        return "; ".join(
            f"row {self.number}" + (f", column {column}" if column else "") + f": {message}"
            for column, message in self.problems
        )


@dataclass(slots=True)
class Tally:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    bad: list[BadRow] = field(default_factory=list)

    @property
    def imported(self) -> int:
        return self.created + self.updated + self.unchanged

    def add(self, other: "Tally") -> None:
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged


Row = tuple[int, list[str]]


# Reading


def read_csv(stream: BinaryIO) -> Iterator[Row]:
    """The records of a CSV file (RFC 4180, UTF-8 with or without a byte order mark),
    read as they are needed, numbered as a spreadsheet numbers its rows (the first is 1);
    blank ones (no cell holding more than spaces) are skipped. ImportRefused for a file
    that is not UTF-8, a line longer than MAX_LINE, or a cell longer than csv's limit."""
    reader = csv.reader(_lines(stream), strict=True)
    number = 0
    try:
        for number, record in enumerate(reader, start=1):
            if any(cell.strip() for cell in record):
                yield number, record
    except csv.Error as error:
        raise ImportRefused(f"row {number + 1} cannot be read: {error}") from None


def _lines(stream: BinaryIO) -> Iterator[str]:
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    number = 0
    while True:
        raw = stream.readline(MAX_LINE * 4 + 1)
        number += 1
        try:
            line = decoder.decode(raw, final=not raw)
        except UnicodeDecodeError:
            raise ImportRefused(f"line {number} is not UTF-8 text") from None
        if len(line) > MAX_LINE or len(raw) > MAX_LINE * 4:
            raise ImportRefused(f"line {number} is longer than {MAX_LINE:,} characters")
        if not raw:
            return
        yield line


def chunks(rows: Iterable[Row], size: int = CHUNK_SIZE) -> Iterator[list[Row]]:
    """The rows, `size` a chunk."""
    it = iter(rows)
    while chunk := list(islice(it, size)):
        yield chunk


# The columns


def plan_import(schema: Schema, spec: ImportSpec, header: Sequence[str]) -> Plan:
    """What each column holds: ImportRefused, naming every unknown header at once (unless
    `ignore_unknown`), a field named twice, or a key that is not a unique field's."""
    directory = schema.find_directory(spec.directory)
    if len(header) > MAX_COLUMNS:
        raise ImportRefused(f"the file has {len(header):,} columns; at most {MAX_COLUMNS:,}")
    mapping = {name_form(h): target.strip() for h, target in spec.mapping}
    columns: list[Column] = []
    left_out: list[str] = []
    unknown: list[str] = []
    for index, text in enumerate(header):
        shown = printable(text) or f"(column {index + 1}, no header)"
        named = mapping.get(name_form(text), text)
        if named == "":
            left_out.append(f"{shown} (mapped to nothing)")
            continue
        found = _column_field(schema, directory, named)
        if found is None:
            (left_out if spec.ignore_unknown else unknown).append(shown)
        elif not isinstance(found, Field):
            columns.append(Column(index, shown, None))
        elif not found.type.is_stored:
            left_out.append(f"{shown} (computed, cannot be written)")
        else:
            columns.append(Column(index, shown, found))
    if unknown:
        raise ImportRefused(f"no field of {directory.name} is named {', '.join(unknown)}")
    _refuse_twice_named(columns)
    mode, match = _mode(schema, directory, spec.key, columns)
    if match != ID_COLUMN or mode is Mode.CREATE:
        left_out.extend(
            f"{c.header} (ids are read with --key id only)" for c in columns if c.field is None
        )
        columns = [c for c in columns if c.field is not None]
    uniques = tuple(c for c in columns if c.field is None or c.field.unique)
    return Plan(directory, len(header), tuple(columns), tuple(left_out), mode, match, uniques)


def _column_field(schema: Schema, directory: Directory, name: str) -> Field | str | None:
    """The field a header names, as the legacy API reads a parameter name; `ID_COLUMN`."""
    name = name.strip()
    if fold(name) == ID_COLUMN:
        return ID_COLUMN
    if name.startswith(FIELD_PREFIX):
        return schema.field_by_code(directory, name[len(FIELD_PREFIX) :])
    return schema.field_by_code(directory, name) or schema.field_by_name(directory, name)


def _refuse_twice_named(columns: Sequence[Column]) -> None:
    seen: dict[str, str] = {}
    for column in columns:
        code = column.field.code if column.field else ID_COLUMN
        if code in seen:
            raise ImportRefused(f"columns {seen[code]} and {column.header} name the same field")
        seen[code] = column.header


def _mode(
    schema: Schema, directory: Directory, key: str | None, columns: Sequence[Column]
) -> tuple[Mode, str]:
    if key is None:
        return Mode.CREATE, ID_COLUMN
    found = _column_field(schema, directory, key)
    if found is None or (isinstance(found, Field) and not found.unique):
        raise ImportRefused(f"the key is id or a unique field of {directory.name}: {key}")
    code = found.code if isinstance(found, Field) else ID_COLUMN
    if not any((c.field.code if c.field else ID_COLUMN) == code for c in columns):
        raise ImportRefused(f"the file has no column for the key {key}")
    return Mode.UPSERT, code


# The rows


class SeenValues:
    """The values of the file's unique columns, with the row each came first in: two rows
    with one value would be two writes of one entry, or a refused duplicate. A hash of
    each value is kept, not the value (about 100 bytes a row and unique column)."""

    def __init__(self) -> None:
        self._rows: dict[int, int] = {}

    def claim(self, column: Column, cell: str, row: int) -> int | None:
        """The earlier row holding this value (None: none; this row now holds it)."""
        key = hash((column.index, _comparable(column.field, cell)))
        first = self._rows.setdefault(key, row)
        return None if first == row else first

    def release(self, column: Column, cell: str, row: int) -> None:
        key = hash((column.index, _comparable(column.field, cell)))
        if self._rows.get(key) == row:
            del self._rows[key]


def _comparable(field: Field | None, cell: str) -> str:
    """A cell as uniqueness compares it: case-insensitively, numbers and dates canonical."""
    text = cell.strip()
    if field is None:
        return str(int(text)) if text.isascii() and text.isdigit() else text
    if field.type is FieldType.NUMBER:
        return canonical_number(text) or text
    if field.type is FieldType.DATE:
        return canonical_date(text) or text
    return fold(text)


def import_rows(
    tx: Transaction, plan: Plan, rows: Sequence[Row], seen: SeenValues, *, actor: Actor
) -> Tally:
    """Write the rows through `write_batch` (history and all); what became of each. The
    caller's transaction decides whether any of it stays."""
    tally, items, sources = Tally(), list[dict[str, object]](), list[Row]()
    resolver = StoreResolver(tx, actor)
    for number, cells in rows:
        problems = _shape(plan, cells) or _duplicates(plan, seen, number, cells)
        if problems:
            tally.bad.append(BadRow(number, cells, problems))
            continue
        item, problems = _item(tx.schema, plan, cells, resolver)
        if problems:
            _release(plan, seen, number, cells)
            tally.bad.append(BadRow(number, cells, problems))
            continue
        items.append(item)
        sources.append((number, cells))
    if items:
        outcomes = write_batch(
            tx, plan.directory, items, mode=plan.mode, match=plan.match, actor=actor
        )
        for outcome, (number, cells) in zip(outcomes, sources, strict=True):
            _count(tx.schema, tally, plan, outcome, number, cells)
            if outcome.error is not None:
                _release(plan, seen, number, cells)
    tally.bad.sort(key=lambda bad: bad.number)
    return tally


def _shape(plan: Plan, cells: Sequence[str]) -> list[tuple[str | None, str]]:
    if len(cells) != plan.width:
        return [(None, f"the row has {len(cells)} cells, the header {plan.width}")]
    return [
        (c.header, f"longer than {MAX_CELL:,} characters")
        for c in plan.columns
        if len(cells[c.index]) > MAX_CELL
    ]


def _duplicates(
    plan: Plan, seen: SeenValues, number: int, cells: Sequence[str]
) -> list[tuple[str | None, str]]:
    problems: list[tuple[str | None, str]] = []
    for column in plan.uniques:
        cell = cells[column.index]
        if cell.strip() and (first := seen.claim(column, cell, number)) is not None:
            problems.append((column.header, f"'{printable(cell)}' is in row {first} too"))
    if problems:
        _release(plan, seen, number, cells)
    return problems


def _release(plan: Plan, seen: SeenValues, number: int, cells: Sequence[str]) -> None:
    for column in plan.uniques:
        seen.release(column, cells[column.index], number)


def _item(
    schema: Schema, plan: Plan, cells: Sequence[str], resolver: StoreResolver
) -> tuple[dict[str, object], list[tuple[str | None, str]]]:
    """The row as a batch item: values in text form by field code (None clears)."""
    item: dict[str, object] = {}
    for column in plan.columns:
        text = cells[column.index].strip()
        if column.field is None:
            if text and not (text.isascii() and text.isdigit()):
                return {}, [(column.header, f"an id is a whole number, not '{printable(text)}'")]
            if text:
                item[ID_COLUMN] = int(text)
            continue
        item[column.field.code] = _value(schema, column.field, text, resolver) if text else None
    return item, []


def _value(schema: Schema, field: Field, text: str, resolver: StoreResolver) -> object:
    """A cell as the batch reads it: text, or for a field of several values the list of
    its comma-separated parts, a part being as long as a name or label it matches."""
    if not field.multiple:
        return text
    if "," not in text:
        return [text]
    if field.type is FieldType.LINK and field.target_directory_id is not None:
        target = schema.directory(field.target_directory_id)
        return _parts(text, lambda name: resolver.entry_named(target, name) is not None)
    if field.type in (FieldType.DICTIONARY, FieldType.POSITION) and field.dictionary_id:
        dictionary = schema.dictionary(field.dictionary_id)
        return _parts(text, lambda label: dictionary.find_value(label, by_id=False) is not None)
    return [part.strip() for part in text.split(",") if part.strip()]


MAX_JOINED = 8
"""The most comma-separated pieces one name or label in a list may span."""


def _parts(text: str, known: Callable[[str], bool]) -> list[str]:
    """`text` split at its commas, except those inside a name `known` knows: an export
    joins names with "," and a name may hold one ("Comma, Inc.")."""
    pieces, parts, start = text.split(","), list[str](), 0
    while start < len(pieces):
        end = start + 1
        for longer in range(min(len(pieces), start + MAX_JOINED), start + 1, -1):
            if known(",".join(pieces[start:longer]).strip()):
                end = longer
                break
        part = ",".join(pieces[start:end]).strip()
        if part:
            parts.append(part)
        start = end
    return parts


def _count(
    schema: Schema, tally: Tally, plan: Plan, outcome: Outcome, number: int, cells: list[str]
) -> None:
    if outcome.error is not None:
        tally.bad.append(BadRow(number, cells, _problems(schema, plan, outcome.error)))
    elif outcome.created:
        tally.created += 1
    elif outcome.changed:
        tally.updated += 1
    else:
        tally.unchanged += 1


def _problems(schema: Schema, plan: Plan, error: AccordError) -> list[tuple[str | None, str]]:
    if isinstance(error, InvalidFields):
        return [(plan.header_of(schema, code), e.message) for code, e in error.errors]
    return [(plan.header_of(schema, error.field), error.message)]


def bad_rows_header(header: Sequence[str]) -> list[str]:
    """The header of the bad-rows file: the file's own, and `error`."""
    return [*header, "error"]


def bad_row_cells(bad: BadRow) -> list[str]:
    return [*bad.cells, bad.describe()]
