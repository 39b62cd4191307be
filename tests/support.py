"""Helpers the tests share: fresh databases, the app served in the test process (or on a
real socket, for tests about the wire), a legacy API client."""

import itertools
import logging
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any, Protocol, cast

import anyio
import httpx
import psycopg
import pytest
import sqlalchemy as sa
import uvicorn
from anyio.from_thread import BlockingPortal, start_blocking_portal
from cryptography.fernet import Fernet
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from accord import server
from accord.app import create_app
from accord.services import demo
from accord.services.transactions import Database, open_database, run
from accord.settings import Settings
from accord.store import driver, migrate
from tests.recycling import MAX_USES, Pristine

PG_URL = os.environ.get("ACCORD_TEST_DATABASE_URL")
API_PATH = "/plugins/servlet/crm/api"
KEY = demo.DEMO_API_KEY


class Templates:
    """Migrated databases to copy from: "empty" (the default template) and "demo"."""

    def __init__(self, backend: str, folder: Path) -> None:
        self.backend = backend
        self.folder = folder
        self.tag = f"{os.getpid()}_{uuid.uuid4().hex[:6]}"
        self._urls: dict[str, str] = {}
        self._dropping = ThreadPoolExecutor(max_workers=1)
        self._making = ThreadPoolExecutor(max_workers=1)
        self._next: dict[str, Future[str]] = {}
        """PostgreSQL: the next fresh database of each kind, made ready while a test runs."""
        self._used: dict[str, list[tuple[str, int]]] = {}
        """PostgreSQL: databases tests have finished with, and how often each was used."""
        self._uses: dict[str, int] = {}
        self._pristine: dict[str, Pristine] = {}
        if backend == "postgresql":
            assert PG_URL, "ACCORD_TEST_DATABASE_URL names the PostgreSQL server"
            self._admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
        self._build("empty", None)
        self._build("demo", "empty")

    def _build(self, kind: str, base: str | None) -> None:
        url = self._create(f"tpl_{kind}", base)
        database = open_database(url, sqlite_synchronous="NORMAL")
        if base is None:
            migrate.upgrade(database.engine)
        if kind == "demo":
            run(database, demo.load_demo, write=True)
        database.dispose()
        self._urls[kind] = url
        if self.backend == "postgresql":
            self._pristine[kind] = Pristine.read(url)

    def _create(self, name: str, template: str | None) -> str:
        if self.backend == "sqlite":
            path = self.folder / f"{name}_{uuid.uuid4().hex[:8]}.db"
            if template is not None:
                shutil.copyfile(sa.make_url(self._urls[template]).database or "", path)
            return f"sqlite:///{path}"
        database = f"accord_{name}_{self.tag}"
        source = "" if template is None else f" TEMPLATE {self._pg_name(self._urls[template])}"
        with self._admin.connect() as connection:
            connection.exec_driver_sql(f"CREATE DATABASE {database}{source}")
        return sa.make_url(PG_URL or "").set(database=database).render_as_string(False)

    @staticmethod
    def _pg_name(url: str) -> str:
        return sa.make_url(url).database or ""

    def _copy(self, kind: str) -> str:
        return self._create(f"t_{uuid.uuid4().hex[:10]}", kind)

    @contextmanager
    def fresh(self, kind: str) -> Iterator[str]:
        """A database holding what the `kind` template holds, for this test alone."""
        if self.backend == "sqlite":
            url = self._copy(kind)
        else:
            made = self._next.pop(kind, None)
            url = self._ready(kind) if made is None else made.result()
            self._next[kind] = self._making.submit(self._ready, kind)
        try:
            yield url
        finally:
            if self.backend == "postgresql" and kind in self._pristine:
                self._used.setdefault(kind, []).append((url, self._uses.pop(url, 0) + 1))
            else:
                # Dropping a PostgreSQL database takes up to a second: in the background.
                self._dropping.submit(self._drop, url)

    def _ready(self, kind: str) -> str:
        """PostgreSQL: a database a test has finished with, its template's rows put back
        (`tests.recycling`), or else a new copy."""
        used = self._used.get(kind, [])
        while used:
            url, uses = used.pop()
            if uses < MAX_USES and self._put_back(kind, url):
                self._uses[url] = uses
                return url
            self._dropping.submit(self._drop, url)
        return self._copy(kind)

    def _put_back(self, kind: str, url: str) -> bool:
        with self._admin.connect() as connection:  # what a test left connected
            connection.exec_driver_sql(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                f" WHERE datname = '{self._pg_name(url)}' AND pid <> pg_backend_pid()"
            )
        try:
            return self._pristine[kind].put_back(url)
        except psycopg.Error:
            return False

    def _drop(self, url: str) -> None:
        if self.backend == "sqlite":
            for suffix in ("", "-wal", "-shm"):
                Path((sa.make_url(url).database or "") + suffix).unlink(missing_ok=True)
        else:
            with self._admin.connect() as connection:
                connection.exec_driver_sql(
                    f"DROP DATABASE IF EXISTS {self._pg_name(url)} WITH (FORCE)"
                )

    def close(self) -> None:
        self._making.shutdown(wait=True)
        for unused in self._next.values():
            self._drop(unused.result())
        for used in self._used.values():
            for url, _ in used:
                self._drop(url)
        self._dropping.shutdown(wait=True)
        for url in self._urls.values():
            self._drop(url)
        if self.backend == "postgresql":
            self._admin.dispose()


