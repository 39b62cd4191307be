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
import os
import time
from collections.abc import Callable, Mapping, Sequence
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


def announce_load(per_transaction: int) -> None:
    print(
        f"\nLoading through services.batches.write_batch (store.bulk), {BATCH:,} a call,"
        f" {per_transaction:,} a transaction",
        flush=True,
    )


def load_entries(
    database: Database,
    token: str,
    code: str,
    item: Callable[[int], dict[str, object]],
    count: int,
    per_transaction: int,
    *,
    progress: str,
    growth: float | None = None,
) -> LoadRate:
    """Create entries 1..count of a directory, BATCH a call, `per_transaction` a transaction;
    print `progress` (with `{last}`, the entries loaded) and the rate every 100,000.

    PostgreSQL is analysed at each of those lines, or with `growth` whenever the
    directory has grown by that factor, as autovacuum would (this machine's runs with it
    off): with statistics of an emptier table, the check of a batch's unique names reads
    every name instead of probing the index."""
    rate = LoadRate()
    analysed = 0
    for first in range(1, count + 1, per_transaction):
        last = min(count, first + per_transaction - 1)
        started = time.perf_counter()
        work = functools.partial(_load, token=token, code=code, item=item, first=first, last=last)
        run(database, work, write=True)
        rate.seconds += time.perf_counter() - started
        rate.entries += last - first + 1
        shown = rate.entries % 100_000 < per_transaction or last == count
        if shown:
            print(f"  {progress.format(last=last)}, {rate.per_second:,.0f}/s", flush=True)
        due = shown if growth is None else (rate.entries >= growth * analysed or last == count)
        if due:
            legacy.refresh_statistics(database)
            analysed = rate.entries
    return rate


def _load(
    tx: Transaction,
    *,
    token: str,
    code: str,
    item: Callable[[int], dict[str, object]],
    first: int,
    last: int,
) -> None:
    actor = tokens.authenticate_token(tx, token, edge=EDGE).actor
    directory = tx.schema.directory_by_code(code)
    for start in range(first, last + 1, BATCH):
        numbers = range(start, min(last, start + BATCH - 1) + 1)
        items = [item(n) for n in numbers]
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

    reads = [(f"{k.label} ({k.value(0)})", page(k.value(0))) for k in KINDS]
    return legacy.read_plans(url, [*reads, ("point read", point)], warm=point)


def filter_text(code: str, value: str) -> str:
    return f"{code} eq '{value}'"


# wrk

LUA_TALLY = r"""
function tally(ok, status, body)
  -- Counts a reply; keeps the first that failed its check, with its status.
  responses = responses + 1
  if not ok then
    failures = failures + 1
    if first_failure == "" then first_failure = status .. " " .. string.sub(body, 1, 200) end
  end
end
"""
"""The end of `response` in this bench's script and in bench/search.py's: `done`
(legacy.LUA_DONE) reports the counts."""

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
  local ok = status == 200
  if ok and mode == "upsert" then
    ok = not string.find(body, '"error":', 1, true)
  elseif ok and mode == "page" then
    ok = string.find(body, '"items":[{', 1, true) ~= nil
  end
  tally(ok, status, body)
