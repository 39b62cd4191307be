"""`GET /metrics`: what a Prometheus server scrapes of a process, in its text format.

- `accord_http_requests_total{method, route, command, status}` and
  `accord_http_request_duration_seconds{method, route, command}` (a histogram): every
  request, by the template of the route that answered it (`/api/v1/companies/{entry_id}`,
  never the path itself, so the series stay few), and on the legacy servlet by its
  command (`other` for one it does not know). `route` is `(unrouted)` for a request
  answered before a route was chosen: no route has its path (404), or a layer in front
  of the routes refused it (a missing token, a body too large, a rate limit).
- `accord_http_exceptions_total{route, command}`: requests that ended in an exception no
  layer answered (the server answers a 500, or cuts a reply that had started). Replies
  with a 5xx status are in the requests' count by status.
- `accord_db_pool_size`, `accord_db_pool_checked_out`, `accord_db_pool_overflow`: the
  connection pool, read as it is at the scrape.
- `accord_jobs{state}` (queued, running) and `accord_database_up`: read from the
  database at the scrape, in one short read (`SCRAPE_TIMEOUT_SECONDS`); when it does not
  answer, `accord_database_up` is 0 and the job counts are left out. (Accord has no
  outbox table yet: its depth is for when it has.)
- `accord_worker_info{pid, jobs}`: 1, labelled with the process that answered the scrape
  and whether it runs the job worker (`jobs` "1" or "0"): with `accord serve --workers
  N`, each worker process answers for itself, and this says which one did.
- `process_*` (CPU, memory, open files) and `python_info`, from prometheus_client.

Counting a request costs two dict lookups, a bisection and three additions, on the
event loop's thread, into plain dicts that a scrape (on the same thread) turns into
metric families; prometheus_client's own Counter and Histogram, with their label lookups
and a lock per increment, cost a point read three times as much. Several worker
processes (`accord serve --workers N`) each count their own requests, and a scrape
shows those of the process that answered it (`accord_worker_info` names it); summing
them would take prometheus_client's multiprocess mode (values in files under
`PROMETHEUS_MULTIPROC_DIR`, read by a `MultiProcessCollector` in `scrape`), and nothing
outside this module would change.
"""

import asyncio
import os
from bisect import bisect_left
from collections.abc import Iterator

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from accord.services import gauges
from accord.services.transactions import Database

PATH = "/metrics"
SCRAPE_TIMEOUT_SECONDS = 1.0
"""How long a scrape waits for the database's answer (Prometheus' own scrape timeout is
10 s by default)."""
BUCKETS: tuple[float, ...] = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
)
"""Seconds: from a point read (~0.1 ms) to the statement timeout (30 s by default)."""
_UPPER_BOUNDS = (*(repr(bound) for bound in BUCKETS), "+Inf")
"""The buckets' bounds, as the text format writes them (`le="0.0005"`)."""
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNROUTED = "(unrouted)"
OTHER = "other"

_Key = tuple[str, str, str]
"""A series of requests: method, route template, legacy command."""


class Metrics:
    """One app's metrics, over its `database`."""

    def __init__(
        self,
        database: Database,
        *,
        runs_jobs: bool = False,
        scrape_timeout: float = SCRAPE_TIMEOUT_SECONDS,
    ):
        self.registry = CollectorRegistry()
        self.requests = RequestCounts()
        self.database = DatabaseGauges(database, scrape_timeout)
        self.registry.register(self.requests)
        self.registry.register(self.database)
        self.registry.register(Worker(runs_jobs))
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)

    def routes(self) -> list[Route]:
        return [Route(PATH, self.scrape, methods=["GET"])]

    def observe(self, method: str, route: str, command: str, status: int, seconds: float) -> None:
        """Count one request (on the event loop's thread)."""
        self.requests.observe(method, route, command, status, seconds)

    def failed(self, route: str, command: str) -> None:
        """Count a request that ended in an exception."""
        self.requests.failed(route, command)

    async def scrape(self, _request: Request) -> Response:
        await self.database.refresh()
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)


