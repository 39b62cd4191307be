"""What every REST call shares: the database, the caller's token, one transaction.

Handlers are small: they name the work to do in the transaction, as a function of the
transaction and the acting user, and how to answer. Authentication runs inside that
same transaction, so a call costs one transaction, and its history names the token's
user and the `api` edge.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

from anyio import CapacityLimiter, to_thread
from fastapi import Request
from starlette.responses import Response

from accord.api.problems import ApiError
from accord.domain.errors import Family, InvalidToken
from accord.domain.rights import GlobalRight
from accord.domain.users import Actor
from accord.services import idempotency, tokens
from accord.services.idempotency import IdempotencyRace, Reply
from accord.services.secrets import SecretBox
from accord.services.transactions import Database, Transaction, in_thread, now, run

T = TypeVar("T")
R = TypeVar("R")
EDGE = "api"
TOUCH_EVERY = timedelta(minutes=1)


EMBEDDED_READ_THREADS = 1
"""On SQLite, reads run one at a time, in order. A read there is CPU work under the GIL,
which every call into SQLite gives up and takes back, so eight reads in eight threads
queued for it behind one another's slices: a page filtered at a million companies, 8
clients, p99 191 ms with ten threads, 102 ms with two, 48 ms with one (and 14 % more
pages a second). Writes keep their own threads, so a long batch never holds reads up."""


@dataclass
class ApiContext:
    database: Database
    secret_box: SecretBox
    """Encrypts and decrypts the Jira credential."""
    limiters: dict[bool, CapacityLimiter] = field(default_factory=dict)
    touched: dict[int, datetime] = field(default_factory=dict)
    """When each token's use was last recorded by this process."""

    def threads(self, *, write: bool) -> CapacityLimiter:
        """The threads reads or writes run in (PostgreSQL: as many as connections)."""
        if write not in self.limiters:
            embedded_read = self.database.embedded and not write
            size = EMBEDDED_READ_THREADS if embedded_read else self.database.connections
            self.limiters[write] = CapacityLimiter(size)
        return self.limiters[write]


def context(request: Request) -> ApiContext:
    found: ApiContext = request.app.state.api
    return found


def bearer(request: Request) -> str:
    return bearer_token(request.headers.get("authorization", ""))


def bearer_token(authorization: str) -> str:
    """The token an Authorization header carries (InvalidToken if it carries none)."""
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidToken("Send a personal API token: Authorization: Bearer <token>")
    return token.strip()


async def check_token(api: ApiContext, token: str) -> None:
    """InvalidToken unless `token` is active now, checked in a read transaction of its own
    (before a request's body is read, see `api.guard`).

    The request's own transaction checks it again (`_call`): it may be revoked in between,
    and the rights a call acts with are read in the transaction it acts in. That second
    check finds what this one loaded in the database's cache of authentications, unless
    something about users or tokens changed meanwhile, so a call still costs one lookup.
    """

    def check(tx: Transaction) -> None:
        tokens.authenticate_token(tx, token, edge=EDGE)

    if api.database.embedded:
        # A few rows by key, as a brief read: on the event loop (see `read`).
        run(api.database, check, write=False)
    else:
        await to_thread.run_sync(
            lambda: run(api.database, check, write=False), limiter=api.threads(write=False)
        )


async def read(
    request: Request, work: Callable[[Transaction, Actor], T], *, brief: bool = False
) -> T:
    """Run `work` in a read transaction, as the caller.

    `brief`: it reads a few rows by key (one entry, the caller). On SQLite it then runs
    on the event loop, as the legacy API's point reads do: such a read takes ~0.2 ms and
    never waits for a lock (WAL), and handing it to a thread and back cost more than the
    read (a fifth of a point read's server time went to waking the thread).
    """
    return await _call(request, work, _as_is, write=False, brief=brief)


async def write(request: Request, work: Callable[[Transaction, Actor], T]) -> T:
    """Run `work` in a write transaction, as the caller."""
    return await _call(request, work, _as_is, write=True)


