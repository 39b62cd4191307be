"""Whether this process's database can serve it: it answers, and its schema is the newest."""

import functools
import logging
from dataclasses import dataclass

from accord.services.transactions import Database, run
from accord.store import migrate

_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Failure:
    """A readiness check that fails: which one, and why in a few words.

    The reason is for anyone to read (a probe takes no token): it never carries a host, a
    database name or a driver's message; the server's log has those.
    """

    check: str
    reason: str


def check_database(database: Database) -> Failure | None:
    """None if the database answers and its schema is at the newest revision this code
    knows; else the failing check ("database" or "schema") and why. One short read
    transaction, under the database's statement timeout. Never raises; blocks: call it
    from a thread."""
    if not database.exists():
        return Failure("database", "there is no database file yet: run `accord db upgrade`")
    try:
        revision = run(database, lambda tx: migrate.revision(tx.connection), write=False)
    except Exception as error:  # whatever went wrong, the probe's answer is the same
        _log.warning("readiness: the database did not answer: %s", error)
        return Failure("database", "the database did not answer")
    if revision != newest_revision():
        _log.warning(
            "readiness: the schema is at %s, the code needs %s", revision, newest_revision()
        )
        return Failure(
            "schema", "the schema is not at the newest revision: run `accord db upgrade`"
        )
    return None


@functools.cache
def newest_revision() -> str | None:
    """The newest schema revision this code knows (read from the migrations once)."""
    return migrate.head()
