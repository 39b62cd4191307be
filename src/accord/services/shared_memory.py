"""A table of fixed-size slots in memory shared by the worker processes of one server.

`accord serve --workers N` makes its tables before it forks the workers, so each worker
maps the same pages: what one writes the others read at once. A slot starts with the
digest of its key (0: free); a key may take one of `PROBES` slots from its digest.

One lock across processes guards the table (a semaphore: 0.1 us; a POSIX record lock,
which the kernel would release for a holder that died, measured 100 times that). A
worker killed while it holds it (a hold lasts microseconds) would stop the others: a
caller that waits `STUCK_SECONDS` for it takes it over. Keys are told apart by Python's
`hash`, which is the same in every process forked from the one that made the table (and,
keyed at random per start, unpredictable to a client).
"""

import contextlib
import logging
import math
import mmap
import multiprocessing
import struct
from collections.abc import Callable
from typing import Any

PROBES = 8
"""Slots a key may take, from the one its digest names."""
STUCK_SECONDS = 1.0
"""How long a caller waits for the lock before it decides its holder died."""
_log = logging.getLogger(__name__)

Fields = tuple[Any, ...]


def digest(key: str) -> int:
    """The key's digest in a slot (never 0, which marks a free slot)."""
    return hash(key) & 0xFFFF_FFFF_FFFF_FFFF or 1


class SharedTable:
    """`slots` slots of `layout` (its first field: the key's digest, an unsigned 64-bit
    integer), shared with the processes forked after it was made."""

    def __init__(self, layout: struct.Struct, slots: int) -> None:
        self.layout = layout
        self.slots = slots
        self.memory = mmap.mmap(-1, slots * layout.size)  # anonymous, shared with children
        self.lock = multiprocessing.Lock()

    def close(self) -> None:
        self.memory.close()

    def __enter__(self) -> None:
        """The table's lock, held for the block (taken over if held too long). A class's
        `__enter__`, not a generator's: 0.4 us a hold, not 2.5."""
        if not self.lock.acquire(timeout=STUCK_SECONDS):
            _log.error("a shared table's lock was held %.0f s: taken over", STUCK_SECONDS)

    def __exit__(self, *_: object) -> None:
        # Taken over from a holder that was only slow, the lock may be free already.
        with contextlib.suppress(ValueError):
            self.lock.release()

    def find(self, key: int, idle_since: Callable[[Fields], float]) -> tuple[int, Fields | None]:
        """The offset of `key`'s slot and its fields; if it has none, the offset of the
        slot it may take and None: a free one, else the one `idle_since` puts first (it
        says -inf for a slot whose content is as good as gone). Call it holding the lock."""
        first = key % self.slots
        chosen, chosen_since = 0, math.inf
        for probe in range(PROBES):
            offset = (first + probe) % self.slots * self.layout.size
            fields = self.layout.unpack_from(self.memory, offset)
            if fields[0] == key:
                return offset, fields
            since = -math.inf if fields[0] == 0 else idle_since(fields)
            if since < chosen_since:
                chosen, chosen_since = offset, since
        return chosen, None

    def write(self, offset: int, *fields: Any) -> None:
        self.layout.pack_into(self.memory, offset, *fields)
