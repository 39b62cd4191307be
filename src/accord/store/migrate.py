"""Schema migrations (Alembic), run from code: `accord db upgrade` and the tests."""

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

MIGRATIONS = Path(__file__).parent / "migrations"


def _config(connection: sa.Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def upgrade(engine: sa.Engine, revision: str = "head") -> None:
    """Bring the database's schema up to `revision` (the newest by default), then
    refresh the planner's statistics (`analyse`): a migration that rebuilt or filled a
    table leaves them describing what was there before."""
    with engine.begin() as connection:
        command.upgrade(_config(connection), revision)
        analyse(connection)


def analyse(connection: sa.Connection) -> None:
    """ANALYZE every table, so that plans follow the data as it is now: after migrations
    and large imports. Between those the databases keep them current themselves: SQLite
    through `PRAGMA optimize` (`engine`), PostgreSQL through autovacuum.

    SQLite keeps no statistics of the text index's own tables (FTS5's `entry_texts_*`):
    FTS5 reads them by key alone, and figures taken while they were nearly empty (after
    the first upgrade: "2 rows") made its writes 3 to 5 times slower at 100,000
    contacts, and slower still as the index grew. Without figures SQLite assumes large
    tables, which is right for these."""
    connection.exec_driver_sql("ANALYZE")
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("DELETE FROM sqlite_stat1 WHERE tbl GLOB 'entry_texts_*'")
        connection.exec_driver_sql("ANALYZE sqlite_schema")  # reload what is left


def downgrade(engine: sa.Engine, revision: str) -> None:
    with engine.begin() as connection:
        command.downgrade(_config(connection), revision)


def check(engine: sa.Engine) -> None:
    """Raise if the tables differ from what the code expects (alembic check)."""
    with engine.begin() as connection:
        command.check(_config(connection))


def head() -> str | None:
    """The newest revision the code knows."""
    return ScriptDirectory(str(MIGRATIONS)).get_current_head()


def current(engine: sa.Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


_VERSION = sa.table("alembic_version", sa.column("version_num", sa.String))


def revision(connection: sa.Connection) -> str | None:
    """The schema's revision, read in the connection's transaction (None: none yet).
    Cheaper than `current` (and quiet: Alembic logs each context it configures)."""
    if not connection.dialect.has_table(connection, _VERSION.name):
        return None
    found: str | None = connection.execute(sa.select(_VERSION.c.version_num)).scalar()
    return found
