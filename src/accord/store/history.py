"""The change history: appended to, never changed (triggers refuse UPDATE and DELETE)."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from accord.store import tables as t

_H = t.history.c


@dataclass(frozen=True, slots=True)
class Change:
    """One recorded change of one entry (one row per field changed)."""

    directory_id: int
    entry_number: int
    at: datetime
    user_id: int | None
    edge: str
    action: str
    field_code: str | None = None
    old_value: str | None = None
    new_value: str | None = None


def append(connection: sa.Connection, changes: Sequence[Change]) -> None:
    if changes:
        connection.execute(
            sa.insert(t.history),
            [
                {
                    "directory_id": c.directory_id,
                    "entry_number": c.entry_number,
                    "at": c.at,
                    "user_id": c.user_id,
                    "edge": c.edge,
                    "action": c.action,
                    "field_code": c.field_code,
                    "old_value": c.old_value,
                    "new_value": c.new_value,
                }
                for c in changes
            ],
        )


def changes_of(connection: sa.Connection, directory_id: int, entry_number: int) -> list[Change]:
    """Every change of one entry, oldest first."""
    query = (
        sa.select(
            _H.directory_id,
            _H.entry_number,
            _H.at,
            _H.user_id,
            _H.edge,
            _H.action,
            _H.field_code,
            _H.old_value,
            _H.new_value,
        )
        .where(_H.directory_id == directory_id, _H.entry_number == entry_number)
        .order_by(_H.id)
    )
    return [Change(*row) for row in connection.execute(query)]