SECRET_KEY = Fernet.generate_key().decode()
"""The key of stored secrets in tests (never a key file in the working folder)."""


def settings_for(url: str, **overrides: Any) -> Settings:
    options: dict[str, Any] = {
        "database_url": url,
        "secret_key": SECRET_KEY,
        "access_log": False,
        "run_jobs": False,
        "sqlite_synchronous": "NORMAL",
    }
    options.update(overrides)
    return Settings(**options)


class Server(Protocol):
    """What tests use of a server, in-process or on a socket."""

    url: str

    def client(self, **options: Any) -> httpx.Client: ...


class InProcessServer:
    """The real app, its lifespan run, answering in the test process without a socket.

    Requests go from an httpx.Client straight to the ASGI app, on an event loop of its own
    (in a thread, as uvicorn's), so everything but the HTTP bytes is as on a real server:
    the app's sync work runs in worker threads, replies stream (a client reads the first
    chunks while the app still makes the rest), a request body given as an iterator reaches
    the app chunk by chunk, an exception is a plain 500 (or a cut reply once it started)
    and is logged as uvicorn logs it. Tests about the wire itself use `LiveServer`.
    """

    url = "http://accord.test"
    """The base URL clients use (`.test` never resolves: only `client()` reaches the app)."""

    def __init__(self, settings: Settings, database: Database) -> None:
        self.app: ASGIApp = create_app(settings, database=database)
        self.state: dict[str, Any] = {}
        self._ports = itertools.count(40000)
        self._stack = ExitStack()
        self.running: set[anyio.CancelScope] = set()
        """The requests the app is working on (touched on the server's loop only)."""
        self.portal: BlockingPortal

    def __enter__(self) -> "InProcessServer":
        with ExitStack() as stack:
            stack.enter_context(self._stack)  # undone if starting fails
            self.portal = self._stack.enter_context(
                start_blocking_portal("asyncio", backend_options={"use_uvloop": True})
            )
            self._stack.enter_context(self.portal.wrap_async_context_manager(self._lifespan()))
            stack.pop_all()
        return self

    def __exit__(self, *_: object) -> None:
        try:
            self.portal.call(self._stop_requests)
        finally:
            self._stack.close()

    async def _stop_requests(self) -> None:
        """End what the app still works on (a reply nobody reads to its end, say)."""
        for request in list(self.running):
            request.cancel()

    def client(self, *, address: str = "127.0.0.1", **options: Any) -> httpx.Client:
        """A client of this server (options as httpx.Client takes them), whose requests
        come from `address` (the app sees a new port of it for each client)."""
        transport = _AppTransport(self, (address, next(self._ports)))
        return httpx.Client(base_url=self.url, transport=transport, **{"timeout": 30, **options})

    async def _run_app(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)

    @asynccontextmanager
    async def _lifespan(self) -> AsyncIterator[None]:
        """The ASGI lifespan protocol, as uvicorn speaks it (startup, then shutdown)."""
        to_app, app_receives = anyio.create_memory_object_stream[Message](2)
        app_sends, from_app = anyio.create_memory_object_stream[Message](2)
        scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": self.state}
        with to_app, app_receives, app_sends, from_app:
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(self._run_app, scope, app_receives.receive, app_sends.send)
                for step in ("startup", "shutdown"):
                    await to_app.send({"type": f"lifespan.{step}"})
                    reply = await from_app.receive()
                    if reply["type"] != f"lifespan.{step}.complete":
                        raise RuntimeError(f"the app's lifespan {step} failed: {reply}")
                    if step == "startup":
                        yield