end
"""
    + LUA_TALLY
    + legacy.LUA_DONE
)


@dataclass(frozen=True, slots=True)
class ApiOperation:
    """An operation of this bench or of search.py: `mode` is what its Lua script does, or
    "floor" (the floor's)."""

    key: str
    label: str
    mode: str
    entries_per_request: int = 1

    @property
    def on_floor(self) -> bool:
        return self.mode == "floor"

    @property
    def writes(self) -> bool:
        return self.mode in ("create", "upsert")


@dataclass(frozen=True, slots=True)
class Operation(ApiOperation):
    kind: Kind | None = None


OPERATIONS = (
    Operation("floor", "floor: Starlette, constant JSON", "floor"),
    *(Operation(k.key, k.label, "page", kind=k) for k in KINDS),
    Operation("point", "point read GET /companies/{id}", "point"),
    Operation("upsert", "batch upsert of 1000, by org_name", "upsert", entries_per_request=BATCH),
)


def chosen(
    keys: list[str] | None,
    operations: tuple[legacy.Op, ...],
    groups: Mapping[str, list[str]] | None = None,
) -> tuple[legacy.Op, ...]:
    """The operations `--only` names (keys, or `groups` of them), the floor first; all
    without it."""
    if keys is None:
        return operations
    wanted = {k for key in keys for k in (groups or {}).get(key, [key])}
    unknown = wanted - {op.key for op in operations}
    if unknown:
        raise SystemExit(f"--only: no operation {', '.join(sorted(unknown))}")
    return tuple(op for op in operations if op.on_floor or op.key in wanted)


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
    arguments = [
        op.mode,
        str(kind.values(wrk.companies) if kind else wrk.companies),
        wrk.token,
        wrk.code,
        f"{wrk.tag}{tag}",
        kind.prefix if kind else "",
        "4",
        str(CREATES_EVERY),
    ]
    return run_script(wrk.script, port, op.label, arguments, wrk.threads, connections, seconds)


def run_script(
    script: Path,
    port: int,
    label: str,
    arguments: Sequence[str],
    threads: int,
    connections: int,
    seconds: float,
) -> Load:
    """A wrk run of a script of this bench or search.py against a server on `port`."""
    return legacy.run_wrk_script(
        script,
        f"http://127.0.0.1:{port}/",
        arguments,
        threads=threads,
        connections=connections,
        seconds=seconds,
        timeout="60s",
        label=label,
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
    operations: Sequence[ApiOperation],
    summaries: dict[str, Summary],
    connections: dict[str, int],
    rounds: int,
    *,
    read_entries: bool = True,
) -> None:
    """The medians of every operation; `read_entries`: the entries/s of reads too (else
    only of writes)."""
    floor = summaries["floor"].rps
    rows = [
        [
            op.label,
            f"-c{connections[op.key]}",
            f"{s.rps:,.1f}" if s.rps < 100 else f"{s.rps:,.0f}",
            f"{s.rps * op.entries_per_request:,.0f}" if op.writes or read_entries else "",
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


# The run


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark the REST API under HTTP load (wrk) beside a Starlette floor."
    )
    parser.add_argument("--companies", type=int, default=1_000_000)
    parser.add_argument(
        "--quick", action="store_true", help="50,000 companies, 1 short round (about 2 minutes)"
    )
    legacy.add_database_option(parser)
    parser.add_argument(
        "--reuse", action="store_true", help="bench a database a previous run loaded (no load)"
    )
    parser.add_argument(
        "--per-transaction", type=int, default=5000, help="companies per load transaction"
    )
    add_load_options(
        parser, reads="for the reads", writes_option="--batch-connections", writes="for the upserts"
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
    return parse_sized(parser, argv, "companies")


def add_load_options(
    parser: argparse.ArgumentParser, *, reads: str, writes_option: str, writes: str
) -> None:
    """The options of the HTTP load; `reads` and `writes`: which requests the connections
    of --connections and of `writes_option` make."""
    parser.add_argument("--duration", type=float, default=10, help="seconds per wrk run")
    parser.add_argument("--single-duration", type=float, default=5, help="0: no -c1 runs")
    parser.add_argument("--warmup", type=float, default=2, help="seconds of wrk per operation")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=8, help=reads)
    parser.add_argument(writes_option, type=int, default=2, help=writes)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--workers", type=int, default=1, help="accord serve --workers under load (the floor: 1)"
    )
    parser.add_argument(
        "--sqlite-synchronous", default="FULL", help="ACCORD_SQLITE_SYNCHRONOUS for the server"
    )


def parse_sized(
    parser: argparse.ArgumentParser, argv: Sequence[str] | None, size: str
) -> argparse.Namespace:
    """The arguments; with --quick, 50,000 of `size` (an option) and one short round.
    At least two batches of `size`."""
    args = parser.parse_args(argv)
    if args.quick:
        setattr(args, size, 50_000)
        args.rounds, args.duration, args.single_duration, args.warmup = 1, 4, 2, 1
    if getattr(args, size) < 2 * BATCH:
        raise SystemExit(f"--{size}: at least {2 * BATCH}")
    return args


def bench(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    url = legacy.database_url(args, folder)
    connections_line = f"-c{args.connections} (reads), -c{args.batch_connections} (upserts),"
    legacy.print_header(
        f"Accord REST API benchmark: {args.companies:,} companies", url, args, connections_line
    )
    database = open_database(url, sqlite_synchronous="NORMAL")
    code, token = prepare(database, reuse=args.reuse, companies=args.companies)
    rate = None
    if not args.reuse:
        announce_load(args.per_transaction)
        item = functools.partial(company, segment_code=code, companies=args.companies)
        rate = load_entries(
            database,
            token,
            COMPANIES,
            item,
            args.companies,
            args.per_transaction,
            progress="{last:>9,} companies",
        )
    database.dispose()
    held = matches(args.companies)
    reads = [] if args.no_explain else query_plans(url, token, code, args.companies)

    script = folder / "rest.lua"
    script.write_text(LUA)
    wrk = Wrk(
        script, args.threads, args.companies, token, code, f"{os.getpid()}x{time.time_ns() % 10**6}"
    )
    operations = chosen(args.only, OPERATIONS)
    connections = {
        op.key: args.batch_connections if op.writes else args.connections for op in operations
    }
    os.environ["ACCORD_API_RATE_LIMIT"] = "0"
    check = functools.partial(sanity_checks, wrk=wrk)
    widths = legacy.LineWidths(label=36, ms=7, decimals=1)
    run = functools.partial(run_wrk, wrk)
    measured = legacy.measure(
        operations, run, connections, args, folder, check=check, widths=widths
    )
    summaries = {
        key: summarize(loads, measured.singles[key]) for key, loads in measured.loads.items()
    }
    print(f"\nMachine at the end: {legacy.load_average()}")
    if rate is not None:
        print(f"\nLoad rate ({legacy.describe(url)}): {rate.entries:,} companies in ", end="")
        print(f"{rate.seconds:.1f} s, {rate.per_second:,.0f} entries/s through the batches service")
    print(
        "\nSegment values (companies per value, fewest-most): "
        + ", ".join(f"{k.key} {held[k.key][0]:,}-{held[k.key][1]:,}" for k in KINDS)
    )
    print_load_table(operations, summaries, connections, args.rounds)
    legacy.print_memory(measured.rss)
    targets = print_targets(summaries, args.companies)
    if reads:
        legacy.print_plans(reads, width=600, pre_ping=False)
    return {
        "database": legacy.describe(url),
        "companies": args.companies,
        "load": None if rate is None else asdict(rate),
        "segment_matches": held,
        **legacy.http_figures(summaries, measured),
        "targets": targets,
        "reads": [asdict(r) for r in reads],
    }


def main() -> None:
    legacy.run_bench(parse_args(), bench, "accord-rest-bench-")


if __name__ == "__main__":
    main()
