"""The Jira outbox: writes to Jira waiting for the job worker, in order per issue.

A row waits (`delivered_at` null) until `next_attempt_at`. A worker claims a batch by
moving `next_attempt_at` past the time its delivery may take, delivers outside any
transaction, then records each row delivered or failed. A worker that dies leaves its
claim to run out, and the rows are claimed again: delivery is at least once. An issue
one of whose rows is claimed or waiting after a failure is not claimed from at all, so
an issue's rows reach Jira in the order they were written.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from accord.store import tables as t

_O = t.jira_outbox.c
_FIELDS = (_O.id, _O.kind, _O.issue_key, _O.directory_code, _O.entry_id, _O.payload, _O.attempts)
_B = t.jira_outbox.alias("blocking").c
_CLAIM_LOCK = 0x6A6F62
"""PostgreSQL: the advisory lock that makes claims one at a time (deliveries are not)."""


@dataclass(frozen=True, slots=True)
class OutboxRow:
    id: int
    kind: str
    issue_key: str
    directory_code: str
    entry_id: int
    payload: dict[str, Any]
    attempts: int


@dataclass(frozen=True, slots=True)
class NewRow:
    kind: str
    issue_key: str
    directory_code: str
    entry_id: int
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Backlog:
    pending: int
    oldest_pending_at: datetime | None
    last_error: str
    last_error_at: datetime | None


def add(connection: sa.Connection, rows: Sequence[NewRow], *, at: datetime) -> None:
    """Queue writes, due at once, in the order given."""
    if not rows:
        return
    connection.execute(
        sa.insert(t.jira_outbox),
        [
            {
                "kind": r.kind,
                "issue_key": r.issue_key,
                "directory_code": r.directory_code,
                "entry_id": r.entry_id,
                "payload": r.payload,
                "created_at": at,
                "attempts": 0,
                "next_attempt_at": at,
                "last_error": "",
            }
            for r in rows
        ],
    )


def _pending() -> sa.ColumnElement[bool]:
    return _O.delivered_at.is_(None)


def has_due(connection: sa.Connection, *, at: datetime) -> bool:
    """Whether a claim at `at` might find rows (a read, for an idle worker)."""
    query = sa.select(_O.id).where(_pending(), _O.next_attempt_at <= at).limit(1)
    return connection.execute(query).first() is not None


def claim(
    connection: sa.Connection, *, at: datetime, hold: timedelta, limit: int
) -> list[OutboxRow]:
    """Claim up to `limit` due rows, oldest first, for `hold`; only of issues none of whose
    rows is claimed or waiting after a failure. Their attempts are counted."""
    if connection.dialect.name == "postgresql":
        connection.execute(sa.select(sa.func.pg_advisory_xact_lock(_CLAIM_LOCK)))
    blocked = sa.select(sa.literal(1)).where(
        _B.issue_key == _O.issue_key, _B.delivered_at.is_(None), _B.next_attempt_at > at
    )
    ids = list(
        connection.execute(
            sa.select(_O.id).where(_pending(), ~blocked.exists()).order_by(_O.id).limit(limit)
        ).scalars()
    )
    if not ids:
        return []
    connection.execute(
        sa.update(t.jira_outbox)
        .where(_O.id.in_(ids))
        .values(next_attempt_at=at + hold, attempts=_O.attempts + 1)
    )
    query = sa.select(*_FIELDS).where(_O.id.in_(ids)).order_by(_O.id)
    return [OutboxRow(*row) for row in connection.execute(query)]


def delivered(connection: sa.Connection, ids: Sequence[int], *, at: datetime) -> None:
    if ids:
        connection.execute(sa.update(t.jira_outbox).where(_O.id.in_(ids)).values(delivered_at=at))


def failed(
    connection: sa.Connection, row_id: int, *, error: str, at: datetime, retry_at: datetime
) -> None:
    connection.execute(
        sa.update(t.jira_outbox)
        .where(_O.id == row_id)
        .values(last_error=error, last_error_at=at, next_attempt_at=retry_at)
    )


def release(connection: sa.Connection, ids: Sequence[int], *, at: datetime) -> None:
    """Give claimed rows back, due at `at`, their attempt not counted (they were not tried)."""
    if ids:
        connection.execute(
            sa.update(t.jira_outbox)
            .where(_O.id.in_(ids))
            .values(next_attempt_at=at, attempts=_O.attempts - 1)
        )


def backlog(connection: sa.Connection) -> Backlog:
    """How many rows wait, since when the oldest, and the newest failure recorded."""
    count, oldest = connection.execute(
        sa.select(sa.func.count(), sa.func.min(_O.created_at)).where(_pending())
    ).one()
    failure = connection.execute(
        sa.select(_O.last_error, _O.last_error_at)
        .where(_O.last_error_at.is_not(None))
        .order_by(_O.last_error_at.desc())
        .limit(1)
    ).first()
    if failure is None:
        return Backlog(int(count), oldest, "", None)
    return Backlog(int(count), oldest, failure[0], failure[1])


def forget_delivered(connection: sa.Connection, *, before: datetime) -> int:
    """Drop rows delivered before `before`; how many."""
    gone = connection.execute(
        sa.delete(t.jira_outbox).where(_O.delivered_at.is_not(None), _O.delivered_at < before)
    )
    return int(gone.rowcount or 0)
