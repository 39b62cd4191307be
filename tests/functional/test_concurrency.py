"""Two server processes writing to one database at once (SQLite file and PostgreSQL).

Each process is the real `accord serve`, started as an administrator would start it; two
clients write through them at the same time. Afterwards every acknowledged write is
there, nothing unique is duplicated, and the history tells each change once.
"""

import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from accord.services.transactions import open_database
from accord.store.history import Change, changes_of
from tests.support import API_PATH, KEY, ServerProcess

WRITES_PER_CLIENT = 500
CONTACT_ID = "6"  # the demo's "Ted Johnson", of "Oceanic Airlines"

Reply = tuple[int, str]
"""An HTTP status and the body, as a client received them."""


@pytest.fixture
def servers(demo_url: str, tmp_path: Path) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    """Two server processes on one fresh demo database; neither may log a traceback."""
    with ExitStack() as stack:
        pair = [stack.enter_context(ServerProcess(demo_url, tmp_path, n)) for n in ("1", "2")]
        for server in pair:
            server.wait_until_listening()
        yield pair[0], pair[1]
    for server in pair:
        assert "Traceback" not in server.output(), server.output()


def send(http: httpx.Client, command: str, params: dict[str, str]) -> Reply:
    """One legacy API call as the demo administrator; the reply as received."""
    query = {"command": command, "apiKey": KEY, "userName": "admin", **params}
    response = http.get(API_PATH, params=query)
    return response.status_code, response.text


def call(http: httpx.Client, command: str, **params: str) -> dict[str, Any]:
    """One legacy API call that must be answered with HTTP 200; the reply's JSON."""
    status, text = send(http, command, params)
    assert status == 200, text
    body: dict[str, Any] = json.loads(text)
    return body


def run_together(
    servers: tuple[ServerProcess, ServerProcess],
    work: Callable[[httpx.Client, int], list[Reply]],
) -> tuple[list[Reply], list[Reply]]:
    """`work(client, n)` for n = 0 and 1 at the same time, each through its own server."""
    start = threading.Barrier(2)

    def client(n: int) -> list[Reply]:
        with servers[n].client(timeout=120) as http:
            start.wait(timeout=30)
            return work(http, n)

    with ThreadPoolExecutor(max_workers=2) as pool:
        first, second = pool.map(client, [0, 1])
    return first, second


# Companies with overlapping names


