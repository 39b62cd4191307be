"""SQLite's checkpoints, taken off the writers' path.

In WAL mode a commit appends the pages it changed to the log, and a checkpoint copies
them back into the database file and syncs it. SQLite runs the checkpoint inside the
commit that takes the log over a threshold, so one request paid for the writers before
it: at a million companies, every third or fourth batch of 1000 upserts took 180 ms
longer than the others. Here a thread of its own checkpoints soon after writes
commit. SQLite lets writers go on appending during such a (passive) checkpoint, and the
thread mostly waits on the disk, not on the interpreter, so requests go on meanwhile.
The automatic checkpoint stays, at a higher threshold, for when the thread falls behind.

SQLite never shrinks the log by itself: it reuses the file from its start once a
checkpoint has copied all of it, and a burst of writes while readers held old pages
left it at its largest (226 MB for a 34 MB database). `journal_size_limit` (set by
`engine`) cuts it back when a commit starts it over; and once a checkpoint here has
copied the whole log and the file is still over that limit, the thread empties it then
and there (TRUNCATE), if no reader is on it, without waiting for one.
"""

import logging
import os
import threading

import sqlalchemy as sa
from sqlalchemy.pool import PoolProxiedConnection

from accord.store import limits

_log = logging.getLogger(__name__)

PAUSE_SECONDS = 0.5
"""The least time between two checkpoints. Each one syncs the database file, so small
writes (hundreds a second) share one; batches of 1000 upserts log about 13 MB each,
so two or three share one, far below the automatic checkpoint's 160 MB."""


class Checkpointer:
    """Checkpoints an SQLite database's log in a thread, after writes commit."""

    def __init__(self, engine: sa.Engine, *, pause: float = PAUSE_SECONDS) -> None:
        self._engine = engine
        self._pause = pause
        self._wanted = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def wrote(self) -> None:
        """A write committed: checkpoint soon (the thread starts with the first write)."""
        if self._thread is None:
            self._start()
        self._wanted.set()

    def stop(self) -> None:
        """Stop the thread (a checkpoint under way ends first) and close its connection."""
        with self._lock:
            thread, self._thread = self._thread, None
            self._stopping.set()
        self._wanted.set()
        if thread is not None:
            thread.join()

    def _log_bytes(self) -> int:
        try:
            return os.path.getsize(f"{self._engine.url.database}-wal")
        except OSError:
            return 0

    def _start(self) -> None:
        with self._lock:
            if self._thread is not None or self._stopping.is_set():
                return
            # A daemon: a process that never disposes its database still ends (a
            # checkpoint cut short is safe: the log keeps every page until one completes).
            self._thread = threading.Thread(target=self._run, name="sqlite-checkpoints")
            self._thread.daemon = True
            self._thread.start()

    def _run(self) -> None:
        connection = self._engine.raw_connection()
        limits.disarm(connection.info)  # its statements are the checkpoints, never timed
        cursor = connection.cursor()
        # TRUNCATE waits for readers to leave the log, holding the writers' lock, for as
        # long as the busy timeout: never, here (PASSIVE never waits anyway).
        cursor.execute("PRAGMA busy_timeout=0")
        cursor.execute("PRAGMA journal_size_limit")
        ((limit,),) = cursor.fetchall()
        cursor.close()
        try:
            while not self._stopping.is_set():
                self._wanted.wait()
                if self._stopping.is_set():
                    break
                self._wanted.clear()
                self._checkpoint(connection, limit)
                self._stopping.wait(self._pause)
        finally:
            connection.invalidate()  # closed: its busy timeout is not the others'

    def _checkpoint(self, connection: PoolProxiedConnection, limit: int) -> None:
        cursor = connection.cursor()
        try:
            # PASSIVE: copies what no reader still needs, never waits for a lock.
            cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
            ((busy, logged, copied),) = cursor.fetchall()
            if not busy and logged == copied and self._log_bytes() > max(limit, 0):
                # All of it copied: empty the file now (it fails, changing nothing, if a
                # reader or a writer is on the log; the next checkpoint tries again).
                cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                cursor.fetchall()
        except Exception:  # the next write wakes it again; the commit path's fallback stays
            _log.exception("SQLite checkpoint failed")
        finally:
            cursor.close()
