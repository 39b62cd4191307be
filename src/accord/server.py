"""Serving the app with uvicorn in one process, Accord's logging, and Accord's way of
reading HTTP off the socket (`accord.wire`: limits on heads, idle connections and the
number of connections; refusals in the form of their path). Several processes are
`accord.supervisor`'s: each of them serves as here, on a socket it is given."""

import gc
import logging
import resource
import socket
from dataclasses import replace
from typing import Any

import uvicorn

from accord import wire
from accord.app import SharedLimits, create_app
from accord.services.transactions import Database
from accord.settings import Settings

GC_YOUNG_OBJECTS = 10_000
"""Allocations between two collections of the youngest generation (Python's default: 700)."""
SHUTDOWN_SECONDS = 30.0
"""How long a stopping server lets the requests in flight run before it cancels them."""
SPARE_FILES = 256
"""Descriptors kept for what is not a client connection: database connections, logs, ..."""
_log = logging.getLogger(__name__)


def config(
    settings: Settings,
    database: Database,
    *,
    shared: SharedLimits | None = None,
    **options: Any,
) -> uvicorn.Config:
    """uvicorn's configuration for Accord: one process, Accord's logging, no access log of
    uvicorn's own (it would print the query string, and with it the API key).

    X-Forwarded-For and X-Forwarded-Proto are read only from `settings.trusted_proxies`
    (uvicorn's default trusts them from 127.0.0.1, so any local client could name any
    address, and escape every per-address limit by inventing a new one each time).
    """
    options.setdefault("log_config", None)
    options.setdefault("timeout_graceful_shutdown", SHUTDOWN_SECONDS)
    return uvicorn.Config(
        create_app(settings, database=database, shared=shared),
        http=wire.protocol(wire.Limits.of(settings)),
        access_log=False,
        server_header=False,
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=list(settings.trusted_proxies),
        **options,
    )


def serve(settings: Settings, database: Database, *, host: str, port: int) -> None:
    server = uvicorn.Server(config(within_open_files(settings), database, host=host, port=port))
    settle_garbage_collector()
    server.run()


def serve_socket(
    settings: Settings, database: Database, listening: socket.socket, shared: SharedLimits
) -> None:
    """Serve on `listening`, a socket other processes serve too, counting in `shared` the
    limits they count together (a worker's part)."""
    options = config(within_open_files(settings), database, shared=shared)
    server = uvicorn.Server(options)
    settle_garbage_collector()
    server.run(sockets=[listening])


def within_open_files(settings: Settings) -> Settings:
    """`settings`, with fewer connections kept if the process may not open enough files."""
    files = allow_open_files(settings.max_connections + SPARE_FILES)
    if files < settings.max_connections + SPARE_FILES:
        connections = max(1, files - SPARE_FILES)
        _log.warning(
            "the process may open %d files: it keeps %d connections, not"
            " ACCORD_MAX_CONNECTIONS=%d (raise `ulimit -n` for more)",
            files,
            connections,
            settings.max_connections,
        )
        settings = replace(settings, max_connections=connections)
    return settings


def allow_open_files(wanted: int) -> int:
    """Raise the process's limit on open files to `wanted` if its hard limit allows; the
    limit then.

    Past it, accepting a connection fails, and uvicorn stops accepting for a second at a
    time: the connection limit must come first, to close the idlest for the new one.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= wanted:
        return wanted
    new = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
    return new


def settle_garbage_collector() -> None:
    """Keep the cycle collector out of the way of requests that allocate a lot.

    A batch of 1000 upserts makes a few hundred thousand objects and keeps many alive
    till it ends; with Python's default thresholds the collector ran through them (and
    through every module, class and function loaded at start) so often that it took 40 %
    of the batch (172 -> 102 ms a batch at 1,000,000 companies, the collector off:
    100 ms). What exists at start lives as long as the process, so it is frozen: no
    collection looks at it again.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_OBJECTS, *gc.get_threshold()[1:])
