"""Field values as the REST API writes and reads them: typed JSON.

Numbers are JSON numbers, dates ISO 8601 strings, checkboxes booleans, dictionary
values their labels, links `{"id": 12, "name": "Acme"}` (lists when multiple), users
their login and groups their name; an empty field is null. On input, a value may also
be written as the legacy API's text (`"10,5"`, `"31.12.2026"`), and a dictionary value
or a link by id (`{"id": 3}` or `3`) or by label or name.
"""

from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

import orjson

from accord.domain.entries import Entry, StoredValue
from accord.domain.errors import FieldReadOnly, InvalidValue
from accord.domain.schema import Directory, Field, FieldType, Schema
from accord.domain.values import Resolver, parse_value, referenced_ids

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


def _one(field: Field, value: JsonValue, schema: Schema, resolver: Resolver) -> StoredValue:
    kind, display = field.type, False
    if kind in (FieldType.DICTIONARY, FieldType.POSITION, FieldType.LINK):
        value, display = _reference_text(field, value)
    elif kind is FieldType.NUMBER and _is_number(value):
        value = format(Decimal(str(value)), "f")
    elif kind is FieldType.CHECKBOX and isinstance(value, bool):
        return value
    if not isinstance(value, str):
        raise InvalidValue(field.name, _shown(value))
    single = replace(field, multiple=False) if field.multiple else field
    parsed = parse_value(single, value, display=display, schema=schema, resolver=resolver)
    if parsed is None:
        raise InvalidValue(field.name, value)
    return parsed


def _is_number(value: JsonValue) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def _reference_text(field: Field, value: JsonValue) -> tuple[JsonValue, bool]:
    """A dictionary value or a link as text, and whether that text is a label or a name
    only: by id (`3`, `{"id": 3}`, or a link as a read renders it, `{"id": 3, "name":
    ...}`, the id winning), by `{"name": ...}` / `{"label": ...}`, or a string (a label,
    a name, or digits for an id)."""
    if isinstance(value, dict):
        keys = set(value)
        as_read = field.type is FieldType.LINK and keys == {"id", "name"}
        if not as_read and (len(keys) != 1 or not keys <= {"id", "name", "label"}):
            raise InvalidValue(field.name, _shown(value))
        if "id" not in keys:
            return next(iter(value.values())), True
        value = value["id"]
    if isinstance(value, int) and not isinstance(value, bool):
        return (f"({value})" if field.type is FieldType.LINK else str(value)), False
    return value, False


def _shown(value: JsonValue) -> str:
    return orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS).decode()[:200]


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
