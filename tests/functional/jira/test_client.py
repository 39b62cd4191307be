"""The Jira client and its adapters against the simulator, over loopback HTTP: retries
that honour Retry-After within a bound, timeouts, dropped connections, clear errors, and
each API's paging reaching every user."""

import time
from collections.abc import Iterator

import pytest

from accord.domain.errors import JiraRefused, JiraUnavailable
from accord.jira.adapters import Cloud, DataCenter
from accord.jira.client import JiraClient, RetryPolicy, Timeouts
from accord.jira.gateway import headers_for
from accord.services.jira import (
    API_TOKEN,
    CLOUD,
    DATA_CENTER,
    PASSWORD,
    TOKEN,
    Credential,
)
from tests.functional.jira.conftest import MakeSim
from tests.jira_sim import server as sim_server
from tests.jira_sim.server import SimUser

QUICK = RetryPolicy(attempts=4, max_wait=10.0, first_delay=0.05)
OPENED: list[JiraClient] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while OPENED:
        OPENED.pop().close()


def opened(client: JiraClient) -> JiraClient:
    OPENED.append(client)
    return client


def dc_client(url: str, *, retry: RetryPolicy = QUICK, read: float = 5.0) -> JiraClient:
    credential = Credential(url, DATA_CENTER, TOKEN, "", sim_server.TOKEN)
    return opened(
        JiraClient(url, headers=headers_for(credential), retry=retry, timeouts=Timeouts(2.0, read))
    )


def cloud_client(url: str) -> JiraClient:
    credential = Credential(url, CLOUD, API_TOKEN, sim_server.CLOUD_EMAIL, sim_server.API_TOKEN)
    return opened(JiraClient(url, headers=headers_for(credential), retry=QUICK))


def test_a_429_is_retried_after_the_time_retry_after_asks(jira: MakeSim) -> None:
    sim = jira("dc10")
    sim.fail(429, Retry_After="1", X_RateLimit_Remaining="0")
    client = dc_client(sim.url)
    started = time.monotonic()
    info = client.get("/rest/api/2/serverInfo")
    assert time.monotonic() - started >= 1.0
    assert info["versionNumbers"][0] == 10
    assert client.requests == 2


def test_503_is_retried_with_backoff_until_jira_answers(jira: MakeSim) -> None:
    sim = jira("cloud")
    sim.fail(503, times=2)
    client = cloud_client(sim.url)
    assert client.get("/rest/api/3/myself")["emailAddress"] == sim_server.CLOUD_EMAIL
    assert client.requests == 3


def test_a_retry_after_past_the_bound_fails_at_once_saying_so(jira: MakeSim) -> None:
    sim = jira("dc9")
    sim.fail(429, Retry_After="3600")
    client = dc_client(sim.url, retry=RetryPolicy(attempts=5, max_wait=30.0))
    started = time.monotonic()
    with pytest.raises(JiraUnavailable, match="over the 30 s allowed"):
        client.get("/rest/api/2/serverInfo")
    assert time.monotonic() - started < 1.0
    assert client.requests == 1


def test_retries_stop_after_the_attempts_allowed(jira: MakeSim) -> None:
    sim = jira("dc9")
    sim.fail(503, times=10)
    client = dc_client(sim.url)
    with pytest.raises(JiraUnavailable, match="Jira answered 503 to GET /rest/api/2/myself"):
        client.get("/rest/api/2/myself")
    assert client.requests == QUICK.attempts


def test_a_dropped_connection_and_a_slow_reply_are_tried_again(jira: MakeSim) -> None:
    sim = jira("dc10")
    sim.drop()
    sim.slow(1.5)
    client = dc_client(sim.url, read=0.5)
    assert client.get("/rest/api/2/myself")["name"] == sim_server.ADMIN
    assert client.requests == 3