_uvicorn_log = logging.getLogger("uvicorn.error")
BUFFERED_MESSAGES = 16
"""Reply messages the app may send ahead of the client's reading before it waits."""


class _AppTransport(httpx.BaseTransport):
    """httpx's side of an in-process server: each request an ASGI call on its event loop."""

    def __init__(self, server: InProcessServer, client: tuple[str, int]) -> None:
        self.server = server
        self.address = client

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        raw_path, _, query = request.url.raw_path.partition(b"?")
        path = raw_path.decode("latin-1")
        # As uvicorn makes the scope of a request (httptools_impl.on_headers_complete).
        scope: Scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "server": (request.url.host, request.url.port or 80),
            "client": self.address,
            "scheme": request.url.scheme,
            "root_path": "",
            "headers": [(name.lower(), value) for name, value in request.headers.raw],
            "state": self.server.state.copy(),
            "method": request.method,
            "path": urllib.parse.unquote(path) if "%" in path else path,
            "raw_path": raw_path,
            "query_string": query,
        }
        timeout = request.extensions.get("timeout", {}).get("read")
        stream = request.stream
        assert isinstance(stream, httpx.SyncByteStream)
        body = stream if isinstance(stream, httpx.ByteStream) else iter(stream)
        exchange = _Exchange(self.server, scope, body)
        self.server.portal.start_task_soon(exchange.run)
        reply = _Reply(exchange, self.server.portal, timeout)
        start = reply.next_message()
        if start is None or start["type"] != "http.response.start":
            raise httpx.RemoteProtocolError("the app sent no reply", request=request)
        return httpx.Response(
            start["status"], headers=start.get("headers", []), stream=reply, request=request
        )


class _Exchange:
    """One request to the app and its reply, as the app sends it (on the server's loop)."""

    def __init__(self, server: InProcessServer, scope: Scope, body: Any) -> None:
        self.server = server
        self.scope = scope
        self.body = body
        self.ready = threading.Event()
        self.started = self.complete = self.body_read = False

    async def run(self) -> None:
        self.outbox, self.inbox = anyio.create_memory_object_stream[Message](BUFFERED_MESSAGES)
        self.over = anyio.Event()  # the reply was sent in full, or the client went away
        self.ready.set()
        with anyio.CancelScope() as cancel, self.outbox:
            self.server.running.add(cancel)
            try:
                await self.server.app(self.scope, self._receive, self._send)
            except Exception as error:
                _uvicorn_log.error("Exception in ASGI application\n", exc_info=error)
                if not self.started:
                    await self._send_500()
                return
            finally:
                self.server.running.discard(cancel)
            if not self.started:
                _uvicorn_log.error("ASGI callable returned without starting response.")
                await self._send_500()

    async def _receive(self) -> Message:
        if self.body_read or self.over.is_set():
            # As uvicorn: nothing more till the reply is sent or the client goes away.
            await self.over.wait()
            return {"type": "http.disconnect"}
        if isinstance(self.body, httpx.ByteStream):
            self.body_read = True
            return {"type": "http.request", "body": b"".join(self.body), "more_body": False}
        # A body given as an iterator: read as the app asks for it, as over a socket.
        chunk = await anyio.to_thread.run_sync(next, self.body, None)
        if chunk is None:
            self.body_read = True
            return {"type": "http.request", "body": b"", "more_body": False}
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def _send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.started = True
        elif message["type"] == "http.response.body":
            if self.scope["method"] == "HEAD":
                message = {**message, "body": b""}
            if not message.get("more_body", False):
                self.complete = True
        if self.over.is_set():
            return  # the client went away: what is sent is dropped, as uvicorn drops it
        try:
            await self.outbox.send(message)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            self.over.set()
        if self.complete:
            self.over.set()  # only now: a disconnect seen sooner would cancel the last send

    async def _send_500(self) -> None:
        headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", b"21")]
        await self._send({"type": "http.response.start", "status": 500, "headers": headers})
        await self._send({"type": "http.response.body", "body": b"Internal Server Error"})

    async def next_messages(self) -> list[Message]:
        """What the app sent since the last call, once it sent anything ([]: it ended)."""
        messages: list[Message] = []
        try:
            messages.append(await self.inbox.receive())
            while True:
                messages.append(self.inbox.receive_nowait())
        except (anyio.WouldBlock, anyio.EndOfStream):
            pass
        last = messages[-1] if messages else {}
        if not messages or (last["type"] == "http.response.body" and not last.get("more_body")):
            self.inbox.close()  # the app sends nothing after its last body
        return messages

    async def leave(self) -> None:
        self.over.set()
        self.inbox.close()


