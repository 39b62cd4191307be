"""Per-issue CRM properties and the links between Jira issues and entries."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from accord.store import tables as t

_P = t.issue_properties.c
_L = t.issue_links.c


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
    where = (_P.issue_key == issue_key, _P.field_key == field_key)
    connection.execute(sa.delete(t.issue_properties).where(*where))
    connection.execute(
        sa.insert(t.issue_properties).values(
            issue_key=issue_key, field_key=field_key, value=value, updated_at=at, updated_by=by
        )
    )
    connection.execute(
        sa.delete(t.issue_links).where(_L.issue_key == issue_key, _L.field_key == field_key)
    )
    if entry_rows:
        connection.execute(
            sa.insert(t.issue_links),
            [{"issue_key": issue_key, "field_key": field_key, "entry_pk": r} for r in entry_rows],
        )


def linked_values(
    connection: sa.Connection, issue_key: str, field_key: str, directory_id: int, code: str
) -> list[object]:
    """The value of field `code` of each entry of a directory linked to the issue's field."""
    e = t.entries.c
    query = (
        sa.select(e.data)
        .join(t.issue_links, _L.entry_pk == e.pk)
        .where(_L.issue_key == issue_key, _L.field_key == field_key, e.directory_id == directory_id)
        .order_by(e.number)
    )
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
