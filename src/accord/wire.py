"""How Accord reads HTTP off a socket: uvicorn's httptools protocol, with limits.

httptools, uvicorn's fast HTTP parser, has no limit of its own on a request head and
keeps what it has read of a header in memory until the header ends, and uvicorn keeps
a connection open as long as its client does. So, for every connection:

- the request target is read up to 65,535 bytes (what the parser can split into path
  and query), the rest of the head up to `max_header_bytes`; past either the request
  is refused (414, 431) while it arrives, and the connection closed;
- a head must arrive within `header_timeout` of its first byte (or of the connection,
  for the first one), and a kept-alive connection may sit idle `idle_timeout` between
  requests;
- while a request's body is still expected (its Content-Length not reached, or chunked
  and not ended), a part of it must arrive every `header_timeout` seconds (as nginx's
  `client_body_timeout`); past that, the request gets a 408 if nothing was answered yet,
  the connection closes, and the app's `receive()` gets `http.disconnect`. The time waits
  while the server is not asking for more: its reading paused (the app has not taken
  what came), or a `100 Continue` not yet sent;
- past `max_connections` open connections, a new one closes those idle longest (no
  request being served: nothing sent, a head coming, a body the app waits for, or kept
  alive), so that idle sockets cannot lock everyone else out; with none idle, the new
  one is closed;
- a request the parser refuses gets an answer in the form of its path: the legacy API
  promises a JSON envelope with HTTP 200 for every call (clients read `success` and
  treat other statuses as transport failures), any other path a problem JSON.
"""

import asyncio
import heapq
from asyncio import TimerHandle
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import unquote, urlsplit

import httptools
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle
from uvicorn.server import ServerState

from accord.api import problems
from accord.legacy.render import MEDIA_TYPE, failure
from accord.legacy.routes import API_PATH, UPDATE_NOM_PATH
from accord.settings import Settings

MAX_URL_BYTES = 65_535
"""The longest request target httptools splits into path and query (its offsets are 16-bit)."""
LEGACY_PATHS = (API_PATH, UPDATE_NOM_PATH)
LONGEST_INSTANCE = 1000
"""A path up to this long is named in a problem as its `instance`."""
SHED_AT_ONCE = 64
"""At the connection limit, 1/64 of it (at least one) is closed at once."""
HEAD_START_BYTES = 256
"""How much of a head is kept to find its path when the parser fails within the URL."""

URL_TOO_LONG = (
    f"The URL is longer than the {MAX_URL_BYTES:,} bytes this server reads"
    " (a long filter fits in the body of POST .../search)"
)
TOO_LARGE = "Request too large"
"""The legacy API's message for a request over a limit (as for a long body)."""
BAD_URL = (
    "Invalid request: the URL holds a byte that must be percent-encoded"
    " (a control character, or a byte over 127: write UTF-8 text as %XX escapes)"
)
BAD_METHOD = "Invalid request: the method is not an HTTP method"
MALFORMED = "Invalid request: the request line or a header is not well-formed HTTP/1.1"


_DEFAULT = Settings()


@dataclass(frozen=True, slots=True)
class Limits:
    """What one connection may take of the server (see the module's docstring)."""

    max_header_bytes: int = _DEFAULT.max_header_bytes
    header_timeout: float = _DEFAULT.header_timeout
    """Seconds a client has to send a request's head, and between two parts of its body;
    0: no limit."""
    idle_timeout: float = _DEFAULT.idle_timeout
    """0: the connection closes after each response."""
    max_connections: int = _DEFAULT.max_connections

    @classmethod
    def of(cls, settings: Settings) -> "Limits":
        return cls(
            max_header_bytes=settings.max_header_bytes,
            header_timeout=settings.header_timeout,
            idle_timeout=settings.idle_timeout,
            max_connections=settings.max_connections,
        )


@dataclass(frozen=True, slots=True)
class _Refusal:
    status: int
    phrase: bytes
    code: str
    detail: str
    legacy: str
    """The legacy API's message (its reply is HTTP 200)."""


def protocol(limits: Limits) -> type["AccordHttpProtocol"]:
    """The protocol class uvicorn makes one of per connection, under `limits`."""

    class Limited(AccordHttpProtocol):
        LIMITS = limits
        SHED: ClassVar[set[AccordHttpProtocol]] = set()

    return Limited


