"""Benchmark of the legacy API under real HTTP load, beside a floor, in one run.

1. Loads companies and contacts (with a custom text field "Badge" on contacts), one
   transaction per batch: the first entries of each directory through
   `entries.create_entry`, the rest through a bulk path checked against it. Prints the
   load rates.
2. Streams getcompanies at a few company counts as the data set grows, from a fresh
   `accord serve` each time, timing it and sampling the server's own memory (RssAnon)
   around the call, to show that memory stays flat.
3. Captures the SQL that the point reads and the search run, and EXPLAINs it.
4. Serves Accord (`accord serve`) and a minimal Starlette app answering a constant JSON
   object (the floor), each with uvicorn in a process of its own, and drives both with
   wrk: getcompanybyname by id and by name, searchentities on the custom field,
   addcompany; the floor gets the same requests. A Lua script varies every request and
   checks every reply for `"success":true`.

Run `.venv/bin/python bench/legacy_api.py --help`; bench/README.md explains the output.
"""

import argparse
import functools
import http.client
import importlib.util
import json
import os
import platform
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Container, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol, TypeVar
from urllib.parse import urlencode

import orjson
import psycopg
import sqlalchemy as sa
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from accord.domain.entries import Entry, EntryRef, StoredValue
from accord.domain.schema import COMPANIES, CONTACTS, FieldType
from accord.domain.users import Actor
from accord.domain.values import RawValue, index_keys, parse_value, referenced_ids
from accord.services import auth, directories, entries, migrations, users
from accord.services.resolver import StoreResolver
from accord.services.transactions import Database, Transaction, now, open_database, run
from accord.store import tables as t
from accord.store.entries import NameRequest, fetch_names
from accord.store.schema import allocate_entry_ids

try:
    from accord.services.entries import text_rows
    from accord.store import texts
except ImportError:  # a checkout from before the text index (bench/search.py's --before runs)
    text_rows = None  # type: ignore[assignment]


