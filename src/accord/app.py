"""The application: `create_app(settings)` wires the edges to one database."""

import itertools
import os
import re
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from urllib.parse import unquote_plus

from fastapi import FastAPI
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from accord import logs
from accord.api import router as api
from accord.api.guard import Guard
from accord.api.health import Health
from accord.api.metrics import UNROUTED, Metrics
from accord.api.ratelimit import AuthFailureLimit, Buckets, RateLimit
from accord.jira.source import DELIVERY_RETRY, DELIVERY_TIMEOUTS, stored_gateway
from accord.jobs.worker import JobWorker
from accord.legacy.commands import COMMANDS
from accord.legacy.routes import API_PATH as LEGACY_API_PATH
from accord.legacy.routes import FORM, LegacyContext
from accord.legacy.routes import routes as legacy_routes
from accord.services.secrets import secret_box
from accord.services.throttle import FailureThrottle
from accord.services.transactions import Database, open_database
from accord.settings import DEFAULT_PUBLIC_URL, Settings
from accord.web import routes as web


@dataclass(frozen=True, slots=True)
class SharedLimits:
    """What the worker processes of one server count together (None: each app its own)."""

    rate: Buckets | None = None
    """The REST API's rate limit's buckets."""
    auth_failures: FailureThrottle | None = None
    """Failed authentications on either API."""
    sign_ins: FailureThrottle | None = None
    """Failed sign-ins to the web UI."""


