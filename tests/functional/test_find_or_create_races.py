"""Writes that find what a value names, or create it, race well: of several requests
naming the same new company (a contact's company field creates a company it does not
find) or the same new Position label at once, one creates it and the others link to it;
none is refused, none gets a 500, and nothing exists twice. On both databases."""

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

import httpx
import pytest
import sqlalchemy as sa

from accord.domain.values import RawValue
from accord.services import dictionaries, entries
from accord.services.transactions import Database, Transaction, run
from tests.functional.api_support import CLI, create_token
from tests.support import InProcessServer, Legacy

WRITERS = 4
ROUNDS = 3
T = TypeVar("T")


def together(count: int, work: Callable[[int], T]) -> list[T]:
    """work(0) ... work(count - 1), each in a thread of its own, released at one moment."""
    start = threading.Barrier(count)

    def one(n: int) -> T:
        start.wait(timeout=60)
        return work(n)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(one, range(count)))


@contextmanager
def writers(server: InProcessServer, token: str) -> Iterator[list[Any]]:
    """A client per racer, connected before the race: legacy ones and REST ones by turns."""
    opened: list[Any] = []
    try:
        for n in range(WRITERS):
            if n % 2:
                opened.append(server.client(headers={"Authorization": f"Bearer {token}"}))
            else:
                opened.append(Legacy(server.client()))
        yield opened
    finally:
        for client in opened:
            client.close()


def add_contact(client: Any, values: dict[str, str]) -> dict[str, Any]:
    """Create a contact through the client's API; the new contact as REST renders it, or
    what refused it."""
    if isinstance(client, Legacy):
        reply = client("addcontact", **{f"clients-{k}": v for k, v in values.items()})
        if not reply.get("success", True):
            return {"refused": reply}
        return {"id": int(reply["id"])}
    assert isinstance(client, httpx.Client)
    answer = client.post("/api/v1/contacts", json=values)
    if answer.status_code != 201:
        return {"refused": (answer.status_code, answer.text)}
    return {"id": answer.json()["id"]}


def contact(api: httpx.Client, contact_id: int) -> dict[str, Any]:
    reply = api.get(f"/api/v1/contacts/{contact_id}")
    assert reply.status_code == 200, reply.text
    found: dict[str, Any] = reply.json()
    return found


def companies_named(api: httpx.Client, name: str) -> list[int]:
    reply = api.get("/api/v1/companies", params={"filter": f"org_name eq '{name}'"})
    assert reply.status_code == 200, reply.text
    return [item["id"] for item in reply.json()["items"]]


def labels(api: httpx.Client, dictionary: str) -> list[str]:
    found = [d for d in api.get("/api/v1/dictionaries").json()["items"] if d["name"] == dictionary]
    return [v["label"] for v in found[0]["values"]]


def contacts_racing(clients: list[Any], field: str, value: str) -> list[dict[str, Any]]:
    """A contact by each client at once, all with `value` in `field`."""
    return together(
        len(clients),
        lambda n: add_contact(clients[n], {"contact_name": f"Racer {n}", field: value}),
    )


def test_contacts_naming_the_same_new_company_at_once_link_to_the_one_created(
    server: InProcessServer, db: Database
) -> None:
    token = create_token(db)
    with (
        writers(server, token) as clients,
        server.client(headers={"Authorization": f"Bearer {token}"}) as api,
    ):
        for company in [f"Racing Company {n}" for n in range(ROUNDS)]:
            made = contacts_racing(clients, "contact_company", company)
            assert [m for m in made if "refused" in m] == []
            (company_id,) = companies_named(api, company)
            linked = {contact(api, m["id"])["contact_company"]["id"] for m in made}
            assert linked == {company_id}


def test_contacts_naming_the_same_new_position_at_once_add_it_once(
    server: InProcessServer, db: Database
) -> None:
    token = create_token(db)
    with (
        writers(server, token) as clients,
        server.client(headers={"Authorization": f"Bearer {token}"}) as api,
    ):
        for position in [f"Racing Position {n}" for n in range(ROUNDS)]:
            made = contacts_racing(clients, "contact_position", position)
            assert [m for m in made if "refused" in m] == []
            assert labels(api, "Position").count(position) == 1
            assert {contact(api, m["id"])["contact_position"] for m in made} == {position}


