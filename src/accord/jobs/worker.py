"""A worker thread: claims jobs one at a time, each under a lease it keeps renewing.

Any number of workers, in any number of processes, can run against one database: a job
is claimed atomically (FOR UPDATE SKIP LOCKED on PostgreSQL), so each runs once while
its worker lives. A worker renews its lease every third of `lease_seconds` while the job
runs; a worker that dies stops renewing it, and once it has expired the job is taken up
again by the next claim (`store.jobs`). An idle worker only reads: it looks for work,
and opens a write transaction only when there is some.
"""

import logging
import os
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from accord.domain.errors import AccordError
from accord.services import idempotency, sync
from accord.services.jira import JiraGateway
from accord.services.transactions import Database, run

_log = logging.getLogger(__name__)
HOUSEKEEPING_SECONDS = 3600
LEASE_SECONDS = 30.0
"""How long a claimed job is this worker's without a heartbeat: a job whose worker died
is taken up again this long after its last heartbeat, at the latest."""


class JobWorker:
    def __init__(
        self,
        database: Database,
        jira: JiraGateway | None,
        *,
        poll_seconds: float = 1.0,
        lease_seconds: float = LEASE_SECONDS,
    ) -> None:
        self.database = database
        self.jira = jira
        self.poll_seconds = poll_seconds
        self.lease = timedelta(seconds=lease_seconds)
        # Who holds a lease: this process's worker, told apart from any other's.
        self.owner = f"{os.getpid()}-{secrets.token_hex(8)}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="accord-jobs", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    @property
    def alive(self) -> bool:
        """Whether the worker's thread runs (False before `start` and after it ended)."""
        return self._thread.is_alive()

    def _loop(self) -> None:
        next_housekeeping = 0.0
        while not self._stop.is_set():
            try:
                if time.monotonic() >= next_housekeeping:
                    self.housekeeping()
                    next_housekeeping = time.monotonic() + HOUSEKEEPING_SECONDS
                worked = self.run_once()
            except Exception:
                _log.exception("job worker failed; retrying")
                worked = False
            if not worked:
                self._stop.wait(self.poll_seconds)

    def housekeeping(self) -> int:
        """Drop what is kept only for a while (idempotent replies older than a day)."""
        return run(self.database, idempotency.forget_old, write=True)

    def run_once(self) -> bool:
        """Run the oldest job waiting (or whose worker died), if any; return whether
        there was one. Writes nothing when there is none."""
        if not run(self.database, sync.has_job, write=False):
            return False
        job = run(
            self.database,
            lambda tx: sync.claim_job(tx, owner=self.owner, lease=self.lease),
            write=True,
        )
        if job is None:
            return False
        with self._heartbeat(job):
            failure = self._run(job)
        if failure is not None and not run(
            self.database,
            lambda tx: sync.fail_job(tx, job, owner=self.owner, detail=failure),
            write=True,
        ):
            _log.warning("job %s (%s) was taken up by another worker", job.id, job.kind)
        return True

    def _run(self, job: sync.Job) -> str | None:
        """Do the job and end it as done; or return why it failed."""
        try:
            gathered = sync.gather(job, jira=self.jira)
            run(
                self.database,
                lambda tx: sync.run_job(tx, job, gathered, owner=self.owner),
                write=True,
            )
        except AccordError as error:
            return error.message
        except sync.LeaseLost:
            _log.warning("job %s (%s) was taken up by another worker", job.id, job.kind)
        except Exception as error:
            _log.exception("job %s (%s) failed", job.id, job.kind)
            return f"Internal error: {type(error).__name__}"
        return None

    @contextmanager
    def _heartbeat(self, job: sync.Job) -> Iterator[None]:
        """Renew the lease on `job` every third of the lease while the block runs, each
        time in a short transaction of its own."""
        done = threading.Event()

        def beat() -> None:
            while not done.wait(self.lease.total_seconds() / 3):
                try:
                    held = run(
                        self.database,
                        lambda tx: sync.renew_lease(tx, job, owner=self.owner, lease=self.lease),
                        write=True,
                    )
                except Exception:
                    _log.exception("job %s: renewing its lease failed; retrying", job.id)
                    continue
                if not held:
                    if not done.is_set():  # else the job just ended: nothing was lost
                        _log.warning("job %s (%s): lease lost", job.id, job.kind)
                    return

        beating = threading.Thread(target=beat, name="accord-jobs-heartbeat", daemon=True)
        beating.start()
        try:
            yield
        finally:
            done.set()
            beating.join()
