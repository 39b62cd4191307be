"""Field values as the REST API writes and reads them: typed JSON.

Numbers are JSON numbers, dates ISO 8601 strings, checkboxes booleans, dictionary
values their labels, links `{"id": 12, "name": "Acme"}` (lists when multiple), users
their login and groups their name; an empty field is null. On input, a value may also
be written as the legacy API's text (`"10,5"`, `"31.12.2026"`), and a dictionary value
or a link by id (`{"id": 3}`: that id only), by label or name (`{"label": ...}`,
`{"name": ...}`), or as a bare `3` or string, read as the legacy API reads it (a
dictionary label first, then an id; digits for a link are an id).
"""

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

import orjson

from accord.domain.entries import Entry, StoredValue
from accord.domain.errors import FieldReadOnly, InvalidValue
from accord.domain.schema import Directory, Field, FieldType, Schema
from accord.domain.text import MESSAGE_VALUE_LENGTH
from accord.domain.values import (
    MAX_TEXT_LENGTH,
    Resolver,
    has_reference,
    parse_value,
    referenced_ids,
    require_link_rights,
)

JsonValue = Any


@dataclass(frozen=True, slots=True)
class JsonInput:
    """A value as a REST client sent it (null clears the field)."""

    value: JsonValue


def parse_json_value(
    field: Field, value: JsonValue, *, schema: Schema, resolver: Resolver
) -> StoredValue | None:
    """The stored form of a JSON value for `field`, or None to clear it."""
    if not field.type.is_stored:
        raise FieldReadOnly(field.name)
    if value is None:
        return None
    if field.multiple:
        if not isinstance(value, list):
            raise InvalidValue(field.name, _shown(value))
        parsed = [_one(field, item, schema, resolver) for item in value]
        unique = list(dict.fromkeys(i for i in parsed if isinstance(i, int)))
        return unique or None
    return _one(field, value, schema, resolver)


_REFERENCES = frozenset({FieldType.DICTIONARY, FieldType.POSITION, FieldType.LINK})


def _one(field: Field, value: JsonValue, schema: Schema, resolver: Resolver) -> StoredValue:
    kind, display = field.type, False
    if kind in _REFERENCES:
        if isinstance(value, dict) and "id" in value:
            return _by_id(field, value, schema, resolver)
        value, display = _reference_text(field, value)
    elif kind is FieldType.NUMBER and _is_number(value):
        value = _plain_number(field, value)
    elif kind is FieldType.CHECKBOX and isinstance(value, bool):
        return value
    if not isinstance(value, str):
        raise InvalidValue(field.name, _shown(value))
    single = replace(field, multiple=False) if field.multiple else field
    parsed = parse_value(single, value, display=display, schema=schema, resolver=resolver)
    if parsed is None:
        raise InvalidValue(field.name, value)
    return parsed


def _plain_number(field: Field, value: int | float | Decimal) -> str:
    """A JSON number in plain digits, as the text form writes numbers (`1e3` is `1000`).

    One whose plain form is longer than any text a field takes is refused as it was
    written: spelled out, `1e999999999` is a billion characters (2 GB and 4 s to make)."""
    number = value if isinstance(value, Decimal) else Decimal(str(value))
    exponent = number.as_tuple().exponent
    if not isinstance(exponent, int) or exponent < -MAX_TEXT_LENGTH:
        raise InvalidValue(field.name, _shown(value))
    if number.adjusted() > MAX_TEXT_LENGTH:
        raise InvalidValue(field.name, _shown(value))
    return format(number, "f")


def _is_number(value: JsonValue) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def _by_id(field: Field, value: dict[str, JsonValue], schema: Schema, resolver: Resolver) -> int:
    """What `{"id": N}` names: the dictionary value or the entry with that id, never one
    whose label or name is N (a bare `N` is read as the legacy API reads it, label first).
    A link as a read renders it, `{"id", "name"}`, is accepted, the id winning."""
    ref_id = value["id"]
    if field.type is FieldType.LINK:
        require_link_rights(field, schema, resolver.link_rights)
    as_read = field.type is FieldType.LINK and set(value) == {"id", "name"}
    if (len(value) != 1 and not as_read) or not _is_integer(ref_id):
        raise InvalidValue(field.name, _shown(value))
    if not has_reference(field, ref_id, schema=schema, lookup=resolver):
        raise InvalidValue(field.name, _shown(value))
    return int(ref_id)


def _is_integer(value: JsonValue) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _reference_text(field: Field, value: JsonValue) -> tuple[JsonValue, bool]:
    """A dictionary value or a link written without an id object, as text, and whether
    that text is a label or a name only: `{"label": ...}` / `{"name": ...}` are, a string
    (a label, a name, or digits for an id) and a bare id are not."""
    if isinstance(value, dict):
        if len(value) != 1 or not set(value) <= {"name", "label"}:
            raise InvalidValue(field.name, _shown(value))
        return next(iter(value.values())), True
    if _is_integer(value):
        return (f"({value})" if field.type is FieldType.LINK else str(value)), False
    return value, False


def _shown(value: JsonValue) -> str:
    """`value` as compact JSON for a message, written only as far as a message shows it
    (one character more, so that the cut is marked): a value may be nested deeper than an
    encoder goes (orjson stops at 255 levels), or hold a lone surrogate, which no UTF-8
    encoder takes and `printable` shows as U+FFFD."""
    shown: list[str] = []
    length = 0
    for token in _json_tokens(value):
        shown.append(token)
        length += len(token)
        if length > MESSAGE_VALUE_LENGTH:
            break
    return "".join(shown)[: MESSAGE_VALUE_LENGTH + 1]


