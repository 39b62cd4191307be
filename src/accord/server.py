"""Serving the app with uvicorn, and the one thing Accord changes in how it speaks HTTP.

httptools, uvicorn's fast HTTP parser, refuses a URL longer than 65,535 bytes before any
application sees it, with a plain-text 400. The legacy API promises a JSON reply to
every call (clients read `success` and treat other statuses as transport failures), so
such a request to a legacy path gets the envelope the app gives a body over the size
limit; any other gets a 414 as problem JSON, the form of every REST API error.
"""

import gc
from typing import Any
from urllib.parse import unquote, urlsplit

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from accord.api import problems
from accord.app import create_app
from accord.legacy.render import MEDIA_TYPE, failure
from accord.legacy.routes import API_PATH, UPDATE_NOM_PATH
from accord.services.transactions import Database
from accord.settings import Settings

MAX_URL_BYTES = 65_535
GC_YOUNG_OBJECTS = 10_000
"""Allocations between two collections of the youngest generation (Python's default: 700)."""


LEGACY_PATHS = (API_PATH, UPDATE_NOM_PATH)
URL_TOO_LONG = (
    f"The URL is longer than the {MAX_URL_BYTES:,} bytes this server reads"
    " (a long filter fits in the body of POST .../search)"
)
LONGEST_INSTANCE = 1000
"""A path up to this long is named in the 414 problem as its `instance`."""


class AccordHttpProtocol(HttpToolsProtocol):
    def send_400_response(self, msg: str) -> None:
        if len(self.url) <= MAX_URL_BYTES:
            super().send_400_response(msg)
            return
        path = _path(self.url)
        if path in LEGACY_PATHS:
            self._send_and_close(b"200 OK", MEDIA_TYPE, failure("Request too large"))
            return
        instance = path if len(path) <= LONGEST_INSTANCE else ""
        body = problems.problem_body(414, "uri_too_long", URL_TOO_LONG, instance=instance)
        self._send_and_close(b"414 URI Too Long", problems.MEDIA_TYPE, body)

    def _send_and_close(self, status: bytes, media_type: str, body: bytes) -> None:
        head = (
            b"HTTP/1.1 " + status + b"\r\ncontent-type: " + media_type.encode() + b"\r\n"
            b"content-length: " + str(len(body)).encode() + b"\r\nconnection: close\r\n\r\n"
        )
        self.transport.write(head + body)
        self.transport.close()


def _path(target: bytes) -> str:
    """The path a request target names, percent-decoded (as routing sees it)."""
    return unquote(urlsplit(target.decode("latin-1")).path)


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