def _rules_of_this_tree() -> ModuleType:
    """This tree's `accord.domain.writes`, for a checkout from before it (the --before
    runs): the rules are pure, and the bulk path proves it writes what create_entry does."""
    path = Path(__file__).resolve().parents[1] / "src" / "accord" / "domain" / "writes.py"
    spec = importlib.util.spec_from_file_location("accord.domain.writes", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"no write rules at {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


try:
    from accord.domain import writes
except ImportError:  # a checkout from before domain/writes.py (--before runs)
    writes = _rules_of_this_tree()

API_PATH = "/plugins/servlet/crm/api"
API_KEY = "accord-bench-key"
USER = "bench"
EDGE = "bench"
BADGE = "Badge"
CONTACTS_PER_BADGE = 5
FLOOR_REPLY = {"success": True, "id": "1", "name": "Floor"}
MIB = 1024 * 1024

TYPES = ("Client", "Partner", "Lead", "Vendor", "Competitor")
INDUSTRIES = ("Consulting", "Finance", "Healthcare", "Information Technology", "Retail")
SLAS = ("SLA-1 Free", "SLA-2 Standard", "SLA-3 Premium", "")
POSITIONS = ("CEO", "CTO", "CFO", "Manager", "Engineer", "Sales")


# The data set


def company_name(number: int) -> str:
    return f"Bench Company {number:06d}"


def badge(index: int) -> str:
    return f"BADGE-{index:06d}"


Values = list[tuple[str, str]]
"""(field code, text as typed) pairs of one entry."""


@dataclass(frozen=True, slots=True)
class DataSet:
    """Company n is "Bench Company 00000n"; contacts spread evenly over the companies."""

    companies: int
    contacts: int

    @property
    def badges(self) -> int:
        """Distinct Badge values; each is held by CONTACTS_PER_BADGE contacts."""
        return max(1, self.contacts // CONTACTS_PER_BADGE)

    def company(self, n: int) -> Values:
        return [
            ("org_name", company_name(n)),
            ("org_type", TYPES[n % len(TYPES)]),
            ("org_industry", INDUSTRIES[n % len(INDUSTRIES)]),
            ("org_www", f"company{n}.example"),
            ("org_sla", SLAS[n % len(SLAS)]),
        ]

    def contact(self, n: int, *, badge_code: str, companies_loaded: int) -> Values:
        company = min(companies_loaded, (n - 1) * self.companies // self.contacts + 1)
        return [
            ("contact_name", f"Contact {n:06d}"),
            ("contact_email", f"contact{n}@company{company}.example"),
            ("contact_position", POSITIONS[n % len(POSITIONS)]),
            ("contact_company", f"({company})"),
            ("contact_phone", f"+1 555 {n:07d}"),
            (badge_code, badge((n - 1) % self.badges)),
        ]


def bench_actor(tx: Transaction) -> Actor:
    return auth.authenticate(tx, api_key=API_KEY, login=USER, edge=EDGE)


@dataclass(slots=True)
class LoadRate:
    entries: int = 0
    seconds: float = 0.0

    @property
    def per_second(self) -> float:
        return self.entries / self.seconds if self.seconds else 0.0


SERVICE, BULK = "create_entry", "bulk"


class Loader:
    """Grows the data set, one transaction per batch.

    The first `service_entries` entries of each directory go through
    `entries.create_entry`, one by one (that rate is the one to quote). The rest go
    through the bulk path below, which writes the same rows with a few multi-row
    statements; before its first use it proves, on one entry per directory, that it
    writes what `create_entry` writes.
    """

    def __init__(self, database: Database, data: DataSet, batch: int, service_entries: int) -> None:
        self.database = database
        self.data = data
        self.batch = batch
        self.service_entries = service_entries
        self.badge_code = ""
        self.companies = 0
        self.contacts = 0
        self.rates = {
            (code, path): LoadRate() for code in (COMPANIES, CONTACTS) for path in (SERVICE, BULK)
        }
        self.checked: set[str] = set()

    def prepare(self, *, reuse: bool) -> None:
        """Migrate; then add the bench user, the API key and the Badge field (unless reused)."""
        migrations.upgrade_schema(self.database)
        held = entry_counts(self.database)
        if reuse:
            self.badge_code = run(self.database, _badge_code, write=False)
            self.companies, self.contacts = held[COMPANIES], held[CONTACTS]
            if self.companies < self.data.companies or self.contacts < self.data.contacts:
                raise SystemExit(f"--reuse: the database holds only {held}")
            return
        if any(held.values()):
            raise SystemExit(
                f"the database already holds entries {held}: give an empty one, or --reuse"
            )
        self.badge_code = run(self.database, _prepare, write=True)

    def grow(self, companies: int, contacts: int) -> None:
        self._load(COMPANIES, self.companies + 1, companies, self.data.company)
        self.companies = max(self.companies, companies)
        contact = functools.partial(
            self.data.contact, badge_code=self.badge_code, companies_loaded=self.companies
        )
        self._load(CONTACTS, self.contacts + 1, contacts, contact)
        self.contacts = max(self.contacts, contacts)

    def total(self, path: str | None = None) -> LoadRate:
        chosen = [r for (_, p), r in self.rates.items() if path in (None, p)]
        return LoadRate(sum(r.entries for r in chosen), sum(r.seconds for r in chosen))

    def _load(self, code: str, first: int, last: int, values: Callable[[int], Values]) -> None:
        start = first
        while start <= last:
            through_service = start <= self.service_entries
            limit = self.service_entries if through_service else last
            stop = min(last, limit, start + self.batch - 1)
            if not through_service and code not in self.checked:
                check_bulk_path(self.database, code, values(start))
                self.checked.add(code)
            path = SERVICE if through_service else BULK
            create = _create_batch if through_service else _bulk_batch
            work = functools.partial(create, code=code, numbers=range(start, stop + 1))
            started = time.perf_counter()
            run(self.database, functools.partial(work, values=values), write=True)
            rate = self.rates[(code, path)]
            rate.seconds += time.perf_counter() - started
            rate.entries += stop - start + 1
            start = stop + 1
        if last >= first:
            by = ", ".join(
                f"{path} {r.entries:,} at {r.per_second:,.0f}/s"
                for path in (SERVICE, BULK)
                for r in [self.rates[(code, path)]]
                if r.entries
            )
            print(f"  {code.lower():9} up to {last:>8,}: {by}", flush=True)
            refresh_statistics(self.database)


def _prepare(tx: Transaction) -> str:
    system = Actor.system(EDGE)
    users.add_user(tx, USER, email="bench@accord.example", is_admin=True, actor=system)
    auth.set_api_key(tx, API_KEY)
    return directories.add_field(tx, CONTACTS, BADGE, FieldType.TEXT, actor=system).code


def _badge_code(tx: Transaction) -> str:
    return tx.schema.find_field(tx.schema.directory_by_code(CONTACTS), BADGE).code


def _create_batch(
    tx: Transaction, *, code: str, numbers: range, values: Callable[[int], Values]
) -> None:
    actor = bench_actor(tx)
    schema = tx.schema
    directory = schema.directory_by_code(code)
    for number in numbers:
        inputs = [
            (schema.field(directory, c), RawValue(text)) for c, text in values(number) if text
        ]
        created = entries.create_entry(tx, directory, inputs, actor=actor)
        if created.id != number:
            raise SystemExit(f"{code} entry {number} got id {created.id}: start from an empty db")


def _bulk_batch(
    tx: Transaction, *, code: str, numbers: range, values: Callable[[int], Values]
) -> None:
    """What `create_entry` writes for each entry (row, index rows, texts, history), in bulk.

    Values are parsed, indexed and rendered by the domain's own functions, and the write
    rules (name, empty values, history rows) are `create_entry`'s own (`domain.writes`);
    only the statements are batched. `check_bulk_path` compares the result with
    `create_entry`.
    """
    actor, schema, connection, at = bench_actor(tx), tx.schema, tx.connection, now()
    directory = schema.directory_by_code(code)
    if allocate_entry_ids(connection, directory.id, len(numbers)) != numbers[0]:
        raise SystemExit(f"{code}: ids are not where the bench expects them: use an empty db")
    resolver = StoreResolver(tx, actor)
    stored = writes.stored_fields(schema, directory)
    parsed: list[dict[str, StoredValue]] = []
    for number in numbers:
        typed = [(schema.field(directory, c), text) for c, text in values(number)]
        found = {
            f.code: parse_value(f, text, display=False, schema=schema, resolver=resolver)
            for f, text in typed
        }
        parsed.append(writes.new_values(found))
    rows = []
    for number, held in zip(numbers, parsed, strict=True):
        name = writes.entry_name(directory, held)
        rows.append(
            {
                "directory_id": directory.id,
                "number": number,
                "name": name,
                "name_compact": writes.name_key(name),
                "data": held,
                "version": 1,
                "created_at": at,
                "created_by": actor.user_id,
                "updated_at": at,
                "updated_by": actor.user_id,
            }
        )
    insert = sa.insert(t.entries).returning(t.entries.c.pk, sort_by_parameter_order=True)
    pks = list(connection.execute(insert, rows).scalars())
    connection.execute(
        sa.insert(t.entry_values),
        [
            {"field_id": f.id, "key": key, "entry_pk": pk, "unique_key": key if f.unique else None}
            for pk, held in zip(pks, parsed, strict=True)
            for f in stored
            for key in index_keys(f, held.get(f.code))
        ],
    )
    if text_rows is not None:
        texts.replace(
            connection,
            [
                r
                for pk, held in zip(pks, parsed, strict=True)
                for r in text_rows(pk, stored, held)
                if r[2] is not None  # new entries: nothing to remove
            ],
        )
    request = NameRequest()
    for f in stored:
        if f.type is FieldType.LINK and f.target_directory_id is not None:
            ids = {i for v in parsed for i in referenced_ids(f, v.get(f.code))}
            if ids:
                request.entries.setdefault(f.target_directory_id, set()).update(ids)
    names = fetch_names(connection, request)
    history: list[dict[str, object]] = []
    for number, held in zip(numbers, parsed, strict=True):
        entry = Entry(directory.id, number, held, 1, at, actor.user_id, at, actor.user_id, names)
        history.extend(
            {
                "directory_id": directory.id,
                "entry_number": entry_number,
                "at": at,
                "user_id": actor.user_id,
                "edge": actor.edge,
                "action": action,
                "field_code": code,
                "old_value": old,
                "new_value": new,
            }
            for entry_number, action, code, old, new in writes.creation_history(
                schema, directory, entry
            )
        )
    connection.execute(sa.insert(t.history), history)


class _RolledBack(Exception):
    def __init__(self, rows: object) -> None:
        super().__init__("rolled back")
        self.rows = rows


def check_bulk_path(database: Database, code: str, values: Values) -> None:
    """Create one entry through `create_entry`, then through the bulk path, each in a
    transaction rolled back; the rows they write must be the same (but the times)."""

    def rows_written(create: Callable[..., None], tx: Transaction) -> None:
        directory = tx.schema.directory_by_code(code)
        number = int(
            tx.connection.execute(
                sa.select(t.directories.c.next_number).where(t.directories.c.id == directory.id)
            ).scalar_one()
        )
        create(tx, code=code, numbers=range(number, number + 1), values=lambda _n: values)
        raise _RolledBack(_rows_of(tx.connection, directory.id, number))

    found = []
    for create in (_create_batch, _bulk_batch):
        try:
            run(database, functools.partial(rows_written, create), write=True)
        except _RolledBack as done:
            found.append(done.rows)
    if found[0] != found[1]:
        raise SystemExit(f"the bulk path writes other rows than create_entry:\n{found}")


def _rows_of(connection: sa.Connection, directory_id: int, number: int) -> object:
    e, v, h = t.entries.c, t.entry_values.c, t.history.c
    entry = connection.execute(
        sa.select(
            e.pk, e.name, e.name_compact, e.data, e.version, e.created_by, e.updated_by
        ).where(e.directory_id == directory_id, e.number == number)
    ).one()
    index = connection.execute(
        sa.select(v.field_id, v.key, v.unique_key)
        .where(v.entry_pk == entry.pk)
        .order_by(v.field_id)
    ).all()
    history = connection.execute(
        sa.select(h.user_id, h.edge, h.action, h.field_code, h.old_value, h.new_value)
        .where(h.directory_id == directory_id, h.entry_number == number)
        .order_by(h.field_code)
    ).all()
    found_texts = sorted(texts.rows_between(connection, entry.pk - 1, entry.pk).get(entry.pk, ()))
    return (
        tuple(entry[1:]),
        [tuple(r) for r in index],
        found_texts,
        [tuple(r) for r in history],
    )


def refresh_statistics(database: Database) -> None:
    """PostgreSQL: ANALYZE, as autovacuum would after so many new rows.

    This machine's PostgreSQL runs with autovacuum off. Without fresh statistics the
    planner still believes a field holds the few hundred values it held when the tables
    were small, and looks up a batch's 1000 unique keys by scanning all of the field's
    values (20 ms at 100,000 companies, growing with the load) instead of 1000 index
    probes (2.5 ms)."""
    if database.engine.dialect.name != "postgresql":
        return
    with database.engine.connect() as connection:
        connection.execute(sa.text("ANALYZE"))
        connection.commit()


def entry_counts(database: Database) -> dict[str, int]:
    """Entries per directory code (read with SQL: a check of the bench, not a use case)."""
    query = sa.text(
        "SELECT d.code, COUNT(e.pk) FROM directories d"
        " LEFT JOIN entries e ON e.directory_id = d.id GROUP BY d.code"
    )
    with database.engine.connect() as connection:
        return {code: int(count) for code, count in connection.execute(query)}


# Servers in processes of their own


def serve_floor(port: int) -> None:
    """The floor: Starlette answering one constant JSON object, served like Accord."""

    async def constant(_request: Request) -> JSONResponse:
        return JSONResponse(FLOOR_REPLY)

    app = Starlette(routes=[Route(API_PATH, constant, methods=["GET", "POST"])])
    uvicorn.run(
        app, host="127.0.0.1", port=port, access_log=False, log_config=None, server_header=False
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True, slots=True)
class Server:
    name: str
    process: "subprocess.Popen[bytes]"
    port: int
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid


@contextmanager
def serving(name: str, command: list[str], env: dict[str, str], folder: Path) -> Iterator[Server]:
    """Start a server process on a free port, wait until it answers, stop it at the end."""
    port = free_port()
    log = folder / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*command, "--port", str(port)], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    server = Server(name, process, port, log)
    try:
        _wait_until_up(server)
        yield server
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_up(server: Server, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            tail = server.log.read_text(errors="replace")[-2000:]
            raise SystemExit(f"{server.name} exited with {server.process.returncode}:\n{tail}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
            connection.request("GET", API_PATH)
            connection.getresponse().read()
            connection.close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"{server.name} did not answer within {timeout:.0f} s")


def accord_server(
    stack: ExitStack, url: str, args: argparse.Namespace, folder: Path, tag: str = "accord"
) -> Server:
    env = {
        **os.environ,
        "ACCORD_DATABASE_URL": url,
        "ACCORD_ACCESS_LOG": "0",
        "ACCORD_RUN_JOBS": "0",
        "ACCORD_SQLITE_SYNCHRONOUS": args.sqlite_synchronous,
    }
    command = [str(Path(sys.executable).with_name("accord")), "serve", "--host", "127.0.0.1"]
    command += ["--workers", str(args.workers)]
    return stack.enter_context(serving(tag, command, env, folder))


def floor_server(stack: ExitStack, folder: Path) -> Server:
    command = [sys.executable, str(Path(__file__).resolve()), "--serve-floor"]
    return stack.enter_context(serving("floor", command, dict(os.environ), folder))


# HTTP from this process (checks and the streamed listing)


def api_params(**params: str) -> dict[str, str]:
    return {"apiKey": API_KEY, "userName": USER, **params}


def call(port: int, method: str = "GET", **params: str) -> dict[str, Any]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    query = urlencode(api_params(**params))
    if method == "GET":
        connection.request("GET", f"{API_PATH}?{query}")
    else:
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        connection.request("POST", API_PATH, body=query, headers=headers)
    reply: dict[str, Any] = orjson.loads(connection.getresponse().read())
    connection.close()
    return reply


def check(condition: bool, what: str, reply: object) -> None:
    if not condition:
        raise SystemExit(f"check failed: {what}: {str(reply)[:500]}")


def sanity_checks(port: int, data: DataSet) -> None:
    """Each measured request answers what it should before it is measured."""
    last = data.companies
    reply = call(port, command="getcompanybyname", companyId=str(last))
    check(reply.get("name") == company_name(last), f"getcompanybyname id {last}", reply)
    reply = call(port, command="getcompanybyname", companyName=company_name(1))
    check(reply.get("id") == "1", "getcompanybyname by name", reply)
    reply = call(
        port,
        command="searchentities",
        tableName="CONTACTS",
        crm_param_1=BADGE,
        crm_param_1_value=badge(data.badges - 1),
    )
    found = len(reply.get("records", []))
    check(1 <= found <= 10, f"searchentities finds 1-10 contacts (found {found})", reply)
    reply = call(
        port, "POST", command="addcompany", **{"clients-org_name": f"Sanity {time.time_ns()}"}
    )
    check(reply.get("success") is True, "addcompany", reply)


def proc_status(pid: int) -> dict[str, int]:
    """The memory lines of /proc/PID/status, in bytes."""
    found: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key.startswith(("Vm", "Rss")) and value.strip().endswith("kB"):
            found[key] = int(value.split()[0]) * 1024
    return found


@dataclass(frozen=True, slots=True)
class ListingRun:
    companies: int
    seconds: float
    first_byte_seconds: float
    response_bytes: int
    rss_before: int
    rss_peak: int

    @property
    def growth(self) -> int:
        return self.rss_peak - self.rss_before


def stream_getcompanies(server: Server) -> ListingRun:
    """One getcompanies read to the end as it streams; the server's peak memory around it.

    Memory is the process's own (RssAnon, sampled every 2 ms): SQLite reads through a
    memory map of the database file, and the file's pages a read touches count in VmRSS
    though they are the file's, shared and dropped by the kernel when it needs them.
    """
    before = proc_status(server.pid)["RssAnon"]
    sampler = _PeakSampler(server.pid)
    sampler.start()
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=600)
    started = time.perf_counter()
    connection.request("GET", f"{API_PATH}?{urlencode(api_params(command='getcompanies'))}")
    response = connection.getresponse()
    chunks = [response.read1(1 << 16)]
    first_byte = time.perf_counter() - started
    while chunk := response.read1(1 << 16):
        chunks.append(chunk)
    seconds = time.perf_counter() - started
    connection.close()
    peak = sampler.stop()
    body = b"".join(chunks)
    reply = orjson.loads(body)
    check(reply.get("success") is True, "getcompanies", body[:300])
    return ListingRun(len(reply["companies"]), seconds, first_byte, len(body), before, peak)


class _PeakSampler(threading.Thread):
    """The highest RssAnon of a process while running."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self._done = pid, 0, threading.Event()

    def run(self) -> None:
        while not self._done.is_set():
            self.peak = max(self.peak, proc_status(self.pid)["RssAnon"])
            self._done.wait(0.002)

    def stop(self) -> int:
        self._done.set()
        self.join()
        return max(self.peak, proc_status(self.pid)["RssAnon"])


def measure_listing(server: Server, repeat: int) -> list[ListingRun]:
    call(server.port, command="getcompanybyname", companyId="1")  # warm the caches
    return [stream_getcompanies(server) for _ in range(repeat)]


# wrk

LUA_DONE = r"""
function done(summary, latency, requests)
  local failed, answered, first = 0, 0, ""
  for _, thread in ipairs(threads) do
    failed = failed + thread:get("failures")
    answered = answered + thread:get("responses")
    if first == "" then first = thread:get("first_failure") end
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests":%d,"duration_us":%d,"responses":%d,"failures":%d,"errors":%d,'
    .. '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, answered, failed,
    e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
  if first ~= "" then io.write("BENCH-FIRST-FAILURE " .. first .. "\n") end
end
"""
"""Reports a wrk run on one line that `run_wrk_script` reads (shared with bench/rest_api.py
and bench/search.py)."""

LUA = (
    r"""
-- args: mode, count, apiKey, userName, tag. One request per call; every reply checked.
local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

function init(args)
  mode, count, tag = args[1], tonumber(args[2]), args[5]
  base = "/plugins/servlet/crm/api?apiKey=" .. args[3] .. "&userName=" .. args[4]
  form = { ["Content-Type"] = "application/x-www-form-urlencoded" }
  n, responses, failures, first_failure = 0, 0, 0, ""
end

local function pick()
  -- Walks the numbers 1..count in a scattered order, so reads hit the whole table.
  n = n + 1
  return (n * 104729 + tid * 7919) % count + 1
end

function request()
  if mode == "byid" or mode == "floor" then
    return wrk.format("GET", base .. "&command=getcompanybyname&companyId=" .. pick())
  elseif mode == "byname" then
    return wrk.format("GET", base .. "&command=getcompanybyname&companyName=Bench+Company+"
      .. string.format("%06d", pick()))
  elseif mode == "search" then
    return wrk.format("GET", base .. "&command=searchentities&tableName=CONTACTS"
      .. "&crm_param_1=Badge&crm_param_1_value=BADGE-" .. string.format("%06d", pick() - 1))
  elseif mode == "add" then
    n = n + 1
    local body = "command=addcompany&tableName=CLIENTS&clients-org_name=Added+" .. tag
      .. "-" .. tid .. "-" .. n .. "&clients-org_www=added" .. n .. ".example"
      .. "&view-clients-org_industry=Consulting&view-clients-org_sla=SLA-1+Free"
    return wrk.format("POST", base, form, body)
  end
  error("unknown mode " .. mode)
end

function response(status, headers, body)
  responses = responses + 1
  if status ~= 200 or not string.find(body, '"success":true', 1, true) then
    failures = failures + 1
    if first_failure == "" then first_failure = string.sub(body, 1, 200) end
  end
end

"""
    + LUA_DONE
)


@dataclass(frozen=True, slots=True)
class Load:
    requests: int
    seconds: float
    failures: int
    errors: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


class Measured(Protocol):
    """An operation the HTTP load measures (each bench has its own kind)."""

    @property
    def key(self) -> str: ...

    @property
    def label(self) -> str: ...

    @property
    def on_floor(self) -> bool: ...


Op = TypeVar("Op", bound=Measured)


@dataclass(frozen=True, slots=True)
class Operation:
    key: str
    label: str
    mode: str
    on_floor: bool = False


OPERATIONS = (
    Operation("floor", "floor: Starlette, constant JSON", "floor", on_floor=True),
    Operation("byid", "getcompanybyname by id", "byid"),
    Operation("byname", "getcompanybyname by name", "byname"),
    Operation("search", "searchentities on Badge", "search"),
    Operation("add", "addcompany (POST)", "add"),
)


@dataclass(frozen=True, slots=True)
class WrkSettings:
    script: Path
    threads: int
    data: DataSet
    tag: str


def run_wrk(
    settings: WrkSettings, port: int, op: Operation, connections: int, seconds: float, tag: str
) -> Load:
    count = settings.data.badges if op.mode == "search" else settings.data.companies
    return run_wrk_script(
        settings.script,
        f"http://127.0.0.1:{port}{API_PATH}",
        [op.mode, str(count), API_KEY, USER, f"{settings.tag}{tag}c{connections}"],
        threads=settings.threads,
        connections=connections,
        seconds=seconds,
        timeout="30s",
        label=op.label,
    )


def run_wrk_script(
    script: Path,
    url: str,
    arguments: Sequence[str],
    *,
    threads: int,
    connections: int,
    seconds: float,
    timeout: str,
    label: str,
) -> Load:
    """One wrk run of a script that ends with LUA_DONE, given `arguments`; says how many of
    its replies failed, and the first, under `label`."""
    command = [
        "wrk",
        f"-t{min(threads, connections)}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--latency",
        "--timeout",
        timeout,
        "-s",
        str(script),
        url,
        "--",
        *arguments,
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    match = re.search(r"^BENCH (\{.*\})$", done.stdout, re.MULTILINE)
    if done.returncode != 0 or match is None:
        raise SystemExit(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    figures = json.loads(match.group(1))
    failure = re.search(r"^BENCH-FIRST-FAILURE (.*)$", done.stdout, re.MULTILINE)
    if failure:
        print(f"  ! {label}: {figures['failures']} failed replies, first: {failure.group(1)}")
    return Load(
        requests=figures["requests"],
        seconds=figures["duration_us"] / 1e6,
        failures=figures["failures"],
        errors=figures["errors"],
        p50_ms=figures["p50_us"] / 1000,
        p90_ms=figures["p90_us"] / 1000,
        p99_ms=figures["p99_us"] / 1000,
        max_ms=figures["max_us"] / 1000,
    )


@dataclass(frozen=True, slots=True)
class Measurement:
    """Every wrk run of every operation, under load and with one connection; the Accord
    server's memory at the end."""

    loads: dict[str, list[Load]]
    singles: dict[str, list[Load]]
    rss: dict[str, int]


@dataclass(frozen=True, slots=True)
class LineWidths:
    """How a round's line is laid out: the label's width, the milliseconds', and the
    decimals of the request rates."""

    label: int
    ms: int
    decimals: int


def measure(
    operations: Sequence[Op],
    wrk: Callable[[int, Op, int, float, str], Load],
    connections: Mapping[str, int],
    args: argparse.Namespace,
    folder: Path,
    *,
    check: Callable[[Server], None],
    widths: LineWidths,
    as_long: Container[str] = (),
) -> Measurement:
    """Serve Accord and the floor, each in a process of its own, and `check` Accord; warm
    every operation up, then run each in `args.rounds` rounds under load and (unless
    --single-duration is 0) with one connection, a line a round, the floor's operations
    on the floor. `wrk(port, op, connections, seconds, tag)` runs one; the -c1 runs of
    the operations `as_long` names last as long as those under load."""
    loads: dict[str, list[Load]] = {op.key: [] for op in operations}
    singles: dict[str, list[Load]] = {op.key: [] for op in operations}
    with ExitStack() as stack:
        url = database_url(args, folder)
        accord = accord_server(stack, url, args, folder)
        floor = floor_server(stack, folder)
        check(accord)
        print(f"\nServers: accord pid {accord.pid}, floor pid {floor.pid}. Warming up", flush=True)
        for op in operations:
            port = floor.port if op.on_floor else accord.port
            wrk(port, op, connections[op.key], args.warmup, "w")
        for round_ in range(1, args.rounds + 1):
            for op in operations:
                port = floor.port if op.on_floor else accord.port
                load = wrk(port, op, connections[op.key], args.duration, f"r{round_}")
                loads[op.key].append(load)
                single = None
                if args.single_duration > 0:
                    seconds = args.duration if op.key in as_long else args.single_duration
                    single = wrk(port, op, 1, seconds, f"s{round_}")
                    singles[op.key].append(single)
                print(round_line(round_, op.label, load, single, widths), flush=True)
        rss = proc_status(accord.pid)
    return Measurement(loads, singles, rss)


def round_line(round_: int, label: str, load: Load, single: Load | None, widths: LineWidths) -> str:
    decimals, ms_width = widths.decimals, widths.ms
    line = f"  round {round_} {label:{widths.label}} {load.rps:9,.{decimals}f} req/s"
    line += f"  p50 {load.p50_ms:{ms_width}.2f} ms  p99 {load.p99_ms:{ms_width}.2f} ms"
    if single is not None:
        line += f"  | c1 {single.rps:{7 + decimals},.{decimals}f} req/s"
        line += f" p50 {single.p50_ms:{ms_width - 1}.2f} ms"
    return line


# Query plans of what the store emits


@dataclass(frozen=True, slots=True)
class Statement:
    sql: str
    parameters: Any


@dataclass(frozen=True, slots=True)
class Plan:
    sql: str
    plan: list[str]
    db_ms: float


@dataclass(frozen=True, slots=True)
class Read:
    """One read run through the services: every statement of its transaction, and the
    plans of those on entries."""

    what: str
    statements: list[str]
    plans: list[Plan]


class StatementLog:
    """Every statement a database's connections run, through SQLAlchemy or the driver.

    SQLite: the driver's trace callback (SQL with the values in it). PostgreSQL: a
    cursor class that records what it executes, and SQLAlchemy's event for the
    server-side cursors (which that class does not make).
    """

    def __init__(self, engine: sa.Engine) -> None:
        self.statements: list[Statement] = []
        self.recording = False
        sa.event.listen(engine, "connect", self._install)
        sa.event.listen(engine, "before_cursor_execute", self._server_side)

    def record(self, sql: str, parameters: Any) -> None:
        skip = ("BEGIN", "COMMIT", "ROLLBACK", "PRAGMA", "SAVEPOINT", "RELEASE")
        if self.recording and not sql.lstrip().upper().startswith(skip):
            # A list of values (the driver's own calls) is passed on as a tuple: SQLAlchemy
            # takes a list for several rows.
            shown = tuple(parameters) if isinstance(parameters, list) else parameters
            self.statements.append(Statement(sql, shown))

    def _install(self, dbapi_connection: Any, _record: Any) -> None:
        if isinstance(dbapi_connection, sqlite3.Connection):
            dbapi_connection.set_trace_callback(lambda sql: self.record(sql, ()))
        else:
            dbapi_connection.cursor_factory = _recording_cursor(self)

    def _server_side(self, _conn: Any, cursor: Any, sql: str, parameters: Any, *_: Any) -> None:
        if isinstance(cursor, psycopg.ServerCursor):
            self.record(sql, parameters)

    @contextmanager
    def capture(self) -> Iterator[list[Statement]]:
        self.statements, self.recording = [], True
        try:
            yield self.statements
        finally:
            self.recording = False


def _recording_cursor(log: StatementLog) -> type[psycopg.Cursor[Any]]:
    class Recording(psycopg.Cursor[Any]):
        def execute(self, query: Any, params: Any = None, **options: Any) -> Any:
            log.record(query if isinstance(query, str) else repr(query), params)
            return super().execute(query, params, **options)

    return Recording


def query_plans(url: str, data: DataSet) -> list[Read]:
    """Run each read through the services, capture its SQL, and EXPLAIN the entry queries."""

    def by_id(tx: Transaction) -> None:
        companies = tx.schema.directory_by_code(COMPANIES)
        entries.get_entry(tx, companies, EntryRef(id=data.companies // 2), actor=bench_actor(tx))

    def by_name(tx: Transaction) -> None:
        companies = tx.schema.directory_by_code(COMPANIES)
        ref = EntryRef(name=company_name(data.companies // 2))
        entries.get_entry(tx, companies, ref, actor=bench_actor(tx))

    def search(tx: Transaction) -> None:
        contacts = tx.schema.directory_by_code(CONTACTS)
        terms = [(tx.schema.find_field(contacts, BADGE), badge(data.badges // 2))]
        list(entries.search_entries(tx, contacts, terms, actor=bench_actor(tx)))

    return read_plans(
        url,
        [
            ("getcompanybyname by id", by_id),
            ("getcompanybyname by name", by_name),
            ("searchentities on Badge", search),
        ],
    )


def _explain(database: Database, statement: Statement) -> list[str]:
    with database.engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            rows = connection.exec_driver_sql(
                "EXPLAIN QUERY PLAN " + statement.sql, statement.parameters
            ).all()
            return [str(row[-1]) for row in rows]
        rows = connection.exec_driver_sql(
            "EXPLAIN (ANALYZE, BUFFERS) " + statement.sql, statement.parameters
        ).all()
        return [str(row[0]) for row in rows]


def _time_statement(database: Database, statement: Statement, repeat: int = 50) -> float:
    """Median milliseconds to run the statement and fetch its rows, on a warm connection."""
    times = []
    with database.engine.connect() as connection:
        for _ in range(repeat):
            started = time.perf_counter()
            connection.exec_driver_sql(statement.sql, statement.parameters).all()
            times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


Work = Callable[[Transaction], None]


def read_plans(
    url: str,
    reads: Sequence[tuple[str, Work]],
    *,
    warm: Work | None = None,
    timing: Callable[[Database, Statement], float] = _time_statement,
) -> list[Read]:
    """Run each (what, work) through the services, capture its SQL, and EXPLAIN and time
    (`timing`) the statements on entries. `warm`, else the first read, runs once before,
    to fill the schema and actor caches."""
    database = open_database(url, sqlite_synchronous="NORMAL")
    log = StatementLog(database.engine)
    run(database, warm or reads[0][1], write=False)
    found = []
    for what, work in reads:
        with log.capture() as captured:
            run(database, work, write=False)
        # SQLite's trace reports the statements FTS5 runs inside a query as "-- ...".
        statements = [s for s in captured if not s.sql.lstrip().startswith("--")]
        plans = [
            Plan(s.sql, _explain(database, s), timing(database, s))
            for s in statements
            if re.search(r"\bentr(y_values|ies|y_texts)\b", s.sql)
        ]
        found.append(Read(what, [s.sql for s in statements], plans))
    database.dispose()
    return found


# Reporting


def mib(n: float) -> str:
    return f"{n / MIB:,.1f}"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to fit; the first left-aligned, the others right-aligned."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        first, *rest = (
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )
        return "  ".join([first, *rest])

    return "\n".join([line(headers), "  ".join("-" * w for w in widths), *map(line, rows)])


@dataclass(frozen=True, slots=True)
class Summary:
    """Medians over the rounds of one operation."""

    rps: float
    p50_ms: float
    p99_ms: float
    single_p50_ms: float | None
    single_p99_ms: float | None
    failures: int
    errors: int


def summarize(loads: list[Load], singles: list[Load]) -> Summary:
    return Summary(
        rps=statistics.median(x.rps for x in loads),
        p50_ms=statistics.median(x.p50_ms for x in loads),
        p99_ms=statistics.median(x.p99_ms for x in loads),
        single_p50_ms=statistics.median(x.p50_ms for x in singles) if singles else None,
        single_p99_ms=statistics.median(x.p99_ms for x in singles) if singles else None,
        failures=sum(x.failures for x in [*loads, *singles]),
        errors=sum(x.errors for x in [*loads, *singles]),
    )


def ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def print_load_rates(loader: Loader, url: str) -> None:
    rows = [
        [
            f"{code.lower()} through {path}",
            f"{r.entries:,}",
            f"{r.seconds:.1f}",
            f"{r.per_second:,.0f}",
        ]
        for (code, path), r in loader.rates.items()
        if r.entries
    ]
    for path in (SERVICE, BULK):
        r = loader.total(path)
        if r.entries:
            rows.append(
                [
                    f"all through {path}",
                    f"{r.entries:,}",
                    f"{r.seconds:.1f}",
                    f"{r.per_second:,.0f}",
                ]
            )
    if rows:
        print(f"\nLoad rate ({describe(url)}, one transaction per batch)")
        print(table(["entries", "count", "seconds", "entries/s"], rows))


def print_memory(rss: dict[str, int], *, mapped: bool = True) -> None:
    """The Accord server's memory after the run; `mapped`: with the note on the mapped file
    and the peak."""
    print(f"Accord server after the run: RSS {mib(rss['VmRSS'])} MiB, ", end="")
    if not mapped:
        print(f"of which its own (RssAnon) {mib(rss['RssAnon'])} MiB")
        return
    print(f"of which its own (RssAnon) {mib(rss['RssAnon'])} MiB, the rest the ", end="")
    print(f"mapped database file; peak RSS {mib(rss['VmHWM'])} MiB")


def http_figures(summaries: dict[str, Summary], measured: Measurement) -> dict[str, Any]:
    """The HTTP load's figures for --json: medians, and every round under load and at -c1."""
    return {
        "http": {key: asdict(s) for key, s in summaries.items()},
        "rounds": {key: [asdict(x) for x in loads] for key, loads in measured.loads.items()},
        "rounds_c1": {key: [asdict(x) for x in loads] for key, loads in measured.singles.items()},
    }


def print_load_table(summaries: dict[str, Summary], connections: int, rounds: int) -> None:
    floor = summaries["floor"].rps
    rows = [
        [
            op.label,
            f"{s.rps:,.0f}",
            ms(s.p50_ms),
            ms(s.p99_ms),
            f"{s.rps / floor:.2f}",
            ms(s.single_p50_ms),
            ms(s.single_p99_ms),
            f"{s.failures}/{s.errors}",
        ]
        for op in OPERATIONS
        for s in [summaries[op.key]]
    ]
    print(f"\nHTTP load (medians of {rounds} rounds; -c{connections} and -c1)")
    headers = [
        "operation",
        "req/s",
        "p50 ms",
        "p99 ms",
        "vs floor",
        "p50 ms c1",
        "p99 ms c1",
        "failed/errors",
    ]
    print(table(headers, rows))


def _listing_row(runs: list[ListingRun]) -> list[str]:
    seconds = statistics.median(r.seconds for r in runs)
    return [
        f"{runs[0].companies:,}",
        f"{seconds:.2f}",
        f"{statistics.median(r.first_byte_seconds for r in runs) * 1000:.0f}",
        mib(runs[0].response_bytes),
        f"{runs[0].companies / seconds:,.0f}",
        mib(statistics.median(r.rss_before for r in runs)),
        mib(max(r.rss_peak for r in runs)),
        mib(max(r.growth for r in runs)),
    ]


def print_listing_table(steps: list[list[ListingRun]]) -> None:
    rows = [_listing_row(runs) for runs in steps]
    print(f"\ngetcompanies, streamed to the end (median time of {len(steps[0])}; peak = max)")
    headers = [
        "companies",
        "seconds",
        "1st byte ms",
        "reply MiB",
        "entries/s",
        "anon MiB before",
        "peak anon MiB",
        "growth MiB",
    ]
    print(table(headers, rows))


def listing_is_flat(steps: list[list[ListingRun]]) -> tuple[bool, str]:
    """Flat: the peak growth at the largest count is within 1.5x (or 8 MiB) of the smallest."""
    small, large = max(r.growth for r in steps[0]), max(r.growth for r in steps[-1])
    ratio = steps[-1][0].companies / steps[0][0].companies
    flat = large <= max(small * 1.5, small + 8 * MIB)
    return flat, (
        f"growth {mib(small)} MiB at {steps[0][0].companies:,}, {mib(large)} MiB at "
        f"{steps[-1][0].companies:,} ({ratio:.0f}x the companies)"
    )


def print_targets(summaries: dict[str, Summary], steps: list[list[ListingRun]]) -> None:
    floor = summaries["floor"].rps
    rows = []
    for key in ("byid", "byname"):
        ratio = summaries[key].rps / floor
        verdict = "met" if ratio >= 1 / 3 else "MISSED"
        rows.append([f"point read ({key}) >= 1/3 floor rate", f"{ratio:.2f} of floor", verdict])
    search = summaries["search"]
    loaded = "met" if search.p50_ms < 5 else "MISSED"
    rows.append(["searchentities p50 < 5 ms, under load", f"{search.p50_ms:.2f} ms", loaded])
    if search.single_p50_ms is not None:
        alone = "met" if search.single_p50_ms < 5 else "MISSED"
        rows.append(["searchentities p50 < 5 ms, one connection", ms(search.single_p50_ms), alone])
    if len(steps) > 1:
        flat, how = listing_is_flat(steps)
        rows.append(["getcompanies memory flat as count grows", how, "met" if flat else "MISSED"])
    print("\nTargets")
    print(table(["target", "measured", "verdict"], rows))


def one_line(sql: str, limit: int) -> str:
    flat = re.sub(r"\s+", " ", sql).strip()
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def print_plans(
    reads: list[Read],
    *,
    subject: str = "read",
    width: int = 400,
    timing: str = "median of 50",
    pre_ping: bool = True,
) -> None:
    """Each read's statements, and the plans and times of those on entries (`width`
    characters of their SQL); `pre_ping`: a note on the pool's pre-ping statements."""
    print(f"\nStatements each {subject} runs in its transaction, and plans of those on entries")
    for read in reads:
        print(f"- {read.what}: {len(read.statements)} statements")
        for sql in read.statements:
            noted = pre_ping and sql.strip() in (";", "SELECT 1")
            note = "  (the pool's pre-ping)" if noted else ""
            print(f"    {one_line(sql, 110)}{note}")
        for plan in read.plans:
            print(f"  EXPLAIN {one_line(plan.sql, width)}")
            print(f"  db time alone (execute + fetch, {timing}): {plan.db_ms:.3f} ms")
            for line in plan.plan:
                print(f"      {line}")


# The run


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark the legacy API under HTTP load (wrk) beside a Starlette floor."
    )
    parser.add_argument("--companies", type=int, default=100_000)
    parser.add_argument("--contacts", type=int, default=200_000)
    add_database_option(parser)
    parser.add_argument(
        "--reuse", action="store_true", help="bench a database a previous run loaded (no load)"
    )
    parser.add_argument("--batch", type=int, default=5000, help="entries per load transaction")
    parser.add_argument(
        "--service-entries",
        type=int,
        default=5000,
        help="entries per directory loaded through create_entry (the rest: bulk path)",
    )
    parser.add_argument(
        "--steps",
        default="0.25,0.5,1",
        help="fractions of the data set at which getcompanies is measured (last must be 1)",
    )
    parser.add_argument("--listing-repeat", type=int, default=3)
    parser.add_argument("--duration", type=float, default=10, help="seconds per wrk run")
    parser.add_argument("--single-duration", type=float, default=5, help="0: no -c1 runs")
    parser.add_argument("--warmup", type=float, default=3, help="seconds of wrk per operation")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of every operation")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--workers", type=int, default=1, help="accord serve --workers under load (the floor: 1)"
    )
    parser.add_argument(
        "--sqlite-synchronous", default="FULL", help="ACCORD_SQLITE_SYNCHRONOUS for the server"
    )
    parser.add_argument("--no-explain", action="store_true")
    parser.add_argument("--json", type=Path, help="also write every figure to this JSON file")
    parser.add_argument("--serve-floor", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def add_database_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--database-url",
        help="SQLAlchemy URL of an empty database (default: SQLite in a temporary folder)",
    )


def step_counts(args: argparse.Namespace) -> list[tuple[int, int]]:
    fractions = sorted({float(f) for f in args.steps.split(",") if f.strip()} | {1.0})
    if not all(0 < f <= 1 for f in fractions):
        raise SystemExit("--steps: fractions in (0, 1]")
    return [(max(1, round(args.companies * f)), round(args.contacts * f)) for f in fractions]


def describe(url: str) -> str:
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return f"SQLite {sqlite3.sqlite_version} ({parsed.database})"
    return f"PostgreSQL ({parsed.render_as_string(hide_password=True)})"


def load_average() -> str:
    """The machine's load average: other work on it makes every figure noisier."""
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min)"


def wrk_version() -> str:
    done = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
    return (done.stdout or done.stderr).splitlines()[0].split(" Copyright")[0]


def print_header(title: str, url: str, args: argparse.Namespace, connections: str) -> None:
    """What is measured, on what: the database, wrk's settings, the machine."""
    sync = f", synchronous={args.sqlite_synchronous}" if url.startswith("sqlite") else ""
    print(
        f"{title}\n  database {describe(url)}{sync}\n"
        f"  {wrk_version()} -t{args.threads} {connections} -d{args.duration:g}s, "
        f"{args.rounds} rounds; Python {platform.python_version()}; {os.cpu_count()} cores; "
        f"{load_average()}",
        flush=True,
    )


def database_url(args: argparse.Namespace, folder: Path) -> str:
    """--database-url, else a SQLite file in the bench's temporary folder."""
    return args.database_url or f"sqlite:///{folder / 'bench.db'}"


def bench(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    url = database_url(args, folder)
    data = DataSet(args.companies, args.contacts)
    title = f"Accord legacy API benchmark: {data.companies:,} companies, {data.contacts:,} contacts"
    print_header(title, url, args, f"-c{args.connections}")
    database = open_database(url, sqlite_synchronous="NORMAL")
    loader = Loader(database, data, args.batch, args.service_entries)
    loader.prepare(reuse=args.reuse)
    steps = [(loader.companies, loader.contacts)] if args.reuse else step_counts(args)

    if not args.reuse:
        print(
            f"\nLoading: the first {args.service_entries:,} entries of each directory through"
            " entries.create_entry, the rest through the bulk path;"
            f" {args.batch:,} per transaction",
            flush=True,
        )
    listings: list[list[ListingRun]] = []
    for companies, contacts in steps:
        loader.grow(companies, contacts)
        if (companies, contacts) != steps[-1]:
            with ExitStack() as stack:
                # One process: its memory is the listing's.
                one = argparse.Namespace(**{**vars(args), "workers": 1})
                server = accord_server(stack, url, one, folder, "listing")
                listings.append(measure_listing(server, args.listing_repeat))
    total = loader.total()
    if total.entries:
        print(f"  loaded {total.entries:,} entries in {total.seconds:.1f} s", end=" ")
        print(f"({total.per_second:,.0f} entries/s)")

    reads = [] if args.no_explain else query_plans(url, data)
    database.dispose()

    script = folder / "bench.lua"
    script.write_text(LUA)
    settings = WrkSettings(script, args.threads, data, f"{os.getpid()}x{time.time_ns() % 10**6}")

    def check(accord: Server) -> None:
        listings.append(measure_listing(accord, args.listing_repeat))
        sanity_checks(accord.port, data)

    measured = measure(
        OPERATIONS,
        functools.partial(run_wrk, settings),
        {op.key: args.connections for op in OPERATIONS},
        args,
        folder,
        check=check,
        widths=LineWidths(label=34, ms=6, decimals=0),
    )
    summaries = {
        key: summarize(loads, measured.singles[key]) for key, loads in measured.loads.items()
    }
    print(f"\nMachine at the end: {load_average()}")
    print_load_rates(loader, url)
    print_load_table(summaries, args.connections, args.rounds)
    print_listing_table(listings)
    print_memory(measured.rss)
    print_targets(summaries, listings)
    if reads:
        print_plans(reads)
    return {
        "database": describe(url),
        "companies": data.companies,
        "contacts": data.contacts,
        "load": {f"{code} {path}": asdict(r) for (code, path), r in loader.rates.items()},
        **http_figures(summaries, measured),
        "getcompanies": [[asdict(r) for r in runs] for runs in listings],
        "reads": [asdict(r) for r in reads],
    }


def run_bench(
    args: argparse.Namespace,
    bench: Callable[[argparse.Namespace, Path], dict[str, Any]],
    prefix: str,
    *,
    ensure_ascii: bool = True,
) -> None:
    """Run a bench in a temporary folder (named `prefix`...); write its figures to --json."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")
    with tempfile.TemporaryDirectory(prefix=prefix) as folder:
        figures = bench(args, Path(folder))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, default=str, ensure_ascii=ensure_ascii))
        print(f"\nfigures written to {args.json}")


def main() -> None:
    args = parse_args()
    if args.serve_floor:
        serve_floor(args.port)
        return
    run_bench(args, bench, "accord-bench-")


if __name__ == "__main__":
    main()
