"""Background jobs: queued by requests, claimed by any number of workers.

A worker that claims a job holds a lease on it (`lease_owner`, `lease_expires_at`) and
renews it while the job runs (`renew`). A running job whose lease has expired lost its
worker (killed, crashed, cut off from the database): the next claim takes it up again,
and a request for the same kind does not join it as if it were alive. A job taken up
`MAX_ATTEMPTS` times without ending is marked failed instead of being tried again.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from accord.store import tables as t

_J = t.jobs.c
ACTIVE = ("queued", "running")
MAX_ATTEMPTS = 3
GAVE_UP = f"Its worker stopped {MAX_ATTEMPTS} times before the job ended; not tried again"
_FIELDS = (_J.id, _J.kind, _J.status, _J.requested_by, _J.detail, _J.attempts)


@dataclass(frozen=True, slots=True)
class Job:
    id: int
    kind: str
    status: str
    requested_by: int | None
    detail: str
    attempts: int


def _dead(at: datetime) -> sa.ColumnElement[bool]:
    """A running job whose worker stopped renewing its lease (no lease: one from before
    leases, left running by a worker of an older version)."""
    return sa.and_(
        _J.status == "running",
        sa.or_(_J.lease_expires_at.is_(None), _J.lease_expires_at < at),
    )


def _takeable(at: datetime) -> sa.ColumnElement[bool]:
    return sa.or_(_J.status == "queued", _dead(at))


def enqueue(connection: sa.Connection, kind: str, *, by: int | None, at: datetime) -> int:
    """Queue a job of `kind` unless one is already queued or running; return its id.

    A running job whose lease has expired is not joined as it is: it is handed back to
    the queue (the next claim takes it up), or, once it has used its attempts, ended as
    failed and a new job queued.
    """
    active = sa.select(_J.id, _J.status, _J.lease_expires_at, _J.attempts).where(
        _J.kind == kind, _J.status.in_(ACTIVE)
    )
    existing = connection.execute(active).first()
    if existing is not None:
        job_id, status, expires, attempts = existing
        if status == "queued" or (expires is not None and expires >= at):
            return int(job_id)
        if attempts < MAX_ATTEMPTS:
            _requeue(connection, int(job_id), at=at)
            return int(job_id)
        _give_up(connection, at=at, job_id=int(job_id))
    try:
        with connection.begin_nested():
            job_id = connection.execute(
                sa.insert(t.jobs)
                .values(
                    kind=kind,
                    status="queued",
                    requested_by=by,
                    created_at=at,
                    detail="",
                    attempts=0,
                )
                .returning(_J.id)
            ).scalar_one()
    except IntegrityError:
        # Another request queued one between our look and our insert: join that one.
        return int(connection.execute(active).scalar_one())
    return int(job_id)


def _requeue(connection: sa.Connection, job_id: int, *, at: datetime) -> None:
    # Guarded by the lease: a worker that claimed it meanwhile keeps it.
    connection.execute(
        sa.update(t.jobs)
        .where(_J.id == job_id, _dead(at))
        .values(status="queued", lease_owner=None, lease_expires_at=None)
    )


def _give_up(connection: sa.Connection, *, at: datetime, job_id: int | None = None) -> None:
    """Mark failed the dead jobs that have used their attempts (or that one)."""
    query = sa.update(t.jobs).where(_dead(at), _J.attempts >= MAX_ATTEMPTS)
    if job_id is not None:
        query = query.where(_J.id == job_id)
    connection.execute(
        query.values(status="failed", detail=GAVE_UP, finished_at=at, lease_expires_at=None)
    )


def has_work(connection: sa.Connection, *, at: datetime) -> bool:
    """Whether a claim at `at` would find something to do (a read: an idle worker looks
    with this, and writes only when there is work)."""
    return connection.execute(sa.select(_J.id).where(_takeable(at)).limit(1)).first() is not None


def claim(connection: sa.Connection, *, owner: str, at: datetime, lease: timedelta) -> Job | None:
    """Take the oldest queued job, or a running one whose lease expired, for `owner`,
    leased until `at + lease`; safe with concurrent workers. Dead jobs that have used
    their attempts are marked failed first."""
    _give_up(connection, at=at)
    oldest = sa.select(_J.id).where(_takeable(at)).order_by(_J.id).limit(1)
    if connection.dialect.name == "postgresql":
        oldest = oldest.with_for_update(skip_locked=True)
    row = connection.execute(
        sa.update(t.jobs)
        .where(_J.id == oldest.scalar_subquery(), _takeable(at))
        .values(
            status="running",
            started_at=at,
            lease_owner=owner,
            lease_expires_at=at + lease,
            attempts=_J.attempts + 1,
        )
        .returning(*_FIELDS)
    ).first()
    return None if row is None else Job(*row)


def renew(connection: sa.Connection, job_id: int, *, owner: str, until: datetime) -> bool:
    """Extend `owner`'s lease on a running job; False if it no longer holds it."""
    held = connection.execute(
        sa.update(t.jobs)
        .where(_J.id == job_id, _J.status == "running", _J.lease_owner == owner)
        .values(lease_expires_at=until)
    )
    return held.rowcount == 1


def release(connection: sa.Connection, job_id: int, *, owner: str) -> bool:
    """Hand `owner`'s running job back to the queue, its attempt not counted (its worker
    is stopping, not dying); False (and nothing changed) if it no longer holds it."""
    released = connection.execute(
        sa.update(t.jobs)
        .where(_J.id == job_id, _J.status == "running", _J.lease_owner == owner)
        .values(
            status="queued",
            lease_owner=None,
            lease_expires_at=None,
            attempts=_J.attempts - 1,  # the claim counted it
        )
    )
    return released.rowcount == 1


def finish(
    connection: sa.Connection, job_id: int, *, owner: str, ok: bool, detail: str, at: datetime
) -> bool:
    """End `owner`'s running job; False (and nothing changed) if it no longer holds it."""
    ended = connection.execute(
        sa.update(t.jobs)
        .where(_J.id == job_id, _J.status == "running", _J.lease_owner == owner)
        .values(
            status="done" if ok else "failed",
            detail=detail,
            finished_at=at,
            lease_expires_at=None,
        )
    )
    return ended.rowcount == 1


def jobs_of(connection: sa.Connection, kind: str) -> list[Job]:
    query = sa.select(*_FIELDS).where(_J.kind == kind)
    return [Job(*row) for row in connection.execute(query.order_by(_J.id))]


@dataclass(frozen=True, slots=True)
class JobTimes:
    job: Job
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


def last_job(connection: sa.Connection, kind: str, *, finished: bool = False) -> JobTimes | None:
    """The newest job of `kind` (with `finished`: the newest that ended), or None."""
    query = sa.select(*_FIELDS, _J.created_at, _J.started_at, _J.finished_at).where(_J.kind == kind)
    if finished:
        query = query.where(_J.status.in_(("done", "failed")))
    row = connection.execute(query.order_by(_J.id.desc()).limit(1)).first()
    if row is None:
        return None
    return JobTimes(Job(*row[:6]), row[6], row[7], row[8])


def job_by_id(connection: sa.Connection, job_id: int) -> Job | None:
    row = connection.execute(sa.select(*_FIELDS).where(_J.id == job_id)).first()
    return None if row is None else Job(*row)