class AccordHttpProtocol(HttpToolsProtocol):
    LIMITS: ClassVar[Limits] = Limits()
    SHED: ClassVar[set["AccordHttpProtocol"]] = set()
    """Connections closed to make room, till they are gone (at the next turn of the loop)."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        # uvicorn annotates its keep-alive as whole seconds; the loop takes any float.
        self.timeout_keep_alive = self.LIMITS.idle_timeout  # type: ignore[assignment]
        self.url = b""
        self.last_active = 0.0
        """When the client last sent something, or was last answered."""
        self._in_head = True
        """The parser is within a request's head (or waits for the next one)."""
        self._begun = False
        """The head's first byte has arrived, and the body has not all arrived."""
        self._head_bytes = 0
        """Bytes of this head handed to the parser (its target included)."""
        self._head_start = b""
        self._head_since = 0.0
        """When the head being read began (the first one: when the connection was made)."""
        self._timer: TimerHandle | None = None
        """When to look at the deadline of the head or the body being read (one at a time)."""
        self._held = False
        """At the last look, the server was not asking for the body."""
        self._asked_at = 0.0
        """When the server was first seen asking for the body again, after holding it."""

    # The connection

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        room = self._make_room()
        super().connection_made(transport)
        self.last_active = self._head_since = self.loop.time()
        if not room:
            transport.close()
            return
        self._start_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_timer()
        self.SHED.discard(self)
        super().connection_lost(exc)

    def _make_room(self) -> bool:
        """Whether this new connection may stay: at the limit, the connections idle the
        longest are closed for it; none idle, this one is refused.

        A few are closed at once (`SHED_AT_ONCE`), so that a flood of connections does
        not look through all of them for each one.
        """
        limit = self.LIMITS.max_connections
        if len(self.connections) - len(self.SHED) < limit:
            return True
        idle = [
            c
            for c in self.connections
            if isinstance(c, AccordHttpProtocol) and c.idle and c not in self.SHED
        ]
        if not idle:
            return False
        for idlest in heapq.nsmallest(max(1, limit // SHED_AT_ONCE), idle, key=_last_active):
            idlest.transport.close()
            self.SHED.add(idlest)
        return True

    @property
    def idle(self) -> bool:
        """No request of this connection is being served: the server waits for its client
        (or for nothing)."""
        cycle = self.cycle
        if cycle is None or cycle.response_complete:
            return True
        return self._waits_for_body() and not cycle.response_started

    def _waits_for_body(self) -> bool:
        """A request's body is still expected, and the server asks the client for it."""
        return (
            self._begun
            and not self._in_head
            and not self.flow.read_paused
            and not self.cycle.waiting_for_100_continue
        )

    # Reading

    def data_received(self, data: bytes) -> None:
        self.last_active = self.loop.time()
        self._unset_keepalive_if_required()
        rest: bytes | memoryview = data
        while self._in_head and rest:
            if not self._begun and not self._head_bytes:
                self._head_start = bytes(rest[:HEAD_START_BYTES])
            # The target is bounded on its own (`on_url`); the rest of the head here,
            # before the parser sees it: it would keep an unfinished header whole.
            room = self.LIMITS.max_header_bytes + len(self.url) - self._head_bytes
            if room <= 0:
                self._refuse(self._headers_too_large())
                return
            if len(rest) <= room:
                piece, rest = rest, b""
            else:  # fed a piece at a time, so that the target read so far gives room
                view = memoryview(rest)
                piece, rest = view[:room], view[room:]
            self._head_bytes += len(piece)
            if not self._feed(piece):
                return
        if rest and not self._feed(rest):
            return
        # At most one timer a connection, left to run (and look at whatever request is
        # read then) rather than made and cancelled for each request or chunk of body.
        if self._begun and self._timer is None:
            self._start_timer()

    def _feed(self, data: bytes | memoryview) -> bool:
        """Hand `data` to the parser; False when the connection is done with."""
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as error:
            self._refuse(self._malformed(error))
            return False
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return False
        return not self.transport.is_closing()

    def on_message_begin(self) -> None:
        self._begun = True
        if self.cycle is not None:  # the first head's time runs from the connection
            self._head_since = self.last_active
        super().on_message_begin()

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        if len(self.url) > MAX_URL_BYTES:
            raise _UrlTooLong  # the parser stops and raises a parser error

    def on_headers_complete(self) -> None:
        self._in_head = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._in_head, self._begun, self._head_bytes, self._head_start = True, False, 0, b""
        self._held = False
        self.url = b""  # the scope has it; the next head's target is counted from here
        super().on_message_complete()

    def on_response_complete(self) -> None:
        self.last_active = self.loop.time()
        super().on_response_complete()

    # Timeouts

    def _start_timer(self, delay: float | None = None) -> None:
        if self.LIMITS.header_timeout:
            self._timer = self.loop.call_later(
                self.LIMITS.header_timeout if delay is None else delay, self._timed_out
            )

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _timed_out(self) -> None:
        self._timer = None
        if self.transport.is_closing():
            return
        now = self.loop.time()
        if not self._begun:
            cycle: RequestResponseCycle | None = self.cycle  # None till a head was read
            if cycle is None:  # connected, and sent nothing in time
                self.transport.close()
            # else between requests: the keep-alive timeout's, or a request being served
        elif not self._in_head:
            self._body_timed_out(now)
        elif not self.idle:  # the next head came during a response: it waits for it
            self._head_since = now
            self._start_timer()
        elif now < self._head_since + self.LIMITS.header_timeout:
            self._start_timer(self._head_since + self.LIMITS.header_timeout - now)
        else:
            self._refuse(self._too_slow())

    def _body_timed_out(self, now: float) -> None:
        """Close the connection if no part of the body came for `header_timeout` while
        the server asked for it; else look again when it may have."""
        if not self._waits_for_body():
            self._held = True
            self._start_timer()
            return
        if self._held:
            # The server asked again somewhere since the last look: from now, the client
            # has the whole timeout (between one and two of them in all).
            self._held, self._asked_at = False, now
        quiet_since = max(self.last_active, self._asked_at)
        left = quiet_since + self.LIMITS.header_timeout - now
        if left > 0:
            self._start_timer(left)
        elif self.cycle.response_started:  # answered already (or answering): only closed
            self.transport.close()
        else:
            self._refuse(self._body_too_slow())

    # Refusals, in the form of the path they were for

    def _malformed(self, error: httptools.HttpParserError) -> _Refusal:
        if len(self.url) > MAX_URL_BYTES:
            return _Refusal(414, b"URI Too Long", "uri_too_long", URL_TOO_LONG, TOO_LARGE)
        if isinstance(error, httptools.HttpParserInvalidURLError):
            message = BAD_URL
        elif isinstance(error, httptools.HttpParserInvalidMethodError):
            message = BAD_METHOD
        else:
            message = MALFORMED
        return _Refusal(400, b"Bad Request", "bad_request", message, message)

    def _headers_too_large(self) -> _Refusal:
        detail = (
            f"The request's headers are longer than the {self.LIMITS.max_header_bytes:,}"
            " bytes this server reads"
        )
        return _Refusal(
            431, b"Request Header Fields Too Large", "headers_too_large", detail, TOO_LARGE
        )

    def _too_slow(self) -> _Refusal:
        detail = f"The request's head did not arrive within {self.LIMITS.header_timeout:g} seconds"
        return _Refusal(408, b"Request Timeout", "request_timeout", detail, "Request timeout")

    def _body_too_slow(self) -> _Refusal:
        detail = f"No part of the request's body arrived for {self.LIMITS.header_timeout:g} seconds"
        return _Refusal(408, b"Request Timeout", "request_timeout", detail, "Request timeout")

    def _refuse(self, refusal: _Refusal) -> None:
        """Answer `refusal` and close: the rest of the request is never read."""
        self._stop_timer()
        if self.transport.is_closing():
            return
        path, known = self._path()
        if path in LEGACY_PATHS:
            self._send_and_close(b"200 OK", MEDIA_TYPE, failure(refusal.legacy))
            return
        instance = path if known and len(path) <= LONGEST_INSTANCE else ""
        body = problems.problem_body(
            refusal.status, refusal.code, refusal.detail, instance=instance
        )
        status = str(refusal.status).encode() + b" " + refusal.phrase
        self._send_and_close(status, problems.MEDIA_TYPE, body)

    def _path(self) -> tuple[str, bool]:
        """The path the request was for, as routing would see it, and whether the parser
        read it (else it comes from the raw head, which the parser refused within its
        target; "" when unknown)."""
        if self.url:
            return _path(self.url), True
        line = self._head_start.lstrip(b"\r\n").split(b"\r\n", 1)[0]
        parts = line.split(b" ", 2)
        return (_path(parts[1]) if len(parts) > 1 else ""), False

    def _send_and_close(self, status: bytes, media_type: str, body: bytes) -> None:
        head = (
            b"HTTP/1.1 " + status + b"\r\ncontent-type: " + media_type.encode() + b"\r\n"
            b"content-length: " + str(len(body)).encode() + b"\r\nconnection: close\r\n\r\n"
        )
        self.transport.write(head + body)
        self.transport.close()


def _last_active(connection: AccordHttpProtocol) -> float:
    return connection.last_active


class _UrlTooLong(Exception):
    pass


def _path(target: bytes) -> str:
    """The path a request target names, percent-decoded (as routing sees it); "" when
    it names none (`http://[` is no URL)."""
    try:
        return unquote(urlsplit(target.decode("latin-1")).path)
    except ValueError:
        return ""
