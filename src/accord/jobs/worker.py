"""A worker thread: claims queued jobs one at a time and runs each in its own transaction.

Any number of workers, in any number of processes, can run against one database: a job
is claimed atomically (FOR UPDATE SKIP LOCKED on PostgreSQL), so each runs once.
"""

import logging
import threading
import time

from accord.domain.errors import AccordError
from accord.services import idempotency, sync
from accord.services.jira import JiraGateway
from accord.services.transactions import Database, run

_log = logging.getLogger(__name__)
HOUSEKEEPING_SECONDS = 3600


class JobWorker:
    def __init__(
        self, database: Database, jira: JiraGateway | None, *, poll_seconds: float = 1.0
    ) -> None:
        self.database = database
        self.jira = jira
        self.poll_seconds = poll_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="accord-jobs", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

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
        """Run the oldest queued job, if any; return whether there was one."""
        job = run(self.database, sync.claim_job, write=True)
        if job is None:
            return False
        ok, detail = True, ""
        try:
            detail = run(
                self.database, lambda tx: sync.run_job(tx, job, jira=self.jira), write=True
            )
        except AccordError as error:
            ok, detail = False, error.message
        except Exception as error:
            _log.exception("job %s (%s) failed", job.id, job.kind)
            ok, detail = False, f"Internal error: {type(error).__name__}"
        run(self.database, lambda tx: sync.finish_job(tx, job, ok=ok, detail=detail), write=True)
        return True