def test_a_label_added_by_adddictionaryvalue_while_contacts_name_it_is_there_once(
    server: InProcessServer, db: Database
) -> None:
    token = create_token(db)
    with (
        writers(server, token) as clients,
        server.client(headers={"Authorization": f"Bearer {token}"}) as api,
    ):
        dictionary = next(
            d["id"]
            for d in api.get("/api/v1/dictionaries").json()["items"]
            if d["name"] == "Position"
        )
        for position in [f"Listed Position {n}" for n in range(ROUNDS)]:

            def write(n: int, position: str = position) -> Any:
                if n == WRITERS:
                    return clients[0](
                        "adddictionaryvalue", dictionaryName="Position", newvalue=position
                    )
                if n == WRITERS + 1:
                    path = f"/api/v1/dictionaries/{dictionary}/values"
                    reply = clients[1].post(path, json={"label": position})
                    return reply.status_code, reply.json().get("code")
                return add_contact(
                    clients[n], {"contact_name": "Racer", "contact_position": position}
                )

            made = together(WRITERS + 2, write)
            assert [m for m in made[:WRITERS] if "refused" in m] == []
            exists = f"Value '{position}' already exists in dictionary 'Position'"
            assert made[WRITERS] in ({"success": True}, {"success": False, "details": exists})
            assert made[WRITERS + 1] in ((201, None), (409, "dictionary_value_exists"))
            assert labels(api, "Position").count(position) == 1


def while_held(db: Database, work: Callable[[Transaction], None], request: Callable[[], T]) -> T:
    """`request()`, sent while another transaction that has done `work` is still open;
    that one commits once the request waits for it (on PostgreSQL, once the request's
    transaction waits for one of its locks; SQLite's waits for its write lock)."""
    done, release = threading.Event(), threading.Event()

    def other_writer(tx: Transaction) -> None:
        work(tx)
        done.set()
        assert release.wait(60)

    other = threading.Thread(target=run, args=(db, other_writer), kwargs={"write": True})
    other.start()
    try:
        assert done.wait(30)
        with ThreadPoolExecutor(max_workers=1) as pool:
            reply = pool.submit(request)
            wait_for_a_blocked_writer(db)
            release.set()
            return reply.result(timeout=60)
    finally:
        release.set()
        other.join()


def wait_for_a_blocked_writer(db: Database) -> None:
    if db.engine.dialect.name != "postgresql":
        time.sleep(0.2)  # the request waits for SQLite's write lock, whenever it gets there
        return
    waiting = sa.text(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    for _ in range(600):
        if run(db, lambda tx: tx.connection.execute(waiting).scalar_one(), write=False):
            return
        time.sleep(0.05)
    pytest.fail("the request never waited for the other writer")


@pytest.mark.parametrize("typed", ["late company", "Late  Company"])
def test_a_contact_links_to_the_company_another_writer_creates_while_it_runs(
    server: InProcessServer, db: Database, legacy: Legacy, typed: str
) -> None:
    """The company is created, not yet committed, when the contact's request looks for it:
    the contact waits for it, and links to it (found as a lookup by name finds it)."""

    def create_company(tx: Transaction) -> None:
        companies = tx.schema.directory_by_code("CLIENTS")
        name = tx.schema.field(companies, "org_name")
        entries.create_entry(tx, companies, [(name, RawValue("Late Company"))], actor=CLI)

    reply = while_held(
        db,
        create_company,
        lambda: legacy(
            "addcontact", **{"clients-contact_name": "Waiter", "clients-contact_company": typed}
        ),
    )

    assert reply.get("success", True), reply
    with server.client(headers={"Authorization": f"Bearer {create_token(db)}"}) as api:
        (company_id,) = companies_named(api, "Late Company")
        assert companies_named(api, typed) in ([], [company_id])
        assert contact(api, int(reply["id"]))["contact_company"]["id"] == company_id


def test_a_position_another_writer_adds_while_a_contact_names_it_is_taken_once(
    server: InProcessServer, db: Database, legacy: Legacy
) -> None:
    def add_label(tx: Transaction) -> None:
        dictionaries.add_dictionary_value(tx, "Position", "Late Position", actor=CLI)

    def add_contact_with_label(tx: Transaction) -> None:
        contacts = tx.schema.directory_by_code("CONTACTS")
        values = [("contact_name", "Early"), ("contact_position", "Early Position")]
        typed = [(tx.schema.field(contacts, code), RawValue(text)) for code, text in values]
        entries.create_entry(tx, contacts, typed, actor=CLI)

    with server.client(headers={"Authorization": f"Bearer {create_token(db)}"}) as api:
        made = while_held(
            db,
            add_label,
            lambda: api.post(
                "/api/v1/contacts",
                json={"contact_name": "Waiter", "contact_position": "late position"},
            ),
        )
        assert made.status_code == 201, made.text
        assert made.json()["contact_position"] == "Late Position"

        listed = while_held(
            db,
            add_contact_with_label,
            lambda: legacy(
                "adddictionaryvalue", dictionaryName="Position", newvalue="Early Position"
            ),
        )
        exists = "Value 'Early Position' already exists in dictionary 'Position'"
        assert listed == {"success": False, "details": exists}
        assert [label for label in labels(api, "Position") if "position" in label.lower()] == [
            "Late Position",
            "Early Position",
        ]
