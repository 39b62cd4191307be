"""Per-issue CRM properties and the links between Jira issues and entries."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from accord.store import tables as t

_P = t.issue_properties.c
_L = t.issue_links.c
T = TypeVar("T")


def set_property(
    connection: sa.Connection,
    issue_key: str,
    field_key: str,
    value: str,
    *,
    entry_rows: Sequence[int],
    at: datetime,
    by: int | None,
) -> None:
    """Store an issue's CRM property and replace the entries it links to."""
    put_property(connection, issue_key, field_key, value, at=at, by=by)
    connection.execute(
        sa.delete(t.issue_links).where(_L.issue_key == issue_key, _L.field_key == field_key)
    )
    if entry_rows:
        connection.execute(
            sa.insert(t.issue_links),
            [{"issue_key": issue_key, "field_key": field_key, "entry_pk": r} for r in entry_rows],
        )


def put_property(
    connection: sa.Connection,
    issue_key: str,
    field_key: str,
    value: str,
    *,
    at: datetime,
    by: int | None,
) -> None:
    """Store an issue's CRM property (its text, who set it and when), links aside."""
    where = (_P.issue_key == issue_key, _P.field_key == field_key)
    connection.execute(sa.delete(t.issue_properties).where(*where))
    connection.execute(
        sa.insert(t.issue_properties).values(
            issue_key=issue_key, field_key=field_key, value=value, updated_at=at, updated_by=by
        )
    )


def add_link(connection: sa.Connection, issue_key: str, field_key: str, entry_pk: int) -> bool:
    """Link an entry to an issue's field; False if it was linked there already.

    One statement: a link another transaction makes meanwhile is "there" too, where an
    insert would fail on the key.
    """
    insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    values = {"issue_key": issue_key, "field_key": field_key, "entry_pk": entry_pk}
    statement = insert(t.issue_links).values(**values).on_conflict_do_nothing()
    return connection.execute(statement.returning(sa.literal(1))).first() is not None


def remove_links(
    connection: sa.Connection, issue_key: str, entry_pk: int, field_key: str | None
) -> list[str]:
    """Unlink an entry from an issue's field (None: from every field); the fields it left."""
    where = [_L.issue_key == issue_key, _L.entry_pk == entry_pk]
    if field_key is not None:
        where.append(_L.field_key == field_key)
    removed = connection.execute(sa.delete(t.issue_links).where(*where).returning(_L.field_key))
    return sorted(removed.scalars())


def linked_numbers(
    connection: sa.Connection, issue_key: str, field_key: str, directory_id: int
) -> list[int]:
    """The ids of a directory's entries linked to the issue's field, ascending."""
    query = _linked_to_field(t.entries.c.number, issue_key, field_key, directory_id)
    return list(connection.execute(query).scalars())


def _linked_to_field(
    column: sa.ColumnElement[T], issue_key: str, field_key: str, directory_id: int
) -> sa.Select[T]:
    """`column` of each entry of a directory linked to the issue's field, by entry id."""
    e = t.entries.c
    return (
        sa.select(column)
        .join(t.issue_links, _L.entry_pk == e.pk)
        .where(_L.issue_key == issue_key, _L.field_key == field_key, e.directory_id == directory_id)
        .order_by(e.number)
    )


@dataclass(frozen=True, slots=True)
class FieldLink:
    """An entry linked to an issue by one of its fields (the role the link plays)."""

    issue_key: str
    field_key: str
    directory_id: int
    entry_id: int
    name: str


def _field_links() -> sa.Select[str, str, int, int, str]:
    e = t.entries.c
    return sa.select(_L.issue_key, _L.field_key, e.directory_id, e.number, e.name).join(
        t.entries, _L.entry_pk == e.pk
    )


def links_of_issue(connection: sa.Connection, issue_key: str) -> list[FieldLink]:
    """Every link of an issue, by directory, entry id, then field."""
    e = t.entries.c
    query = (
        _field_links()
        .where(_L.issue_key == issue_key)
        .order_by(e.directory_id, e.number, _L.field_key)
    )
    return [FieldLink(*row) for row in connection.execute(query)]


def links_of_entry(connection: sa.Connection, entry_pk: int) -> list[FieldLink]:
    """Every link of an entry to issues, by issue key, then field."""
    query = _field_links().where(_L.entry_pk == entry_pk).order_by(_L.issue_key, _L.field_key)
    return [FieldLink(*row) for row in connection.execute(query)]


def linked_values(
    connection: sa.Connection, issue_key: str, field_key: str, directory_id: int, code: str
) -> list[object]:
    """The value of field `code` of each entry of a directory linked to the issue's field."""
    query = _linked_to_field(t.entries.c.data, issue_key, field_key, directory_id)
    return [data.get(code) for data in connection.execute(query).scalars()]


@dataclass(frozen=True, slots=True)
class LinkedEntry:
    """An entry linked to an issue, as Jira's remote link names it."""

    issue_key: str
    entry_pk: int
    directory_code: str
    entry_id: int
    name: str


def _linked() -> sa.Select[str, int, str, int, str]:
    e, d = t.entries.c, t.directories.c
    return (
        sa.select(_L.issue_key, e.pk, d.code, e.number, e.name)
        .distinct()
        .join(t.entries, _L.entry_pk == e.pk)
        .join(t.directories, e.directory_id == d.id)
    )


def entries_of_issue(connection: sa.Connection, issue_key: str) -> dict[int, LinkedEntry]:
    """The entries linked to an issue by any of its fields, by entry row."""
    rows = connection.execute(_linked().where(_L.issue_key == issue_key))
    return {row[1]: LinkedEntry(*row) for row in rows}


def issues_of_entries(connection: sa.Connection, entry_pks: Sequence[int]) -> list[LinkedEntry]:
    """Each (issue, entry) pair linking the entries to issues, once, by issue then entry."""
    if not entry_pks:
        return []
    query = _linked().where(_L.entry_pk.in_(entry_pks)).order_by(_L.issue_key, t.entries.c.pk)
    return [LinkedEntry(*row) for row in connection.execute(query)]
