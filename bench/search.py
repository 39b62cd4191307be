"""Benchmark of search at a million contacts and a million companies, beside the floor.

1. Loads N contacts (name, e-mail, phone) and N companies (name, website, type,
   industry) through the batches service (`services.batches.write_batch` over
   `store.bulk`), 1000 a call; prints the load rates. Every name is a function of its
   number, built from word lists, so how many entries hold each piece of text searched
   for is known at any size (a common fragment about 6 % of the names, a rare one 20).
2. Captures the SQL of each search shape, run through the services, and EXPLAINs it.
3. Serves Accord (`accord serve`) and the legacy bench's floor, each with uvicorn in a
   process of its own, and drives both with wrk: `icontains` on the contact name with a
   common and a rare fragment, `startswith`, `q=` with one and two words, the
   cross-directory `GET /search` with a common and a rare word; then single creates and
   batch upserts. A Lua script varies every request and checks every reply.
4. Prints the size of every table and index, and that of the search index
   (`entry_texts*`) per million entries.

Run `.venv/bin/python bench/search.py --help`; bench/README.md explains the output.
"""

import argparse
import collections
import functools
import json
import os
import sqlite3
import time
from collections.abc import Callable, Sequence
from contextlib import closing
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import sqlalchemy as sa

import legacy_api as legacy
import rest_api
from accord.domain.filters import parse_filter
from accord.domain.schema import COMPANIES, CONTACTS, FieldType
from accord.domain.users import Actor
from accord.services import listings, migrations, tokens, users
from accord.services import search as everywhere
from accord.services.transactions import Database, Transaction, open_database, run
from legacy_api import Load, LoadRate, Server, Summary, summarize, table

EDGE = rest_api.EDGE
USER = rest_api.USER
BATCH = rest_api.BATCH
CREATES_EVERY = rest_api.CREATES_EVERY
UPSERT_CREATES = BATCH // CREATES_EVERY
"""In each upsert batch, the new companies (every 4th item); the others update one."""
LIST_LIMIT = 20
SEARCH_LIMIT = 5
MIB = legacy.MIB

# The fields written, as the default template names them (checked against the schema).
CONTACT_NAME, CONTACT_EMAIL, CONTACT_PHONE = "contact_name", "contact_email", "contact_phone"
COMPANY_NAME, COMPANY_URL = "org_name", "org_www"

# The data set


def words(text: str) -> tuple[tuple[str, str], ...]:
    """`Zoë/zoe José/jose`: each word as written, and in ASCII (for e-mails and websites)."""
    return tuple((word, ascii_) for word, ascii_ in (w.split("/") for w in text.split()))


FIRST_NAMES = words(
    "Anna/anna James/james Maria/maria David/david Laura/laura Peter/peter Sofia/sofia "
    "Thomas/thomas Elena/elena Lukas/lukas Chloe/chloe Marco/marco Olivia/olivia "
    "Daniel/daniel Hannah/hannah Pablo/pablo Иван/ivan Ольга/olga Дмитрий/dmitry "
    "Наталья/natalya José/jose Zoë/zoe Jürgen/juergen Agnès/agnes"
)
SURNAMES = words(
    "Kowalski/kowalski Johansson/johansson Fernández/fernandez Müller/mueller Smith/smith "
    "Rossi/rossi Dubois/dubois Nakamura/nakamura Novak/novak Okafor/okafor Петров/petrov "
    "Смирнова/smirnova Andersen/andersen García/garcia Lindqvist/lindqvist Moreau/moreau"
)
RARE_SURNAMES = words(
    "Quackenbush/quackenbush Zbyszewski/zbyszewski Oyelaran/oyelaran "
    "Thorvaldsdóttir/thorvaldsdottir Bakırcıoğlu/bakircioglu Хрущёва/khrushcheva "
    "Papadopoulou/papadopoulou Szczepańska/szczepanska"
)
DOMAINS = ("example.com", "mail.example.org", "corp.example.net", "example.ru", "example.de")
COMPANY_WORDS = words(
    "Northwind/northwind Bluewater/bluewater Silverline/silverline Greenfield/greenfield "
    "Redstone/redstone Ironbridge/ironbridge Brightpath/brightpath Oakridge/oakridge "
    "Summit/summit Pioneer/pioneer Evergreen/evergreen Clearview/clearview "
    "Westbrook/westbrook Lindholm/lindholm Horizon/horizon Keystone/keystone Северный/severny "
    "Ромашка/romashka Société/societe Öresund/oresund"
)
COMPANY_KINDS = words(
    "Trading/trading Logistics/logistics Systems/systems Consulting/consulting Foods/foods "
    "Partners/partners Holdings/holdings Energy/energy Labs/labs Media/media"
)
RARE_COMPANY_WORDS = words(
    "Quetzal/quetzal Xochimilco/xochimilco Ouagadougou/ouagadougou "
    "Yoknapatawpha/yoknapatawpha Reykjavík/reykjavik Ушуайя/ushuaia Zanzibar/zanzibar "
    "Kilimanjaro/kilimanjaro"
)
RARE_HOLDERS = 20
"""How many entries hold each rare word, whatever the size."""