def create_app(
    settings: Settings, *, database: Database | None = None, shared: SharedLimits | None = None
) -> FastAPI:
    """The ASGI application for `settings` (a given `database` is used as is, and kept open;
    the limits counted in `shared`, those several worker processes share)."""
    shared = shared or SharedLimits()
    owns_database = database is None
    db = database or open_database(
        settings.database_url,
        sqlite_synchronous=settings.sqlite_synchronous,
        statement_timeout=settings.statement_timeout,
        sqlite_wal_limit_bytes=settings.sqlite_wal_limit_bytes,
    )
    box = secret_box(
        key=settings.secret_key,
        key_file=settings.secret_key_file,
        database_url=settings.database_url,
    )
    # The worker reads the connection each time a job runs: a Jira connected, changed or
    # disconnected while the server runs is the one the next job talks to.
    jira = stored_gateway(db, box)
    every = settings.jira_sync_minutes * 60.0
    deliveries = stored_gateway(db, box, timeouts=DELIVERY_TIMEOUTS, retry=DELIVERY_RETRY)
    worker = (
        JobWorker(
            db,
            jira_source=jira,
            outbox_source=deliveries,
            sync_every=every,
            public_url=settings.public_url or DEFAULT_PUBLIC_URL,
        )
        if settings.run_jobs
        else None
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if worker:
            worker.start()
        yield
        if worker:
            worker.stop()
        if owns_database:
            db.dispose()
        # Uvicorn ends a process it stopped on a signal by that signal again, which runs
        # no exit handlers: the access lines of the last requests are written here.
        logs.flush()

    app = _App(
        title="Accord",
        version="1",
        summary="An API-first CRM server",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/v1/openapi.json",
        # FastAPI's built-in OpenTelemetry looks for a provider on every request, which
        # costs a fifth of a point read here; Accord does not export telemetry (yet).
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    api.install(app, db, box)
    # The web UI's pages at `/`, after every route of the APIs (which keep their paths).
    web.install(app, db, settings, shared.sign_ins)
    # What anyone may read, and a cache may keep: the API's description, the UI's files.
    app.public = (str(app.openapi_url), f"{api.PREFIX}/docs", "/static")
    # Inside the rate limit (its 401s count against the client's address, as before) and
    # the legacy paths (which bound their own form bodies, and take no bearer token).
    app.add_middleware(
        Guard,
        api=app.state.api,
        prefix=api.PREFIX,
        public=app.public,
        max_body_bytes=settings.max_body_bytes,
    )
    # Failed authentications on either API count against one budget per client address.
    throttle = shared.auth_failures or FailureThrottle(settings.auth_failure_limit)
    context = LegacyContext(
        db, jira=None, max_request_bytes=settings.max_request_bytes, throttle=throttle
    )
    legacy = legacy_routes(context)
    # Also in the router, first, for what the exact paths of `LegacyFirst` (below) do not
    # catch (a trailing slash gets the router's redirect, as it always did).
    app.router.routes[0:0] = legacy
    # The probes take no token and sit outside the API's prefix (and so its guard).
    probes = Health(db, jobs=None if worker is None else lambda: worker.alive)
    app.router.routes[0:0] = probes.routes()
    metrics = Metrics(db, runs_jobs=worker is not None) if settings.metrics else None
    if metrics is not None:
        app.router.routes[0:0] = metrics.routes()
    if settings.api_rate_limit:
        app.add_middleware(
            RateLimit,
            per_minute=settings.api_rate_limit,
            burst=settings.api_rate_burst,
            prefix=api.PREFIX,
            exempt=[f"{api.PREFIX}/docs", str(app.openapi_url)],
            buckets=shared.rate,
        )
    if settings.auth_failure_limit:
        app.add_middleware(
            AuthFailureLimit,
            throttle=throttle,
            prefix=api.PREFIX,
            exempt=[f"{api.PREFIX}/docs", str(app.openapi_url)],
        )
    # Outside the REST API's own layers (rate limits), which a legacy call only passed
    # through.
    app.add_middleware(LegacyFirst, routes=legacy)
    if settings.access_log or metrics is not None:
        app.observe = Observe(
            access_log=settings.access_log,
            metrics=metrics,
            legacy_paths=[route.path for route in legacy],
            routes=app.router.routes,
            max_request_bytes=settings.max_request_bytes,
        )
    return app


class _App(FastAPI):
    """FastAPI, with `ReplyHeaders` around all of its layers: even the 500 its outermost
    layer answers for a crash carries them (and is in the access log and the metrics)."""

    public: tuple[str, ...] = ()
    """Paths (and what is under them) whose replies a cache may keep."""
    observe: "Observe | None" = None
    """What the access log and the metrics learn of every request (None: neither is on)."""

    def build_middleware_stack(self) -> ASGIApp:
        return ReplyHeaders(
            super().build_middleware_stack(), public=self.public, observe=self.observe
        )


REQUEST_ID = "request_id"
"""Key of the request's id in the ASGI scope's `state` (`request.state.request_id`)."""
_WELL_FORMED_ID = re.compile(rb"[\x21-\x7e]{1,128}").fullmatch


class ReplyHeaders:
    """The headers every reply carries, added in one pass on the path of every request:

    - `X-Request-Id`: the client's own, if it sent one of 1 to 128 visible ASCII
      characters, else a new one (16 hex digits: the process's random prefix and a
      count); the id is in the scope's `state` for the layers within (the access log),
      and in `logs.REQUEST_ID` for every line logged while the request is served;
    - `X-Content-Type-Options: nosniff`, and `Cache-Control: no-store` on every reply but
      those of the `public` paths (and what is under them): the others may carry users'
      data or a credential, and no cache on the way may keep them. A header the reply
      already has is left as it is.

    And, when `observe` is given, the request's status and time go to it once the reply
    has gone: one layer, one wrapped `send`, for the headers, the access log and the
    metrics (a layer of its own cost a legacy point read ~3 %).
    """

    def __init__(
        self, app: ASGIApp, *, public: Sequence[str], observe: "Observe | None" = None
    ) -> None:
        self.app = app
        self.observe = observe
        self.public = frozenset(public)
        self.public_under = tuple(path.rstrip("/") + "/" for path in public)
        # A new id: this process's own random prefix and a count (os.urandom on every
        # request cost the legacy point read 1 us of its 100).
        self.prefix = os.urandom(4).hex().encode()
        self.numbers = itertools.count()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, raw in scope["headers"]:
            if name == b"x-request-id" and _WELL_FORMED_ID(raw):
                break
        else:
            raw = b"%s%08x" % (self.prefix, next(self.numbers) & 0xFFFFFFFF)
        scope.setdefault("state", {})[REQUEST_ID] = text = raw.decode()
        request_id = (b"x-request-id", raw)
        path: str = scope["path"]
        public = path in self.public or path.startswith(self.public_under)
        wanted = PUBLIC_HEADERS if public else PRIVATE_HEADERS
        status = 0

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = message.get("headers", ())
                # Header names are lower case in replies (Starlette writes them so).
                names = [name for name, _ in headers]
                missing = [header for header in wanted if header[0] not in names]
                message = {**message, "headers": [*headers, *missing, request_id]}
            await send(message)

        observe = self.observe
        serving = logs.REQUEST_ID.set(text)
        if observe is None:
            try:
                await self.app(scope, receive, sending)
            finally:
                logs.REQUEST_ID.reset(serving)
            return
        started, failed = time.perf_counter(), False
        body = observe.body_of(scope)
        try:
            await self.app(scope, receive if body is None else body.receiving(receive), sending)
        except Exception:
            failed = True
            raise
        finally:
            logs.REQUEST_ID.reset(serving)
            seconds = time.perf_counter() - started
            observe.done(scope, status or 500 * failed, failed, seconds, text, body)


NOSNIFF = (b"x-content-type-options", b"nosniff")
PUBLIC_HEADERS = (NOSNIFF,)
PRIVATE_HEADERS = (NOSNIFF, (b"cache-control", b"no-store"))


class LegacyFirst:
    """The legacy API's URLs, answered before FastAPI's own layers see the request.

    Its endpoints answer every failure themselves, so the exception mapping, exit stack
    and telemetry hooks FastAPI wraps around its routes only cost a point read time
    (about a tenth), and so did being matched against every REST route first (0.3 ms).
    Other paths go on to the FastAPI app.
    """

    def __init__(self, app: ASGIApp, routes: list[Route]) -> None:
        self.app = app
        self.routes = {route.path: route for route in routes}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = self.routes.get(scope["path"]) if scope["type"] == "http" else None
        if route is None:
            await self.app(scope, receive, send)
        else:
            await route.handle(scope, receive, send)


class Observe:
    """What becomes of a request once answered: its access line (`access_log`), and its
    count in the `metrics`, by route template and, on the legacy servlet, by command.

    The access line: method, path, the legacy command, status, time and request id; never
    the query string or the body, which carry the API key and users' data. A legacy call
    names its command in the query or in a form body (the body's wins, as the servlet
    reads them): the body of a legacy POST is looked at as it passes (`body_of`).
    """

    def __init__(
        self,
        *,
        access_log: bool,
        metrics: Metrics | None,
        legacy_paths: Sequence[str],
        routes: Sequence[BaseRoute],
        max_request_bytes: int,
    ) -> None:
        self.access_log = access_log
        self.metrics = metrics
        self.legacy_paths = frozenset(legacy_paths)
        self.max_request_bytes = max_request_bytes
        # FastAPI's router notes the route it chose in the scope only for its own routes;
        # for a plain route (the direct reads, the probes) or a mount, the scope holds
        # the endpoint the route called.
        self.templates = {
            getattr(route, "endpoint", None) or getattr(route, "app", None): route.path
            for route in routes
            if isinstance(route, Route | Mount)
        }

    def body_of(self, scope: Scope) -> "FormBody | None":
        """What keeps a legacy form body as it passes (None: not a legacy form POST)."""
        if scope["method"] != "POST" or scope["path"] != LEGACY_API_PATH:
            return None
        for name, value in scope["headers"]:
            if name == b"content-type":
                form = value.split(b";")[0].strip().lower() == FORM.encode()
                return FormBody(self.max_request_bytes) if form else None
        return None

    def done(
        self,
        scope: Scope,
        status: int,
        failed: bool,
        seconds: float,
        request_id: str,
        body: "FormBody | None",
    ) -> None:
        path: str = scope["path"]
        command = None
        if path == LEGACY_API_PATH:
            command = None if body is None else _command(bytes(body.data))
            command = command or _command(scope["query_string"])
        if self.access_log:
            shown = None if command is None else command[:32].decode("ascii", "replace")
            line = (time.time(), scope["method"], path, shown, status, seconds * 1000, request_id)
            logs.log_access(line)
        metrics = self.metrics
        if metrics is not None:
            route = self._route(scope, path)
            known = "" if command is None else _known_command(command)
            metrics.observe(scope["method"], route, known, status, seconds)
            if failed:
                metrics.failed(route, known)

    def _route(self, scope: Scope, path: str) -> str:
        """The template of the route that answered (Starlette's router notes it in the
        scope); the legacy servlet's paths are answered before the router, as they are."""
        if path in self.legacy_paths:
            return path
        template = getattr(scope.get("route"), "path", None)
        if isinstance(template, str):
            return template
        return self.templates.get(scope.get("endpoint"), UNROUTED)


class FormBody:
    """A request body's first `limit` bytes, kept as the app reads them."""

    def __init__(self, limit: int) -> None:
        self.data = bytearray()
        self.limit = limit

    def receiving(self, receive: Receive) -> Receive:
        async def receiving() -> Message:
            message = await receive()
            if len(self.data) <= self.limit:
                self.data += message.get("body", b"")
            return message

        return receiving


_COMMAND = re.compile(rb"(?:^|&)command=([^&]*)").search


def _command(query: bytes) -> bytes | None:
    """The value of the first `command` parameter of a query or form body, as sent."""
    found = _COMMAND(query)
    return None if found is None else found[1]


_KNOWN = {name.encode(): name for name in COMMANDS}
"""What a legacy command is sent as, most often: its name (in any case)."""


def _known_command(sent: bytes) -> str:
    """A legacy command's name as the servlet reads it when it knows it, else "other"
    (the label's values stay as few as the commands)."""
    known = _KNOWN.get(sent.lower())
    if known is not None or len(sent) > 64:
        return known or "other"
    name = unquote_plus(sent.decode("latin-1")).strip().lower()
    return name if name in COMMANDS else "other"
