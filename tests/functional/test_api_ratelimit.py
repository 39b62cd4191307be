"""The REST API's rate limit, through HTTP: a bucket per token, headers, 429, what it spares.

The limit here is 1 request a minute in bursts of 3, so no bucket refills noticeably
while a test runs (a tenth of a request in 6 s).
"""

from collections.abc import Callable, Iterator

import httpx
import pytest

from accord.domain.users import Actor
from accord.services import tokens
from accord.services.transactions import Database, run
from accord.settings import Settings
from tests.support import API_PATH, KEY, InProcessServer, Server, settings_for

Get = Callable[..., httpx.Response]


@pytest.fixture
def limited(db: Database, demo_url: str) -> Iterator[InProcessServer]:
    settings = settings_for(demo_url, api_rate_limit=1, api_rate_burst=3)
    with InProcessServer(settings, db) as served:
        yield served


@pytest.fixture
def get(limited: InProcessServer) -> Iterator[Get]:
    with limited.client() as client:

        def get(
            path: str, token: str | None = None, params: dict[str, str] | None = None
        ) -> httpx.Response:
            headers = {} if token is None else {"Authorization": f"Bearer {token}"}
            return client.get(path, headers=headers, params=params)

        yield get


def new_token(db: Database) -> str:
    cli = Actor.system("cli")
    text, _ = run(db, lambda tx: tokens.create_token(tx, "admin", actor=cli), write=True)
    return text


def remaining(response: httpx.Response) -> int:
    return int(response.headers["ratelimit-remaining"])


def test_every_reply_says_the_limit_and_the_burst_is_then_refused(get: Get, db: Database) -> None:
    token = new_token(db)
    first = get("/api/v1/me", token)  # a token's first call draws on its address's bucket
    replies = [get("/api/v1/me", token) for _ in range(3)]
    assert [r.status_code for r in [first, *replies]] == [200, 200, 200, 200]
    assert [remaining(r) for r in replies] == [2, 1, 0]
    for reply in replies:
        assert reply.headers["ratelimit-limit"] == "3"
        assert reply.headers["ratelimit-policy"] == "3;w=180"
    assert 59 <= int(replies[0].headers["ratelimit-reset"]) <= 61  # a minute per request
    assert 175 <= int(replies[-1].headers["ratelimit-reset"]) <= 180

    refused = get("/api/v1/me", token)
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["code"] == "rate_limited"
    assert refused.json()["instance"] == "/api/v1/me"
    assert 55 <= int(refused.headers["retry-after"]) <= 60
    assert remaining(refused) == 0


def test_each_token_has_its_own_bucket(get: Get, db: Database) -> None:
    busy, other = new_token(db), new_token(db)
    for _ in range(4):
        get("/api/v1/me", busy)
    assert get("/api/v1/me", busy).status_code == 429
    calm = get("/api/v1/me", other)  # on the address's bucket, which busy's first call used
    assert (calm.status_code, remaining(calm)) == (200, 1)
    assert [remaining(get("/api/v1/me", other)) for _ in range(3)] == [2, 1, 0]


def test_invented_tokens_share_the_address_s_bucket(get: Get, db: Database) -> None:
    replies = [get("/api/v1/me", f"acc_invented{n}") for n in range(3)]
    assert [r.status_code for r in replies] == [401, 401, 401]
    assert [remaining(r) for r in replies] == [2, 1, 0]
    assert get("/api/v1/me", "acc_another").status_code == 429
    assert get("/api/v1/me/", "acc_redirected").status_code == 429
    assert get("/api/v1/me").status_code == 429  # nor does sending none
    assert get("/api/v1/me", new_token(db)).status_code == 429  # a new token starts there too


def test_a_redirect_does_not_vouch_for_a_token(get: Get) -> None:
    redirected = get("/api/v1/me/", "acc_invented")  # answered before any token check
    assert redirected.status_code == 307
    assert [get("/api/v1/me", "acc_invented").status_code for _ in range(3)] == [401, 401, 429]


def test_the_legacy_api_and_the_docs_are_not_limited(get: Get) -> None:
    for _ in range(4):
        get("/api/v1/me")
    assert get("/api/v1/me").status_code == 429
    legacy = get(API_PATH, params={"command": "getcompanies", "apiKey": KEY, "userName": "admin"})
    docs = get("/api/v1/docs")
    openapi = get("/api/v1/openapi.json")
    for reply in (legacy, docs, openapi):
        assert reply.status_code == 200
        assert "ratelimit-limit" not in reply.headers


def test_there_is_no_limit_by_default(server: Server, db: Database) -> None:
    assert Settings().api_rate_limit == 0
    token = new_token(db)
    with server.client() as client:
        for _ in range(5):
            reply = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
            assert reply.status_code == 200
            assert "ratelimit-limit" not in reply.headers


def test_the_limit_is_read_from_the_environment() -> None:
    settings = Settings.from_env({"ACCORD_API_RATE_LIMIT": "600", "ACCORD_API_RATE_BURST": "20"})
    assert (settings.api_rate_limit, settings.api_rate_burst) == (600, 20)
    with pytest.raises(ValueError, match="0 or more"):
        Settings.from_env({"ACCORD_API_RATE_LIMIT": "-1"})