class _Reply(httpx.SyncByteStream):
    """The app's messages to one request, read by the client's thread as they come."""

    def __init__(self, exchange: _Exchange, portal: BlockingPortal, timeout: float | None):
        self.exchange = exchange
        self.portal = portal
        self.timeout = timeout
        self.pending: list[Message] = []
        self.done = False

    def next_message(self) -> Message | None:
        if not self.pending:
            self.exchange.ready.wait()
            try:
                self.pending = self.portal.call(self._within_timeout)
            except TimeoutError:
                raise httpx.ReadTimeout("the app did not answer in time") from None
        return self.pending.pop(0) if self.pending else None

    async def _within_timeout(self) -> list[Message]:
        with anyio.fail_after(self.timeout):
            return await self.exchange.next_messages()

    def __iter__(self) -> Iterator[bytes]:
        while not self.done:
            message = self.next_message()
            if message is None or message["type"] != "http.response.body":
                # The app failed after it started its reply: a socket would be closed.
                raise httpx.RemoteProtocolError("the reply ended before it was complete")
            self.done = not message.get("more_body", False)
            if message.get("body"):
                yield message["body"]

    def close(self) -> None:
        if not self.done:
            self.done = True
            self.exchange.ready.wait()
            self.portal.call(self.exchange.leave)


class LiveServer:
    """The real app served by uvicorn on a free port, in a thread of the test process."""

    def __init__(self, settings: Settings, database: Database) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = server.config(settings, database, log_level="warning", lifespan="on")
        self.app = cast(ASGIApp, config.app)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    def __enter__(self) -> "LiveServer":
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.005)
        return self

    def client(self, **options: Any) -> httpx.Client:
        """A client of this server (options as httpx.Client takes them)."""
        return httpx.Client(base_url=self.url, **{"timeout": 30, **options})

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()


class Legacy:
    """A client of the legacy API, as a script written against CRM for Jira would call it.

    It speaks through `http`, a client of a server (`server.client()`), and closes it.
    """

    def __init__(
        self, http: httpx.Client, *, key: str = KEY, user: str = "admin", owns: bool = True
    ) -> None:
        self.http = http
        self.key = key
        self.user = user
        self.owns = owns

    def __call__(self, command: str, /, **params: str) -> dict[str, Any]:
        """GET `command` with `params` (and the key and user); the reply's JSON."""
        query = {"command": command, "apiKey": self.key, "userName": self.user, **params}
        return self.reply(self.http.get(API_PATH, params=query))

    def as_user(self, user: str) -> "Legacy":
        """The same client acting as `user` (closing it leaves this one open)."""
        return Legacy(self.http, key=self.key, user=user, owns=False)

    def get(self, query: str | bytes, *, path: str = API_PATH) -> dict[str, Any]:
        """GET with a raw query string, sent byte for byte as given (nothing added)."""
        raw = query.encode() if isinstance(query, str) else query
        url = self.http.base_url.copy_with(raw_path=path.encode() + b"?" + raw)
        return self.reply(self.http.get(url))

    def post(
        self,
        body: str | bytes,
        *,
        query: str = "",
        path: str = API_PATH,
        content_type: str = "application/x-www-form-urlencoded",
    ) -> dict[str, Any]:
        """POST a raw form body (and an optional raw query string)."""
        url = self.http.base_url.copy_with(raw_path=(path + "?" + query).encode())
        headers = {"content-type": content_type}
        return self.reply(self.http.post(url, content=body, headers=headers))

    @staticmethod
    def reply(response: httpx.Response) -> dict[str, Any]:
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/json; charset=utf-8"
        body: dict[str, Any] = response.json()
        return body

    def close(self) -> None:
        if self.owns:
            self.http.close()