class DataSet:
    """N contacts and N companies, each a function of its number.

    Contact n is `<first name> <surname>` (24 first names, 16 surnames, some Cyrillic,
    some with diacritics), with an e-mail `<first>.<surname>.<n>@<domain>` and a phone;
    company n is `<word> <kind> <n, 7 digits>` ("Northwind Trading 0000123"), with a
    website. Every `step`-th contact has a rare surname instead, and every `step`-th
    company a rare word: 8 of each, each held by 20 entries at any size.
    """

    def __init__(self, entries: int) -> None:
        self.entries = entries
        self.step = max(1, entries // (RARE_HOLDERS * len(RARE_SURNAMES)))

    def rare(self, n: int) -> int | None:
        """Which rare word entry n holds, if any."""
        if n % self.step == self.step // 2:
            return (n // self.step) % len(RARE_SURNAMES)
        return None

    def contact_texts(self, n: int, number: str) -> tuple[str, str, str]:
        """Contact n's name, e-mail and phone, with `number` for its number."""
        first = FIRST_NAMES[n % len(FIRST_NAMES)]
        rare = self.rare(n)
        surname = (
            SURNAMES[(n // len(FIRST_NAMES)) % len(SURNAMES)]
            if rare is None
            else RARE_SURNAMES[rare]
        )
        domain = DOMAINS[(n // (len(FIRST_NAMES) * len(SURNAMES))) % len(DOMAINS)]
        name = f"{first[0]} {surname[0]}"
        return name, f"{first[1]}.{surname[1]}.{number}@{domain}", f"+1 555 {number}"

    def company_texts(self, n: int, number: str) -> tuple[str, str]:
        """Company n's name and website, with `number` for its number."""
        rare = self.rare(n)
        word = COMPANY_WORDS[n % len(COMPANY_WORDS)] if rare is None else RARE_COMPANY_WORDS[rare]
        kind = COMPANY_KINDS[(n // len(COMPANY_WORDS)) % len(COMPANY_KINDS)]
        return f"{word[0]} {kind[0]} {number}", f"{word[1]}-{kind[1]}-{number}.example"

    def contact(self, n: int) -> dict[str, object]:
        name, email, phone = self.contact_texts(n, f"{n:07d}")
        return {CONTACT_NAME: name, CONTACT_EMAIL: email, CONTACT_PHONE: phone}

    def company(self, n: int) -> dict[str, object]:
        name, url = self.company_texts(n, f"{n:07d}")
        return {
            COMPANY_NAME: name,
            COMPANY_URL: url,
            "org_type": legacy.TYPES[n % len(legacy.TYPES)],
            "org_industry": legacy.INDUSTRIES[n % len(legacy.INDUSTRIES)],
        }

    @functools.cached_property
    def contact_shapes(self) -> collections.Counter[tuple[str, ...]]:
        """The contacts' texts with the number left out ("#"), and how many have each: no
        text searched for holds a digit, so what matches a shape matches its contacts."""
        return collections.Counter(self.contact_texts(n, "#") for n in range(1, self.entries + 1))

    @functools.cached_property
    def company_shapes(self) -> collections.Counter[tuple[str, ...]]:
        return collections.Counter(self.company_texts(n, "#") for n in range(1, self.entries + 1))

    def holders(self, how: str, text: str, directory: str = CONTACTS) -> int:
        """How many entries of the loaded data set match: the name contains `text`
        (icontains) or starts with it (startswith), or any text field contains it (q);
        case-insensitively."""
        wanted = text.casefold()
        shapes = self.contact_shapes if directory == CONTACTS else self.company_shapes
        if how == "startswith":
            return sum(k for s, k in shapes.items() if s[0].casefold().startswith(wanted))
        fields = slice(0, 1) if how == "icontains" else slice(None)
        return sum(k for s, k in shapes.items() if any(wanted in f.casefold() for f in s[fields]))


# What is searched for

COMMON_FRAGMENTS = ("owalsk", "ohanss", "ernánd", "akamur", "етров", "indqv")
"""Pieces of common surnames: each held by 1 contact in 16 (6 %)."""
RARE_FRAGMENTS = ("ckenbu", "byszew", "yelar", "valdsdó", "kırcıo", "рущёв", "adopou", "czepań")
"""Pieces of the rare surnames: each held by 20 contacts."""
PREFIXES = ("Ann", "Jür", "Оль", "Anna Kowal", "Иван Пет", "Sofia Ros")
"""A first name's start (1 contact in 24), or a first name and a surname's (1 in 384)."""
ONE_WORDS = ("Kowalski", "Nakamura", "Петров", "Müller", "petrov", "Andersen")
"""Surnames (1 contact in 16); `petrov` is found in the e-mails of the Петровs."""
TWO_WORDS = ("Anna Kowal", "Иван Петр", "Sofia Rossi", "José Garc", "Zoë Müll", "Thomas Nakam")
"""A first name and a piece of a surname (1 contact in 384)."""
SEARCH_WORDS = ("Kowalski", "Northwind", "Trading", "Петров", "Summit", "Lind")
"""Common words in contacts, companies or both (`Lind`: Lindqvist and Lindholm)."""
RARE_SEARCH_WORDS = (
    "Quackenbush",
    "Szczepańska",
    "Хрущёва",
    "Oyelaran",
    "Xochimilco",
    "Ouagadougou",
    "Ушуайя",
    "Kilimanjaro",
)
"""Rare surnames and rare company words: 20 entries each, in one directory."""


@dataclass(frozen=True, slots=True)
class Probe:
    """A search, made with each of `texts` in turn."""

    key: str
    label: str
    how: str
    """icontains, startswith (on the contact name), q (on contacts) or search (/search)."""
    texts: tuple[str, ...]

    def path(self, text: str) -> str:
        if self.how == "search":
            return "/api/v1/search?" + encode({"q": text, "limit": SEARCH_LIMIT})
        if self.how == "q":
            return "/api/v1/contacts?" + encode({"q": text, "limit": LIST_LIMIT})
        return "/api/v1/contacts?" + encode({"filter": self.filter(text), "limit": LIST_LIMIT})

    def filter(self, text: str) -> str:
        return f"{CONTACT_NAME} {self.how} '{text}'"

    def holders(self, data: DataSet, text: str) -> int:
        if self.how == "search":
            return data.holders("q", text, CONTACTS) + data.holders("q", text, COMPANIES)
        return data.holders(self.how, text)


def encode(params: dict[str, object]) -> str:
    return urlencode(params, quote_via=quote)


PROBES = (
    Probe("icontains_common", "icontains, common fragment", "icontains", COMMON_FRAGMENTS),
    Probe("icontains_rare", "icontains, rare fragment", "icontains", RARE_FRAGMENTS),
    Probe("startswith", "startswith", "startswith", PREFIXES),
    Probe("q_one", "q=, one word", "q", ONE_WORDS),
    Probe("q_two", "q=, two words", "q", TWO_WORDS),
    Probe("search", "GET /search, common word", "search", SEARCH_WORDS),
    Probe("search_rare", "GET /search, rare word", "search", RARE_SEARCH_WORDS),
)


def matches(data: DataSet) -> dict[str, dict[str, int]]:
    """Per probe, how many entries each of its texts matches in the loaded data set."""
    found = {p.key: {t: p.holders(data, t) for t in p.texts} for p in PROBES}
    for key, counts in found.items():
        empty = [t for t, k in counts.items() if k == 0]
        if empty:
            raise SystemExit(f"{key}: {empty} match nothing at {data.entries:,} entries")
    return found


# Loading, through the batches service


def prepare(database: Database, *, reuse: bool, entries: int) -> str:
    """Migrate; check the fields; add the bench user (unless reused); a new token."""
    migrations.upgrade_schema(database)
    held = legacy.entry_counts(database)
    if reuse and min(held[CONTACTS], held[COMPANIES]) < entries:
        raise SystemExit(
            f"--reuse: the database holds only {held[CONTACTS]:,} contacts and "
            f"{held[COMPANIES]:,} companies"
        )
    if not reuse and (held[CONTACTS] or held[COMPANIES]):
        raise SystemExit("the database already holds contacts or companies: give an empty one")
    system = Actor.system(EDGE)

    def work(tx: Transaction) -> str:
        check_fields(tx)
        if not reuse:
            users.add_user(tx, USER, email="bench@accord.example", is_admin=True, actor=system)
        text, _ = tokens.create_token(tx, USER, name=f"bench {time.time_ns()}", actor=system)
        return text

    return run(database, work, write=True)


def check_fields(tx: Transaction) -> None:
    """The fields the bench writes are the template's: names, an e-mail, a website."""
    contacts = tx.schema.directory_by_code(CONTACTS)
    companies = tx.schema.directory_by_code(COMPANIES)
    expected = {
        (contacts.name_field, CONTACT_NAME),
        (companies.name_field, COMPANY_NAME),
        (tx.schema.field(contacts, CONTACT_EMAIL).type, FieldType.EMAIL),
        (tx.schema.field(contacts, CONTACT_PHONE).type, FieldType.TEXT),
        (tx.schema.field(companies, COMPANY_URL).type, FieldType.URL),
    }
    if any(held != wanted for held, wanted in expected):
        raise SystemExit(f"the schema is not the default template's: {sorted(expected)}")


# Query plans of each search shape


def list_query(probe: Probe, text: str) -> listings.ListQuery:
    if probe.how == "q":
        return listings.ListQuery(text=text, limit=LIST_LIMIT)
    return listings.ListQuery(filter=parse_filter(probe.filter(text)), limit=LIST_LIMIT)


def query_plans(url: str, token: str, probes: Sequence[Probe]) -> list[legacy.Read]:
    """Each probe's first text, run through the services: its SQL, EXPLAINed and timed."""

    def work_of(probe: Probe, text: str) -> Callable[[Transaction], None]:
        def work(tx: Transaction) -> None:
            actor = tokens.authenticate_token(tx, token, edge=EDGE).actor
            if probe.how == "search":
                everywhere.search_directories(tx, text, limit=SEARCH_LIMIT, actor=actor)
            else:
                contacts = tx.schema.directory_by_code(CONTACTS)
                listings.list_entries(tx, contacts, list_query(probe, text), actor=actor)

        return work

    return legacy.read_plans(
        url,
        [(f"{p.label} ({p.texts[0]})", work_of(p, p.texts[0])) for p in probes],
        warm=work_of(PROBES[0], PROBES[0].texts[0]),
        timing=db_time,
    )


def db_time(database: Database, statement: legacy.Statement) -> float:
    """Median milliseconds of the statement alone: of 20 runs, or 3 when one takes long."""
    once = legacy._time_statement(database, statement, repeat=1)
    return legacy._time_statement(database, statement, repeat=3 if once > 100 else 20)


# wrk


@dataclass(frozen=True, slots=True)
class Operation(rest_api.ApiOperation):
    """`mode`: floor, read, create or upsert."""

    probe: Probe | None = None

    @property
    def expect(self) -> str:
        """What a reply must hold: an entry (a page), a directory (/search)."""
        if self.probe is None:
            return '"success":true' if self.on_floor else ""
        return '"results":[{' if self.probe.how == "search" else '"items":[{'


OPERATIONS = (
    Operation("floor", "floor: Starlette, constant JSON", "floor"),
    *(Operation(p.key, p.label, "read", probe=p) for p in PROBES),
    Operation("create", "create POST /contacts", "create"),
    Operation("upsert", "batch upsert of 1000 companies", "upsert", entries_per_request=BATCH),
)
GROUPS = {
    "search": [p.key for p in PROBES],
    "writes": ["create", "upsert"],
}


LUA = (
    r"""
-- args: mode (read, create or upsert), spec file, token, tag, expected text of a read.
-- The spec file: "path<TAB>..." lines (reads), "<key><TAB>a|b|c" lines (word lists).
local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

local function split(text)
  local out = {}
  for piece in string.gmatch(text, "[^|]+") do out[#out + 1] = piece end
  return out
end

function init(args)
  mode, token, tag, expect = args[1], args[3], args[4], args[5]
  spec, paths = {}, {}
  for line in io.lines(args[2]) do
    local key, value = string.match(line, "^(%w+)\t(.*)$")
    if key == "path" then paths[#paths + 1] = value else spec[key] = split(value) end
  end
  auth = { ["Authorization"] = "Bearer " .. token }
  posting = { ["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json" }
  n, responses, failures, first_failure = 0, 0, 0, ""
end

local function company_name(number)
  -- DataSet.company_texts, in Lua: the upserts match loaded companies by name.
  local step, words, kinds = tonumber(spec.step[1]), spec.words, spec.kinds
  local word
  if number % step == math.floor(step / 2) then
    word = spec.rare[math.floor(number / step) % #spec.rare + 1]
  else
    word = words[number % #words + 1]
  end
  return word .. " " .. kinds[math.floor(number / #words) % #kinds + 1] .. " "
    .. string.format("%07d", number)
end

local function create_body()
  local first = spec.firsts[n % #spec.firsts + 1]
  local surname = spec.surnames[math.floor(n / #spec.firsts) % #spec.surnames + 1]
  return '{"' .. spec.fields[1] .. '":"' .. first .. " " .. surname .. " " .. tag .. "-" .. tid
    .. "-" .. n .. '","' .. spec.fields[2] .. '":"created.' .. tag .. "." .. tid .. "." .. n
    .. '@example.com"}'
end

local function upsert_body()
  local count, every = tonumber(spec.count[1]), tonumber(spec.every[1])
  local name_code, url_code = spec.fields[3], spec.fields[4]
  local parts = {}
  for i = 0, 999 do
    if i % every == every - 1 then
      parts[#parts + 1] = '{"' .. name_code .. '":"' .. spec.words[i % #spec.words + 1] .. " "
        .. spec.kinds[i % #spec.kinds + 1] .. " " .. tag .. "-" .. tid .. "-" .. n .. "-" .. i
        .. '","org_type":"Lead","' .. url_code .. '":"new' .. i .. '.example"}'
    else
      -- Distinct companies within a batch: i * 104729 differs modulo count for i < 1000.
      local number = ((n * 1000 + i) * 104729 + tid * 7919) % count + 1
      parts[#parts + 1] = '{"' .. name_code .. '":"' .. company_name(number) .. '","'
        .. url_code .. '":"v' .. tag .. n .. ".company" .. number .. '.example"}'
    end
  end
  return '{"mode":"upsert","match":"' .. name_code .. '","entries":['
    .. table.concat(parts, ",") .. "]}"
end

function request()
  n = n + 1
  if mode == "read" then
    return wrk.format("GET", paths[(n + tid) % #paths + 1], auth)
  elseif mode == "create" then
    return wrk.format("POST", "/api/v1/contacts", posting, create_body())
  elseif mode == "upsert" then
    return wrk.format("POST", "/api/v1/companies/batch", posting, upsert_body())
  end
  error("unknown mode " .. mode)
end

function response(status, headers, body)
  local ok
  if mode == "create" then
    ok = status == 201
  elseif mode == "upsert" then
    -- Every update must find its company (else it would create one: a 201 too many).
    local _, created = string.gsub(body, '"status":201', "")
    ok = status == 200 and not string.find(body, '"error":', 1, true)
      and created == tonumber(spec.creates[1])
  else
    ok = status == 200 and (expect == "" or string.find(body, expect, 1, true) ~= nil)
  end
  tally(ok, status, body)
end
"""
    + rest_api.LUA_TALLY
    + legacy.LUA_DONE
)


@dataclass(frozen=True, slots=True)
class Wrk:
    folder: Path
    threads: int
    data: DataSet
    token: str
    tag: str

    def spec(self, op: Operation) -> Path:
        """The operation's spec file for the Lua script: its paths, or the word lists."""
        if op.probe is not None:
            lines = [f"path\t{op.probe.path(text)}" for text in op.probe.texts]
        elif op.on_floor:
            lines = [
                f"path\t{legacy.API_PATH}?apiKey=k&userName=u&command=getcompanybyname"
                f"&companyId={n}"
                for n in range(1, 9)
            ]
        else:
            lists = {
                "firsts": [w[0] for w in FIRST_NAMES],
                "surnames": [w[0] for w in SURNAMES],
                "words": [w[0] for w in COMPANY_WORDS],
                "kinds": [w[0] for w in COMPANY_KINDS],
                "rare": [w[0] for w in RARE_COMPANY_WORDS],
                "fields": [CONTACT_NAME, CONTACT_EMAIL, COMPANY_NAME, COMPANY_URL],
                "step": [str(self.data.step)],
                "count": [str(self.data.entries)],
                "every": [str(CREATES_EVERY)],
                "creates": [str(UPSERT_CREATES)],
            }
            lines = [f"{key}\t{'|'.join(values)}" for key, values in lists.items()]
        path = self.folder / f"{op.key}.spec"
        path.write_text("\n".join(lines) + "\n")
        return path


def run_wrk(wrk: Wrk, port: int, op: Operation, connections: int, seconds: float, tag: str) -> Load:
    arguments = [
        "read" if op.on_floor else op.mode,
        str(wrk.spec(op)),
        wrk.token,
        f"{wrk.tag}{tag}",
        op.expect,
    ]
    script = wrk.folder / "search.lua"
    load = rest_api.run_script(script, port, op.label, arguments, wrk.threads, connections, seconds)
    if load.requests == 0:  # its latencies read 0: left out of the medians
        print(f"  ! {op.label}, -c{connections}: no reply within the {seconds:g} s run")
    return load


def answered(loads: list[Load]) -> list[Load]:
    """The runs that had replies (a run without any has no latencies)."""
    return [load for load in loads if load.requests]


def sanity_checks(
    server: Server,
    wrk: Wrk,
    operations: Sequence[Operation],
    held: dict[str, dict[str, int]],
    *,
    reuse: bool,
) -> None:
    """Each measured request answers what it should before it is measured: every text
    of every probe finds entries, those that hold it, as many as the data set says."""
    data = wrk.data
    headers = {"Authorization": f"Bearer {wrk.token}"}
    with httpx.Client(
        base_url=f"http://127.0.0.1:{server.port}", headers=headers, timeout=300
    ) as http:
        last = data.entries
        for code, field, texts in (
            ("contacts", CONTACT_NAME, data.contact_texts(last, f"{last:07d}")),
            ("companies", COMPANY_NAME, data.company_texts(last, f"{last:07d}")),
        ):
            reply = http.get(f"/api/v1/{code}/{last}")
            name = reply.json().get(field)
            legacy.check(name == texts[0], f"{code} {last} as loaded (same --entries?)", reply.text)
        for op in operations:
            if op.probe is not None:
                check_probe(http, op.probe, held[op.probe.key], reuse=reuse)
        if any(op.mode == "create" for op in operations):
            reply = http.post(
                "/api/v1/contacts",
                json={CONTACT_NAME: "Bench Check", CONTACT_EMAIL: "check@example.com"},
            )
            legacy.check(reply.status_code == 201, "create a contact", reply.text)
        if any(op.mode == "upsert" for op in operations):
            name = data.company_texts(1, f"{1:07d}")[0]
            body = {"mode": "upsert", "match": COMPANY_NAME, "entries": [{COMPANY_NAME: name}]}
            reply = http.post("/api/v1/companies/batch", json=body)
            legacy.check(reply.json()["results"][0]["status"] == 200, "batch upsert", reply.text)


def check_probe(http: httpx.Client, probe: Probe, held: dict[str, int], *, reuse: bool) -> None:
    """Every text finds entries that hold it; the first, as many as the data set says."""
    for i, text in enumerate(probe.texts):
        counted = i == 0 and probe.how != "search"
        reply = http.get(probe.path(text) + ("&count=true" if counted else ""))
        body = reply.json()
        if probe.how == "search":
            legacy.check(bool(body.get("results")), f"{probe.label} {text}", reply.text)
            continue
        items = body.get("items", [])
        fit = all(found_by(probe, str(item.get(CONTACT_NAME, "")), text) for item in items)
        legacy.check(bool(items) and fit, f"{probe.label} {text}", reply.text)
        # Two words may be read as two pieces (more entries); a reused database holds
        # the contacts earlier runs created, named as the loaded ones.
        if counted and probe.key != "q_two":
            total, expected = body.get("total"), held[text]
            exact = total == expected or (reuse and total is not None and total > expected)
            legacy.check(exact, f"{probe.label} {text}: {expected} entries expected", total)


def found_by(probe: Probe, name: str, text: str) -> bool:
    """Whether a contact's name fits the search (`q` may have found it in another field)."""
    if probe.how == "startswith":
        return name.casefold().startswith(text.casefold())
    if probe.how == "icontains":
        return text.casefold() in name.casefold()
    return True


# Sizes of tables and indexes


@dataclass(frozen=True, slots=True)
class Relation:
    name: str
    table: str
    """The table it belongs to (its own name for a table)."""
    is_index: bool
    bytes: int


def sizes(url: str) -> tuple[list[Relation], int, str]:
    """Every table's and index's size, the number of entries, and how they were measured."""
    if url.startswith("sqlite"):
        return _sqlite_sizes(str(sa.make_url(url).database))
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(sa.text(PG_SIZES)).all()
            entries = int(connection.execute(sa.text("SELECT COUNT(*) FROM entries")).scalar_one())
    finally:
        engine.dispose()
    relations = [Relation(name, table, kind == "i", int(size)) for name, table, kind, size in rows]
    return relations, entries, "pg_table_size (heap, TOAST) per table, pg_relation_size per index"


PG_SIZES = """
SELECT c.relname, COALESCE(t.relname, c.relname), c.relkind,
       CASE WHEN c.relkind = 'i' THEN pg_relation_size(c.oid) ELSE pg_table_size(c.oid) END
FROM pg_class c
JOIN pg_namespace s ON s.oid = c.relnamespace
LEFT JOIN pg_index i ON i.indexrelid = c.oid
LEFT JOIN pg_class t ON t.oid = i.indrelid
WHERE s.nspname = 'public' AND c.relkind IN ('r', 'i', 'm')
"""


def _sqlite_sizes(path: str) -> tuple[list[Relation], int, str]:
    with closing(sqlite3.connect(path)) as db:
        owners = {
            name: (kind, table)
            for kind, name, table in db.execute("SELECT type, name, tbl_name FROM sqlite_master")
        }
        entries = int(db.execute("SELECT COUNT(*) FROM entries").fetchone()[0])
        try:
            rows = db.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name").fetchall()
        except sqlite3.OperationalError:  # SQLite built without the dbstat table
            pages = db.execute("PRAGMA page_count").fetchone()[0]
            size = pages * db.execute("PRAGMA page_size").fetchone()[0]
            return (
                [Relation("(the whole file)", "(the whole file)", False, size)],
                entries,
                ("page_count * page_size (no dbstat table in this SQLite)"),
            )
    relations = []
    for name, size in rows:
        kind, table = owners.get(name, ("table", name))
        relations.append(Relation(name, table, kind == "index", int(size)))
    return relations, entries, "dbstat (pages of each table and index)"


def sqlite_statistics(url: str) -> str | None:
    """Whether the SQLite database has been analysed (plans depend on it)."""
    if not url.startswith("sqlite"):
        return None
    with closing(sqlite3.connect(str(sa.make_url(url).database))) as db:
        try:
            rows = db.execute("SELECT COUNT(*) FROM sqlite_stat1").fetchone()[0]
        except sqlite3.OperationalError:
            return "no sqlite_stat1 (never analysed)"
    return f"sqlite_stat1 holds {rows} rows"


def per_table(relations: Sequence[Relation]) -> dict[str, tuple[int, int]]:
    """Per table, the bytes of its data and of its indexes."""
    found: dict[str, tuple[int, int]] = {}
    for r in relations:
        data, indexes = found.get(r.table, (0, 0))
        found[r.table] = (data, indexes + r.bytes) if r.is_index else (data + r.bytes, indexes)
    return found


def family(relations: Sequence[Relation], prefix: str) -> int:
    """Bytes of the tables named `prefix`..., with their indexes."""
    return sum(r.bytes for r in relations if r.table.startswith(prefix))


def in_units(n: float) -> str:
    return f"{n / MIB:,.1f} MiB" if n >= MIB else f"{n / 1024:,.0f} KiB"


def print_sizes(
    relations: list[Relation], entries: int, how: str, statistics: str | None
) -> dict[str, Any]:
    tables = per_table(relations)
    order = sorted(tables, key=lambda name: (-sum(tables[name]), name))
    rows = []
    for name in order:
        data, indexes = tables[name]
        rows.append([name, in_units(data), in_units(indexes), in_units(data + indexes)])
        rows.extend(
            [f"  index {r.name}", "", in_units(r.bytes), ""]
            for r in sorted(relations, key=lambda r: (-r.bytes, r.name))
            if r.is_index and r.table == name
        )
    print(f"\nSizes of the tables and indexes ({how}), at {entries:,} entries")
    print(table(["table / index", "data", "indexes", "total"], rows))
    if statistics:
        print(f"Statistics: {statistics}")
    families = {
        "entry_texts*": family(relations, "entry_texts"),
        "entry_values": sum(tables.get("entry_values", (0, 0))),
        "entries": sum(tables.get("entries", (0, 0))),
    }
    per_million = {
        name: size / entries * 1e6 if entries else 0.0 for name, size in families.items()
    }
    for name, size in families.items():
        if not size:
            print(f"  {name}: none on this database")
            continue
        print(
            f"  {name:13} {legacy.mib(size):>9} MiB, {size / entries:,.0f} bytes per entry, "
            f"{per_million[name] / MIB:,.1f} MiB per million entries (with its indexes)"
        )
    return {
        "entries": entries,
        "how": how,
        "relations": [asdict(r) for r in relations],
        "bytes_per_million_entries": per_million,
    }


# Reporting


def print_data_set(data: DataSet, held: dict[str, dict[str, int]]) -> None:
    rows = []
    for probe in PROBES:
        counts = held[probe.key]
        texts = ", ".join(probe.texts)
        rows.append([probe.label, f"{min(counts.values()):,}-{max(counts.values()):,}", texts])
    print(f"\nWhat each search looks for, and how many of the {data.entries:,} contacts hold it")
    print("(GET /search: contacts and companies together; the writes add a few)")
    print(table(["search", "entries", "texts (one per request, in turn)"], rows))


def print_targets(
    summaries: dict[str, Summary], before: dict[str, Any] | None, connections: int
) -> list[list[str]]:
    rows = []
    for probe in PROBES:
        if probe.key not in summaries:
            continue
        s = summaries[probe.key]
        for how, p99, limit in (
            (f"-c{connections}", s.p99_ms, 50),
            ("-c1", s.single_p99_ms, 10),
        ):
            if p99 is not None:
                verdict = "met" if p99 < limit else "MISSED"
                rows.append([f"{probe.label}: p99 < {limit} ms, {how}", f"{p99:.1f} ms", verdict])
    for key in ("create", "upsert"):
        if before is None or key not in summaries or key not in before:
            continue
        per_request = next(op.entries_per_request for op in OPERATIONS if op.key == key)
        now, then = summaries[key].rps * per_request, float(before[key]["rps"]) * per_request
        slower = 1 - now / then
        verdict = "met" if slower <= 0.15 else "MISSED"
        change = f"{slower:.1%} slower" if slower >= 0 else f"{-slower:.1%} faster"
        measured = f"{then:,.0f} -> {now:,.0f} entries/s, {change}"
        rows.append([f"{key}: at most 15 % slower than before", measured, verdict])
    if rows:
        print("\nTargets")
        print(table(["target", "measured", "verdict"], rows))
    return rows


# The run


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark search (and the writes' cost) under HTTP load, beside a floor."
    )
    parser.add_argument(
        "--entries", type=int, default=1_000_000, help="contacts, and as many companies"
    )
    parser.add_argument(
        "--quick", action="store_true", help="50,000 of each, 1 short round (about 2 minutes)"
    )
    legacy.add_database_option(parser)
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="bench a database a previous run loaded, with the same --entries (no load)",
    )
    parser.add_argument(
        "--per-transaction", type=int, default=5000, help="entries per load transaction"
    )
    rest_api.add_load_options(
        parser,
        reads="for the searches",
        writes_option="--write-connections",
        writes="for the writes",
    )
    parser.add_argument("--no-explain", action="store_true", help="no query plans")
    parser.add_argument(
        "--only",
        type=lambda text: text.split(","),
        default=None,
        metavar="KEY[,KEY]",
        help="measure only these: search, writes, or operations "
        f"({', '.join(op.key for op in OPERATIONS[1:])}); the floor always",
    )
    parser.add_argument("--json", type=Path, help="also write every figure to this JSON file")
    parser.add_argument(
        "--before",
        type=Path,
        help="a --json file of an earlier run: the writes' slowdown since (the 15 %% target)",
    )
    return rest_api.parse_sized(parser, argv, "entries")


def bench(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    url = legacy.database_url(args, folder)
    title = f"Accord search benchmark: {args.entries:,} contacts and {args.entries:,} companies"
    connections_line = f"-c{args.connections} (searches), -c{args.write_connections} (writes),"
    legacy.print_header(title, url, args, connections_line)
    data = DataSet(args.entries)
    operations = rest_api.chosen(args.only, OPERATIONS, GROUPS)
    database = open_database(url, sqlite_synchronous="NORMAL")
    token = prepare(database, reuse=args.reuse, entries=args.entries)
    rates: dict[str, LoadRate] = {}
    if not args.reuse:
        rest_api.announce_load(args.per_transaction)
        for code, item in ((COMPANIES, data.company), (CONTACTS, data.contact)):
            rates[code] = rest_api.load_entries(
                database,
                token,
                code,
                item,
                args.entries,
                args.per_transaction,
                progress=code.lower() + ": {last:>9,}",
                growth=1.5,
            )
    database.dispose()
    held = matches(data)
    probes = [op.probe for op in operations if op.probe is not None]
    reads = [] if args.no_explain or not probes else query_plans(url, token, probes)

    (folder / "search.lua").write_text(LUA)
    tag = f"{os.getpid()}x{time.time_ns() % 10**6}"
    wrk = Wrk(folder, args.threads, data, token, tag)
    connections = {
        op.key: args.write_connections if op.writes else args.connections for op in operations
    }
    os.environ["ACCORD_API_RATE_LIMIT"] = "0"
    check = functools.partial(
        sanity_checks, wrk=wrk, operations=operations, held=held, reuse=args.reuse
    )
    widths = legacy.LineWidths(label=32, ms=8, decimals=1)
    # An upsert can take a second or two: as long a -c1 run as under load.
    as_long = {"upsert"}
    run = functools.partial(run_wrk, wrk)
    measured = legacy.measure(
        operations, run, connections, args, folder, check=check, widths=widths, as_long=as_long
    )
    summaries = {
        key: summarize(loads, answered(measured.singles[key]))
        for key, loads in measured.loads.items()
    }
    print(f"\nMachine at the end: {legacy.load_average()}")
    for code, rate in rates.items():
        print(f"Load rate, {code.lower()}: {rate.entries:,} in {rate.seconds:.1f} s, ", end="")
        print(f"{rate.per_second:,.0f} entries/s through the batches service")
    if probes:
        print_data_set(data, held)
    rest_api.print_load_table(operations, summaries, connections, args.rounds, read_entries=False)
    legacy.print_memory(measured.rss, mapped=False)
    before = json.loads(args.before.read_text())["http"] if args.before else None
    targets = print_targets(summaries, before, args.connections)
    if reads:
        legacy.print_plans(
            reads,
            subject="search",
            width=800,
            timing="median of 20, or of 3 if slow",
            pre_ping=False,
        )
    relations, entries, how = sizes(url)
    size_figures = print_sizes(relations, entries, how, sqlite_statistics(url))
    return {
        "database": legacy.describe(url),
        "entries": args.entries,
        "load": {code: asdict(rate) for code, rate in rates.items()},
        "matches": held,
        **legacy.http_figures(summaries, measured),
        "targets": targets,
        "reads": [asdict(r) for r in reads],
        "sizes": size_figures,
    }


def main() -> None:
    legacy.run_bench(parse_args(), bench, "accord-search-bench-", ensure_ascii=False)


if __name__ == "__main__":
    main()
