"""No REST body is read before its token is checked, nor past the cap (issue 12, defect 1).

A body here is made as it is read, counting what the server took of it: the in-process
server hands a body given as an iterator to the app chunk by chunk, as the app asks for
it, as a socket would. So "not read" is what the server did, not what the client sent.
"""

from collections.abc import Iterator

import httpx
import pytest

from accord.services.transactions import Database
from accord.settings import Settings
from tests.functional.api_support import (
    API,
    expire_token,
    issue_token,
    problem,
    revoke_token,
)
from tests.support import API_PATH, KEY, InProcessServer, dump

CAP = Settings().max_body_bytes
CHUNK = 64 * 1024
HUGE = 50 * 1024 * 1024
JSON = {"content-type": "application/json"}


class Body:
    """A request body of `size` bytes (`head` then spaces, which JSON reads as nothing),
    made chunk by chunk as the server reads it; `taken` counts what it took."""

    def __init__(self, size: int, head: bytes = b"{}") -> None:
        self.size = size
        self.head = head
        self.taken = 0

    def __iter__(self) -> Iterator[bytes]:
        sent = 0
        while sent < self.size:
            chunk = self.head if sent == 0 else b" " * min(CHUNK, self.size - sent)
            sent += len(chunk)
            self.taken += len(chunk)
            yield chunk


@pytest.fixture
def http(server: InProcessServer) -> Iterator[httpx.Client]:
    with server.client() as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {**JSON, "Authorization": f"Bearer {token}"}


def test_a_body_without_a_token_is_refused_before_a_byte_of_it_is_read(
    http: httpx.Client,
) -> None:
    body = Body(HUGE, head=b"{not json")
    reply = http.post(f"{API}/companies/search", content=body, headers=JSON)
    problem(reply, 401, "invalid_token")
    assert reply.headers["www-authenticate"] == 'Bearer realm="accord"'
    assert body.taken == 0


@pytest.mark.parametrize("state", ["invented", "revoked", "expired", "not bearer"])
def test_a_body_with_a_token_that_is_not_valid_is_refused_before_it_is_read(
    http: httpx.Client, db: Database, state: str
) -> None:
    issued = issue_token(db)
    if state == "revoked":
        revoke_token(db, issued.id)
    elif state == "expired":
        expire_token(db, issued.id)
    token = "acc_" + "x" * 43 if state == "invented" else issued.text
    headers = {**JSON, "Authorization": f"Basic {token}"} if state == "not bearer" else None
    body = Body(HUGE)
    before = dump(db)
    reply = http.post(f"{API}/companies", content=body, headers=headers or bearer(token))
    problem(reply, 401, "invalid_token")
    assert body.taken == 0
    assert dump(db) == before


def test_a_declared_length_over_the_cap_is_refused_at_once(
    http: httpx.Client, db: Database, token: str
) -> None:
    body = Body(CAP + 1, head=b'{"org_name": "Too Big Inc"}')
    before = dump(db)
    headers = {**bearer(token), "Content-Length": str(CAP + 1)}
    reply = http.post(f"{API}/companies", content=body, headers=headers)
    found = problem(reply, 413, "body_too_large")
    assert found["detail"] == (
        f"The request body is longer than the {CAP:,} bytes this server reads"
    )
    assert body.taken == 0
    assert dump(db) == before


@pytest.mark.parametrize("declared", [None, "2"], ids=["chunked", "lying"])
def test_a_body_that_grows_past_the_cap_is_cut_off_while_it_is_read(
    http: httpx.Client, db: Database, token: str, declared: str | None
) -> None:
    body = Body(HUGE, head=b'{"org_name": "Too Big Inc"}')
    before = dump(db)
    headers = bearer(token) if declared is None else {**bearer(token), "Content-Length": declared}
    reply = http.post(f"{API}/companies", content=body, headers=headers)
    problem(reply, 413, "body_too_large")
    assert body.taken <= CAP + CHUNK  # the chunk that went past it, and nothing after
    assert dump(db) == before


def test_a_body_of_exactly_the_cap_is_read(http: httpx.Client, token: str) -> None:
    head = b'{"filter": {"field": "org_name", "op": "eq", "value": "Adobe"}}'
    reply = http.post(f"{API}/companies/search", content=Body(CAP, head), headers=bearer(token))
    assert reply.status_code == 200, reply.text
    assert [item["org_name"] for item in reply.json()["items"]] == ["Adobe"]
    chunked = http.post(
        f"{API}/companies/search",
        content=iter([head, b" " * (CAP - len(head))]),
        headers=bearer(token),
    )
    assert chunked.status_code == 200, chunked.text
    over = http.post(f"{API}/companies/search", content=Body(CAP + 1, head), headers=bearer(token))
    problem(over, 413, "body_too_large")


def test_a_legacy_form_body_is_bounded_while_it_is_read(http: httpx.Client) -> None:
    """The legacy API takes its key in the body, so reads it first, but never past its own
    limit (ACCORD_MAX_REQUEST_BYTES), chunk by chunk."""
    limit = Settings().max_request_bytes
    body = Body(HUGE, head=f"command=getcompany&apiKey={KEY}&userName=admin&x=".encode())
    headers = {"content-type": "application/x-www-form-urlencoded"}
    reply = http.post(API_PATH, content=body, headers=headers)
    assert reply.json() == {"success": False, "details": "Request too large"}
    assert body.taken <= limit + CHUNK
