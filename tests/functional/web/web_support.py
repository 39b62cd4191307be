"""What the web UI's functional tests share: a browser-like client that signs in, reads
pages and sends their forms back (with the CSRF token each page carries)."""

import html
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from accord.services import demo, sessions
from accord.services.transactions import Database, run
from tests.functional.api_support import CLI, add_user
from tests.support import InProcessServer, Server

ADMIN_PASSWORD = demo.ADMIN_PASSWORD
PASSWORD = "correct horse battery"
ROW_START = r'<tr>\s*(?:<td class="select">[^\n]*</td>\s*)?<td>'
"""Where a list row's first column begins (after its selection check box, if shown)."""
_CSRF = re.compile(r'name="csrf" value="([^"]*)"')
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


def set_password(db: Database, login: str, password: str = PASSWORD) -> None:
    run(db, lambda tx: sessions.set_password(tx, login, password, actor=CLI), write=True)


def add_web_user(db: Database, login: str, rights: list[str], *, admin: bool = False) -> None:
    """A user holding exactly `rights`, with the password `PASSWORD`."""
    add_user(db, login, rights, admin=admin)
    set_password(db, login)


def csrf_of(page: str) -> str:
    found = _CSRF.search(page)
    assert found is not None, page
    return html.unescape(found[1])


def hidden_fields(page: str) -> list[tuple[str, str]]:
    """The hidden inputs of a page, in order (the edit form's csrf, version, was.*)."""
    return [(html.unescape(n), html.unescape(v)) for n, v in _HIDDEN.findall(page)]


def text_of(page: str) -> str:
    """A page's visible text, roughly: tags removed, entities read, white space folded."""
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())


class Browser:
    """A client that keeps cookies, as a browser without JavaScript does."""

    def __init__(self, server: Server, *, address: str = "127.0.0.1") -> None:
        options: dict[str, Any] = {"follow_redirects": False}
        if hasattr(server, "portal"):
            self.http = server.client(address=address, **options)  # type: ignore[call-arg]
        else:
            self.http = server.client(**options)

    def get(self, path: str, **options: Any) -> httpx.Response:
        return self.http.get(path, **options)

    def post(self, path: str, data: Any) -> httpx.Response:
        """A form sent as a browser sends it (a list of pairs may repeat a name)."""
        pairs = list(data.items()) if isinstance(data, dict) else data
        return self.http.post(
            path,
            content=urlencode(pairs),
            headers={"content-type": "application/x-www-form-urlencoded"},
        )

    def sign_in(
        self, login: str = "admin", password: str = ADMIN_PASSWORD, *, next_: str = "/"
    ) -> httpx.Response:
        form = self.get("/sign-in")
        assert form.status_code == 200
        data = {"login": login, "password": password, "csrf": csrf_of(form.text), "next": next_}
        return self.post("/sign-in", data)

    def signed_in(self, login: str = "admin", password: str = ADMIN_PASSWORD) -> "Browser":
        reply = self.sign_in(login, password)
        assert reply.status_code == 303, text_of(reply.text)
        return self

    def csrf(self) -> str:
        return csrf_of(self.get("/").text)

    def close(self) -> None:
        self.http.close()


def web_user(db: Database, server: Server, login: str, rights: list[str]) -> Browser:
    """A browser signed in as a new user holding exactly `rights`."""
    add_web_user(db, login, rights)
    return Browser(server).signed_in(login, PASSWORD)


# A module whose tests only read (over `tests.support`'s shared database and server) may
# share these two browsers: it imports them, and they stand in for `admin` and `viewer`.


@pytest.fixture(scope="module", name="admin")
def shared_admin(server: InProcessServer) -> Iterator[Browser]:
    browser = Browser(server).signed_in()
    yield browser
    browser.close()


@pytest.fixture(scope="module", name="viewer")
def shared_viewer(db: Database, server: InProcessServer) -> Iterator[Browser]:
    """A user who may see companies, and nothing else."""
    browser = web_user(db, server, "companies-viewer", ["main-menu", "CLIENTS.view"])
    yield browser
    browser.close()
