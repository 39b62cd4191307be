"""Throttling of failed authentication, in this process: failures counted by key (a client
address, a login), and the credentials seen to succeed.

A key that fails `per_minute` times within a minute of its first failure is locked for
`COOL_DOWN` seconds (then counts afresh); the edges refuse what a locked key names
without checking its credential. Which keys a request names, and which credentials let
it through a lock, is each edge's rule: the throttle only counts.

Memory is bounded: at most `MAX_KEYS` keys and `MAX_KEYS` credentials are kept, the least
recently failed and the first seen forgotten first; a key whose minute is over and that
is not locked is forgotten as soon as a new key comes (a new one is the same).
Credentials are kept as the caller gives them: digests, never secrets.

Safe to call from worker threads: changes take a lock; lookups are single dict reads.
"""

import math
import mmap
import struct
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from accord.services.shared_memory import Fields, SharedTable, digest

WINDOW = 60.0
"""Seconds from a key's first failure in which its failures are counted together."""
COOL_DOWN = 60.0
"""Seconds a key stays locked once it reached the limit."""
MAX_KEYS = 100_000
"""Keys counted, and credentials remembered, at most; past this the oldest are forgotten."""
MAX_KEY_CHARS = 256
"""A longer key (a login of a megabyte) is counted by its first characters."""


@dataclass(slots=True)
class _Failures:
    first: float
    """When the window in which `count` failures were counted began."""
    count: int = 0
    locked_until: float = 0.0


class FailureThrottle:
    """Failed authentications by key; `per_minute` 0 counts nothing and locks nothing."""

    def __init__(self, per_minute: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = per_minute
        self.clock = clock
        self.failures: OrderedDict[str, _Failures] = OrderedDict()
        self.vouched: dict[Hashable, None] = {}
        """Credentials seen to succeed, oldest first."""
        self._lock: AbstractContextManager[Any] = threading.Lock()

    def anyone_failed(self) -> bool:
        """Whether a key failed lately (False: nothing is locked, nothing need be looked up)."""
        return bool(self.failures)

    def locked(self, key: str) -> int:
        """Whole seconds until `key` may be tried again; 0 when it may be tried now."""
        if not self.failures:  # nobody failed lately: the usual case costs this test alone
            return 0
        entry = self.failures.get(_bounded(key))
        if entry is None:
            return 0
        left = entry.locked_until - self.clock()
        return math.ceil(left) if left > 0 else 0

    def fail(self, *keys: str) -> None:
        """Count one failed authentication against each of `keys`."""
        if not self.limit:
            return
        with self._lock:
            now = self.clock()
            for key in keys:
                self._fail(_bounded(key), now)

    def vouch(self, credential: Hashable, *implied: Hashable) -> None:
        """Remember that `credential` succeeded, and the `implied` ones with it. Only the
        first is looked up: a credential known already costs one lookup."""
        if not self.limit or credential in self.vouched:
            return
        with self._lock:
            for each in (credential, *implied):
                self.vouched[each] = None
            while len(self.vouched) > MAX_KEYS:
                del self.vouched[next(iter(self.vouched))]

    def is_vouched(self, credential: Hashable) -> bool:
        """Whether `credential` succeeded lately (and has not failed since)."""
        return credential in self.vouched

    def disown(self, *credentials: Hashable) -> None:
        """Forget that `credentials` succeeded: they just failed (a key changed, a token
        was revoked)."""
        with self._lock:
            for credential in credentials:
                self.vouched.pop(credential, None)

    def _fail(self, key: str, now: float) -> None:
        entry = self.failures.get(key)
        if entry is None:
            self._forget_idle(now)
            entry = self.failures[key] = _Failures(now)
        else:
            self.failures.move_to_end(key)
            if entry.locked_until > now:
                return  # locked already: the cool-down runs from the lock, not the last try
            if now - entry.first >= WINDOW:
                entry.first, entry.count = now, 0
        entry.count += 1
        if entry.count >= self.limit:
            entry.locked_until = now + COOL_DOWN
            # Counted afresh once the lock is over.
            entry.first, entry.count = entry.locked_until - WINDOW, 0

    def _forget_idle(self, now: float) -> None:
        """Drop the oldest keys whose minute is over and that are not locked, and any
        beyond MAX_KEYS, so that many keys cannot fill the memory."""
        while self.failures:
            key, oldest = next(iter(self.failures.items()))
            idle = oldest.locked_until <= now and now - oldest.first >= WINDOW
            if not idle and len(self.failures) < MAX_KEYS:
                return
            del self.failures[key]


SHARED_SLOTS = 1 << 16
"""Keys `SharedFailureThrottle` counts at most (32 bytes each: 2 MiB)."""
_COUNT = struct.Struct("<Qddd")
"""A shared count: its key's digest (0: free), when its window began, its failures, and
until when it is locked."""
_LAST = struct.Struct("<d")


class SharedFailureThrottle(FailureThrottle):
    """The failures counted in memory shared with every process forked after it was made
    (`shared_memory`): a limit of N a minute is N across the workers. The credentials seen
    to succeed stay each process's own (a credential is vouched for in a worker once it
    succeeded there). A key without a count takes a free slot, one whose minute is over
    and that is not locked, or the one that began counting longest ago."""

    def __init__(
        self,
        per_minute: int,
        *,
        slots: int = SHARED_SLOTS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(per_minute, clock=clock)
        self.table = SharedTable(_COUNT, slots)
        self._lock = self.table  # the counts are every worker's: so is their lock
        # When a key last failed, in every process: the usual request (nobody failed
        # lately) reads these 8 bytes alone, without the lock.
        self.last_failure = mmap.mmap(-1, _LAST.size)
        _LAST.pack_into(self.last_failure, 0, -math.inf)

    def close(self) -> None:
        self.table.close()
        self.last_failure.close()

    def anyone_failed(self) -> bool:
        (last,) = _LAST.unpack_from(self.last_failure, 0)
        return bool(self.clock() - last < max(WINDOW, COOL_DOWN))

    def locked(self, key: str) -> int:
        if not self.anyone_failed():
            return 0
        with self.table:
            _, found = self.table.find(digest(_bounded(key)), self._idle_since)
        if found is None:
            return 0
        left = found[3] - self.clock()
        return math.ceil(left) if left > 0 else 0

    def _fail(self, key: str, now: float) -> None:
        """Count one failure of `key` (holding the table's lock: `fail` takes `_lock`)."""
        self._count(digest(key), now)
        _LAST.pack_into(self.last_failure, 0, now)

    def _count(self, key: int, now: float) -> None:
        offset, found = self.table.find(key, lambda fields: self._idle_since(fields, now))
        first, count, locked_until = (now, 0.0, 0.0) if found is None else found[1:]
        if locked_until > now:
            return  # locked already: the cool-down runs from the lock, not the last try
        if now - first >= WINDOW:
            first, count = now, 0.0
        count += 1
        if count >= self.limit:
            locked_until = now + COOL_DOWN
            first, count = locked_until - WINDOW, 0.0  # counted afresh once the lock is over
        self.table.write(offset, key, first, count, locked_until)

    def _idle_since(self, fields: Fields, now: float | None = None) -> float:
        _, first, _, locked_until = fields
        now = self.clock() if now is None else now
        return -math.inf if locked_until <= now and now - first >= WINDOW else first


def address_key(client: tuple[str, int] | None) -> str:
    """The key of a client address (an ASGI scope's `client`; None: unknown, one key)."""
    return "address:" + (client[0] if client else "")


def _bounded(key: str) -> str:
    return key if len(key) <= MAX_KEY_CHARS else key[:MAX_KEY_CHARS]
