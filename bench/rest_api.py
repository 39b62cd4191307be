"""Benchmark of the REST API at a million companies, beside the legacy bench's floor.

1. Loads companies, each with a custom text field "Segment", through the batches
   service (`services.batches.write_batch` over `store.bulk`: what
   `POST /api/v1/companies/batch` runs), 1000 entries a call; prints the load rate.
2. Captures the SQL of a page filtered on Segment (common, middling and rare values)
   and of a point read, run through the services, and EXPLAINs it.
3. Serves Accord (`accord serve`) and the legacy bench's floor (a minimal Starlette app
   answering a constant JSON object), each with uvicorn in a process of its own, and
   drives both with wrk: a page of 50 companies filtered on Segment, a point read, and
   batch upserts of 1000 companies matched by name; the floor gets the point read's
   requests. A Lua script varies every request and checks every reply.

Run `.venv/bin/python bench/rest_api.py --help`; bench/README.md explains the output.
"""

import argparse
import functools
import json
import os
import platform
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

import legacy_api as legacy
from accord.domain.entries import EntryRef
from accord.domain.filters import parse_filter
from accord.domain.schema import COMPANIES, FieldType
from accord.domain.users import Actor
from accord.services import batches, directories, entries, listings, migrations, tokens, users
from accord.services.batches import Mode
from accord.services.transactions import Database, Transaction, open_database, run
from legacy_api import Load, LoadRate, Server, Summary, summarize, table

EDGE = "bench"
USER = "bench"
SEGMENT = "Segment"
TYPES = legacy.TYPES
INDUSTRIES = legacy.INDUSTRIES
SLAS = legacy.SLAS
BATCH = 1000
CREATES_EVERY = 4
"""In the upsert batches, every 4th entry is a new company; the others update one."""


# The data set


def company_name(number: int) -> str:
    return f"Bench Company {number:07d}"


@dataclass(frozen=True, slots=True)
class Kind:
    """One kind of Segment value, held by `share` of the companies, `matches` a value: a
    page filtered on one is a measured operation. The values are spread evenly, so that
    a value matches as many companies whatever the size of the data set."""

    key: str
    label: str
    prefix: str
    share: int
    """Of every 1000 companies, how many hold a value of this kind."""
    matches: int

    def values(self, companies: int) -> int:
        return max(1, round(companies * self.share / 1000 / self.matches))

    def value(self, index: int) -> str:
        return f"{self.prefix}{index:04d}"


KINDS = (
    Kind("common", "page, Segment eq common value", "SEG-", 900, 2000),
    Kind("middling", "page, Segment eq middling value", "MID-", 99, 300),
    Kind("rare", "page, Segment eq rare value", "RARE-", 1, 10),
)


def segment(number: int, companies: int) -> str:
    """Company n's Segment: of every 1000 companies, 900 hold a common value (2,000
    companies each), 99 a middling one (300 each) and one a rare one (10 each)."""
    block, k = divmod(number, 1000)
    first = 0
    for kind in KINDS:
        if k < first + kind.share:
            return kind.value((block * kind.share + k - first) % kind.values(companies))
        first += kind.share
    raise AssertionError("the shares add up to 1000")


def company(number: int, segment_code: str, companies: int) -> dict[str, object]:
    return {
        "org_name": company_name(number),
        "org_type": TYPES[number % len(TYPES)],
        "org_industry": INDUSTRIES[number % len(INDUSTRIES)],
        "org_www": f"company{number}.example",
        "org_sla": SLAS[number % len(SLAS)] or None,
        segment_code: segment(number, companies),
    }


def matches(companies: int) -> dict[str, tuple[int, int]]:
    """Per kind, the fewest and most companies one of its values holds."""
    held: dict[str, int] = {}
    for n in range(1, companies + 1):
        value = segment(n, companies)
        held[value] = held.get(value, 0) + 1
    found = {}
    for kind in KINDS:
        counts = [held.get(kind.value(v), 0) for v in range(kind.values(companies))]
        found[kind.key] = (min(counts), max(counts))
    return found


