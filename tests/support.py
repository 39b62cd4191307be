"""Helpers the tests share: fresh databases, a live HTTP server, a legacy API client."""

import os
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
import uvicorn

from accord import server
from accord.services import demo
from accord.services.transactions import Database, open_database, run
from accord.settings import Settings
from accord.store import migrate

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

    @contextmanager
    def fresh(self, kind: str) -> Iterator[str]:
        """A new database copied from the `kind` template, dropped afterwards."""
        url = self._create(f"t_{uuid.uuid4().hex[:10]}", kind)
        try:
            yield url
        finally:
            # Dropping a PostgreSQL database takes up to a second: do it in the background.
            self._dropping.submit(self._drop, url)

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
        self._dropping.shutdown(wait=True)
        for url in self._urls.values():
            self._drop(url)
        if self.backend == "postgresql":
            self._admin.dispose()


def settings_for(url: str, **overrides: Any) -> Settings:
    options: dict[str, Any] = {
        "database_url": url,
        "access_log": False,
        "run_jobs": False,
        "sqlite_synchronous": "NORMAL",
    }
    options.update(overrides)
    return Settings(**options)


class LiveServer:
    """The real app served by uvicorn on a free port, in a thread of the test process."""

    def __init__(self, settings: Settings, database: Database) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = server.config(settings, database, log_level="warning", lifespan="on")
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
    """A client of the legacy API, as a script written against CRM for Jira would call it."""

    def __init__(self, base_url: str, *, key: str = KEY, user: str = "admin") -> None:
        self.http = httpx.Client(base_url=base_url, timeout=30)
        self.key = key
        self.user = user

    def __call__(self, command: str, /, **params: str) -> dict[str, Any]:
        """GET `command` with `params` (and the key and user); the reply's JSON."""
        query = {"command": command, "apiKey": self.key, "userName": self.user, **params}
        return self.reply(self.http.get(API_PATH, params=query))

    def as_user(self, user: str) -> "Legacy":
        return Legacy(str(self.http.base_url), key=self.key, user=user)

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
        self.http.close()


def dump(database: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in a stable order: equal dumps mean nothing changed."""
    tables: dict[str, list[tuple[Any, ...]]] = {}
    metadata = sa.MetaData()
    metadata.reflect(database.engine)
    with database.engine.connect() as connection:
        for table in metadata.sorted_tables:
            rows = connection.execute(sa.select(table)).all()
            tables[table.name] = sorted((tuple(row) for row in rows), key=repr)
    return tables


def custom_field(database: Database, directory: str, name: str) -> str:
    """The generated code of a demo custom field, by its display name."""
    with database.transaction(write=False) as tx:
        schema = tx.schema
        return schema.find_field(schema.find_directory(directory), name).code
