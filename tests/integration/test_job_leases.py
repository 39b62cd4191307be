"""Jobs survive their worker: a lease with a heartbeat, taken up again when it expires."""

import threading
import time
from collections.abc import Iterable
from contextlib import AbstractContextManager
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from accord.domain.users import Actor
from accord.jobs.worker import JobWorker
from accord.services import sync
from accord.services.jira import JiraUser
from accord.services.transactions import Database, Transaction, now, run
from accord.store import tables as t
from accord.store.jobs import GAVE_UP, Job

ADMIN = Actor.system("legacy")
NOT_CONNECTED = "Jira is not connected"


class SlowJira:
    """A Jira whose user list comes only when the test lets it."""

    def __init__(self) -> None:
        self.asked = threading.Event()
        self.answer = threading.Event()

    def users(self, progress: object = None) -> Iterable[JiraUser]:
        self.asked.set()
        assert self.answer.wait(30)
        return [JiraUser("JIRAUSER9", "slowpoke", "Slow Poke", "slow@example.org", True)]

    def set_issue_property(self, issue_key: str, field_key: str, value: str) -> None:
        raise AssertionError("not used here")


def request(db: Database) -> int:
    return run(db, lambda tx: sync.request_user_sync(tx, actor=ADMIN), write=True)


def jobs(db: Database) -> list[Job]:
    return run(db, sync.user_sync_jobs, write=False)


def left_running(db: Database, *, lease_left: timedelta, attempts: int = 1) -> int:
    """A sync job as a worker leaves it: running, leased until now + `lease_left` (in the
    past: as a killed worker leaves it)."""
    with db.engine.begin() as connection:
        return int(
            connection.execute(
                sa.insert(t.jobs)
                .values(
                    kind=sync.USER_SYNC,
                    status="running",
                    created_at=now(),
                    started_at=now(),
                    detail="",
                    lease_owner="a-killed-worker",
                    lease_expires_at=now() + lease_left,
                    attempts=attempts,
                )
                .returning(t.jobs.c.id)
            ).scalar_one()
        )


def test_a_job_whose_worker_died_is_taken_up_again_and_ends(db: Database) -> None:
    job_id = left_running(db, lease_left=-timedelta(minutes=1))
    assert JobWorker(db, jira=None).run_once()
    (job,) = jobs(db)
    assert (job.id, job.status, job.detail, job.attempts) == (job_id, "failed", NOT_CONNECTED, 2)


def test_a_sync_request_does_not_join_a_job_whose_worker_died_for_ever(db: Database) -> None:
    dead = left_running(db, lease_left=-timedelta(seconds=1))
    assert request(db) == dead  # handed back to the queue, not joined as it was
    assert [j.status for j in jobs(db)] == ["queued"]
    assert JobWorker(db, jira=None).run_once()
    assert [(j.status, j.detail) for j in jobs(db)] == [("failed", NOT_CONNECTED)]
    assert request(db) != dead


def test_a_job_with_a_live_lease_is_joined_and_not_taken_by_another_worker(db: Database) -> None:
    alive = left_running(db, lease_left=timedelta(minutes=1))
    assert not JobWorker(db, jira=None).run_once()
    assert request(db) == alive
    assert [(j.status, j.attempts) for j in jobs(db)] == [("running", 1)]


def test_the_heartbeat_keeps_a_long_jobs_lease_alive(db: Database) -> None:
    request(db)
    jira = SlowJira()
    first = JobWorker(db, jira=jira, lease_seconds=1.0)
    running = threading.Thread(target=first.run_once)
    running.start()
    try:
        assert jira.asked.wait(30)
        time.sleep(3.0)  # three leases: without a heartbeat it would have expired
        assert not JobWorker(db, jira=None).run_once()
    finally:
        jira.answer.set()
        running.join(30)
    (job,) = jobs(db)
    assert (job.status, job.detail, job.attempts) == (
        "done",
        "1 Jira users: 1 users created, 0 updated, 0 disabled; "
        "contacts: 1 created, 0 updated, 0 matched; 0 errors",
        1,
    )


def test_a_job_whose_worker_died_three_times_is_failed_and_not_run_again(db: Database) -> None:
    left_running(db, lease_left=-timedelta(seconds=1), attempts=3)
    worker = JobWorker(db, jira=SlowJira())
    assert not worker.run_once()  # nothing run: SlowJira would have waited
    (job,) = jobs(db)
    assert (job.status, job.detail) == ("failed", GAVE_UP)
    assert GAVE_UP == "Its worker stopped 3 times before the job ended; not tried again"


def test_a_request_replaces_a_job_that_used_its_attempts(db: Database) -> None:
    dead = left_running(db, lease_left=-timedelta(seconds=1), attempts=3)
    fresh = request(db)
    assert fresh != dead
    assert [(j.id, j.status) for j in jobs(db)] == [(dead, "failed"), (fresh, "queued")]


def test_an_idle_worker_looks_for_work_but_writes_nothing(db: Database) -> None:
    opened = {True: 0, False: 0}
    transaction = db.transaction

    def counted(*, write: bool, cancel: Any = None) -> AbstractContextManager[Transaction]:
        opened[write] += 1
        return transaction(write=write, cancel=cancel)

    db.transaction = counted  # type: ignore[method-assign]
    worker = JobWorker(db, jira=None, poll_seconds=0.05)
    worker.start()
    try:
        deadline = time.monotonic() + 30
        while sum(opened.values()) < 2 and time.monotonic() < deadline:  # past housekeeping
            time.sleep(0.01)
        writes, reads = opened[True], opened[False]
        time.sleep(3.0)
        assert (opened[True] - writes, opened[False] > reads + 10) == (0, True)
    finally:
        worker.stop()
        del db.transaction
