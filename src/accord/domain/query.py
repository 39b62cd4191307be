"""Listing entries: a filter bound to a directory's fields, an order, and a position.

The REST API's filter grammar (`filters.py`) names fields and writes literal values;
binding turns it into conditions on the value index, with the literals in index-key
form, and refuses what cannot be asked of a field's type with a clear message.
"""

import base64
import binascii
import hashlib
import operator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson

from accord.domain.entries import MAX_ID
from accord.domain.errors import InvalidQuery
from accord.domain.filters import (
    AllOf,
    AnyOf,
    Compare,
    Filter,
    IsNull,
    Literal,
    Not,
    OneOf,
    shown,
)
from accord.domain.schema import Directory, Field, FieldType, Schema
from accord.domain.text import (
    KEY_LENGTH,
    fold,
    has_invalid_characters,
    index_key,
    printable,
    search_form,
)
from accord.domain.values import (
    SEARCHED_TYPES,
    Lookup,
    canonical_date,
    canonical_number,
    number_key,
)

SYSTEM_COLUMNS = {"id": "number", "created_at": "created_at", "updated_at": "updated_at"}
TEXT_TYPES = SEARCHED_TYPES
ORDERED_TYPES = (*TEXT_TYPES, FieldType.NUMBER, FieldType.DATE)
SORTABLE_TYPES = (*ORDERED_TYPES, FieldType.CHECKBOX)
MAX_SORT_KEYS = 4
PREFIX_LIMIT = KEY_LENGTH - 65  # index keys keep this much of a long value verbatim
UNSTORABLE = "holds undecodable text or control characters, which no value can hold"


# Conditions on entries, in terms of the value index


@dataclass(frozen=True, slots=True)
class KeysIn:
    """The field holds one of these keys (no keys: nothing matches)."""

    field_id: int
    keys: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class KeyRange:
    field_id: int
    op: str  # lt le gt ge
    key: str


@dataclass(frozen=True, slots=True)
class KeyPrefix:
    field_id: int
    prefix: str


@dataclass(frozen=True, slots=True)
class TextHas:
    """The text of one of the fields, in search form (`text.search_form`), holds `piece`
    (given in that form): anywhere, or at its start. Served by the text index."""

    field_ids: tuple[int, ...]
    piece: str
    at_start: bool = False


@dataclass(frozen=True, slots=True)
class TextContains:
    """The stored text of field `code` contains `needle`, case-sensitively."""

    code: str
    needle: str


@dataclass(frozen=True, slots=True)
class HasValue:
    field_id: int


@dataclass(frozen=True, slots=True)
class ColumnIs:
    """A comparison on the entry itself: its id, created_at or updated_at."""

    column: str
    op: str  # eq ne lt le gt ge in
    values: tuple[int | datetime, ...]  # ids within 1..MAX_ID, moments in UTC


@dataclass(frozen=True, slots=True)
class Both:
    items: tuple["Condition", ...]


@dataclass(frozen=True, slots=True)
class Either:
    items: tuple["Condition", ...]


@dataclass(frozen=True, slots=True)
class Negate:
    item: "Condition"


Condition = (
    KeysIn
    | KeyRange
    | KeyPrefix
    | TextHas
    | TextContains
    | HasValue
    | ColumnIs
    | Both
    | Either
    | Negate
)

NO_ENTRY = ColumnIs("number", "lt", (1,))
"""True of no entry (ids start at 1); negated, true of every entry."""


def bind(node: Filter, directory: Directory, schema: Schema, lookup: Lookup) -> Condition:
    """The conditions `node` asks of the entries of `directory`."""
    if isinstance(node, AllOf):
        return Both(tuple(bind(item, directory, schema, lookup) for item in node.items))
    if isinstance(node, AnyOf):
        return Either(tuple(bind(item, directory, schema, lookup) for item in node.items))
    if isinstance(node, Not):
        return Negate(bind(node.item, directory, schema, lookup))
    _refuse_unstorable(node)
    if node.field in SYSTEM_COLUMNS:
        return _bind_column(node)
    field = _field(schema, directory, node.field, "filtered")
    if isinstance(node, IsNull):
        return Negate(HasValue(field.id)) if not node.negated else HasValue(field.id)
    if isinstance(node, OneOf):
        keys = [k for value in node.values for k in _keys(field, value, schema, lookup)]
        return KeysIn(field.id, tuple(dict.fromkeys(keys)))
    return _bind_compare(field, node, schema, lookup)