def names_for(n: int) -> list[str]:
    """Half the names are the other client's too (some in another case), half its own.

    Both clients walk the shared names in the same order, so they race for each one.
    """
    names = []
    for i in range(WRITES_PER_CLIENT // 2):
        shared = f"Rival {i:03d}"
        names.append(shared.upper() if n == 1 and i % 2 else shared)
        names.append(f"{('Alpha', 'Beta')[n]} {i:03d}")
    return names


def test_overlapping_addcompany_calls_from_two_processes_keep_every_acknowledged_company(
    servers: tuple[ServerProcess, ServerProcess],
) -> None:
    with servers[0].client(timeout=60) as http:
        before = call(http, "getcompanies")["companies"]

    def add_companies(http: httpx.Client, n: int) -> list[Reply]:
        return [send(http, "addcompany", {"clients-org_name": name}) for name in names_for(n)]

    replies = run_together(servers, add_companies)

    acknowledged: dict[str, str] = {}  # name -> id
    unexpected = []
    for n, client_replies in enumerate(replies):
        for name, (status, text) in zip(names_for(n), client_replies, strict=True):
            reply = json.loads(text) if status == 200 else None
            duplicate = {
                "success": False,
                "details": f"Value '{name}' of unique field 'Company name' already exists",
            }
            if reply and reply["success"] is True and reply["name"] == name:
                acknowledged[name] = reply["id"]
            elif reply != duplicate:
                unexpected.append((n, name, status, text))
    assert unexpected == []

    # Each client's own names were all added; each shared name by exactly one client.
    own = [name for n in (0, 1) for name in names_for(n) if not name.upper().startswith("RIVAL")]
    assert [name for name in own if name not in acknowledged] == []
    winners = Counter(name.casefold() for name in acknowledged if name.upper().startswith("RIVAL"))
    assert len(winners) == WRITES_PER_CLIENT // 2
    assert {name: count for name, count in winners.items() if count != 1} == {}

    # Both processes now read the same companies: the demo's plus every acknowledged one,
    # each under the id it was given, with no name twice (ignoring case) and no id twice.
    with (
        servers[0].client(timeout=60) as first,
        servers[1].client(timeout=60) as second,
    ):
        companies = call(first, "getcompanies")["companies"]
        assert call(second, "getcompanies")["companies"] == companies
        ids = [company["id"] for company in companies]
        assert len(ids) == len(set(ids))
        names = [company["name"].casefold() for company in companies]
        assert [name for name, count in Counter(names).items() if count > 1] == []
        assert len(companies) == len(before) + len(acknowledged)
        by_id = {company["id"]: company["name"] for company in companies}
        id_of = {name.casefold(): id_ for name, id_ in acknowledged.items()}
        assert {name: by_id.get(id_) for name, id_ in acknowledged.items()} == {
            name: name for name in acknowledged
        }
        for company in before:
            assert by_id[company["id"]] == company["name"]
        # Looked up by name through the process that did not write it, in either case.
        for n, client in enumerate((second, first)):
            for name in names_for(n)[::25]:
                found = call(client, "getcompanybyname", companyName=name.swapcase())
                assert found["success"] is True, found
                assert (found["id"], found["name"].casefold()) == (
                    id_of[name.casefold()],
                    name.casefold(),
                )


# One contact edited from both processes


def contact_edits(n: int) -> list[tuple[str, dict[str, str]]]:
    """Requests that each change the contact: new e-mail and phone, or another company.

    Each client moves the contact between two companies of its own, so every setcontact
    finds the contact at another company, whoever wrote last.
    """
    companies = [("Acme Corporation", "Teamlead"), ("Adobe", "Globex")][n]
    requests: list[tuple[str, dict[str, str]]] = []
    for i in range(60):
        if i % 2 == 0:
            fields = {
                "clients-contact_email": f"{'ab'[n]}{i}@edits.example",
                "clients-contact_phone": f"+1 555 {n}{i:03d}",
            }
            requests.append(("editcontact", {"contactId": CONTACT_ID, **fields}))
        else:
            company = companies[(i // 2) % 2]
            requests.append(("setcontact", {"contactId": CONTACT_ID, "companyName": company}))
    return requests


def history_of_contact(url: str) -> list[Change]:
    database = open_database(url, sqlite_synchronous="NORMAL")
    try:
        with database.transaction(write=False) as tx:
            contacts = tx.schema.find_directory("CONTACTS")
            return changes_of(tx.connection, contacts.id, int(CONTACT_ID))
    finally:
        database.dispose()


def test_one_contact_edited_from_two_processes_has_a_history_row_per_change(
    servers: tuple[ServerProcess, ServerProcess], demo_url: str
) -> None:
    with servers[0].client(timeout=60) as http:
        initial = call(http, "getcontactbyname", contactId=CONTACT_ID)
    earlier = len(history_of_contact(demo_url))

    def edit(http: httpx.Client, n: int) -> list[Reply]:
        return [send(http, command, params) for command, params in contact_edits(n)]

    replies = run_together(servers, edit)
    failed = [
        (n, request, reply)
        for n in (0, 1)
        for request, reply in zip(contact_edits(n), replies[n], strict=True)
        if reply[0] != 200 or json.loads(reply[1])["success"] is not True
    ]
    assert failed == []

    changes = history_of_contact(demo_url)[earlier:]
    assert {(c.edge, c.action) for c in changes} == {("legacy", "update")}
    by_field: dict[str | None, list[Change]] = {}
    for change in changes:
        by_field.setdefault(change.field_code, []).append(change)
    assert set(by_field) == {"contact_email", "contact_phone", "contact_company"}

    # One row per acknowledged change of each field, each value exactly once.
    edits = [p for n in (0, 1) for c, p in contact_edits(n) if c == "editcontact"]
    moves = [p["companyName"] for n in (0, 1) for c, p in contact_edits(n) if c == "setcontact"]
    emails = [c.new_value for c in by_field["contact_email"]]
    phones = [c.new_value for c in by_field["contact_phone"]]
    assert Counter(emails) == Counter(p["clients-contact_email"] for p in edits)
    assert Counter(c.new_value for c in by_field["contact_company"]) == Counter(moves)
    # An e-mail and a phone were written together: the history pairs them as sent.
    assert Counter(zip(emails, phones, strict=True)) == Counter(
        (p["clients-contact_email"], p["clients-contact_phone"]) for p in edits
    )

    # No change was made from a stale read: each row's old value is the previous new one.
    for code, rows in by_field.items():
        olds = [c.old_value for c in rows]
        news = [initial[code or ""], *(c.new_value for c in rows)][:-1]
        assert olds == news, code

    # Both processes read one consistent contact: the last value of each field.
    expected = {
        **initial,
        "contact_email": emails[-1],
        "contact_phone": phones[-1],
        "contact_company": by_field["contact_company"][-1].new_value,
    }
    for server in servers:
        with server.client(timeout=60) as http:
            assert call(http, "getcontactbyname", contactId=CONTACT_ID) == expected
