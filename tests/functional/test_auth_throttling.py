"""Throttling of failed authentication, through HTTP, on both APIs.

The limit here is 3 failures a minute, so nothing drains noticeably while a test runs; a
lock lasts a minute (the cool-down itself is tested on a moving clock in
tests/unit/test_throttle.py). Clients come from chosen addresses, as the server sees its
peers.
"""

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from accord.services.transactions import Database
from tests.functional.api_support import PROBLEM, create_token, issue_token, revoke_token
from tests.support import API_PATH, KEY, InProcessServer, _AppTransport, settings_for

UPDATE_NOM = "/rest/catalog-rest/1.0/catalog/updateNom"
FROM_ADDRESS = "Too many failed authentications from this address; retry in"
FOR_USER = "Too many failed authentications for this user; retry in"
Client = Callable[[str], httpx.Client]


@pytest.fixture
def throttled(db: Database, demo_url: str) -> Iterator[InProcessServer]:
    with InProcessServer(settings_for(demo_url, auth_failure_limit=3), db) as served:
        yield served


@pytest.fixture
def client(throttled: InProcessServer) -> Iterator[Client]:
    """A client of the server from the address given."""
    clients: list[httpx.Client] = []

    def make(address: str) -> httpx.Client:
        transport = _AppTransport(throttled, (address, 40000 + len(clients)))
        clients.append(httpx.Client(base_url=throttled.url, transport=transport, timeout=30))
        return clients[-1]

    yield make
    for each in clients:
        each.close()


def legacy(http: httpx.Client, key: str = KEY, user: str = "admin") -> Any:
    """A getcompanies call's envelope (always HTTP 200)."""
    query = {"command": "getcompanies", "apiKey": key, "userName": user}
    reply = http.get(API_PATH, params=query)
    assert reply.status_code == 200
    return reply.json()


def details(reply: Any) -> str:
    assert reply["success"] is False, reply
    text: str = reply["details"]
    return text


def me(http: httpx.Client, token: str | None) -> httpx.Response:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    return http.get("/api/v1/me", headers=headers)


# The legacy API


def test_wrong_keys_past_the_limit_are_refused_without_the_key_being_checked(
    client: Client,
) -> None:
    http = client("192.0.2.1")
    assert [details(legacy(http, f"wrong{n}")) for n in range(3)] == ["Wrong API key"] * 3
    refused = details(legacy(http, "wrong4"))
    assert refused.startswith(FROM_ADDRESS)
    assert 55 <= int(refused.split()[-2]) <= 60
    # Not even the right key is looked at: this address never showed it before.
    assert details(legacy(http)).startswith(FROM_ADDRESS)


def test_every_way_of_sending_the_key_is_counted(client: Client) -> None:
    http = client("192.0.2.1")
    header = http.get(
        API_PATH,
        params={"command": "getcompanies", "userName": "admin"},
        headers={"X-Api-Key": "x1"},
    )
    form = http.post(API_PATH, data={"command": "getcompanies", "apiKey": "x2", "userName": "a"})
    update_nom = http.get(UPDATE_NOM, params={"nomId": "1", "tableName": "CLIENTS", "apiKey": "x3"})
    for reply in (header, form, update_nom):
        assert (reply.status_code, details(reply.json())) == (200, "Wrong API key")
    for reply in (
        http.get(UPDATE_NOM, params={"nomId": "1", "tableName": "CLIENTS", "apiKey": KEY}),
        http.post(API_PATH, data={"command": "getcompanies", "apiKey": KEY, "userName": "admin"}),
    ):
        assert (reply.status_code, details(reply.json())[: len(FROM_ADDRESS)]) == (
            200,
            FROM_ADDRESS,
        )


def test_a_valid_key_from_another_address_is_not_limited(client: Client) -> None:
    usual, attacker, new = client("192.0.2.1"), client("198.51.100.7"), client("203.0.113.9")
    assert legacy(usual)["success"] is True
    for n in range(6):
        legacy(attacker, f"wrong{n}")  # locks the attacker's address and the login admin
    assert details(legacy(attacker)).startswith(FROM_ADDRESS)
    assert legacy(usual)["success"] is True
    assert legacy(new)["success"] is True  # the key worked before: the login lets it in
    assert details(legacy(new, "wrong")).startswith(FOR_USER)  # a guess is not looked at
    assert details(legacy(new, "wrong", user="manager")) == "Wrong API key"


def test_a_login_attacked_from_many_addresses_is_locked_for_unproven_keys(client: Client) -> None:
    for n in range(3):
        assert details(legacy(client(f"198.51.100.{n}"), f"wrong{n}")) == "Wrong API key"
    other = client("203.0.113.9")
    assert details(legacy(other, "wrong", user="ADMIN ")).startswith(FOR_USER)
    assert details(legacy(other, "wrong", user="manager")) == "Wrong API key"


