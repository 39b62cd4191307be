"""The direct routes (`api.direct`) answer exactly as the FastAPI routes behind them.

The same requests go to the server and to a second one whose app has no direct
routes, over one database: every reply must be the same, byte for byte in its JSON,
whether the direct route took the request or let it fall through.
"""

from collections.abc import Iterator
from typing import Any

import pytest
from starlette.routing import Match

from accord.api.direct import DirectRoute
from accord.services.transactions import Database
from tests.functional.api_support import API, create_token
from tests.support import InProcessServer, Server, settings_for

REQUESTS: list[tuple[str, dict[str, str]]] = [
    # Taken by the direct routes
    ("/companies/1", {}),
    ("/companies/3", {"If-None-Match": '"1"'}),
    ("/companies/3", {"If-None-Match": '"7", W/"1"'}),
    ("/contacts/1", {}),
    ("/directories/CLIENTS/entries/2", {}),
    ("/directories/PRODUCTS/entries/1", {}),
    ("/companies", {}),
    ("/companies?limit=2", {}),
    ("/companies?limit=1000&count=true", {}),
    ("/companies?filter=org_type%20eq%20%27Client%27&sort=-org_name,id&fields=org_name", {}),
    ("/companies?q=soft&count=false", {}),
    ("/contacts?limit=3&fields=contact_name,contact_company", {}),
    ("/directories/CONTACTS/entries?filter=contact_name%20startswith%20%27A%27", {}),
    # Taken by them, refused by the service: the same problem either way
    ("/companies/999999", {}),
    ("/directories/NOPE/entries/1", {}),
    ("/directories/NOPE/entries", {}),
    ("/companies?filter=org_name%20eq", {}),
    ("/companies?sort=nope", {}),
    ("/companies?fields=nope", {}),
    ("/companies?cursor=garbage", {}),
    # Left to FastAPI
    ("/companies/0", {}),
    ("/companies/abc", {}),
    ("/companies/99999999999", {}),
    ("/companies/1?fields=org_name", {}),
    ("/companies?limit=0", {}),
    ("/companies?limit=1001", {}),
    ("/companies?limit=ten", {}),
    ("/companies?count=maybe", {}),
    ("/companies?count=1", {}),
    ("/companies?limit=2&limit=3", {}),
    ("/companies?colour=red", {}),
    ("/companies?q=" + "x" * 1001, {}),
    ("/directories/" + "X" * 256 + "/entries/1", {}),
]


@pytest.fixture
def fastapi_only(db: Database, demo_url: str) -> Iterator[InProcessServer]:
    """A second server over the same database, without the direct routes."""
    second = InProcessServer(settings_for(demo_url), db)
    routes = second.app.router.routes  # type: ignore[attr-defined]
    routes[:] = [r for r in routes if not isinstance(r, DirectRoute)]
    with second:
        yield second


def reply(server: Server, path: str, headers: dict[str, str], token: str | None) -> dict[str, Any]:
    sent = {**headers, **({"Authorization": f"Bearer {token}"} if token else {})}
    with server.client() as http:
        response = http.get(API + path, headers=sent)
    return {
        "status": response.status_code,
        "type": response.headers.get("content-type"),
        "etag": response.headers.get("etag"),
        "body": response.json() if response.content else None,
    }


def test_every_request_gets_the_reply_the_fastapi_route_gives(
    server: Server, fastapi_only: Server, db: Database
):
    token = create_token(db)
    differing = [
        (path, headers)
        for path, headers in REQUESTS
        if reply(server, path, headers, token) != reply(fastapi_only, path, headers, token)
    ]
    assert differing == []
    assert reply(server, "/companies/3", {}, token)["etag"] == '"1"'
    assert reply(server, "/companies/3", {"If-None-Match": '"1"'}, token)["status"] == 304


@pytest.mark.parametrize("token", [None, "not-a-token"])
def test_without_a_valid_token_the_reply_is_the_same_401(
    server: Server, fastapi_only: Server, token: str | None
):
    for path in ("/companies/1", "/companies"):
        direct = reply(server, path, {}, token)
        assert direct["status"] == 401
        assert direct == reply(fastapi_only, path, {}, token)


def test_the_direct_routes_take_plainly_valid_reads_and_leave_the_rest(server: Server):
    routes = [r for r in server.app.router.routes if isinstance(r, DirectRoute)]  # type: ignore[attr-defined]

    def taken(path: str, method: str = "GET", token: bool = True) -> bool:
        raw_path, _, query = (API + path).partition("?")
        scope = {
            "type": "http",
            "method": method,
            "path": raw_path,
            "root_path": "",
            "query_string": query.encode(),
            "headers": [(b"authorization", b"Bearer x")] if token else [],
        }
        return any(r.matches(scope)[0] is Match.FULL for r in routes)

    for path, _ in REQUESTS[: REQUESTS.index(("/companies/0", {}))]:
        assert taken(path), path
    for path, _ in REQUESTS[REQUESTS.index(("/companies/0", {})) :]:
        assert not taken(path), path
    assert not taken("/companies/1", method="DELETE")
    assert not taken("/companies/1", token=False)
    assert not taken("/companies/1/history")
