"""`accord serve --workers N`: N worker processes forked to serve one address.

The supervisor opens the sockets (one a worker, on one port: `listen`), and the memory in
which the workers count their limits together (`app.SharedLimits`: the REST API's rate
limit, the failed-authentication and sign-in throttles), before it forks: each worker
inherits them, and serves its socket as one `accord serve` process does
(`server.serve_socket`), with a database connection pool of its own opened after the
fork. The kernel spreads new connections over the sockets.

- The first worker (slot 0) runs the job worker, and only it (`ACCORD_RUN_JOBS`): one job
  worker across the processes, with no lease to renew while idle; a replacement of that
  worker runs it in turn. A job that worker held when it died is taken up again once its
  lease runs out (`store.jobs`).
- A worker that ends while the supervisor runs is replaced (after a pause if it ended
  within a second of its start, so that a worker that cannot start does not spin);
  one that could not start its app (uvicorn's exit status 3) stops them all, status 1.
- SIGTERM or SIGINT to the supervisor: each worker gets SIGTERM and stops accepting, ends
  its requests in flight (`server.SHUTDOWN_SECONDS` at most), hands back the job it ran,
  writes its access log; the supervisor waits for them all, then exits 0. A worker not
  ended `STOP_GRACE_SECONDS` later is killed.

The supervisor itself holds no thread, no database connection and no access log writer
when it forks (a fork copies none of a thread's work, and could copy a lock held).
"""

import contextlib
import logging
import os
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from accord import logs, server
from accord.api.ratelimit import SharedBuckets
from accord.app import SharedLimits
from accord.services.throttle import SharedFailureThrottle
from accord.services.transactions import Database
from accord.settings import Settings

STOP_GRACE_SECONDS = server.SHUTDOWN_SECONDS + 15.0
"""How long the supervisor waits for its workers to stop before it kills them: their
requests' time, then the job worker's (10 s) and the log's."""
STARTUP_FAILURE = 3
"""uvicorn's exit status for an app that failed to start."""
QUICK_DEATH_SECONDS = 1.0
RESPAWN_PAUSE_SECONDS = 1.0
BACKLOG = 2048
_SIGNALS = {signal.SIGTERM, signal.SIGINT, signal.SIGCHLD}
_log = logging.getLogger(__name__)


@dataclass(slots=True)
class Worker:
    slot: int
    pid: int
    started: float


def default_workers(database_url: str) -> int:
    """One worker per core on PostgreSQL; one on SQLite (one writer at a time)."""
    if database_url.startswith("postgresql"):
        return len(os.sched_getaffinity(0)) or 1
    return 1