def test_a_jira_that_stays_silent_is_a_clear_error(jira: MakeSim) -> None:
    sim = jira("dc10")
    sim.slow(1.0, times=3)
    client = dc_client(sim.url, retry=RetryPolicy(attempts=2, first_delay=0.01), read=0.3)
    with pytest.raises(JiraUnavailable, match="did not answer GET /rest/api/2/myself in time"):
        client.get("/rest/api/2/myself")


@pytest.mark.parametrize(
    ("status", "error", "message"),
    [
        (401, JiraRefused, "Jira refused the credential (401 Unauthorized)"),
        (403, JiraRefused, "Jira denied the account access to /rest/api/2/myself (403"),
        (404, JiraUnavailable, "has no /rest/api/2/myself (404)"),
        (500, JiraUnavailable, "Jira answered 500 to GET /rest/api/2/myself"),
    ],
)
def test_refusals_are_one_clear_line_and_not_retried(
    jira: MakeSim, status: int, error: type[Exception], message: str
) -> None:
    sim = jira("dc9")
    sim.fail(status)
    client = dc_client(sim.url)
    with pytest.raises(error) as raised:
        client.get("/rest/api/2/myself")
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)
    assert client.requests == 1


def test_jira_9_search_by_prefixes_reaches_every_one_of_5000_users(jira: MakeSim) -> None:
    sim = jira("dc9")
    sim.add_users(5000)
    sim.users[7].active = False
    sim.add_user(SimUser("JIRAUSER99999", "_odd.one", "Ödön Ünal", "odd@corp.example"))
    client = dc_client(sim.url)
    users = DataCenter(client).users()
    assert len(users) == len({u.key for u in users}) == 5001
    assert {u.key for u in users} == {u.key for u in sim.users}
    assert not next(u for u in users if u.key == sim.users[7].key).active
    # Each query stopped at the cap was split; no query was asked twice.
    assert sim.requests["/rest/api/2/user/list"] == 1  # the 404 that chose the search
    assert client.requests < 600


def test_jira_10_lists_users_by_cursor(jira: MakeSim) -> None:
    sim = jira("dc10")
    sim.add_users(2500)
    client = dc_client(sim.url)
    fetched: list[int] = []
    users = DataCenter(client).users(fetched.append)
    assert {u.key for u in users} == {u.key for u in sim.users}
    assert sim.requests["/rest/api/2/user/list"] == 3  # pages of 1,000
    assert sim.requests["/rest/api/2/user/search"] == 0
    assert fetched[-1] == 2500


def test_cloud_keeps_people_and_leaves_app_accounts_out(jira: MakeSim) -> None:
    sim = jira("cloud")
    sim.add_users(2100)
    sim.add_user(SimUser("app-1", "", "Automation for Jira", "", account_type="app"))
    sim.add_user(SimUser("cust-1", "", "A Customer", "c@x.example", account_type="customer"))
    hidden = sim.users[5]
    hidden.email_hidden = True
    client = cloud_client(sim.url)
    users = {u.key: u for u in Cloud(client).users()}
    assert len(users) == 2100
    assert "app-1" not in users
    assert "cust-1" not in users
    assert (users[hidden.key].email, users[hidden.key].login) == ("", hidden.key)
    shown = sim.users[6]
    assert (users[shown.key].email, users[shown.key].login) == (shown.email, shown.email)
    assert sim.requests["/rest/api/3/users/search"] == 4  # 3 pages and the empty one


def test_a_password_is_sent_as_basic_and_a_wrong_one_refused(jira: MakeSim) -> None:
    sim = jira("dc9")
    good = Credential(sim.url, DATA_CENTER, PASSWORD, sim_server.ADMIN, sim_server.PASSWORD)
    assert opened(JiraClient(sim.url, headers=headers_for(good))).get("/rest/api/2/myself")
    bad = Credential(sim.url, DATA_CENTER, PASSWORD, sim_server.ADMIN, "wrong")
    with pytest.raises(JiraRefused):
        opened(JiraClient(sim.url, headers=headers_for(bad))).get("/rest/api/2/myself")
