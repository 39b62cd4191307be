"""The instance row: counters that tag caches, the API key's hash, the demo marker."""

from datetime import datetime

import sqlalchemy as sa

from accord.store import tables as t


def demo_loaded(connection: sa.Connection) -> bool:
    query = sa.select(t.instance.c.demo_loaded_at).where(t.instance.c.id == 1)
    return connection.execute(query).scalar() is not None


def mark_demo_loaded(connection: sa.Connection, at: datetime) -> None:
    connection.execute(sa.update(t.instance).where(t.instance.c.id == 1).values(demo_loaded_at=at))


def set_api_key_hash(connection: sa.Connection, key_hash: str | None, at: datetime) -> None:
    connection.execute(
        sa.update(t.instance)
        .where(t.instance.c.id == 1)
        .values(api_key_hash=key_hash, api_key_set_at=at)
    )


def api_key_set_at(connection: sa.Connection) -> datetime | None:
    """When the API key was last set (None: never, or before Accord recorded it)."""
    query = sa.select(t.instance.c.api_key_set_at).where(t.instance.c.id == 1)
    found: datetime | None = connection.execute(query).scalar()
    return found