def _refuse_unstorable(node: Compare | OneOf | IsNull) -> None:
    """Refuse text no stored value can hold (`values.py` refuses it on the way in): it
    would match nothing, and the drivers cannot send a lone surrogate (nor PostgreSQL a NUL)
    to compare it. A 400 tells the client its text was mangled before it was sent."""
    for value in () if isinstance(node, IsNull) else _literals(node):
        if isinstance(value, str) and has_invalid_characters(value):
            raise InvalidQuery(f"Value {shown(value)} {UNSTORABLE}")


def _literals(node: Compare | OneOf) -> tuple[Literal, ...]:
    return node.values if isinstance(node, OneOf) else (node.value,)


def _field(schema: Schema, directory: Directory, code: str, use: str) -> Field:
    field = schema.field_by_code(directory, code)
    if field is None:
        raise InvalidQuery(f"Unknown field '{printable(code)}' in {directory.name}")
    if not field.type.is_stored:
        raise InvalidQuery(f"Field '{code}' is computed and cannot be {use} on")
    return field


def _bind_compare(field: Field, node: Compare, schema: Schema, lookup: Lookup) -> Condition:
    op = node.op
    if op in ("eq", "ne"):
        matches = KeysIn(field.id, tuple(_keys(field, node.value, schema, lookup)))
        return matches if op == "eq" else Negate(matches)
    if op in ("lt", "le", "gt", "ge"):
        if field.type not in ORDERED_TYPES or field.multiple:
            raise InvalidQuery(f"Field '{field.code}' has no order to compare with '{op}'")
        keys = _keys(field, node.value, schema, lookup)
        if len(keys) != 1:
            raise InvalidQuery(f"Value {shown(node.value)} does not fit field '{field.code}'")
        return KeyRange(field.id, op, keys[0])
    if field.type not in TEXT_TYPES:
        raise InvalidQuery(f"'{op}' applies to text fields; '{field.code}' is {field.type}")
    text = _text(field, node.value)
    if op == "contains":
        # The text index finds the candidates (a piece of a text is, folded, a piece of
        # the folded text); the stored value decides, case and all.
        return Both((TextHas((field.id,), search_form(text)), TextContains(field.code, text)))
    if op == "icontains":
        return TextHas((field.id,), search_form(text))
    prefix = fold(text)
    # Folded: the index keeps the first PREFIX_LIMIT characters of a long value's folded
    # form, and a folded prefix can be longer than the prefix ("ß" folds to "ss").
    if len(prefix) > PREFIX_LIMIT:
        raise InvalidQuery(
            f"A prefix holds at most {PREFIX_LIMIT} characters (once case is folded)"
        )
    return KeyPrefix(field.id, prefix)


def _text(field: Field, value: Literal) -> str:
    if not isinstance(value, str):
        raise InvalidQuery(f"Field '{field.code}' takes text values, not {shown(value)}")
    return value


def _keys(field: Field, value: Literal, schema: Schema, lookup: Lookup) -> list[str]:
    """The index keys a literal means for a field ([] when it names nothing there)."""
    kind = field.type
    if kind in TEXT_TYPES:
        return [index_key(fold(_text(field, value)))]
    if kind is FieldType.NUMBER:
        canonical = canonical_number(str(value)) if not isinstance(value, bool) else None
        if canonical is None:
            raise InvalidQuery(f"Field '{field.code}' takes numbers, not {shown(value)}")
        return [number_key(canonical)]
    if kind is FieldType.DATE:
        date = canonical_date(value) if isinstance(value, str) else None
        if date is None:
            raise InvalidQuery(f"Field '{field.code}' takes dates (yyyy-mm-dd), not {shown(value)}")
        return [date]
    if kind is FieldType.CHECKBOX:
        if not isinstance(value, bool):
            raise InvalidQuery(f"Field '{field.code}' takes true or false, not {shown(value)}")
        return ["true" if value else "false"]
    if kind in (FieldType.DICTIONARY, FieldType.POSITION):
        return [_label_key(field, value, schema)]
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return [str(int(value))]
    text = _text(field, value)
    if kind is FieldType.LINK:
        assert field.target_directory_id is not None
        target = schema.directory(field.target_directory_id)
        return [str(i) for i in lookup.entries_named(target, text)]
    found = lookup.user_id(text) if kind is FieldType.USER else lookup.group_id(text)
    return [] if found is None else [str(found)]


