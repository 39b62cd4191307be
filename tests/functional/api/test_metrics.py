"""`GET /metrics` (issue 15, item 3): what a Prometheus server scrapes, and that it moves
when requests are served."""

import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families

from accord.domain.users import Actor
from accord.services import sync
from accord.services.transactions import Database, open_database, run
from tests.functional.api_support import create_token
from tests.support import API_PATH, KEY, PG_URL, InProcessServer, Templates, settings_for

POINT_READ = {"command": "getcompanybyname", "companyId": "1", "apiKey": KEY, "userName": "admin"}
LEGACY = {"method": "GET", "route": API_PATH, "command": "getcompanybyname", "status": "200"}
REST_ENTRY = "/api/v1/companies/{entry_id}"
Serve = Callable[..., httpx.Client]
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
def serve() -> Iterator[Serve]:
    """Serves the app over a database URL with settings of the test's own: a client of it."""
    with ExitStack() as stack:

        def start(url: str, **settings: Any) -> httpx.Client:
            database = open_database(url, sqlite_synchronous="NORMAL")
            stack.callback(database.dispose)
            served = InProcessServer(settings_for(url, **settings), database)
            stack.enter_context(served)
            return stack.enter_context(served.client())

        yield start


@pytest.fixture
def http(server: InProcessServer) -> Iterator[httpx.Client]:
    with server.client() as client:
        yield client


def scrape(http: httpx.Client) -> Samples:
    reply = http.get("/metrics")
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/plain; version=")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(reply.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def requests(samples: Samples, **labels: str) -> float:
    return value(samples, "accord_http_requests_total", **labels)


def timed(samples: Samples, **labels: str) -> float:
    return value(samples, "accord_http_request_duration_seconds_count", **labels)


def test_requests_are_counted_by_route_template_command_and_status(
    db: Database, http: httpx.Client
) -> None:
    bearer = {"Authorization": f"Bearer {create_token(db)}"}
    before = scrape(http)
    for _ in range(3):
        assert http.get(API_PATH, params=POINT_READ).json()["success"] is True
    assert http.get("/api/v1/companies/1", headers=bearer).status_code == 200
    assert http.get("/api/v1/companies/999999", headers=bearer).status_code == 404
    wrong = {**POINT_READ, "command": "getCompanyByNme"}
    assert http.get(API_PATH, params=wrong).json()["success"] is False
    after = scrape(http)

    assert requests(after, **LEGACY) - requests(before, **LEGACY) == 3
    timing = {k: v for k, v in LEGACY.items() if k != "status"}
    assert timed(after, **timing) - timed(before, **timing) == 3
    rest = {"method": "GET", "route": REST_ENTRY, "command": ""}
    assert requests(after, **rest, status="200") - requests(before, **rest, status="200") == 1
    assert requests(after, **rest, status="404") - requests(before, **rest, status="404") == 1
    other = {**LEGACY, "command": "other"}
    assert requests(after, **other) - requests(before, **other) == 1
    # The series are named by templates and known commands, never by what a client sent.
    named = {value for _, labels in after for _, value in labels}
    assert REST_ENTRY in named
    assert not [value for value in named if "999999" in value or value == "/api/v1/companies/1"]
    assert "getCompanyByNme" not in named


def test_the_latency_histogram_counts_every_request_in_its_buckets(http: httpx.Client) -> None:
    for _ in range(2):
        http.get(API_PATH, params=POINT_READ)
    samples = scrape(http)
    timing = {k: v for k, v in LEGACY.items() if k != "status"}
    count = timed(samples, **timing)
    assert count >= 2
    assert (
        value(samples, "accord_http_request_duration_seconds_bucket", **timing, le="+Inf") == count
    )
    assert 0 < value(samples, "accord_http_request_duration_seconds_sum", **timing) < 60 * count
    within_30s = value(samples, "accord_http_request_duration_seconds_bucket", **timing, le="30.0")
    assert within_30s == count


def test_a_legacy_command_sent_in_a_form_body_is_counted_as_that_command(
    http: httpx.Client,
) -> None:
    before = scrape(http)
    form = {**POINT_READ, "command": "getContacts"}
    assert http.post(API_PATH, data=form).json()["success"] is True
    after = scrape(http)
    posted = {"method": "POST", "route": API_PATH, "command": "getcontacts", "status": "200"}
    assert requests(after, **posted) - requests(before, **posted) == 1


def test_a_path_no_route_answers_is_counted_as_unrouted(http: httpx.Client) -> None:
    before = scrape(http)
    assert http.get(f"/nowhere/{uuid.uuid4().hex}").status_code == 404
    after = scrape(http)
    unrouted = {"method": "GET", "route": "(unrouted)", "command": "", "status": "404"}
    assert requests(after, **unrouted) - requests(before, **unrouted) == 1


def test_an_unhandled_exception_is_counted_as_a_500_and_an_exception(
    demo_url: str, serve: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    from accord.api.health import Health

    async def crashes(*_: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(Health, "healthz", crashes)
    http = serve(demo_url)
    assert http.get("/healthz").status_code == 500
    samples = scrape(http)
    crashed = {"method": "GET", "route": "/healthz", "command": ""}
    assert requests(samples, **crashed, status="500") == 1
    assert value(samples, "accord_http_exceptions_total", route="/healthz", command="") == 1


def test_the_pool_and_the_job_queue_are_read_at_the_scrape(
    db: Database, http: httpx.Client
) -> None:
    samples = scrape(http)
    assert value(samples, "accord_database_up") == 1
    assert value(samples, "accord_jobs", state="queued") == 0
    assert value(samples, "accord_db_pool_size") == 10
    assert value(samples, "accord_db_pool_checked_out") >= 0
    run(db, lambda tx: sync.request_user_sync(tx, actor=Actor.system("cli")), write=True)
    samples = scrape(http)  # no job worker runs in the tests' server: the job waits
    assert value(samples, "accord_jobs", state="queued") == 1
    assert value(samples, "accord_jobs", state="running") == 0


def test_a_database_that_does_not_answer_is_reported_down(
    templates: Templates, tmp_path: Path, serve: Serve
) -> None:
    name = f"accord_gone_{uuid.uuid4().hex[:8]}"
    if templates.backend == "sqlite":
        url = f"sqlite:///{tmp_path / name}.db"
    else:
        url = sa.make_url(PG_URL or "").set(database=name).render_as_string(False)
    http = serve(url)
    samples = scrape(http)
    assert value(samples, "accord_database_up") == 0
    assert not any(key[0] == "accord_jobs" for key in samples)
    assert name not in http.get("/metrics").text


def test_metrics_can_be_turned_off(demo_url: str, serve: Serve) -> None:
    http = serve(demo_url, metrics=False)
    assert http.get("/metrics").status_code == 404
    assert http.get(API_PATH, params=POINT_READ).json()["success"] is True


def test_metrics_take_no_token_and_no_cache_keeps_them(http: httpx.Client) -> None:
    reply = http.get("/metrics")
    assert reply.status_code == 200
    assert reply.headers["cache-control"] == "no-store"
    assert "process_resident_memory_bytes" in reply.text
