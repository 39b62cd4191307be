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
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import timedelta

from accord.domain.errors import AccordError
from accord.services import idempotency, jira_connection, outbox, sync
from accord.services.jira import JiraGateway, Progress, SyncProgress
from accord.services.transactions import Database, run
from accord.settings import DEFAULT_PUBLIC_URL

_log = logging.getLogger(__name__)
HOUSEKEEPING_SECONDS = 3600
OUTBOX_BATCHES = 10
"""Outbox batches delivered in a row (over one connection to Jira) before the worker
looks for jobs again."""
STOP_SECONDS = 10.0
"""How long `stop` waits for a job that runs before it hands the job back to the queue."""
LEASE_SECONDS = 30.0
"""How long a claimed job is this worker's without a heartbeat: a job whose worker died
is taken up again this long after its last heartbeat, at the latest."""


class JobWorker:
    def __init__(
        self,
        database: Database,
        jira: JiraGateway | None = None,
        *,
        jira_source: Callable[[], AbstractContextManager[JiraGateway | None]] | None = None,
        outbox_source: Callable[[], AbstractContextManager[JiraGateway | None]] | None = None,
        poll_seconds: float = 1.0,
        lease_seconds: float = LEASE_SECONDS,
        sync_every: float = 0.0,
        public_url: str = DEFAULT_PUBLIC_URL,
        outbox_policy: outbox.OutboxPolicy = outbox.DEFAULT_POLICY,
    ) -> None:
        self.database = database
        self.jira = jira
        # Asked for the gateway each time a job runs (the stored connection, as it is
        # then); without one, `jira` is used as it is.
        self.jira_source = jira_source or (lambda: nullcontext(jira))
        # The outbox's deliveries may want a client that gives up sooner (they are
        # retried by the outbox itself); without one, the jobs' source.
        self.outbox_source = outbox_source or self.jira_source
        self.public_url = public_url
        self.outbox_policy = outbox_policy
        self.poll_seconds = poll_seconds
        self.sync_every = sync_every
        """Seconds between scheduled user syncs (while Jira is connected); 0: none."""
        self.lease = timedelta(seconds=lease_seconds)
        # Who holds a lease: this process's worker, told apart from any other's.
        self.owner = f"{os.getpid()}-{secrets.token_hex(8)}"
        self._stop = threading.Event()
        self._running: sync.Job | None = None
        """The job this worker runs now, if any."""
        self._thread = threading.Thread(target=self._loop, name="accord-jobs", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = STOP_SECONDS) -> None:
        """Stop looking for work; wait up to `timeout` for a job that runs, then hand it
        back to the queue (the next worker to look takes it up at once, not once its
        lease has run out)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=timeout)
        job = self._running
        if job is None or not self._thread.is_alive():
            return
        try:
            released = run(
                self.database,
                lambda tx: sync.release_job(tx, job, owner=self.owner),
                write=True,
            )
        except Exception:
            _log.exception(
                "job %s (%s) could not be handed back; its lease ends it", job.id, job.kind
            )
            return
        if released:
            _log.warning("job %s (%s) handed back to the queue: the server stops", job.id, job.kind)

    @property
    def alive(self) -> bool:
        """Whether the worker's thread runs (False before `start` and after it ended)."""
        return self._thread.is_alive()

    def _loop(self) -> None:
        next_housekeeping = 0.0
        next_sync = time.monotonic() + self.sync_every
        while not self._stop.is_set():
            try:
                if time.monotonic() >= next_housekeeping:
                    self.housekeeping()
                    next_housekeeping = time.monotonic() + HOUSEKEEPING_SECONDS
                if self.sync_every and time.monotonic() >= next_sync:
                    next_sync = time.monotonic() + self.sync_every
                    self.schedule_sync()
                worked = self.run_once()
                worked = self.deliver_outbox() > 0 or worked
            except Exception:
                _log.exception("job worker failed; retrying")
                worked = False
            if not worked:
                self._stop.wait(self.poll_seconds)

    def schedule_sync(self) -> int | None:
        """Queue a user sync if Jira is connected (joining one queued or running); its
        job id, or None."""
        return run(self.database, jira_connection.request_scheduled_sync, write=True)

    def housekeeping(self) -> int:
        """Drop what is kept only for a while (idempotent replies, and outbox rows
        delivered, older than a day); how many."""
        replies = run(self.database, idempotency.forget_old, write=True)
        return replies + run(self.database, outbox.forget_delivered, write=True)

    def deliver_outbox(self, batches: int = OUTBOX_BATCHES) -> int:
        """Deliver up to `batches` batches of the outbox's due rows to the Jira connected
        now, over one connection; how many rows were delivered. Reads only when none is
        due, or Jira is not connected."""
        if not run(self.database, outbox.has_due, write=False):
            return 0
        delivered = 0
        try:
            with self.outbox_source() as jira:
                for _ in range(batches):
                    if jira is None or not (done := self._deliver_batch(jira)):
                        break
                    delivered += done
        except AccordError as error:  # the stored credential cannot be read, say
            _log.warning("the Jira outbox cannot be delivered: %s", error.message)
        return delivered

    def _deliver_batch(self, jira: JiraGateway) -> int:
        """Claim, send and record one batch; how many rows were delivered."""
        policy = self.outbox_policy
        rows = run(self.database, lambda tx: outbox.claim(tx, policy), write=True)
        if not rows:
            return 0
        # Past half the claim, start nothing: what is in flight ends before it runs out.
        deadline = time.monotonic() + policy.hold.total_seconds() / 2
        done = outbox.deliver(rows, jira, public_url=self.public_url, deadline=deadline)
        run(self.database, lambda tx: outbox.record(tx, done, policy), write=True)
        for row, error, _ in done.failed:
            _log.warning("Jira write %s on %s failed: %s", row.kind, row.issue_key, error)
        return len(done.delivered)

    def run_once(self, fetched: Progress | None = None, synced: SyncProgress | None = None) -> bool:
        """Run the oldest job waiting (or whose worker died), if any; return whether
        there was one. Writes nothing when there is none. `fetched` is told how many
        users were fetched, then `synced` how many of them were synced."""
        if not run(self.database, sync.has_job, write=False):
            return False
        job = run(
            self.database,
            lambda tx: sync.claim_job(tx, owner=self.owner, lease=self.lease),
            write=True,
        )
        if job is None:
            return False
        self._running = job
        try:
            with self._heartbeat(job):
                failure = self._run(job, fetched, synced)
        finally:
            self._running = None
        if failure is not None and not run(
            self.database,
            lambda tx: sync.fail_job(tx, job, owner=self.owner, detail=failure),
            write=True,
        ):
            _log.warning("job %s (%s) was taken up by another worker", job.id, job.kind)
        return True

    def _run(
        self, job: sync.Job, fetched: Progress | None, synced: SyncProgress | None
    ) -> str | None:
        """Do the job and end it as done; or return why it failed."""
        try:
            with self.jira_source() as jira:
                gathered = sync.gather(job, jira=jira, progress=fetched)
            run(
                self.database,
                lambda tx: sync.run_job(tx, job, gathered, owner=self.owner, progress=synced),
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