def _label_key(field: Field, value: Literal, schema: Schema) -> str:
    assert field.dictionary_id is not None
    dictionary = schema.dictionary(field.dictionary_id)
    if isinstance(value, Decimal) and value != value.to_integral_value():
        raise InvalidQuery(
            f"Field '{field.code}' takes labels or whole value ids, not {shown(value)}"
        )
    token = str(int(value)) if isinstance(value, Decimal) else _text(field, value)
    found = dictionary.find_value(token, by_id=isinstance(value, Decimal))
    if found is None:
        raise InvalidQuery(f"Value {shown(value)} not found in dictionary '{dictionary.name}'")
    return str(found.id)


def _bind_column(node: Compare | OneOf | IsNull) -> Condition:
    column = SYSTEM_COLUMNS[node.field]
    if isinstance(node, IsNull):  # every entry has all three
        return NO_ENTRY if not node.negated else Negate(NO_ENTRY)
    op = "in" if isinstance(node, OneOf) else node.op
    if op not in ("in", "eq", "ne", "lt", "le", "gt", "ge"):
        raise InvalidQuery(f"'{op}' does not apply to '{node.field}'")
    if column == "number":
        return _bind_id(op, tuple(_whole(v) for v in _literals(node)))
    return ColumnIs(column, op, tuple(_moment(column, v) for v in _literals(node)))


def _bind_id(op: str, values: tuple[int, ...]) -> Condition:
    """`id <op> values` for any integers, alike on every database: an id no entry can have
    (outside 1..MAX_ID) is decided here and never sent, as PostgreSQL's 32-bit column
    refuses it (a 500) where SQLite compared it, up to 2^63."""
    if op == "in":
        possible = tuple(v for v in values if 1 <= v <= MAX_ID)
        return ColumnIs("number", op, possible) if possible else NO_ENTRY
    if 1 <= values[0] <= MAX_ID:
        return ColumnIs("number", op, values)
    # Every id lies on the same side of this value: the comparison holds for all or none.
    holds: bool = getattr(operator, op)(1, values[0])
    return Negate(NO_ENTRY) if holds else NO_ENTRY


def _whole(value: Literal) -> int:
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    raise InvalidQuery(f"'id' takes whole numbers, not {shown(value)}")


def _moment(column: str, value: Literal) -> datetime:
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None:
        raise InvalidQuery(f"'{column}' takes ISO 8601 date-times, not {shown(value)}")
    in_utc = _in_utc(moment)
    if in_utc is None:
        raise InvalidQuery(
            f"'{column}' takes moments of the years 1 to 9999 in UTC, not {shown(value)}"
        )
    return in_utc


