"""What the metrics report of the database: its pool and its job queue."""

import logging

from accord.services.transactions import Database, run
from accord.store import gauges
from accord.store.gauges import PoolUsage

__all__ = ["PoolUsage", "job_counts", "pool_usage"]
_log = logging.getLogger(__name__)


def pool_usage(database: Database) -> PoolUsage | None:
    """The connection pool's use now (None: the engine keeps no pool of connections)."""
    return gauges.pool_usage(database.engine)


def job_counts(database: Database, *, timeout: float) -> dict[str, int] | None:
    """Jobs queued and running (a state to a count), read in one short transaction whose
    statement may run `timeout` seconds; None if the database did not answer. Never
    raises; blocks: call it from a thread."""
    if not database.exists():
        return None
    try:
        return run(
            database, lambda tx: gauges.job_counts(tx.connection, timeout=timeout), write=False
        )
    except Exception as error:  # the scrape reports the database as down, whatever the cause
        _log.warning("metrics: the job queue could not be read: %s", error)
        return None