class RequestCounts(Collector):
    """Requests by method, route template and command: their times (in `BUCKETS`, and
    summed), their statuses, and those that ended in an exception.

    Touched on the event loop's thread only, by requests and by scrapes alike: no lock.
    """

    def __init__(self) -> None:
        self.times: dict[_Key, list[float]] = {}
        """A series' count in each bucket (the last: past the largest), then their sum."""
        self.statuses: dict[tuple[_Key, int], int] = {}
        self.exceptions: dict[tuple[str, str], int] = {}

    def observe(self, method: str, route: str, command: str, status: int, seconds: float) -> None:
        key = (method if method in METHODS else OTHER, route, command)
        times = self.times.get(key)
        if times is None:
            times = self.times[key] = [0.0] * (len(BUCKETS) + 2)
        times[bisect_left(BUCKETS, seconds)] += 1
        times[-1] += seconds
        counted = (key, status)
        self.statuses[counted] = self.statuses.get(counted, 0) + 1

    def failed(self, route: str, command: str) -> None:
        self.exceptions[route, command] = self.exceptions.get((route, command), 0) + 1

    def collect(self) -> Iterator[Metric]:
        labels = ["method", "route", "command"]
        requests = CounterMetricFamily(
            "accord_http_requests",
            "Requests answered, by method, route template, legacy command and status.",
            labels=[*labels, "status"],
        )
        for (key, status), count in sorted(self.statuses.items()):
            requests.add_metric([*key, str(status)], count)
        yield requests
        duration = HistogramMetricFamily(
            "accord_http_request_duration_seconds",
            "Time from a request's arrival to the end of its reply, by method, route"
            " template and legacy command.",
            labels=labels,
        )
        for key, times in sorted(self.times.items()):
            cumulative, buckets = 0.0, []
            for bound, in_bucket in zip(_UPPER_BOUNDS, times, strict=False):
                cumulative += in_bucket
                buckets.append((bound, cumulative))
            duration.add_metric(list(key), buckets, sum_value=times[-1])
        yield duration
        exceptions = CounterMetricFamily(
            "accord_http_exceptions",
            "Requests that ended in an exception no layer answered.",
            labels=["route", "command"],
        )
        for key_, count in sorted(self.exceptions.items()):
            exceptions.add_metric(list(key_), count)
        yield exceptions


class DatabaseGauges(Collector):
    """The pool as it is, and the job queue as `refresh` last read it."""

    def __init__(self, database: Database, timeout: float) -> None:
        self.database = database
        self.timeout = timeout
        self.jobs: dict[str, int] | None = None
        self._reading: asyncio.Future[dict[str, int] | None] | None = None

    async def refresh(self) -> None:
        """Read the job queue in a thread, waiting `timeout` at most. Scrapes that come
        while one reads share its answer: a database that hangs holds one thread."""
        loop = asyncio.get_running_loop()
        reading = self._reading
        if reading is None or reading.done() or reading.get_loop() is not loop:
            reading = self._reading = loop.run_in_executor(None, self._read)
        try:
            self.jobs = await asyncio.wait_for(asyncio.shield(reading), self.timeout)
        except TimeoutError:
            self.jobs = None

    def _read(self) -> dict[str, int] | None:
        return gauges.job_counts(self.database, timeout=self.timeout)

    def collect(self) -> Iterator[Metric]:
        pool = gauges.pool_usage(self.database)
        if pool is not None:
            yield _gauge("accord_db_pool_size", "Connections the pool keeps open.", pool.size)
            yield _gauge(
                "accord_db_pool_checked_out",
                "Connections in use (on SQLite, also those kept between transactions).",
                pool.checked_out,
            )
            yield _gauge(
                "accord_db_pool_overflow",
                "Connections open beyond the pool's size (negative: fewer are open yet).",
                pool.overflow,
            )
        jobs = self.jobs
        yield _gauge(
            "accord_database_up",
            "1 if the database answered the scrape's read in time, else 0.",
            0 if jobs is None else 1,
        )
        if jobs is not None:
            family = GaugeMetricFamily("accord_jobs", "Background jobs by state.", labels=["state"])
            for state, count in sorted(jobs.items()):
                family.add_metric([state], count)
            yield family

    def describe(self) -> Iterator[Metric]:
        return iter(())  # what it yields depends on the pool and the database's answer


class Worker(Collector):
    """Which process answered the scrape, and whether it runs the job worker."""

    def __init__(self, runs_jobs: bool) -> None:
        self.jobs = "1" if runs_jobs else "0"

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "accord_worker_info",
            "1, labelled with the process that answered and whether it runs the job worker.",
            labels=["pid", "jobs"],
        )
        family.add_metric([str(os.getpid()), self.jobs], 1)
        yield family


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)