def listen(host: str, port: int, count: int) -> list[socket.socket]:
    """`count` listening sockets on one address, one for each worker's slot.

    Each has `SO_REUSEPORT`, so the kernel spreads new connections evenly over them. On
    one socket shared by all, the worker that woke first took every connection queued
    (asyncio accepts up to the backlog at once): 8 connections opened together all went
    to one worker, and 2 workers served a point read no faster than one. A socket stays
    open in the supervisor while its worker is replaced: what was queued on it waits for
    the next one.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            listening = socket.socket(family, socket.SOCK_STREAM)
            sockets.append(listening)
            listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            listening.bind((host, port))
            listening.listen(BACKLOG)
    except OSError:
        for each in sockets:
            each.close()
        raise
    return sockets


class Supervisor:
    """Keeps a worker process serving each socket of `listening`, each over a database
    `open_database` opens in it."""

    def __init__(
        self,
        settings: Settings,
        open_database: Callable[[], Database],
        listening: list[socket.socket],
    ) -> None:
        self.settings = settings
        self.open_database = open_database
        self.listening = listening
        self.count = len(listening)
        self.shared = shared_limits(settings)
        self.workers: dict[int, Worker] = {}
        """Running workers by pid."""
        self.stopping = False

    def run(self) -> int:
        """Serve till SIGTERM or SIGINT; the exit status (0, or 1 if a worker could not start)."""
        # Signals wait in the mask till `sigtimedwait` takes them: none is lost between
        # two looks, and none interrupts the supervisor halfway through a fork.
        signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
        logs.shutdown()  # its thread would not survive the fork; each worker starts its own
        _log.info("supervisor %d starting %d workers", os.getpid(), self.count)
        for slot in range(self.count):
            self._start(slot)
        status = 0
        while not self.stopping:
            caught = signal.sigtimedwait(_SIGNALS, 1.0)
            if caught is not None and caught.si_signo != signal.SIGCHLD:
                _log.info(
                    "supervisor: %s, stopping the workers", signal.Signals(caught.si_signo).name
                )
                break
            if self._reap_and_replace():
                status = 1
                break
        self._stop_all()
        for each in self.listening:
            each.close()
        return status

    def _start(self, slot: int) -> None:
        pid = os.fork()
        if pid == 0:  # pragma: no cover (runs in the child, which never returns)
            self._serve(slot)
        self.workers[pid] = Worker(slot, pid, time.monotonic())
        _log.info(
            "worker %d started (slot %d%s)", pid, slot, ", jobs" if self._runs_jobs(slot) else ""
        )

    def _runs_jobs(self, slot: int) -> bool:
        return slot == 0 and self.settings.run_jobs

    def _serve(self, slot: int) -> None:  # pragma: no cover (a worker process)
        status = 1
        try:
            signal.signal(signal.SIGTERM, _exit_quietly)
            signal.signal(signal.SIGINT, _exit_quietly)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, _SIGNALS)
            logs.configure(self.settings.log_format)
            settings = replace(self.settings, run_jobs=self._runs_jobs(slot))
            server.serve_socket(settings, self.open_database(), self.listening[slot], self.shared)
            status = 0
        except SystemExit as leaving:
            status = leaving.code if isinstance(leaving.code, int) else 1
        except BaseException:
            _log.exception("worker %d failed", os.getpid())
        finally:
            logs.flush()
            os._exit(status)

    def _reap_and_replace(self) -> bool:
        """Replace the workers that ended; True if one could not start its app."""
        for pid, status in _ended():
            worker = self.workers.pop(pid, None)
            if worker is None:
                continue
            code = os.waitstatus_to_exitcode(status)
            if code == STARTUP_FAILURE:
                _log.error("worker %d could not start; stopping", pid)
                return True
            _log.warning("worker %d ended (status %d); starting another", pid, code)
            if time.monotonic() - worker.started < QUICK_DEATH_SECONDS:
                time.sleep(RESPAWN_PAUSE_SECONDS)
            self._start(worker.slot)
        return False

    def _stop_all(self) -> None:
        self.stopping = True
        for pid in self.workers:
            _signal(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        while self.workers and time.monotonic() < deadline:
            for pid, _ in _ended():
                self.workers.pop(pid, None)
            if self.workers:
                signal.sigtimedwait({signal.SIGCHLD}, 0.2)
        for pid in list(self.workers):
            _log.error("worker %d did not stop in %.0f s; killed", pid, STOP_GRACE_SECONDS)
            _signal(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        _log.info("supervisor %d: every worker stopped", os.getpid())


def shared_limits(settings: Settings) -> SharedLimits:
    """The limits the workers count together, in memory made before they are forked."""
    rate = settings.api_rate_limit
    return SharedLimits(
        rate=SharedBuckets(rate, settings.api_rate_burst or rate) if rate else None,
        auth_failures=SharedFailureThrottle(settings.auth_failure_limit)
        if settings.auth_failure_limit
        else None,
        sign_ins=SharedFailureThrottle(settings.sign_in_failure_limit)
        if settings.sign_in_failure_limit
        else None,
    )


def _ended() -> list[tuple[int, int]]:
    """The children that ended since the last look: (pid, wait status)."""
    ended: list[tuple[int, int]] = []
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return ended
        if pid == 0:
            return ended
        ended.append((pid, status))


def _signal(pid: int, number: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, number)


def _exit_quietly(_number: int, _frame: object) -> None:  # pragma: no cover (a worker)
    """A worker told to stop before uvicorn listens for it, or by uvicorn once it has
    stopped (it raises the signal again): exit 0, not by the signal."""
    raise SystemExit(0)