def _in_utc(moment: datetime) -> datetime | None:
    """`moment` in UTC (without an offset, it is UTC: the zone the API writes its times
    in); None when it falls outside the years a datetime holds (`0001-01-01T00:00+01:00`).
    Converted here, where a moment that cannot be is a 400, not where the store binds it."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        return None


MAX_WORDS = 8
"""The most words a `q` holds (each one is a test of every text field)."""


def search_text(directory: Directory, schema: Schema, text: str) -> Condition:
    """`q`: every word of the text appears, in search form, in the name or some text
    field (each word in any of them)."""
    fields = tuple(f.id for f in schema.fields_of(directory) if f.type in TEXT_TYPES)
    words = _words(text)
    found = [TextHas(fields, word) for word in dict.fromkeys(words)]
    return found[0] if len(found) == 1 else Both(tuple(found))


def name_starts_with(directory: Directory, schema: Schema, text: str) -> Condition | None:
    """The entries that `q` finds first: their name starts with the words of the text
    (in search form, one space between them). None: the name is not text."""
    name_field = schema.name_field(directory)
    if name_field.type not in TEXT_TYPES:
        return None
    return TextHas((name_field.id,), " ".join(_words(text)), at_start=True)


def starting_with(condition: Condition, starts: Condition) -> Condition:
    """`q`'s first rank: entries that hold `condition` and whose name starts with the
    words (`starts`, from `name_starts_with`). Each word is a piece of that start, so a
    test that the name (or any of several fields, the name among them) holds a word is
    answered by `starts` and left out: at a million contacts, 2,600 names start with
    "anna kowal", and each paid a probe per word."""
    if not isinstance(starts, TextHas):
        return Both((condition, starts))
    tests = condition.items if isinstance(condition, Both) else (condition,)
    kept = tuple(c for c in tests if not _answered_by(c, starts))
    return Both((*kept, starts)) if kept else starts


def _answered_by(condition: Condition, starts: TextHas) -> bool:
    return (
        isinstance(condition, TextHas)
        and not condition.at_start
        and set(starts.field_ids) <= set(condition.field_ids)
        and condition.piece in starts.piece
    )


def _words(text: str) -> list[str]:
    if has_invalid_characters(text):
        raise InvalidQuery(f"'q' {UNSTORABLE}: {shown(text)}")
    words = search_form(text).split()
    if not words:
        raise InvalidQuery("'q' holds no word (only spaces)")
    if len(words) > MAX_WORDS:
        raise InvalidQuery(f"'q' holds at most {MAX_WORDS} words")
    return words


# Order


@dataclass(frozen=True, slots=True)
class SortKey:
    field: Field | None  # None: the column below
    column: str | None
    descending: bool = False

    @property
    def name(self) -> str:
        if self.field is not None:
            return self.field.code
        return next((k for k, v in SYSTEM_COLUMNS.items() if v == self.column), str(self.column))


def parse_sort(text: str, directory: Directory, schema: Schema) -> tuple[SortKey, ...]:
    """`-org_name,id`: fields or id, created_at, updated_at; `-` for descending.

    The id always ends the order (ascending unless named), so the order is total.
    """
    keys: list[SortKey] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            raise InvalidQuery("Empty sort key")
        descending, name = part.startswith("-"), part.lstrip("-+")
        if any(k.name == name for k in keys):
            raise InvalidQuery(f"Sort key '{printable(name)}' named twice")
        if name in SYSTEM_COLUMNS:
            keys.append(SortKey(None, SYSTEM_COLUMNS[name], descending))
            continue
        field = _field(schema, directory, name, "sorted")
        if field.type not in SORTABLE_TYPES or field.multiple:
            raise InvalidQuery(f"Entries cannot be sorted by '{name}' ({field.type})")
        keys.append(SortKey(field, None, descending))
    if len(keys) > MAX_SORT_KEYS:
        raise InvalidQuery(f"At most {MAX_SORT_KEYS} sort keys")
    if not any(k.column == "number" for k in keys):
        keys.append(SortKey(None, "number"))
    return tuple(keys)


DEFAULT_SORT = (SortKey(None, "number"),)
RELEVANCE = (SortKey(None, "relevance"), SortKey(None, "number"))
"""The order of `q` when no sort is asked for: the entries whose name starts with the
words typed (rank 0), then the others (rank 1), each in id order."""
RANKS = (0, 1)


# Position: an opaque cursor


def encode_cursor(position: tuple[Any, ...], fingerprint: str) -> str:
    """A cursor for "after this position", valid only for the same query."""
    raw = orjson.dumps([fingerprint, [_plain(v) for v in position]])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, fingerprint: str, sort: tuple[SortKey, ...]) -> tuple[Any, ...]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        found, values = orjson.loads(raw)
    except (ValueError, TypeError, binascii.Error):
        raise InvalidQuery("The cursor is not one this server gave") from None
    if found != fingerprint or not isinstance(values, list) or len(values) != len(sort):
        raise InvalidQuery("The cursor belongs to another query (filter or sort changed)")
    return tuple(_restored(v, key) for v, key in zip(values, sort, strict=True))


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _restored(value: Any, key: SortKey) -> Any:
    """A cursor's position along one sort key, of the type that key sorts by."""
    if key.field is not None and isinstance(value, str):
        return value  # an index key ("" for an empty value)
    if key.column == "number" and type(value) is int and 0 < value <= MAX_ID:
        return value
    if key.column == "relevance" and type(value) is int and value in RANKS:
        return value
    if key.column in ("created_at", "updated_at") and isinstance(value, str):
        try:
            moment = _in_utc(datetime.fromisoformat(value))
        except ValueError:
            moment = None
        if moment is not None:
            return moment
    raise InvalidQuery("The cursor is not one this server gave")


def fingerprint(*parts: str) -> str:
    """A short digest of what defines a query, so a cursor cannot wander between queries."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]
