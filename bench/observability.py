"""What the access log (and the metrics beside it) cost a point read, measured in process.

Builds a small SQLite database (the demo data set, a REST token), then two apps over it
that differ only in `ACCORD_ACCESS_LOG` (on, off), and calls each app's ASGI entry
directly, without a socket: a round is `--requests` point reads through one app, then
through the other (the order alternating between rounds), and the figure is the median
of the rounds' times per request. Two point reads: the legacy servlet's
getcompanybyname by id, and the REST API's GET of one company. The log goes, as
`accord serve` writes it, to a file (stderr under a service manager is a pipe or a
file; a terminal costs more); every round waits for the lines it logged to be written
before its clock stops, so a write moved off the request's path is still counted.

Run `.venv/bin/python bench/observability.py --help`.
"""

import argparse
import asyncio
import gc
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

from starlette.types import ASGIApp, Message

from accord import app as application
from accord import logs
from accord.domain.users import Actor
from accord.services import demo, tokens
from accord.services.transactions import Database, open_database, run
from accord.settings import Settings
from accord.store import migrate

LEGACY = (
    "/plugins/servlet/crm/api",
    b"command=getcompanybyname&companyId=1&apiKey="
    + demo.DEMO_API_KEY.encode()
    + b"&userName=admin",
)
REST = ("/api/v1/companies/1", b"")


def prepare(folder: Path) -> tuple[str, Database, str]:
    url = f"sqlite:///{folder / 'bench.db'}"
    database = open_database(url, sqlite_synchronous="NORMAL")
    migrate.upgrade(database.engine)
    run(database, demo.load_demo, write=True)
    token, _ = run(
        database,
        lambda tx: tokens.create_token(
            tx,
            "admin",
            read_only=False,
            directories=None,
            expires_days=None,
            actor=Actor.system("cli"),
        ),
        write=True,
    )
    return url, database, token


def configure_logging(log_file: Path, log_format: str) -> None:
    """The process's logging as `accord serve` sets it, into `log_file`."""
    logs.configure(log_format, stream=log_file.open("a", encoding="utf-8"))


class Variant(NamedTuple):
    app: ASGIApp
    writer: bool
    """Access lines through Accord's writer (as `accord serve` has them), or as records
    handled at once by the logging module's handlers (what they were before the writer)."""


async def call(app: ASGIApp, path: str, query: bytes, headers: list[tuple[bytes, bytes]]) -> int:
    status = 0

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query,
        "headers": list(headers),
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8000),
    }
    await app(scope, receive, send)
    return status


async def rounds(
    variants: dict[str, Variant],
    target: tuple[str, bytes],
    headers: list[tuple[bytes, bytes]],
    args: argparse.Namespace,
) -> dict[str, list[float]]:
    per_request: dict[str, list[float]] = {name: [] for name in variants}
    names = list(variants)
    writer = logs.access_writer()
    for round_ in range(args.rounds + 1):  # the first round warms up, and is not counted
        order = names if round_ % 2 == 0 else names[::-1]
        for name in order:
            app, via_writer = variants[name]
            logs._writer = writer if via_writer else None
            gc.collect()
            started = time.perf_counter()
            for _ in range(args.requests):
                assert await call(app, *target, headers) == 200
            logs.flush()
            if round_:
                per_request[name].append((time.perf_counter() - started) / args.requests * 1e6)
    logs._writer = writer
    return per_request


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=5000, help="point reads a round")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--log-format", choices=["text", "json"], default="text")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url, database, token = prepare(Path(folder))
        configure_logging(Path(folder) / "accord.log", args.log_format)

        def app(**settings: bool) -> ASGIApp:
            options = {"run_jobs": False, "sqlite_synchronous": "NORMAL", **settings}
            return application.create_app(Settings(database_url=url, **options), database=database)

        variants = {
            "log off": Variant(app(access_log=False), writer=True),
            "log on": Variant(app(access_log=True), writer=True),
            "log on, handlers": Variant(app(access_log=True), writer=False),
            "log off, metrics off": Variant(app(access_log=False, metrics=False), writer=True),
        }
        bearer = [(b"authorization", b"Bearer " + token.encode())]
        print(
            f"{args.rounds} rounds of {args.requests} point reads (+1 to warm up), log format"
            f" {args.log_format}; us a request, median of the rounds (cost: against 'log off')"
        )
        for label, target, headers in (("legacy", LEGACY, []), ("REST", REST, bearer)):
            figures = asyncio.run(rounds(variants, target, headers, args))
            off = statistics.median(figures["log off"])
            for name, times in figures.items():
                median = statistics.median(times)
                # Each round's own difference: what the machine's other load does to a
                # round it does to both of its halves.
                paired = statistics.median(
                    (time - base) / base * 100
                    for time, base in zip(times, figures["log off"], strict=True)
                )
                print(
                    f"{label:7} {name:21} {median:6.1f} us  cost {median - off:+5.1f} us"
                    f" ({(median - off) / off * 100:+5.1f} %; paired by round {paired:+5.1f} %)"
                    "   rounds: " + " ".join(f"{x:.0f}" for x in times),
                    flush=True,
                )
        lines = sum(1 for _ in (Path(folder) / "accord.log").open())
        print(f"{lines} lines logged")
        database.dispose()


if __name__ == "__main__":
    sys.exit(main())