def test_a_key_that_worked_from_an_address_goes_on_working_there(client: Client) -> None:
    shared = client("192.0.2.1")  # say, one NAT address for a good client and a bad one
    assert legacy(shared)["success"] is True
    for n in range(3):
        legacy(shared, f"wrong{n}")
    assert legacy(shared)["success"] is True
    assert details(legacy(shared, "wrong")).startswith(FROM_ADDRESS)


def test_successes_and_unknown_users_are_not_failures(client: Client) -> None:
    http = client("192.0.2.1")
    for n in range(2):
        assert details(legacy(http, f"wrong{n}")) == "Wrong API key"
    for _ in range(5):
        assert legacy(http)["success"] is True
        assert details(legacy(http, user="nobody")) == "User not found"
    assert details(legacy(http, "wrong")) == "Wrong API key"  # the third failure
    assert details(legacy(http, "wrong")).startswith(FROM_ADDRESS)


def test_a_missing_key_is_no_guess(client: Client) -> None:
    http = client("192.0.2.1")
    for _ in range(5):
        assert details(legacy(http, "")) == "Wrong API key"
    assert [details(legacy(http, f"wrong{n}")) for n in range(3)] == ["Wrong API key"] * 3
    assert details(legacy(http, "")).startswith(FROM_ADDRESS)


def test_the_default_is_sixty_failures_a_minute_and_zero_is_off(
    server: InProcessServer, db: Database, demo_url: str
) -> None:
    with server.client() as http:
        assert {details(legacy(http, f"w{n}")) for n in range(60)} == {"Wrong API key"}
        assert details(legacy(http, "w60")).startswith(FROM_ADDRESS)
    settings = settings_for(demo_url, auth_failure_limit=0)
    with InProcessServer(settings, db) as served, served.client() as http:
        assert {details(legacy(http, f"w{n}")) for n in range(80)} == {"Wrong API key"}
        assert {me(http, f"acc_{n}").status_code for n in range(80)} == {401}


# The REST API


def test_invented_tokens_past_the_limit_get_429_with_retry_after(client: Client) -> None:
    http = client("192.0.2.1")
    assert [me(http, f"acc_invented{n}").status_code for n in range(3)] == [401] * 3
    refused = me(http, "acc_another")
    assert refused.status_code == 429
    assert refused.headers["content-type"] == PROBLEM
    assert refused.json()["code"] == "too_many_failures"
    assert refused.json()["detail"].startswith(FROM_ADDRESS)
    assert 55 <= int(refused.headers["retry-after"]) <= 60
    assert me(http, None).status_code == 429
    assert (
        http.post("/api/v1/companies", json={}, headers={"Authorization": "Bearer x"}).status_code
        == 429
    )


def test_a_valid_token_is_not_held_up_by_invented_ones_from_its_address(
    client: Client, db: Database
) -> None:
    http, token = client("192.0.2.1"), create_token(db)
    assert me(http, token).status_code == 200
    for n in range(5):
        me(http, f"acc_invented{n}")
    assert me(http, "acc_invented").status_code == 429
    assert [me(http, token).status_code for _ in range(3)] == [200] * 3
    # One this process never saw succeed is an unproven credential like any other.
    assert me(http, create_token(db)).status_code == 429


def test_one_address_s_failures_do_not_limit_another(client: Client, db: Database) -> None:
    attacker, other = client("198.51.100.7"), client("203.0.113.9")
    for n in range(4):
        me(attacker, f"acc_invented{n}")
    assert me(attacker, "acc_x").status_code == 429
    assert me(other, "acc_invented").status_code == 401
    assert me(other, create_token(db)).status_code == 200


def test_a_missing_token_is_no_guess(client: Client) -> None:
    http = client("192.0.2.1")
    assert [me(http, None).status_code for _ in range(5)] == [401] * 5
    assert [me(http, f"acc_invented{n}").status_code for n in range(3)] == [401] * 3
    assert me(http, None).status_code == 429


def test_a_revoked_token_loses_its_pass(client: Client, db: Database) -> None:
    http, issued = client("192.0.2.1"), issue_token(db)
    assert me(http, issued.text).status_code == 200
    revoke_token(db, issued.id)
    assert [me(http, issued.text).status_code for _ in range(3)] == [401] * 3
    assert me(http, issued.text).status_code == 429


def test_both_apis_draw_on_one_budget_per_address(client: Client) -> None:
    http = client("192.0.2.1")
    legacy(http, "wrong1")
    legacy(http, "wrong2")
    assert me(http, "acc_invented").status_code == 401
    assert me(http, "acc_invented").status_code == 429
    assert details(legacy(http, "wrong3")).startswith(FROM_ADDRESS)
