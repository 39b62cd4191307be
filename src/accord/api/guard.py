"""What a REST request must show before its body is read, and how much body it may send.

FastAPI reads and parses a request's body before it resolves a single dependency, so a
check of the token in a dependency comes after the body is in memory: a 300 MB body
without a token took the process from 89 MB to 987 MB to answer a 400. This middleware,
ahead of FastAPI, answers first:

- a request under the prefix with no bearer token: 401, before anything else;
- one that sends a body (a Content-Length above 0, or a Transfer-Encoding): its token is
  checked in a short read transaction of its own, and a token that is not valid gets the
  401 there, before any byte of the body is read (the server also holds back the `100
  Continue` a client may wait for). The request's own transaction checks the token again,
  since it may be revoked in between, and finds it in the database's cache of
  authentications, filled here: one lookup of the token per call, as before;
- a Content-Length over the cap: 413 at once; a body that grows past the cap while it is
  read (chunked, or longer than it said): 413 when it does, the rest never read.

The public paths (the OpenAPI document, the docs page) take no token, but the cap.
"""

import sys
from collections.abc import Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from accord.api.context import ApiContext, bearer_token, check_token
from accord.api.problems import from_error, problem
from accord.domain.errors import InvalidToken


class BodyTooLarge(Exception):
    """Raised in the app's reading of a body that went past the cap (answered as a 413)."""


class Guard:
    """ASGI middleware: the token before the body, and at most `max_body_bytes` of body,
    on every path under `prefix` (the `public` ones and what is under them take no token)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        api: ApiContext,
        prefix: str,
        public: Sequence[str],
        max_body_bytes: int,
    ) -> None:
        self.app = app
        self.api = api
        self.prefix = prefix.rstrip("/")
        self.public = tuple(public)
        self.public_under = tuple(path.rstrip("/") + "/" for path in public)
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"] if scope["type"] == "http" else ""
        if not (path == self.prefix or path.startswith(self.prefix + "/")):
            await self.app(scope, receive, send)
            return
        length, authorization = _framing(scope)
        if path not in self.public and not path.startswith(self.public_under):
            try:
                token = bearer_token(authorization)
                if length != 0:
                    await check_token(self.api, token)
            except InvalidToken as error:
                await from_error(error, path)(scope, receive, send)
                return
        if length is not None and length > self.max_body_bytes:
            await self._too_large(scope, receive, send)
            return
        await self._bounded(scope, receive, send)

    async def _bounded(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The app, reading at most the cap: past it, a 413 in place of whatever the app
        makes of the body it could not finish (FastAPI: a 400)."""
        read, cut, started = 0, False, False

        async def receiving() -> Message:
            nonlocal read, cut
            if cut:
                raise BodyTooLarge
            message = await receive()
            if message["type"] == "http.request":
                read += len(message.get("body", b""))
                if read > self.max_body_bytes:
                    cut = True
                    raise BodyTooLarge
            return message

        async def sending(message: Message) -> None:
            nonlocal started
            if cut:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receiving, sending)
        except Exception:
            if not cut:
                raise
        if cut and not started:
            await self._too_large(scope, receive, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        detail = (
            f"The request body is longer than the {self.max_body_bytes:,} bytes this server reads"
        )
        reply = problem(413, "body_too_large", detail, instance=scope["path"])
        await reply(scope, receive, send)


def _framing(scope: Scope) -> tuple[int | None, str]:
    """The length of the request's body (0: it sends none; None: it sends one of unknown
    length, chunked or with a Content-Length that is no number) and its first
    Authorization header ("" if none)."""
    length: int | None = 0
    chunked = False
    authorization: str | None = None
    for name, value in scope["headers"]:
        if name == b"content-length":
            length = _length(value)
        elif name == b"transfer-encoding":
            chunked = True
        elif name == b"authorization" and authorization is None:
            authorization = value.decode("latin-1")
    return None if chunked else length, authorization or ""


def _length(value: bytes) -> int | None:
    """A Content-Length's value; None if it is no number."""
    value = value.strip()
    if not value.isdigit():
        return None
    # More digits than any cap has: no need to make the number (5,000 digits would be
    # past Python's limit on turning text into an integer).
    return int(value) if len(value) <= 18 else sys.maxsize
