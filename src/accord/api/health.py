"""`/healthz` and `/readyz`: what a load balancer or an orchestrator asks of a process.

- `GET /healthz`: 200 `{"status": "ok"}` as long as the process serves requests; it
  touches nothing else (no database).
- `GET /readyz`: 200 `{"status": "ready", "checks": {...}}` when the process can serve
  them: its database answers, the schema is at the newest revision, and the job worker
  runs (`"jobs": "off"` when this process runs no jobs). Otherwise 503, `"status":
  "unready"`, the failing checks marked `"failing"` (those not reached `"unchecked"`)
  and `"reasons"` naming, for each, why in a few words.

Neither takes a token, and no cache may keep their replies. A readiness check is one
short read transaction in a thread, answered as failing after `READY_TIMEOUT_SECONDS`
whatever the database does; and checks run one at a time: probes that come while one
runs share its answer, so a database that hangs holds one thread, however many probes
come.
"""

import asyncio
from collections.abc import Callable

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from accord.services import health
from accord.services.transactions import Database

READY_TIMEOUT_SECONDS = 2.0
"""How long a readiness check may wait for the database before it answers 503 (an
orchestrator's probe gives up after 1 s by default: set its timeout above this)."""
HEADERS = {"Cache-Control": "no-store"}
JSON = "application/json"


class Health:
    """The two probes of one app: over its `database`, and `jobs` (None: this process runs
    no jobs; else whether its job worker is alive)."""

    def __init__(
        self,
        database: Database,
        *,
        jobs: Callable[[], bool] | None,
        timeout: float = READY_TIMEOUT_SECONDS,
    ) -> None:
        self.database = database
        self.jobs = jobs
        self.timeout = timeout
        self._checking: asyncio.Future[health.Failure | None] | None = None

    def routes(self) -> list[Route]:
        return [
            Route("/healthz", self.healthz, methods=["GET"]),
            Route("/readyz", self.readyz, methods=["GET"]),
        ]

    async def healthz(self, _request: Request) -> Response:
        return _reply(200, {"status": "ok"})

    async def readyz(self, _request: Request) -> Response:
        checks = {"database": "ok", "schema": "ok", "jobs": "off"}
        reasons: dict[str, str] = {}
        failure = await self._check_database()
        if failure is not None:
            checks[failure.check] = "failing"
            reasons[failure.check] = failure.reason
            if failure.check == "database":
                checks["schema"] = "unchecked"
        if self.jobs is not None:
            checks["jobs"] = "ok" if self.jobs() else "failing"
            if checks["jobs"] == "failing":
                reasons["jobs"] = "the job worker's thread has stopped"
        if reasons:
            return _reply(503, {"status": "unready", "checks": checks, "reasons": reasons})
        return _reply(200, {"status": "ready", "checks": checks})

    async def _check_database(self) -> health.Failure | None:
        loop = asyncio.get_running_loop()
        checking = self._checking
        if checking is None or checking.done() or checking.get_loop() is not loop:
            checking = self._checking = loop.run_in_executor(
                None, health.check_database, self.database
            )
        try:
            # Shielded: a probe that gives up leaves the check to end, for the next one.
            return await asyncio.wait_for(asyncio.shield(checking), self.timeout)
        except TimeoutError:
            reason = f"the database did not answer within {self.timeout:g} s"
            return health.Failure("database", reason)


def _reply(status: int, body: object) -> Response:
    return Response(orjson.dumps(body), status, headers=HEADERS, media_type=JSON)
