"""The database schema's version: bringing it up to date, and checking it is."""

from sqlalchemy.exc import SQLAlchemyError

from accord.domain.errors import AccordError
from accord.services.transactions import DatabaseError
from accord.store import migrate
from accord.store.database import Database


def upgrade_schema(database: Database) -> str | None:
    """Create or migrate the schema to the newest revision; return that revision."""
    try:
        migrate.upgrade(database.engine)
    except SQLAlchemyError as error:
        raise DatabaseError(str(getattr(error, "orig", error)).strip()) from error
    return migrate.head()


def require_current_schema(database: Database) -> None:
    """Raise unless the database is reachable and its schema is the newest."""
    if not database.exists():
        raise AccordError("there is no database here yet: run `accord db upgrade`")
    try:
        current = migrate.current(database.engine)
    except SQLAlchemyError as error:
        raise DatabaseError(str(getattr(error, "orig", error)).strip()) from error
    if current != migrate.head():
        raise AccordError("the database schema is not up to date: run `accord db upgrade`")
