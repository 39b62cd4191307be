"""What a metrics scrape reads of the database: the connection pool, and the job queue.

Read at scrape time, never on a request's path.
"""

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.pool import QueuePool

from accord.store import tables as t

JOB_STATES = ("queued", "running")


@dataclass(frozen=True, slots=True)
class PoolUsage:
    size: int
    """Connections the pool keeps open."""
    checked_out: int
    """Connections in use (on SQLite: also those the process keeps between transactions)."""
    overflow: int
    """Connections open beyond `size` (negative: fewer than `size` are open yet)."""


def pool_usage(engine: sa.Engine) -> PoolUsage | None:
    """How `engine`'s pool is used, or None when it keeps no queue of connections."""
    pool = engine.pool
    if not isinstance(pool, QueuePool):
        return None
    return PoolUsage(size=pool.size(), checked_out=pool.checkedout(), overflow=pool.overflow())


def job_counts(connection: sa.Connection, *, timeout: float) -> dict[str, int]:
    """Jobs waiting and running, by state; the statement stopped after `timeout` seconds
    on PostgreSQL (on SQLite a read never waits for a lock, and this one walks an index)."""
    if connection.dialect.name == "postgresql":
        milliseconds = max(1, round(timeout * 1000))
        connection.exec_driver_sql(f"SET LOCAL statement_timeout = {milliseconds}")
    status = t.jobs.c.status
    rows = connection.execute(
        sa.select(status, sa.func.count()).where(status.in_(JOB_STATES)).group_by(status)
    )
    counts = dict.fromkeys(JOB_STATES, 0)
    counts.update({str(state): int(count) for state, count in rows})
    return counts
