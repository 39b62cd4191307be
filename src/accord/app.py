"""The application: `create_app(settings)` wires the edges to one database."""

import itertools
import logging
import os
import re
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from accord.api import router as api
from accord.api.guard import Guard
from accord.api.health import Health
from accord.api.ratelimit import AuthFailureLimit, RateLimit
from accord.jobs.worker import JobWorker
from accord.legacy.routes import LegacyContext
from accord.legacy.routes import routes as legacy_routes
from accord.services.throttle import FailureThrottle
from accord.services.transactions import Database, open_database
from accord.settings import Settings

access_log = logging.getLogger("accord.access")


def create_app(settings: Settings, *, database: Database | None = None) -> FastAPI:
    """The ASGI application for `settings` (a given `database` is used as is, and kept open)."""
    owns_database = database is None
    db = database or open_database(
        settings.database_url,
        sqlite_synchronous=settings.sqlite_synchronous,
        statement_timeout=settings.statement_timeout,
        sqlite_wal_limit_bytes=settings.sqlite_wal_limit_bytes,
    )
    worker = JobWorker(db, jira=None) if settings.run_jobs else None

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if worker:
            worker.start()
        yield
        if worker:
            worker.stop()
        if owns_database:
            db.dispose()

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
    api.install(app, db)
    # What anyone may read, and a cache may keep: the API's description.
    app.public = (str(app.openapi_url), f"{api.PREFIX}/docs")
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
    throttle = FailureThrottle(settings.auth_failure_limit)
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
    if settings.api_rate_limit:
        app.add_middleware(
            RateLimit,
            per_minute=settings.api_rate_limit,
            burst=settings.api_rate_burst,
            prefix=api.PREFIX,
            exempt=[f"{api.PREFIX}/docs", str(app.openapi_url)],
        )
    if settings.auth_failure_limit:
        app.add_middleware(
            AuthFailureLimit,
            throttle=throttle,
            prefix=api.PREFIX,
            exempt=[f"{api.PREFIX}/docs", str(app.openapi_url)],
        )
    # Outside the REST API's own layers (rate limits), which a legacy call only passed
    # through; inside the access log.
    app.add_middleware(LegacyFirst, routes=legacy)
    if settings.access_log:
        app.add_middleware(AccessLog)
    return app


class _App(FastAPI):
    """FastAPI, with `ReplyHeaders` around all of its layers: even the 500 its outermost
    layer answers for a crash carries them."""

    public: tuple[str, ...] = ()
    """Paths (and what is under them) whose replies a cache may keep."""

    def build_middleware_stack(self) -> ASGIApp:
        return ReplyHeaders(super().build_middleware_stack(), public=self.public)


REQUEST_ID = "request_id"
"""Key of the request's id in the ASGI scope's `state` (`request.state.request_id`)."""
_WELL_FORMED_ID = re.compile(rb"[\x21-\x7e]{1,128}").fullmatch


class ReplyHeaders:
    """The headers every reply carries, added in one pass on the path of every request:

    - `X-Request-Id`: the client's own, if it sent one of 1 to 128 visible ASCII
      characters, else a new one (16 hex digits: the process's random prefix and a
      count); the id is in the scope's `state` for the layers within (the access log);
    - `X-Content-Type-Options: nosniff`, and `Cache-Control: no-store` on every reply but
      those of the `public` paths (and what is under them): the others may carry users'
      data or a credential, and no cache on the way may keep them. A header the reply
      already has is left as it is.
    """

    def __init__(self, app: ASGIApp, *, public: Sequence[str]) -> None:
        self.app = app
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
        scope.setdefault("state", {})[REQUEST_ID] = raw.decode()
        request_id = (b"x-request-id", raw)
        path: str = scope["path"]
        public = path in self.public or path.startswith(self.public_under)
        wanted = PUBLIC_HEADERS if public else PRIVATE_HEADERS

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.get("headers", ())
                # Header names are lower case in replies (Starlette writes them so).
                names = [name for name, _ in headers]
                missing = [header for header in wanted if header[0] not in names]
                message = {**message, "headers": [*headers, *missing, request_id]}
            await send(message)

        await self.app(scope, receive, sending)


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


class AccessLog:
    """One line per request: method, path, the legacy command, status, time and request id.

    Never the query string or the body: they carry the API key and users' data.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), 0

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            access_log.info(
                "%s %s %s %d %.1fms id=%s",
                scope["method"],
                scope["path"],
                _command(scope),
                status,
                (time.perf_counter() - started) * 1000,
                scope.get("state", {}).get(REQUEST_ID, "-"),
            )


def _command(scope: Scope) -> str:
    query: bytes = scope.get("query_string", b"")
    for part in query.split(b"&"):
        if part.startswith(b"command="):
            return "command=" + part[8:40].decode("ascii", "replace")
    return "-"
