"""What the REST API's functional tests share: tokens, users with chosen rights, a client,
and checks of problem replies. Every request goes through HTTP to the app (in-process)."""

from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import timedelta
from typing import Any, NamedTuple

import httpx
import pytest

from accord.domain.entries import EntryRef
from accord.domain.schema import FieldType
from accord.domain.users import Actor
from accord.domain.values import RawValue
from accord.services import directories, entries, tokens, users
from accord.services.transactions import Database, now, run
from accord.store import tables as t
from tests.support import Server

API = "/api/v1"
CLI = Actor.system("cli")
Clients = Callable[[str | None], "Api"]
"""The `clients` fixture: a client of the server for a token (None: no token)."""
PROBLEM = "application/problem+json"


class IssuedToken(NamedTuple):
    text: str
    id: int


def issue_token(
    db: Database,
    login: str = "admin",
    *,
    read_only: bool = False,
    directories: list[str] | None = None,
    expires_days: int | None = None,
) -> IssuedToken:
    """A new token for `login`, made as `accord token create` makes it."""
    text, row = run(
        db,
        lambda tx: tokens.create_token(
            tx,
            login,
            read_only=read_only,
            directories=directories,
            expires_days=expires_days,
            actor=CLI,
        ),
        write=True,
    )
    return IssuedToken(text, row.id)


def create_token(db: Database, login: str = "admin", **scope: Any) -> str:
    """The text of a new token for `login` (scope: read_only, directories, expires_days)."""
    return issue_token(db, login, **scope).text


def expire_token(db: Database, token_id: int) -> None:
    """Move a token's expiry to a minute ago (the shortest a token can be given is a day)."""
    with db.engine.begin() as connection:
        connection.execute(
            t.api_tokens.update()
            .where(t.api_tokens.c.id == token_id)
            .values(expires_at=now() - timedelta(minutes=1))
        )


def revoke_token(db: Database, token_id: int) -> None:
    run(db, lambda tx: tokens.revoke_token(tx, token_id, actor=CLI), write=True)


def disable_user(db: Database, login: str) -> None:
    run(db, lambda tx: users.set_user_active(tx, login, False, actor=CLI), write=True)


def add_user(db: Database, login: str, rights: list[str], *, admin: bool = False) -> None:
    """A user holding exactly `rights` (as `accord grant` names them)."""

    def work(tx: Any) -> None:
        users.add_user(tx, login, email=f"{login}@test.example", is_admin=admin, actor=CLI)
        for right in rights:
            users.grant(tx, right, user=login, actor=CLI)

    run(db, work, write=True)


def set_rights(
    db: Database, login: str, *, grant: Sequence[str] = (), revoke: Sequence[str] = ()
) -> None:
    """Grant and take back rights of a user, as `accord grant` and `accord revoke` do."""

    def work(tx: Any) -> None:
        for right in grant:
            users.grant(tx, right, user=login, actor=CLI)
        for right in revoke:
            users.revoke(tx, right, user=login, actor=CLI)

    run(db, work, write=True)


def add_field(db: Database, directory: str, name: str, kind: FieldType, **options: Any) -> str:
    """A new custom field, added as the CLI adds it; its generated code."""
    field = run(
        db,
        lambda tx: directories.add_field(tx, directory, name, kind, actor=CLI, **options),
        write=True,
    )
    return field.code


def set_values(db: Database, directory: str, entry_id: int, values: Mapping[str, str]) -> None:
    """Set fields of an entry from text, as the legacy API types it (by field code)."""

    def work(tx: Any) -> None:
        found = tx.schema.find_directory(directory)
        inputs = [(tx.schema.field(found, code), RawValue(text)) for code, text in values.items()]
        entries.update_entry(tx, found, EntryRef(id=entry_id), inputs, actor=CLI)

    run(db, work, write=True)


class Api:
    """A client of the REST API for one bearer token (paths are relative to /api/v1).

    It speaks through `http`, a client of a server (`server.client()`), which it takes
    over: its base URL moves to /api/v1, it sends the token, and `close()` closes it.
    """

    def __init__(self, http: httpx.Client, token: str | None) -> None:
        http.base_url = http.base_url.join(API)
        http.timeout = httpx.Timeout(120)
        if token is not None:
            http.headers["Authorization"] = f"Bearer {token}"
        self.http = http

    def request(self, method: str, path: str, **options: Any) -> httpx.Response:
        return self.http.request(method, path, **options)

    def get(self, path: str, **options: Any) -> httpx.Response:
        return self.http.get(path, **options)

    def post(self, path: str, **options: Any) -> httpx.Response:
        return self.http.post(path, **options)

    def put(self, path: str, **options: Any) -> httpx.Response:
        return self.http.put(path, **options)

    def patch(self, path: str, **options: Any) -> httpx.Response:
        return self.http.patch(path, **options)

    def delete(self, path: str, **options: Any) -> httpx.Response:
        return self.http.delete(path, **options)

    def ok(self, method: str, path: str, status: int = 200, **options: Any) -> Any:
        """The JSON of a reply that must have `status`."""
        response = self.http.request(method, path, **options)
        assert response.status_code == status, response.text
        assert response.headers["content-type"] == "application/json", response.headers
        return response.json()

    def entry(self, path: str) -> dict[str, Any]:
        body: dict[str, Any] = self.ok("GET", path)
        return body

    def items(self, path: str, **params: Any) -> list[dict[str, Any]]:
        """Every entry of a listing, following the cursor to the last page."""
        found: list[dict[str, Any]] = []
        query = dict(params)
        while True:
            page = self.ok("GET", path, params=query)
            found.extend(page["items"])
            if page["next_cursor"] is None:
                return found
            query["cursor"] = page["next_cursor"]

    def names(self, path: str, name_field: str = "org_name", **params: Any) -> list[str]:
        return [item[name_field] for item in self.items(path, **params)]

    def close(self) -> None:
        self.http.close()


def problem(
    response: httpx.Response, status: int, code: str, *, detail: str | None = None
) -> dict[str, Any]:
    """The problem JSON (RFC 9457) of a reply that must be an error `status` with `code`."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM, response.headers
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["code"] == code, body
    assert body["type"] == f"urn:accord:problem:{code}"
    assert body["title"]
    assert isinstance(body["detail"], str)
    assert body["detail"]
    if detail is not None:
        assert body["detail"] == detail, body
    return body


def error_fields(body: Mapping[str, Any]) -> dict[str, str]:
    """The per-field errors of a problem: field code -> error code."""
    return {e["field"]: e["code"] for e in body.get("errors", [])}


# Fixtures (imported by the conftest.py of tests/functional/api/)


@pytest.fixture
def token(db: Database) -> str:
    """A token of the demo administrator, with every right the administrator holds."""
    return create_token(db)


@pytest.fixture
def clients(server: Server) -> Iterator[Clients]:
    """Make clients of the server for other tokens (None: no token at all)."""
    made: list[Api] = []

    def client_for(text: str | None) -> Api:
        made.append(Api(server.client(), text))
        return made[-1]

    yield client_for
    for client in made:
        client.close()


@pytest.fixture
def api(clients: Clients, token: str) -> Api:
    """A client acting as the demo administrator."""
    return clients(token)


ClientOf = Callable[..., Api]
"""The `client_of` fixture: a client for a new token of a user (scope: read_only, directories)."""


@pytest.fixture
def client_of(clients: Clients, db: Database) -> ClientOf:
    return lambda login, **scope: clients(create_token(db, login, **scope))


@pytest.fixture
def admin(client_of: ClientOf) -> Api:
    return client_of("admin")
