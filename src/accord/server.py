"""Serving the app with uvicorn, and the one thing Accord changes in how it speaks HTTP.

httptools, uvicorn's fast HTTP parser, refuses a URL longer than 65,535 bytes before any
application sees it, with a plain-text 400. The legacy API promises a JSON reply to
every call (clients read `success` and treat other statuses as transport failures), so
such a request gets the envelope the app gives a body over the size limit.
"""

import gc
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from accord.app import create_app
from accord.legacy.render import MEDIA_TYPE, failure
from accord.services.transactions import Database
from accord.settings import Settings

MAX_URL_BYTES = 65_535
GC_YOUNG_OBJECTS = 10_000
"""Allocations between two collections of the youngest generation (Python's default: 700)."""


class AccordHttpProtocol(HttpToolsProtocol):
    def send_400_response(self, msg: str) -> None:
        if len(self.url) <= MAX_URL_BYTES:
            super().send_400_response(msg)
            return
        body = failure("Request too large")
        head = (
            b"HTTP/1.1 200 OK\r\ncontent-type: " + MEDIA_TYPE.encode() + b"\r\n"
            b"content-length: " + str(len(body)).encode() + b"\r\nconnection: close\r\n\r\n"
        )
        self.transport.write(head + body)
        self.transport.close()


def config(settings: Settings, database: Database, **options: Any) -> uvicorn.Config:
    """uvicorn's configuration for Accord: one process, Accord's logging, no access log of
    uvicorn's own (it would print the query string, and with it the API key)."""
    options.setdefault("log_config", None)
    return uvicorn.Config(
        create_app(settings, database=database),
        http=AccordHttpProtocol,
        access_log=False,
        server_header=False,
        **options,
    )


def serve(settings: Settings, database: Database, *, host: str, port: int) -> None:
    server = uvicorn.Server(config(settings, database, host=host, port=port))
    settle_garbage_collector()
    server.run()


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
