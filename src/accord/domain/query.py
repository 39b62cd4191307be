"""Listing entries: a filter bound to a directory's fields, an order, and a position.

The REST API's filter grammar (`filters.py`) names fields and writes literal values;
binding turns it into conditions on the value index, with the literals in index-key
form, and refuses what cannot be asked of a field's type with a clear message.
"""

import base64
import binascii
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson

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
from accord.domain.text import KEY_LENGTH, fold, index_key
from accord.domain.values import Lookup, canonical_date, canonical_number, number_key

SYSTEM_COLUMNS = {"id": "number", "created_at": "created_at", "updated_at": "updated_at"}
TEXT_TYPES = (FieldType.TEXT, FieldType.EMAIL, FieldType.URL)
ORDERED_TYPES = (*TEXT_TYPES, FieldType.NUMBER, FieldType.DATE)
SORTABLE_TYPES = (*ORDERED_TYPES, FieldType.CHECKBOX)
MAX_SORT_KEYS = 4
PREFIX_LIMIT = KEY_LENGTH - 65  # index keys keep this much of a long value verbatim


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
class KeyContains:
    """One of the fields' folded (case-insensitive) keys contains `needle`."""

    field_ids: tuple[int, ...]
    needle: str


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
    values: tuple[int | datetime, ...]


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
    | KeyContains
    | TextContains
    | HasValue
    | ColumnIs
    | Both
    | Either
    | Negate
)


def bind(node: Filter, directory: Directory, schema: Schema, lookup: Lookup) -> Condition:
    """The conditions `node` asks of the entries of `directory`."""
    if isinstance(node, AllOf):
        return Both(tuple(bind(item, directory, schema, lookup) for item in node.items))
    if isinstance(node, AnyOf):
        return Either(tuple(bind(item, directory, schema, lookup) for item in node.items))
    if isinstance(node, Not):
        return Negate(bind(node.item, directory, schema, lookup))
    if node.field in SYSTEM_COLUMNS:
        return _bind_column(node)
    field = _field(schema, directory, node.field, "filtered")
    if isinstance(node, IsNull):
        return Negate(HasValue(field.id)) if not node.negated else HasValue(field.id)
    if isinstance(node, OneOf):
        keys = [k for value in node.values for k in _keys(field, value, schema, lookup)]
        return KeysIn(field.id, tuple(dict.fromkeys(keys)))
    return _bind_compare(field, node, schema, lookup)


def _field(schema: Schema, directory: Directory, code: str, use: str) -> Field:
    field = schema.field_by_code(directory, code)
    if field is None:
        raise InvalidQuery(f"Unknown field '{code}' in {directory.name}")
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
        return TextContains(field.code, text)
    if op == "icontains":
        return KeyContains((field.id,), fold(text))
    if len(text) > PREFIX_LIMIT:
        raise InvalidQuery(f"A prefix holds at most {PREFIX_LIMIT} characters")
    return KeyPrefix(field.id, fold(text))


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
    token = str(int(value)) if isinstance(value, Decimal) else _text(field, value)
    found = dictionary.find_value(token, by_id=isinstance(value, Decimal))
    if found is None:
        raise InvalidQuery(f"Value {shown(value)} not found in dictionary '{dictionary.name}'")
    return str(found.id)


def _bind_column(node: Filter) -> Condition:
    assert isinstance(node, Compare | OneOf | IsNull)
    column = SYSTEM_COLUMNS[node.field]
    if isinstance(node, IsNull):
        never = ColumnIs("number", "lt", (0,))
        return never if not node.negated else Negate(never)
    if isinstance(node, OneOf):
        return ColumnIs(column, "in", tuple(_column_value(column, v) for v in node.values))
    if node.op not in ("eq", "ne", "lt", "le", "gt", "ge"):
        raise InvalidQuery(f"'{node.op}' does not apply to '{node.field}'")
    return ColumnIs(column, node.op, (_column_value(column, node.value),))


def _column_value(column: str, value: Literal) -> int | datetime:
    if column == "number":
        if isinstance(value, Decimal) and value == value.to_integral_value():
            return int(value)
        raise InvalidQuery(f"'id' takes whole numbers, not {shown(value)}")
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:  # without an offset, UTC (the zone the API writes its times in)
            return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    raise InvalidQuery(f"'{column}' takes ISO 8601 date-times, not {shown(value)}")


def search_text(directory: Directory, schema: Schema, text: str) -> Condition:
    """`q`: the text appears, case-insensitively, in the name or any text field."""
    fields = tuple(f.id for f in schema.fields_of(directory) if f.type in TEXT_TYPES)
    return KeyContains(fields, fold(text.strip()))


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
        return next(k for k, v in SYSTEM_COLUMNS.items() if v == self.column)


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
            raise InvalidQuery(f"Sort key '{name}' named twice")
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
    if key.column == "number" and type(value) is int and 0 < value < 2**63:
        return value
    if key.column in ("created_at", "updated_at") and isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            pass
    raise InvalidQuery("The cursor is not one this server gave")


def fingerprint(*parts: str) -> str:
    """A short digest of what defines a query, so a cursor cannot wander between queries."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]
