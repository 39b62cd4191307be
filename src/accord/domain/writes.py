"""The rules of writing an entry, once for every path that writes one: one by one
(`services.entries`), in batches (`services.batches`) and the benchmarks' loader.

What a new entry holds, what an update changes, the name an entry is known by, the
required fields, and the history rows a write records. The paths differ only in how
they read and write rows, never in these rules.
"""

from collections.abc import Callable, Container, Iterable, Mapping, Sequence
from dataclasses import dataclass

from accord.domain.entries import Entry, StoredValue
from accord.domain.errors import AccordError, FieldErrors, FieldRequired, InvalidValue
from accord.domain.schema import Directory, Field, Schema
from accord.domain.text import compact_form, index_key
from accord.domain.values import flat_fields

HistoryRow = tuple[int, str, str | None, str | None, str | None]
"""(entry id, action, field code, old value, new value): one recorded change, values in
their flat text form (`values.render_flat`)."""


# Fields and values


def stored_fields(schema: Schema, directory: Directory) -> tuple[Field, ...]:
    """The fields of `directory` whose values entries hold (not the computed ones), in
    display order."""
    return schema.derived(_stored_fields, directory)


def _stored_fields(schema: Schema, directory: Directory) -> tuple[Field, ...]:
    return tuple(f for f in schema.fields_of(directory) if f.type.is_stored)


def new_values(parsed: Mapping[str, StoredValue | None]) -> dict[str, StoredValue]:
    """What a new entry holds of its parsed values: an empty value is no value."""
    return {code: value for code, value in parsed.items() if value is not None}


def shown(value: StoredValue | None) -> str:
    """A value as a message about it shows it (a taken unique value)."""
    return value if isinstance(value, str) else str(value)


# The name


def entry_name(directory: Directory, values: Mapping[str, StoredValue | None]) -> str:
    """The name an entry is known by: its name field's text ("" without one)."""
    value = values.get(directory.name_field)
    return value if isinstance(value, str) else ""


def name_key(name: str) -> str:
    """The key that finds an entry by its name, blind to white space and case."""
    return index_key(compact_form(name))


# Required fields


def missing_required(
    fields: Iterable[Field],
    values: Container[str],
    errors: Sequence[tuple[str, AccordError]] = (),
) -> FieldErrors:
    """FieldRequired for each required field a new entry has no value for, but those the
    `errors` of its values name already (a wrong value is not a missing one)."""
    refused = {code for code, _ in errors}
    return [
        (f.code, FieldRequired(f.name).about(f.code))
        for f in fields
        if f.required and f.code not in values and f.code not in refused
    ]


def cleared_required(
    fields: Iterable[Field], changes: Mapping[str, StoredValue | None]
) -> FieldErrors:
    """InvalidValue for each required field an update would empty."""
    return [
        (f.code, InvalidValue(f.name, "").about(f.code))
        for f in fields
        if f.required and f.code in changes and changes[f.code] is None
    ]


# What an update changes


@dataclass(frozen=True, slots=True)
class Diff:
    """An update worked out: the entry's values after it, and the fields it changes (in
    the order the changes came; none when it changes nothing)."""

    values: dict[str, StoredValue]
    fields: list[Field]

    def renames(self, directory: Directory) -> bool:
        """Whether the update changes the entry's name."""
        return any(f.code == directory.name_field for f in self.fields)


def diff(
    schema: Schema,
    directory: Directory,
    current: Mapping[str, StoredValue],
    changes: Mapping[str, StoredValue | None],
) -> Diff:
    """What setting `changes` (None: cleared) on an entry holding `current` does."""
    values, changed = dict(current), []
    for code, value in changes.items():
        if values.get(code) != value:
            changed.append(schema.field(directory, code))
            if value is None:
                values.pop(code, None)
            else:
                values[code] = value
    return Diff(values, changed)


# History


def creation_history(schema: Schema, directory: Directory, entry: Entry) -> list[HistoryRow]:
    """The rows a new entry records: one per field it holds a value of, or a single row
    naming no field when it holds none. `entry` carries the names its values point at."""
    render = _renderers(schema, directory)
    rows: list[HistoryRow] = [
        (entry.id, "create", f.code, None, render[f.code](entry))
        for f in stored_fields(schema, directory)
        if f.code in entry.values
    ]
    return rows or [(entry.id, "create", None, None, None)]


def update_history(
    schema: Schema, directory: Directory, fields: Iterable[Field], before: Entry, after: Entry
) -> list[HistoryRow]:
    """The rows an update of `fields` records, old and new value each (none when it
    changes nothing). Both entries carry the names their values point at."""
    render = _renderers(schema, directory)
    return [
        (after.id, "update", f.code, render[f.code](before), render[f.code](after)) for f in fields
    ]


def deletion_history(schema: Schema, directory: Directory, entry: Entry) -> HistoryRow:
    """The row a deleted entry records: its name as it was shown."""
    return (
        entry.id,
        "delete",
        None,
        _renderers(schema, directory)[directory.name_field](entry),
        None,
    )


def _renderers(schema: Schema, directory: Directory) -> Mapping[str, Callable[[Entry], str]]:
    return schema.derived(_renderers_of, directory)


def _renderers_of(schema: Schema, directory: Directory) -> Mapping[str, Callable[[Entry], str]]:
    return dict(flat_fields(schema, directory))
