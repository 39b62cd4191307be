"""Background jobs: queued by requests, claimed by any number of workers."""

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from accord.store import tables as t

_J = t.jobs.c
ACTIVE = ("queued", "running")


@dataclass(frozen=True, slots=True)
class Job:
    id: int
    kind: str
    status: str
    requested_by: int | None
    detail: str


def enqueue(connection: sa.Connection, kind: str, *, by: int | None, at: datetime) -> int:
    """Queue a job of `kind` unless one is already queued or running; return its id."""
    active = sa.select(_J.id).where(_J.kind == kind, _J.status.in_(ACTIVE))
    existing = connection.execute(active).scalar()
    if existing is not None:
        return int(existing)
    try:
        with connection.begin_nested():
            job_id = connection.execute(
                sa.insert(t.jobs)
                .values(kind=kind, status="queued", requested_by=by, created_at=at, detail="")
                .returning(_J.id)
            ).scalar_one()
    except IntegrityError:
        # Another request queued one between our look and our insert: join that one.
        return int(connection.execute(active).scalar_one())
    return int(job_id)


def claim(connection: sa.Connection, *, at: datetime) -> Job | None:
    """Take the oldest queued job and mark it running (safe with concurrent workers)."""
    oldest = sa.select(_J.id).where(_J.status == "queued").order_by(_J.id).limit(1)
    if connection.dialect.name == "postgresql":
        oldest = oldest.with_for_update(skip_locked=True)
    row = connection.execute(
        sa.update(t.jobs)
        .where(_J.id == oldest.scalar_subquery(), _J.status == "queued")
        .values(status="running", started_at=at)
        .returning(_J.id, _J.kind, _J.status, _J.requested_by, _J.detail)
    ).first()
    return None if row is None else Job(*row)


def finish(connection: sa.Connection, job_id: int, *, ok: bool, detail: str, at: datetime) -> None:
    connection.execute(
        sa.update(t.jobs)
        .where(_J.id == job_id)
        .values(status="done" if ok else "failed", detail=detail, finished_at=at)
    )


def jobs_of(connection: sa.Connection, kind: str) -> list[Job]:
    query = sa.select(_J.id, _J.kind, _J.status, _J.requested_by, _J.detail).where(_J.kind == kind)
    return [Job(*row) for row in connection.execute(query.order_by(_J.id))]
