"""The Jira connection: one row, or none."""

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from accord.store import tables as t

_C = t.jira_connection.c


@dataclass(frozen=True, slots=True)
class StoredConnection:
    url: str
    deployment: str
    auth: str
    username: str
    secret: str
    """Encrypted (`services.secrets`)."""
    groups: tuple[str, ...]
    server_title: str
    server_version: str
    deployment_type: str
    account: str
    connected_at: datetime


def read(connection: sa.Connection) -> StoredConnection | None:
    row = connection.execute(sa.select(t.jira_connection).where(_C.id == 1)).first()
    if row is None:
        return None
    return StoredConnection(
        url=row.url,
        deployment=row.deployment,
        auth=row.auth,
        username=row.username,
        secret=row.secret,
        groups=tuple(row.groups or ()),
        server_title=row.server_title,
        server_version=row.server_version,
        deployment_type=row.deployment_type,
        account=row.account,
        connected_at=row.connected_at,
    )


def save(connection: sa.Connection, stored: StoredConnection, *, by: int | None) -> None:
    """Make `stored` the connection, replacing the one there was."""
    values = {
        "url": stored.url,
        "deployment": stored.deployment,
        "auth": stored.auth,
        "username": stored.username,
        "secret": stored.secret,
        "groups": list(stored.groups),
        "server_title": stored.server_title,
        "server_version": stored.server_version,
        "deployment_type": stored.deployment_type,
        "account": stored.account,
        "connected_at": stored.connected_at,
        "connected_by": by,
    }
    connection.execute(sa.delete(t.jira_connection))
    connection.execute(sa.insert(t.jira_connection).values(id=1, **values))


def delete(connection: sa.Connection) -> bool:
    """Forget the connection; whether there was one."""
    return connection.execute(sa.delete(t.jira_connection)).rowcount > 0


def connected(connection: sa.Connection) -> bool:
    """Whether a connection is stored (one primary-key lookup)."""
    return connection.execute(sa.select(_C.id).where(_C.id == 1)).first() is not None