def _json_tokens(value: JsonValue) -> Iterator[str]:
    """The JSON text of a value piece by piece (to be read no further than needed, so
    the nesting it goes into is bounded by the characters read)."""
    if isinstance(value, list):
        yield "["
        for i, item in enumerate(value):
            yield "," if i else ""
            yield from _json_tokens(item)
        yield "]"
    elif isinstance(value, dict):
        yield "{"
        for i, (key, item) in enumerate(value.items()):
            yield ("," if i else "") + _json_scalar(str(key)) + ":"
            yield from _json_tokens(item)
        yield "}"
    else:
        yield _json_scalar(value)


def _json_scalar(value: JsonValue) -> str:
    if isinstance(value, Decimal):
        return str(value)  # a number, where `default=str` would quote it
    # The standard encoder keeps a lone surrogate as it is (orjson refuses it)
    return json.dumps(value, ensure_ascii=False, default=str)


# Rendering

JsonField = tuple[str, Callable[[Entry], JsonValue]]
_TEXTS = frozenset({FieldType.TEXT, FieldType.EMAIL, FieldType.URL, FieldType.DATE})
"""Types whose JSON value is the stored text (an ISO date for a date)."""


def json_fields(schema: Schema, directory: Directory) -> list[JsonField]:
    """(code, render) for each field of a directory: `render_json_value`, worked out
    once per schema, since a page or a batch renders every field of every entry."""
    return schema.derived(_json_fields, directory)


def _json_fields(schema: Schema, directory: Directory) -> list[JsonField]:
    return [(f.code, _json_renderer(f, schema)) for f in schema.fields_of(directory)]


def _json_renderer(field: Field, schema: Schema) -> Callable[[Entry], JsonValue]:
    """What `render_json_value` does for `field`, with the choices that depend on the
    field alone made once."""
    code, kind = field.code, field.type
    if kind is FieldType.CHECKBOX and not field.multiple:
        return lambda entry: entry.values.get(code)
    if kind in _TEXTS and not field.multiple:
        return lambda entry: _text(entry.values.get(code))
    if kind is FieldType.CREATED_AT:
        return lambda entry: entry.created_at.isoformat()
    if kind is FieldType.CREATOR:
        return lambda entry: entry.names.users.get(entry.created_by or 0)
    if kind is FieldType.CONTACTS:
        return _contacts
    if kind in (FieldType.DICTIONARY, FieldType.POSITION) and not field.multiple:
        return lambda entry: _label(schema, entry.values.get(code))
    return lambda entry: render_json_value(field, entry, schema)


def _contacts(entry: Entry) -> JsonValue:
    return [{"id": i, "name": n} for i, n in entry.names.contacts.get(entry.id, ())]


def _text(value: StoredValue | None) -> JsonValue:
    return value if isinstance(value, str) else None


def _label(schema: Schema, value: StoredValue | None) -> JsonValue:
    """A single dictionary value or position: its label (None when empty or removed)."""
    if value is None or isinstance(value, str):
        return value
    if type(value) is int:  # the usual case, without the generator below
        return schema.label(value)
    labels = (schema.label(i) for i in (value if isinstance(value, list) else [int(value)]))
    return next((label for label in labels if label is not None), None)


def render_json_value(field: Field, entry: Entry, schema: Schema) -> JsonValue:
    """The JSON value of `field` in `entry` (None when empty)."""
    kind = field.type
    if kind is FieldType.CREATOR:
        return entry.names.users.get(entry.created_by or 0)
    if kind is FieldType.CREATED_AT:
        return entry.created_at.isoformat()
    if kind is FieldType.CONTACTS:
        return _contacts(entry)
    value = entry.values.get(field.code)
    if value is None:
        return [] if field.multiple else None
    if kind is FieldType.NUMBER:
        return orjson.Fragment(str(value).encode())  # exactly the stored decimal
    if kind is FieldType.CHECKBOX or isinstance(value, str):
        return value
    items = [_reference(field, i, schema, entry) for i in referenced_ids(field, value)]
    present = [item for item in items if item is not None]
    return present if field.multiple else (present[0] if present else None)


def _reference(field: Field, ref_id: int, schema: Schema, entry: Entry) -> JsonValue:
    names = entry.names
    if field.type in (FieldType.DICTIONARY, FieldType.POSITION):
        return schema.label(ref_id)
    if field.type is FieldType.LINK:
        assert field.target_directory_id is not None
        name = names.entries.get((field.target_directory_id, ref_id))
        return None if name is None else {"id": ref_id, "name": name}
    if field.type is FieldType.USER:
        return names.users.get(ref_id)
    return names.groups.get(ref_id)


def json_schema_of(field: Field) -> dict[str, Any]:
    """The JSON Schema of a field's value, for the OpenAPI description."""
    schemas: dict[FieldType, dict[str, Any]] = {
        FieldType.NUMBER: {"type": "number"},
        FieldType.CHECKBOX: {"type": "boolean"},
        FieldType.DATE: {"type": "string", "format": "date"},
        FieldType.CREATED_AT: {"type": "string", "format": "date-time"},
        FieldType.EMAIL: {"type": "string"},
        FieldType.LINK: {
            "type": "object",
            "properties": {"id": {"type": "integer"}, "name": {"type": "string"}},
        },
        FieldType.CONTACTS: {"type": "array", "items": {"type": "object"}},
    }
    base = schemas.get(field.type, {"type": "string"})
    if field.multiple:
        return {"type": "array", "items": base}
    if field.type is FieldType.CONTACTS:
        return base
    return {"anyOf": [base, {"type": "null"}]}
