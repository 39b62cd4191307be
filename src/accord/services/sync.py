"""The user sync with Jira: requested by anyone with the main menu, run in the background.

A worker claims a job with a lease (`store.jobs`), fetches what the job needs from Jira
outside any transaction, then does its work and ends the job in one transaction that
holds only if the worker still holds the lease.
"""

from collections.abc import Sequence
from datetime import timedelta

from accord.domain.errors import JiraNotConnected
from accord.domain.rights import GlobalRight
from accord.domain.users import Actor
from accord.services.jira import JiraGateway, JiraUser, Progress, SyncProgress
from accord.services.transactions import now
from accord.services.user_sync import sync_users
from accord.store import jobs as store
from accord.store.database import Transaction
from accord.store.jobs import Job as Job  # what a worker is handed

USER_SYNC = "jira-user-sync"


class LeaseLost(Exception):
    """The worker's lease on its job expired and another worker took the job up."""


def request_user_sync(tx: Transaction, *, actor: Actor) -> int:
    """Queue a user sync, or join the one already queued or running (while its worker
    is alive: one whose worker died is taken up again); return its job id."""
    actor.rights.require(GlobalRight.MAIN_MENU)
    return store.enqueue(tx.connection, USER_SYNC, by=actor.user_id, at=now())


def has_job(tx: Transaction) -> bool:
    """Whether a worker has a job to claim (a read, for an idle worker to look with)."""
    return store.has_work(tx.connection, at=now())


def claim_job(tx: Transaction, *, owner: str, lease: timedelta) -> Job | None:
    """Take the oldest queued job (or one whose worker died) for `owner`, if there is one."""
    return store.claim(tx.connection, owner=owner, at=now(), lease=lease)


def renew_lease(tx: Transaction, job: Job, *, owner: str, lease: timedelta) -> bool:
    """Keep `owner`'s claim on a job it runs for `lease` more; False if it lost it."""
    return store.renew(tx.connection, job.id, owner=owner, until=now() + lease)


def gather(
    job: Job, *, jira: JiraGateway | None, progress: Progress | None = None
) -> Sequence[JiraUser]:
    """What a claimed job needs from outside the database. Called outside a transaction,
    so that waiting for Jira holds none (on SQLite: not the single writer)."""
    if job.kind != USER_SYNC:
        raise ValueError(f"Unknown job kind: {job.kind}")
    if jira is None:
        raise JiraNotConnected
    return list(jira.users(progress))


def run_job(
    tx: Transaction,
    job: Job,
    gathered: Sequence[JiraUser],
    *,
    owner: str,
    progress: SyncProgress | None = None,
) -> str:
    """Do a claimed job's work with what `gather` fetched and end it as done; return what
    was recorded of it. Raises `LeaseLost` (the transaction must roll back) if `owner`
    no longer holds the job."""
    detail = sync_users(tx, gathered, progress=progress).summary()
    if not store.finish(tx.connection, job.id, owner=owner, ok=True, detail=detail, at=now()):
        raise LeaseLost
    return detail


def release_job(tx: Transaction, job: Job, *, owner: str) -> bool:
    """Hand `owner`'s job back to the queue for the next worker; False if it no longer
    held it."""
    return store.release(tx.connection, job.id, owner=owner)


def fail_job(tx: Transaction, job: Job, *, owner: str, detail: str) -> bool:
    """End `owner`'s job as failed with `detail`; False if it no longer held it."""
    return store.finish(tx.connection, job.id, owner=owner, ok=False, detail=detail, at=now())


def user_sync_jobs(tx: Transaction) -> list[Job]:
    return store.jobs_of(tx.connection, USER_SYNC)


def job_by_id(tx: Transaction, job_id: int) -> Job | None:
    return store.job_by_id(tx.connection, job_id)