# Loading, through the batches service


def prepare(database: Database, *, reuse: bool, companies: int) -> tuple[str, str]:
    """Migrate; add the bench user and the Segment field (unless reused); a new token."""
    migrations.upgrade_schema(database)
    held = legacy.entry_counts(database)[COMPANIES]
    if reuse and held < companies:
        raise SystemExit(f"--reuse: the database holds only {held:,} companies")
    if not reuse and held:
        raise SystemExit(f"the database already holds {held:,} companies: give an empty one")
    system = Actor.system(EDGE)

    def work(tx: Transaction) -> tuple[str, str]:
        companies_directory = tx.schema.directory_by_code(COMPANIES)
        if reuse:
            code = tx.schema.find_field(companies_directory, SEGMENT).code
        else:
            users.add_user(tx, USER, email="bench@accord.example", is_admin=True, actor=system)
            code = directories.add_field(tx, COMPANIES, SEGMENT, FieldType.TEXT, actor=system).code
        text, _ = tokens.create_token(tx, USER, name=f"bench {time.time_ns()}", actor=system)
        return code, text

    return run(database, work, write=True)


def load_companies(
    database: Database, token: str, segment_code: str, companies: int, per_transaction: int
) -> LoadRate:
    """Create companies 1..N, BATCH a call, `per_transaction` a transaction."""
    rate = LoadRate()
    for first in range(1, companies + 1, per_transaction):
        last = min(companies, first + per_transaction - 1)
        started = time.perf_counter()
        run(
            database,
            functools.partial(
                _load, token=token, code=segment_code, first=first, last=last, total=companies
            ),
            write=True,
        )
        rate.seconds += time.perf_counter() - started
        rate.entries += last - first + 1
        if rate.entries % 100_000 < per_transaction or last == companies:
            print(f"  {last:>9,} companies, {rate.per_second:,.0f}/s", flush=True)
            legacy.refresh_statistics(database)
    return rate


def _load(tx: Transaction, *, token: str, code: str, first: int, last: int, total: int) -> None:
    actor = tokens.authenticate_token(tx, token, edge=EDGE).actor
    directory = tx.schema.directory_by_code(COMPANIES)
    for start in range(first, last + 1, BATCH):
        numbers = range(start, min(last, start + BATCH - 1) + 1)
        items = [company(n, code, total) for n in numbers]
        outcomes = batches.write_batch(tx, directory, items, mode=Mode.CREATE, actor=actor)
        ids = [o.entry.id if o.entry else o.error for o in outcomes]
        if ids != list(numbers):
            raise SystemExit(f"loading {numbers}: got {ids[:5]}...: start from an empty db")


# Query plans of a page and a point read


