"""The HTTP side of the legacy API: plain Starlette routes, no dependency injection.

Every logical outcome is HTTP 200 with the JSON envelope (clients branch on `success`);
a crash is HTTP 500 with the same envelope. Parameters are never logged: the API key
travels in them.
"""

import logging
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from itertools import chain

from anyio import CapacityLimiter
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from accord.domain.errors import AccordError, WrongApiKey
from accord.domain.rights import GlobalRight
from accord.domain.text import fold, printable
from accord.domain.users import Actor
from accord.legacy.commands import COMMANDS, Call, Command, Listing, Reply, UnknownCommand
from accord.legacy.commands import update_or_create as _update_or_create
from accord.legacy.params import Params, decode_pairs
from accord.legacy.render import MEDIA_TYPE, failure, listing, success
from accord.services import auth
from accord.services.jira import JiraGateway
from accord.services.throttle import FailureThrottle, address_key
from accord.services.transactions import (
    Cancellation,
    Database,
    Transaction,
    in_thread,
    run,
    transaction,
)

API_PATH = "/plugins/servlet/crm/api"
UPDATE_NOM_PATH = "/rest/catalog-rest/1.0/catalog/updateNom"
FORM = "application/x-www-form-urlencoded"
STREAM_AFTER_BYTES = 256 * 1024
"""A listing longer than this is streamed; a shorter one goes out in one response."""
EDGE = "legacy"
METHODS = ("GET", "HEAD", "POST")
"""What the servlet serves; any other method is a 405, in the envelope."""
_log = logging.getLogger(__name__)

_UPDATE_NOM = Command(lambda call: _update_or_create(call, "nomId"), writes=True)


@dataclass(slots=True)
class LegacyContext:
    database: Database
    jira: JiraGateway | None
    max_request_bytes: int
    throttle: FailureThrottle = field(default_factory=lambda: FailureThrottle(0))
    """Failed authentications, shared with the REST API (by default: none counted)."""
    _limiter: CapacityLimiter | None = None

    def limiter(self) -> CapacityLimiter:
        """How many calls run in threads at once: as many as the database has connections.

        More threads than connections only wait, and pass the GIL back and forth.
        """
        if self._limiter is None:
            self._limiter = CapacityLimiter(self.database.connections)
        return self._limiter


def routes(context: LegacyContext) -> list[Route]:
    # Every method reaches the endpoint, which answers the ones it does not serve with
    # the envelope: Starlette's own 405 is plain text, or a crash outside its router.
    return [
        Route(API_PATH, _Endpoint(context, None), methods=None, name="api"),
        Route(UPDATE_NOM_PATH, _Endpoint(context, _UPDATE_NOM), methods=None, name="update_nom"),
    ]


class _Endpoint:
    """One legacy URL, as a bare ASGI app (Starlette still matches the path and method).

    Not a request handler: Starlette would wrap it in a Request and a layer that maps
    exceptions through the app's handlers, which cost a point read ~3 % (~18,000
    instructions) and do nothing here, since `_handle` answers every failure itself.
    """

    def __init__(self, context: LegacyContext, fixed: Command | None) -> None:
        self.context = context
        self.fixed = fixed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] in METHODS:
            try:
                response = await _handle(self.context, scope, receive, self.fixed)
            except ClientDisconnect:  # gone (or cut off) before its body came: no one to answer
                return
        else:
            message = f"Method {printable(scope['method'])} is not allowed"
            response = _json(failure(message), status_code=405)
            response.headers["Allow"] = ", ".join(METHODS)
        await response(scope, receive, send)


async def _handle(
    context: LegacyContext, scope: Scope, receive: Receive, fixed: Command | None
) -> Response:
    params = await _read_params(scope, receive, context.max_request_bytes)
    if params is None:
        return _json(failure("Request too large"))
    key = _header(scope, b"x-api-key") or params.get("apiKey")
    caller = (auth.hash_api_key(key) if key else None, address_key(scope.get("client")))
    if context.throttle.anyone_failed():  # else nothing is locked
        refusal = _throttled(context.throttle, caller, params.get("userName"))
        if refusal:
            return _json(failure(refusal))
    command = fixed or COMMANDS.get((params.get("command") or "").strip().lower())
    try:
        if context.database.embedded and (command is None or command.is_point_read):
            # An SQLite point read takes ~0.3 ms and never waits for a lock (WAL):
            # handing it to a thread and back would cost more than the read itself.
            return _respond(context, params, caller, command)
        # Its statements are cancelled if the client goes away meanwhile.
        return await in_thread(
            receive,
            lambda cancel: _respond(context, params, caller, command, cancel),
            limiter=context.limiter(),
        )
    except Exception:
        path = Request(scope).url.path
        _log.exception("legacy API call failed: %s %s", scope["method"], path)
        return _json(failure("Internal server error"), status_code=500)


async def _read_params(scope: Scope, receive: Receive, limit: int) -> Params | None:
    """Query and form body parameters (body wins), or None when the request is too large."""
    query: bytes = scope["query_string"]
    if len(query) > limit:
        return None
    body_pairs: list[tuple[str, str]] = []
    if scope["method"] == "POST":
        body = bytearray()
        async for chunk in Request(scope, receive).stream():
            body += chunk
            if len(body) > limit:
                return None
        content_type = (_header(scope, b"content-type") or "").split(";")[0].strip().lower()
        if content_type == FORM:
            body_pairs = decode_pairs(bytes(body))
    return Params(decode_pairs(query), body_pairs)