def _as_is(result: T) -> T:
    return result


async def _call(
    request: Request,
    work: Callable[[Transaction, Actor], T],
    then: Callable[[T], R],
    *,
    write: bool,
    brief: bool = False,
) -> R:
    """`then(work(...))`, `work` in a transaction and `then` after it ends, in the same
    thread."""
    api, token = context(request), bearer(request)
    used: list[tokens.TokenUse] = []

    def in_transaction(tx: Transaction) -> T:
        use = token_use(tx, token)
        used.append(use)
        return work(tx, use.actor)

    if brief and not write and api.database.embedded:
        result = then(run(api.database, in_transaction, write=False))
    else:
        # Its statements are cancelled if the client goes away meanwhile.
        result = await in_thread(
            request.receive,
            lambda cancel: then(run(api.database, in_transaction, write=write, cancel=cancel)),
            limiter=api.threads(write=write),
        )
    await _touch(api, used[-1])
    return result


def token_use(tx: Transaction, token: str) -> tokens.TokenUse:
    """The caller `token` names, as every REST call acts: InvalidToken if it is not active,
    PermissionDenied without the main menu right (as the legacy API does for every
    command: without it, nothing)."""
    use = tokens.authenticate_token(tx, token, edge=EDGE)
    use.actor.rights.require(GlobalRight.MAIN_MENU)
    return use


async def _touch(api: ApiContext, use: tokens.TokenUse) -> None:
    """Record a token's use, at most once a minute per process, so reads stay cheap."""
    moment = now()
    last = api.touched.get(use.token.id) or use.token.last_used_at
    if last is not None and moment - last < TOUCH_EVERY:
        return
    api.touched[use.token.id] = moment
    await to_thread.run_sync(
        lambda: run(api.database, lambda tx: tokens.touch_token(tx, use.token.id), write=True),
        limiter=api.threads(write=True),
    )


async def write_once(request: Request, work: Callable[[Transaction, Actor], Reply]) -> Response:
    """A POST or PATCH: run `work` once per Idempotency-Key (a repeat gets the first reply)."""
    return await write_once_rendered(request, work, _as_is)


async def write_once_rendered(
    request: Request, work: Callable[[Transaction, Actor], T], render: Callable[[T], Reply]
) -> Response:
    """`write_once` for work whose reply `render` makes from what it returns, with no
    access to the database: with no Idempotency-Key, after the commit, outside the write
    lock that the next writer waits for (1000 entries of a batch take ~25 ms to render);
    with one, inside, so that the reply is kept with the write it answers."""
    key = request.headers.get("idempotency-key")
    if key is None:
        return respond(await _call(request, work, render, write=True))
    key = idempotency.checked_key(key)
    body = await request.body()
    target = request.url.path + ("?" + request.url.query if request.url.query else "")
    signature = idempotency.fingerprint(request.method, target, body)

    def once(tx: Transaction, actor: Actor) -> Reply:
        assert actor.user_id is not None
        kept = idempotency.replay(tx, actor.user_id, key, signature)
        if kept is not None:
            return Reply(kept.status, kept.body, {**kept.headers, "Idempotent-Replayed": "true"})
        idempotency.claim(tx, actor.user_id, key, signature)
        reply = render(work(tx, actor))
        idempotency.keep(tx, actor.user_id, key, signature, reply)
        return reply

    try:
        return respond(await write(request, once))
    except IdempotencyRace:
        return respond(await write(request, once))  # the first one's reply is there now


def json_response(body: bytes, status: int = 200) -> Response:
    return Response(body, status_code=status, media_type="application/json")


def respond(reply: Reply) -> Response:
    return Response(
        reply.body, status_code=reply.status, headers=reply.headers, media_type="application/json"
    )


def not_found(what: str) -> ApiError:
    return ApiError("not_found", f"{what} not found", Family.NOT_FOUND)