def query_plans(url: str, token: str, code: str, companies: int) -> list[legacy.Read]:
    def page(value: str) -> Any:
        def work(tx: Transaction) -> None:
            actor = tokens.authenticate_token(tx, token, edge=EDGE).actor
            directory = tx.schema.directory_by_code(COMPANIES)
            query = listings.ListQuery(filter=parse_filter(filter_text(code, value)), limit=50)
            listings.list_entries(tx, directory, query, actor=actor)

        return work

    def point(tx: Transaction) -> None:
        actor = tokens.authenticate_token(tx, token, edge=EDGE).actor
        directory = tx.schema.directory_by_code(COMPANIES)
        entries.get_entry(tx, directory, EntryRef(id=companies // 2), actor=actor)

    database = open_database(url, sqlite_synchronous="NORMAL")
    log = legacy.StatementLog(database.engine)
    run(database, point, write=False)  # fill the caches first
    reads = []
    for what, work in (
        *((f"{k.label} ({k.value(0)})", page(k.value(0))) for k in KINDS),
        ("point read", point),
    ):
        with log.capture() as statements:
            run(database, work, write=False)
        plans = [
            legacy.Plan(s.sql, legacy._explain(database, s), legacy._time_statement(database, s))
            for s in statements
            if re.search(r"\bentr(y_values|ies)\b", s.sql)
        ]
        reads.append(legacy.Read(what, [s.sql for s in statements], plans))
    database.dispose()
    return reads


def filter_text(code: str, value: str) -> str:
    return f"{code} eq '{value}'"


# wrk

LUA = (
    r"""
-- args: mode, count, token, segment code, tag, prefix, width, creates_every
local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

function init(args)
  mode, count, token, code, tag = args[1], tonumber(args[2]), args[3], args[4], args[5]
  prefix, width, creates_every = args[6], tonumber(args[7]), tonumber(args[8])
  auth = { ["Authorization"] = "Bearer " .. token }
  posting = { ["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json" }
  n, responses, failures, first_failure = 0, 0, 0, ""
end

local function pick()
  -- Walks 0..count-1 in a scattered order.
  n = n + 1
  return (n * 104729 + tid * 7919) % count
end

local function encode(text)
  return (string.gsub(text, "[^%w%-_%.~]", function(c)
    return string.format("%%%02X", string.byte(c))
  end))
end

local function upsert_body()
  n = n + 1
  local parts = {}
  for i = 0, 999 do
    if i % creates_every == creates_every - 1 then
      parts[#parts + 1] = '{"org_name":"Upserted ' .. tag .. "-" .. tid .. "-" .. n .. "-" .. i
        .. '","org_type":"Lead","org_www":"new' .. i .. '.example","' .. code .. '":"NEW-'
        .. (i % 10) .. '"}'
    else
      -- Distinct companies within a batch: i * 104729 differs modulo count for i < 1000.
      local number = ((n * 1000 + i) * 104729 + tid * 7919) % count + 1
      parts[#parts + 1] = '{"org_name":"Bench Company ' .. string.format("%07d", number)
        .. '","org_www":"v' .. tag .. n .. ".company" .. number .. '.example"}'
    end
  end
  return '{"mode":"upsert","match":"org_name","entries":[' .. table.concat(parts, ",") .. "]}"
end

function request()
  if mode == "floor" then
    return wrk.format("GET", "/plugins/servlet/crm/api?apiKey=k&userName=u"
      .. "&command=getcompanybyname&companyId=" .. (pick() + 1))
  elseif mode == "page" then
    local value = prefix .. string.format("%0" .. width .. "d", pick())
    return wrk.format("GET", "/api/v1/companies?limit=50&filter="
      .. encode(code .. " eq '" .. value .. "'"), auth)
  elseif mode == "point" then
    return wrk.format("GET", "/api/v1/companies/" .. (pick() + 1), auth)
  elseif mode == "upsert" then
    return wrk.format("POST", "/api/v1/companies/batch", posting, upsert_body())
  end
  error("unknown mode " .. mode)
end

function response(status, headers, body)
  responses = responses + 1
  local ok = status == 200
  if ok and mode == "upsert" then
    ok = not string.find(body, '"error":', 1, true)
  elseif ok and mode == "page" then
    ok = string.find(body, '"items":[{', 1, true) ~= nil
  end
  if not ok then
    failures = failures + 1
    if first_failure == "" then first_failure = status .. " " .. string.sub(body, 1, 200) end
  end
end

"""
    + legacy.LUA_DONE
)


@dataclass(frozen=True, slots=True)
class Operation:
    key: str
    label: str
    mode: str
    kind: Kind | None = None
    on_floor: bool = False
    entries_per_request: int = 1


OPERATIONS = (
    Operation("floor", "floor: Starlette, constant JSON", "floor", on_floor=True),
    *(Operation(k.key, k.label, "page", k) for k in KINDS),
    Operation("point", "point read GET /companies/{id}", "point"),
    Operation("upsert", "batch upsert of 1000, by org_name", "upsert", entries_per_request=BATCH),
)


def chosen(keys: list[str] | None) -> tuple[Operation, ...]:
    """The operations `--only` names, the floor first; all of them without it."""
    if keys is None:
        return OPERATIONS
    unknown = set(keys) - {op.key for op in OPERATIONS}
    if unknown:
        raise SystemExit(f"--only: no operation {', '.join(sorted(unknown))}")
    return tuple(op for op in OPERATIONS if op.on_floor or op.key in keys)


@dataclass(frozen=True, slots=True)
class Wrk:
    script: Path
    threads: int
    companies: int
    token: str
    code: str
    tag: str


def run_wrk(wrk: Wrk, port: int, op: Operation, connections: int, seconds: float, tag: str) -> Load:
    kind = op.kind
    command = [
        "wrk",
        f"-t{min(wrk.threads, connections)}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--latency",
        "--timeout",
        "60s",
        "-s",
        str(wrk.script),
        f"http://127.0.0.1:{port}/",
        "--",
        op.mode,
        str(kind.values(wrk.companies) if kind else wrk.companies),
        wrk.token,
        wrk.code,
        f"{wrk.tag}{tag}",
        kind.prefix if kind else "",
        "4",
        str(CREATES_EVERY),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    match = re.search(r"^BENCH (\{.*\})$", done.stdout, re.MULTILINE)
    if done.returncode != 0 or match is None:
        raise SystemExit(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    figures = json.loads(match.group(1))
    failure = re.search(r"^BENCH-FIRST-FAILURE (.*)$", done.stdout, re.MULTILINE)
    if failure:
        print(f"  ! {op.label}: {figures['failures']} failed replies, first: {failure.group(1)}")
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


def sanity_checks(server: Server, wrk: Wrk) -> None:
    """Each measured request answers what it should before it is measured."""
    headers = {"Authorization": f"Bearer {wrk.token}"}
    with httpx.Client(
        base_url=f"http://127.0.0.1:{server.port}/api/v1", headers=headers, timeout=120
    ) as http:
        for kind in KINDS:
            value = kind.value(kind.values(wrk.companies) - 1)
            reply = http.get(
                "/companies", params={"filter": filter_text(wrk.code, value), "limit": 50}
            )
            items = reply.json().get("items", [])
            legacy.check(
                bool(items) and all(i[wrk.code] == value for i in items), kind.label, reply.text
            )
        reply = http.get(f"/companies/{wrk.companies}")
        legacy.check(reply.json().get("org_name") == company_name(wrk.companies), "point", reply)
        upsert = [{"org_name": company_name(1), "org_www": "company1.example"}]
        reply = http.post(
            "/companies/batch", json={"mode": "upsert", "match": "org_name", "entries": upsert}
        )
        legacy.check(reply.json()["results"][0]["status"] == 200, "batch upsert", reply.text)


# Reporting


def print_load_table(
    operations: Sequence[Operation],
    summaries: dict[str, Summary],
    connections: dict[str, int],
    rounds: int,
) -> None:
    floor = summaries["floor"].rps
    rows = [
        [
            op.label,
            f"-c{connections[op.key]}",
            f"{s.rps:,.1f}" if s.rps < 100 else f"{s.rps:,.0f}",
            f"{s.rps * op.entries_per_request:,.0f}",
            legacy.ms(s.p50_ms),
            legacy.ms(s.p99_ms),
            f"{s.rps / floor:.3f}" if s.rps / floor < 0.1 else f"{s.rps / floor:.2f}",
            legacy.ms(s.single_p50_ms),
            legacy.ms(s.single_p99_ms),
            f"{s.failures}/{s.errors}",
        ]
        for op in operations
        for s in [summaries[op.key]]
    ]
    print(f"\nHTTP load (medians of {rounds} rounds; under load and with one connection)")
    headers = [
        "operation",
        "conns",
        "req/s",
        "entries/s",
        "p50 ms",
        "p99 ms",
        "vs floor",
        "p50 ms c1",
        "p99 ms c1",
        "failed/errors",
    ]
    print(table(headers, rows))


def print_targets(summaries: dict[str, Summary], companies: int) -> list[list[str]]:
    rows = []
    for kind in KINDS:
        if kind.key not in summaries:
            continue
        s = summaries[kind.key]
        for how, p99 in (("under load", s.p99_ms), ("one connection", s.single_p99_ms)):
            if p99 is not None:
                verdict = "met" if p99 < 50 else "MISSED"
                rows.append([f"{kind.key} page p99 < 50 ms, {how}", f"{p99:.1f} ms", verdict])
    if "upsert" in summaries:
        rate = summaries["upsert"].rps * BATCH
        verdict = "met" if rate >= 20_000 else "MISSED"
        rows.append(["batch upsert >= 20,000 entries/s", f"{rate:,.0f} entries/s", verdict])
    print(f"\nTargets (at {companies:,} companies)")
    print(table(["target", "measured", "verdict"], rows))
    return rows


def print_plans(reads: list[legacy.Read]) -> None:
    print("\nStatements each read runs in its transaction, and plans of those on entries")
    for read in reads:
        print(f"- {read.what}: {len(read.statements)} statements")
        for sql in read.statements:
            print(f"    {legacy.one_line(sql, 110)}")
        for plan in read.plans:
            print(f"  EXPLAIN {legacy.one_line(plan.sql, 600)}")
            print(f"  db time alone (execute + fetch, median of 50): {plan.db_ms:.3f} ms")
            for line in plan.plan:
                print(f"      {line}")


# The run


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark the REST API under HTTP load (wrk) beside a Starlette floor."
    )
    parser.add_argument("--companies", type=int, default=1_000_000)
    parser.add_argument(
        "--quick", action="store_true", help="50,000 companies, 1 short round (about 2 minutes)"
    )
    parser.add_argument(
        "--database-url",
        help="SQLAlchemy URL of an empty database (default: SQLite in a temporary folder)",
    )
    parser.add_argument(
        "--reuse", action="store_true", help="bench a database a previous run loaded (no load)"
    )
    parser.add_argument(
        "--per-transaction", type=int, default=5000, help="companies per load transaction"
    )
    parser.add_argument("--duration", type=float, default=10, help="seconds per wrk run")
    parser.add_argument("--single-duration", type=float, default=5, help="0: no -c1 runs")
    parser.add_argument("--warmup", type=float, default=2, help="seconds of wrk per operation")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=8, help="for the reads")
    parser.add_argument("--batch-connections", type=int, default=2, help="for the upserts")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--sqlite-synchronous", default="FULL", help="ACCORD_SQLITE_SYNCHRONOUS for the server"
    )
    parser.add_argument("--no-explain", action="store_true")
    parser.add_argument(
        "--only",
        type=lambda text: text.split(","),
        default=None,
        metavar="KEY[,KEY]",
        help=f"measure only these ({', '.join(op.key for op in OPERATIONS[1:])}); the floor always",
    )
    parser.add_argument("--json", type=Path, help="also write every figure to this JSON file")
    args = parser.parse_args(argv)
    if args.quick:
        args.companies = 50_000
        args.rounds, args.duration, args.single_duration, args.warmup = 1, 4, 2, 1
    if args.companies < 2 * BATCH:
        raise SystemExit(f"--companies: at least {2 * BATCH}")
    return args


def bench(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    url = args.database_url or f"sqlite:///{folder / 'bench.db'}"
    sync = f", synchronous={args.sqlite_synchronous}" if url.startswith("sqlite") else ""
    print(
        f"Accord REST API benchmark: {args.companies:,} companies\n"
        f"  database {legacy.describe(url)}{sync}\n"
        f"  {legacy.wrk_version()} -t{args.threads} -c{args.connections} (reads), "
        f"-c{args.batch_connections} (upserts), -d{args.duration:g}s, {args.rounds} rounds; "
        f"Python {platform.python_version()}; {os.cpu_count()} cores; {legacy.load_average()}",
        flush=True,
    )
    database = open_database(url, sqlite_synchronous="NORMAL")
    code, token = prepare(database, reuse=args.reuse, companies=args.companies)
    rate = None
    if not args.reuse:
        print(
            f"\nLoading through services.batches.write_batch (store.bulk), {BATCH:,} a call,"
            f" {args.per_transaction:,} a transaction",
            flush=True,
        )
        rate = load_companies(database, token, code, args.companies, args.per_transaction)
    database.dispose()
    held = matches(args.companies)
    reads = [] if args.no_explain else query_plans(url, token, code, args.companies)

    script = folder / "rest.lua"
    script.write_text(LUA)
    wrk = Wrk(
        script, args.threads, args.companies, token, code, f"{os.getpid()}x{time.time_ns() % 10**6}"
    )
    operations = chosen(args.only)
    connections = {
        op.key: args.batch_connections if op.mode == "upsert" else args.connections
        for op in operations
    }
    loads: dict[str, list[Load]] = {op.key: [] for op in operations}
    singles: dict[str, list[Load]] = {op.key: [] for op in operations}
    os.environ["ACCORD_API_RATE_LIMIT"] = "0"
    with ExitStack() as stack:
        accord = legacy.accord_server(stack, url, args.sqlite_synchronous, folder)
        floor = legacy.floor_server(stack, folder)
        sanity_checks(accord, wrk)
        print(f"\nServers: accord pid {accord.pid}, floor pid {floor.pid}. Warming up", flush=True)
        for op in operations:
            port = floor.port if op.on_floor else accord.port
            run_wrk(wrk, port, op, connections[op.key], args.warmup, "w")
        for round_ in range(1, args.rounds + 1):
            for op in operations:
                port = floor.port if op.on_floor else accord.port
                load = run_wrk(wrk, port, op, connections[op.key], args.duration, f"r{round_}")
                loads[op.key].append(load)
                line = f"  round {round_} {op.label:36} {load.rps:9,.1f} req/s"
                line += f"  p50 {load.p50_ms:7.2f} ms  p99 {load.p99_ms:7.2f} ms"
                if args.single_duration > 0:
                    single = run_wrk(wrk, port, op, 1, args.single_duration, f"s{round_}")
                    singles[op.key].append(single)
                    line += f"  | c1 {single.rps:8,.1f} req/s p50 {single.p50_ms:6.2f} ms"
                print(line, flush=True)
        rss = legacy.proc_status(accord.pid)

    summaries = {key: summarize(loads[key], singles[key]) for key in loads}
    print(f"\nMachine at the end: {legacy.load_average()}")
    if rate is not None:
        print(f"\nLoad rate ({legacy.describe(url)}): {rate.entries:,} companies in ", end="")
        print(f"{rate.seconds:.1f} s, {rate.per_second:,.0f} entries/s through the batches service")
    print(
        "\nSegment values (companies per value, fewest-most): "
        + ", ".join(f"{k.key} {held[k.key][0]:,}-{held[k.key][1]:,}" for k in KINDS)
    )
    print_load_table(operations, summaries, connections, args.rounds)
    print(f"Accord server after the run: RSS {legacy.mib(rss['VmRSS'])} MiB, ", end="")
    print(f"of which its own (RssAnon) {legacy.mib(rss['RssAnon'])} MiB, the rest the ", end="")
    print(f"mapped database file; peak RSS {legacy.mib(rss['VmHWM'])} MiB")
    targets = print_targets(summaries, args.companies)
    if reads:
        print_plans(reads)
    return {
        "database": legacy.describe(url),
        "companies": args.companies,
        "load": None if rate is None else asdict(rate),
        "segment_matches": held,
        "http": {key: asdict(s) for key, s in summaries.items()},
        "rounds": {key: [asdict(x) for x in loads[key]] for key in loads},
        "rounds_c1": {key: [asdict(x) for x in singles[key]] for key in singles},
        "targets": targets,
        "reads": [asdict(r) for r in reads],
    }


def main() -> None:
    args = parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")
    with tempfile.TemporaryDirectory(prefix="accord-rest-bench-") as folder:
        figures = bench(args, Path(folder))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, default=str))
        print(f"\nfigures written to {args.json}")


if __name__ == "__main__":
    main()