def _header(scope: Scope, name: bytes) -> str | None:
    """The first value of the header `name` (lower case, as ASGI servers give names)."""
    for header, value in scope["headers"]:
        if header == name:
            text: str = value.decode("latin-1")
            return text
    return None


_Caller = tuple[str | None, str]
"""Who a call says it is, as the throttle of failed authentications knows it: its API
key's `auth.hash_api_key` (None: no key sent) and its client address's key. A plain
tuple, as the throttle vouches for a key at an address: a point read pays one lookup."""


def _login_key(login: str | None) -> str:
    return "login:" + fold((login or "").strip())


def _throttled(throttle: FailureThrottle, caller: _Caller, login: str | None) -> str | None:
    """Why the call is refused without looking at its key, or None when it is looked at.

    A locked address is refused unless its key succeeded from that same address: the
    instance has one key, so a key that worked anywhere would let a guessing address go
    on testing guesses. A locked login is refused unless its key succeeded (from
    anywhere), and the try then counts against the address as a failure.
    """
    digest, address = caller
    wait = throttle.locked(address)
    if wait and not throttle.is_vouched(caller):
        return f"Too many failed authentications from this address; retry in {wait} s"
    wait = throttle.locked(_login_key(login))
    if wait and not throttle.is_vouched(digest):
        throttle.fail(address)
        return f"Too many failed authentications for this user; retry in {wait} s"
    return None


def _authenticate(
    tx: Transaction, throttle: FailureThrottle, caller: _Caller, login: str | None
) -> Actor:
    """`auth.authenticate`, a wrong key counted against the address and the login, a right
    one vouched for."""
    digest, address = caller
    try:
        actor = auth.authenticate_digest(tx, api_key_digest=digest, login=login, edge=EDGE)
    except WrongApiKey:
        if digest is not None:  # a key was sent, and it was wrong: a guess
            throttle.fail(address, _login_key(login))
            throttle.disown(caller, digest)
        raise
    if caller not in throttle.vouched:  # a point read pays this lookup alone
        throttle.vouch(caller, digest)
    return actor


def _respond(
    context: LegacyContext,
    params: Params,
    caller: _Caller,
    command: Command | None,
    cancel: Cancellation | None = None,
) -> Response:
    name = params.get("command") or ""
    if command is not None and command.writes:
        return _json(_write(context, command, params, caller, cancel))
    return _read(context, command, name, params, caller, cancel)


def _write(
    context: LegacyContext,
    command: Command,
    params: Params,
    caller: _Caller,
    cancel: Cancellation | None = None,
) -> bytes:
    def work(tx: Transaction) -> bytes:
        reply = _execute(tx, context, command, "", params, caller)
        assert not isinstance(reply, Listing), "a write command answers with one object"
        return success(reply)

    try:
        return run(context.database, work, write=True, cancel=cancel)
    except AccordError as error:
        return failure(error.message)


def _read(
    context: LegacyContext,
    command: Command | None,
    name: str,
    params: Params,
    caller: _Caller,
    cancel: Cancellation | None = None,
) -> Response:
    if command is not None and command.lists:
        return _read_listing(context, command, name, params, caller, cancel)
    # A plain `with`: only a listing, which may outlive this call, needs the ExitStack.
    with transaction(context.database, write=False, cancel=cancel) as tx:
        try:
            reply = _execute(tx, context, command, name, params, caller)
        except AccordError as error:
            return _json(failure(error.message))
        assert not isinstance(reply, Listing), "a point read answers with one object"
        return _json(success(reply))


def _read_listing(
    context: LegacyContext,
    command: Command,
    name: str,
    params: Params,
    caller: _Caller,
    cancel: Cancellation | None = None,
) -> Response:
    # The transaction stays open while a listing streams out; `_closing` ends it.
    stack = ExitStack()
    try:
        tx = stack.enter_context(transaction(context.database, write=False, cancel=cancel))
        reply = _execute(tx, context, command, name, params, caller)
        if isinstance(reply, Listing):
            chunks = listing(reply.key, reply.entries, reply.directory, tx.schema)
            head = _take(chunks, STREAM_AFTER_BYTES)
            if head.done:  # small enough to send at once, with a Content-Length
                stack.close()
                return _json(b"".join(head.chunks))
            rest = chain(head.chunks, chunks)
            return StreamingResponse(_closing(rest, stack), media_type=MEDIA_TYPE)
        body = success(reply)
    except AccordError as error:
        body = failure(error.message)
    except BaseException:
        stack.close()
        raise
    stack.close()
    return _json(body)


@dataclass(frozen=True, slots=True)
class _Head:
    chunks: list[bytes]
    done: bool


def _take(chunks: Iterator[bytes], size: int) -> _Head:
    """The first chunks, up to about `size` bytes, and whether that was all of them."""
    taken: list[bytes] = []
    total = 0
    for chunk in chunks:
        taken.append(chunk)
        total += len(chunk)
        if total >= size:
            return _Head(taken, done=False)
    return _Head(taken, done=True)


def _closing(chunks: Iterator[bytes], stack: ExitStack) -> Iterator[bytes]:
    with stack:
        yield from chunks


def _execute(
    tx: Transaction,
    context: LegacyContext,
    command: Command | None,
    name: str,
    params: Params,
    caller: _Caller,
) -> Reply:
    actor = _authenticate(tx, context.throttle, caller, params.get("userName"))
    if command is None:
        raise UnknownCommand(name)
    actor.rights.require(GlobalRight.MAIN_MENU)
    return command.run(Call(tx, actor, params, context.jira))


def _json(body: bytes, status_code: int = 200) -> Response:
    return Response(body, status_code=status_code, media_type=MEDIA_TYPE)