def dump(database: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in a stable order: equal dumps mean nothing changed."""
    tables: dict[str, list[tuple[Any, ...]]] = {}
    # The table names alone, and `SELECT *`: reflecting every table's columns took four
    # fifths of a dump (0.1 to 0.45 s), and a dump is taken before and after each test
    # that checks a refused write.
    names = sa.inspect(database.engine).get_table_names()
    with database.engine.connect() as connection:
        quote = connection.dialect.identifier_preparer.quote
        for name in names:
            rows = connection.exec_driver_sql(f"SELECT * FROM {quote(name)}").all()
            tables[name] = sorted((tuple(row) for row in rows), key=repr)
    return tables


@contextmanager
def statements(database: Database, *, on_the_driver: bool = False) -> Iterator[list[str]]:
    """The statements the database is sent meanwhile (through SQLAlchemy; with
    `on_the_driver`, those the hot paths run on the driver itself too, as an SQLite
    read transaction's, which SQLAlchemy never sees)."""
    sent: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        sent.append(statement)

    def on_driver(connection: sa.Connection, sql: str, params: Any = ()) -> Any:
        if sql not in ("BEGIN", "COMMIT"):
            sent.append(sql)
        return execute(connection, sql, params)

    execute = driver.execute
    sa.event.listen(database.engine, "before_cursor_execute", note)
    if on_the_driver:
        driver.execute = on_driver
    try:
        yield sent
    finally:
        driver.execute = execute
        sa.event.remove(database.engine, "before_cursor_execute", note)


def custom_field(database: Database, directory: str, name: str) -> str:
    """The generated code of a demo custom field, by its display name."""
    with database.transaction(write=False) as tx:
        schema = tx.schema
        return schema.find_field(schema.find_directory(directory), name).code


# A module whose tests only read may share one demo database and one server: it imports
# these three, which stand in for the `demo_url`, `db` and `server` fixtures there.


@pytest.fixture(scope="module", name="demo_url")
def read_only_demo_url(templates: Templates) -> Iterator[str]:
    """One demo database for every test of a module whose tests only read."""
    with templates.fresh("demo") as url:
        yield url


@pytest.fixture(scope="module", name="db")
def read_only_db(demo_url: str) -> Iterator[Database]:
    database = open_database(demo_url, sqlite_synchronous="NORMAL")
    yield database
    database.dispose()


@pytest.fixture(scope="module", name="server")
def read_only_server(db: Database, demo_url: str) -> Iterator[InProcessServer]:
    with InProcessServer(settings_for(demo_url), db) as served:
        yield served


ACCORD = shutil.which("accord", path=str(Path(sys.executable).parent)) or "accord"


class ServerProcess:
    """`accord serve` started in a process of its own, on a free port, logging to a file
    (no jobs, no access log, unless `env` says otherwise), with `workers` processes."""

    def __init__(
        self,
        database_url: str,
        folder: Path,
        name: str,
        env: dict[str, str] | None = None,
        workers: int = 1,
    ) -> None:
        self.database_url = database_url
        self.log_path = folder / f"{name}.log"
        self.folder = folder
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "ACCORD_DATABASE_URL": self.database_url,
            "ACCORD_RUN_JOBS": "0",
            "ACCORD_ACCESS_LOG": "0",
            **(env or {}),
        }
        self.log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [ACCORD, "serve", "--port", str(self.port), "--workers", str(workers)],
            env=env,
            cwd=self.folder,
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def wait_until_listening(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"accord serve exited early:\n{self.output()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"accord serve did not start listening:\n{self.output()}")

    def __enter__(self) -> "ServerProcess":
        return self

    def client(self, **options: Any) -> httpx.Client:
        """A client of this server (options as httpx.Client takes them)."""
        return httpx.Client(base_url=self.url, **{"timeout": 30, **options})

    def __exit__(self, *_: object) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()

    def output(self) -> str:
        """What the server printed and logged so far."""
        return self.log_path.read_text(errors="replace")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
