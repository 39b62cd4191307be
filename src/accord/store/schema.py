"""Directories, fields and dictionaries: loading the snapshot and changing it."""

from collections import defaultdict
from collections.abc import Sequence

import sqlalchemy as sa

from accord.domain.entries import MAX_ID
from accord.domain.errors import NoIdsLeft, SchemaFull
from accord.domain.schema import Dictionary, DictionaryValue, Directory, Field, FieldType, Schema
from accord.domain.text import fold, index_key, name_form
from accord.store import tables as t
from accord.store import texts


def load_schema(connection: sa.Connection, version: int) -> Schema:
    """Every directory, field and dictionary as one immutable snapshot."""
    directories = tuple(
        Directory(row.id, row.code, row.name, row.name_field, row.builtin)
        for row in connection.execute(sa.select(t.directories).order_by(t.directories.c.id))
    )
    fields = tuple(
        Field(
            id=row.id,
            directory_id=row.directory_id,
            code=row.code,
            name=row.name,
            type=FieldType(row.type),
            multiple=row.multiple,
            required=row.required,
            unique=row.unique,
            auto_create=row.auto_create,
            dictionary_id=row.dictionary_id,
            target_directory_id=row.target_directory_id,
            position=row.position,
        )
        for row in connection.execute(sa.select(t.fields))
    )
    values: defaultdict[int, list[DictionaryValue]] = defaultdict(list)
    value_rows = connection.execute(
        sa.select(t.dictionary_values).order_by(
            t.dictionary_values.c.position, t.dictionary_values.c.id
        )
    )
    for row in value_rows:
        values[row.dictionary_id].append(
            DictionaryValue(row.id, row.dictionary_id, row.label, row.position)
        )
    dictionaries = tuple(
        Dictionary(row.id, row.name, tuple(values[row.id]))
        for row in connection.execute(sa.select(t.dictionaries).order_by(t.dictionaries.c.id))
    )
    return Schema(version, directories, fields, dictionaries)


def insert_directory(
    connection: sa.Connection, *, code: str, name: str, name_field: str, builtin: bool = False
) -> int:
    """Add a directory; its id. SchemaFull past the largest id the text index holds."""
    directory_id = _insert(
        connection,
        t.directories,
        code=code,
        name=name,
        name_field=name_field,
        builtin=builtin,
        next_number=1,
    )
    if directory_id > texts.MAX_DIRECTORY_ID:
        raise SchemaFull("directories", texts.MAX_DIRECTORY_ID)
    texts.add_partition(connection, directory_id)
    return directory_id


def insert_field(connection: sa.Connection, field: Field) -> int:
    """Add `field` (its id is ignored) at the end of its directory; return the new id.
    SchemaFull past the largest field id the text index holds."""
    position = connection.execute(
        sa.select(sa.func.coalesce(sa.func.max(t.fields.c.position), 0) + 1).where(
            t.fields.c.directory_id == field.directory_id
        )
    ).scalar_one()
    field_id = _insert(
        connection,
        t.fields,
        directory_id=field.directory_id,
        code=field.code,
        name=field.name,
        type=field.type.value,
        multiple=field.multiple,
        required=field.required,
        unique=field.unique,
        auto_create=field.auto_create,
        dictionary_id=field.dictionary_id,
        target_directory_id=field.target_directory_id,
        position=position,
    )
    if field_id > texts.MAX_FIELD_ID:
        raise SchemaFull("fields", texts.MAX_FIELD_ID)
    return field_id


def update_field(connection: sa.Connection, field_id: int, *, name: str, required: bool) -> None:
    connection.execute(
        sa.update(t.fields).where(t.fields.c.id == field_id).values(name=name, required=required)
    )


def insert_dictionary(connection: sa.Connection, name: str) -> int:
    return _insert(connection, t.dictionaries, name=name, name_key=name_form(name))


def insert_dictionary_value(connection: sa.Connection, dictionary_id: int, label: str) -> int:
    """Add `label` at the end of the dictionary; return the new value's id."""
    return _insert(
        connection,
        t.dictionary_values,
        dictionary_id=dictionary_id,
        label=label,
        label_key=index_key(fold(label)),
        position=_next_position(connection, dictionary_id),
    )


def insert_dictionary_values(
    connection: sa.Connection, dictionary_id: int, labels: Sequence[str]
) -> None:
    """Add `labels` at the end of the dictionary, in order, in one statement."""
    if not labels:
        return
    start = _next_position(connection, dictionary_id)
    rows = [
        {
            "dictionary_id": dictionary_id,
            "label": label,
            "label_key": index_key(fold(label)),
            "position": start + offset,
        }
        for offset, label in enumerate(labels)
    ]
    connection.execute(sa.insert(t.dictionary_values), rows)


def _next_position(connection: sa.Connection, dictionary_id: int) -> int:
    return int(
        connection.execute(
            sa.select(sa.func.coalesce(sa.func.max(t.dictionary_values.c.position), 0) + 1).where(
                t.dictionary_values.c.dictionary_id == dictionary_id
            )
        ).scalar_one()
    )


def delete_dictionary_value(connection: sa.Connection, value_id: int) -> None:
    connection.execute(sa.delete(t.dictionary_values).where(t.dictionary_values.c.id == value_id))


def allocate_entry_ids(connection: sa.Connection, directory_id: int, count: int = 1) -> int:
    """Reserve `count` consecutive entry ids in a directory; return the first (with
    `count` 0: the next id, the directory's row locked).

    Ids of deleted entries are never handed out again. NoIdsLeft when the ids would go
    past MAX_ID (the caller's transaction, rolled back, gives the reservation back).
    """
    next_number, name = connection.execute(
        sa.update(t.directories)
        .where(t.directories.c.id == directory_id)
        .values(next_number=t.directories.c.next_number + count)
        .returning(t.directories.c.next_number, t.directories.c.name)
    ).one()
    first = int(next_number) - count
    if count and first + count - 1 > MAX_ID:
        raise NoIdsLeft(name)
    return first


def advance_entry_ids(connection: sa.Connection, directory_id: int, past: int) -> None:
    """Make sure ids handed out later are above `past` (after an entry kept its id)."""
    connection.execute(
        sa.update(t.directories)
        .where(t.directories.c.id == directory_id, t.directories.c.next_number <= past)
        .values(next_number=past + 1)
    )


def _insert(connection: sa.Connection, table: sa.Table, **values: object) -> int:
    pk = connection.execute(sa.insert(table).values(**values)).inserted_primary_key
    assert pk is not None
    return int(pk[0])
