"""Every reply says not to sniff its type; every reply that may carry data or a credential
says not to store it (issue 12, defect 11). The API's description may be cached."""

from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI
from starlette.responses import Response

from accord.services.transactions import Database
from tests.functional.api_support import create_token
from tests.support import API_PATH, KEY, InProcessServer, settings_for

API = "/api/v1"


@pytest.fixture
def http(server: InProcessServer) -> Iterator[httpx.Client]:
    with server.client() as client:
        yield client


def private(reply: httpx.Response) -> bool:
    """The reply carries both headers, once each."""
    return reply.headers.get_list("x-content-type-options") == ["nosniff"] and (
        reply.headers.get_list("cache-control") == ["no-store"]
    )


def test_every_legacy_reply_is_neither_sniffed_nor_stored(http: httpx.Client) -> None:
    query = {"command": "getcompanybyname", "apiKey": KEY, "userName": "admin", "companyId": "1"}
    found = http.get(API_PATH, params=query)
    assert found.json()["success"] is True
    wrong_key = http.get(API_PATH, params={**query, "apiKey": "wrong"})
    assert wrong_key.json()["success"] is False
    posted = http.post(API_PATH, data=query)
    listing = http.get(API_PATH, params={**query, "command": "getcompanieslist"})
    refused = http.put(API_PATH)
    for reply in (found, wrong_key, posted, listing, refused):
        assert private(reply), (reply.status_code, reply.headers)


def test_every_rest_reply_is_neither_sniffed_nor_stored(http: httpx.Client, db: Database) -> None:
    auth = {"Authorization": f"Bearer {create_token(db)}"}
    replies = [
        http.get(f"{API}/companies/1", headers=auth),  # a direct route
        http.get(f"{API}/companies", headers=auth),
        http.get(f"{API}/me", headers=auth),  # a FastAPI route
        http.post(f"{API}/companies/search", json={}, headers=auth),
        http.get(f"{API}/companies/1", headers={**auth, "If-None-Match": "*"}),  # 304
        http.get(f"{API}/companies/99999", headers=auth),
        http.get(f"{API}/me"),  # 401
        http.get(f"{API}/me", headers={"Authorization": "Bearer acc_invented"}),
        http.get(f"{API}/nowhere", headers=auth),
    ]
    assert [r.status_code for r in replies] == [200, 200, 200, 200, 304, 404, 401, 401, 404]
    for reply in replies:
        assert private(reply), (reply.request.url, reply.headers)


@pytest.mark.parametrize(
    "path",
    [
        f"{API}/openapi.json",
        f"{API}/docs",
        f"{API}/docs/init.js",
        f"{API}/docs/assets/swagger-ui.css",
    ],
)
def test_the_api_s_description_may_be_cached_but_not_sniffed(http: httpx.Client, path: str) -> None:
    reply = http.get(path)
    assert reply.status_code == 200
    assert reply.headers.get_list("x-content-type-options") == ["nosniff"]
    assert "cache-control" not in reply.headers


def test_a_crash_and_a_rate_limit_carry_them_too(db: Database, demo_url: str) -> None:
    async def crash() -> None:
        raise RuntimeError("a bug")

    settings = settings_for(demo_url, api_rate_limit=1, api_rate_burst=1)
    with InProcessServer(settings, db) as served, served.client() as http:
        assert isinstance(served.app, FastAPI)
        served.app.add_api_route("/crash", crash)
        crashed = http.get("/crash")
        first, limited = http.get(f"{API}/me"), http.get(f"{API}/me")
    assert (crashed.status_code, first.status_code, limited.status_code) == (500, 401, 429)
    for reply in (crashed, limited):
        assert private(reply), reply.headers


def test_headers_a_reply_already_has_are_kept(server: InProcessServer) -> None:
    async def cached() -> Response:
        headers = {"Cache-Control": "max-age=60", "X-Content-Type-Options": "nosniff"}
        return Response(b"{}", headers=headers, media_type="application/json")

    async def plain() -> Response:
        return Response(b"{}", media_type="application/json")

    assert isinstance(server.app, FastAPI)
    server.app.add_api_route("/cached", cached)
    server.app.add_api_route("/plain", plain)
    with server.client() as http:
        kept, added = http.get("/cached"), http.get("/plain")
    assert kept.headers.get_list("cache-control") == ["max-age=60"]
    assert kept.headers.get_list("x-content-type-options") == ["nosniff"]
    assert private(added), added.headers
