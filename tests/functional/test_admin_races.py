"""Administrators racing one another make nothing twice and get no 500: of several requests
at once adding the same user, group, membership, grant, directory or field (or renaming
fields to one name), one does it and the others get what a repeated request gets when
nobody races: a 409, or for a membership or a grant "held already". On both databases
(PostgreSQL runs writers side by side; SQLite one after another)."""

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from accord.domain.schema import FieldType
from accord.services.transactions import Database
from tests.functional.api_support import (
    Api,
    add_field,
    add_user,
    api,
    clients,
    create_token,
    token,
)
from tests.functional.test_find_or_create_races import together
from tests.support import InProcessServer

__all__ = ["api", "clients", "token"]  # the REST API's fixtures
WRITERS = 4
ROUNDS = 3

Request = tuple[str, str, Any]
"""A request: its method, path (under /api/v1) and JSON body (None: none)."""
Race = Callable[[list[Request]], list[httpx.Response]]


@pytest.fixture
def race(server: InProcessServer, db: Database) -> Iterator[Race]:
    """Send WRITERS requests at once, each by an administrator's client of its own
    (connected before); their replies, in the same order."""
    token = create_token(db)
    racers = [Api(server.client(), token) for _ in range(WRITERS)]

    def each(requests: list[Request]) -> list[httpx.Response]:
        assert len(requests) == WRITERS
        return together(WRITERS, lambda n: racers[n].request(*requests[n][:2], json=requests[n][2]))

    yield each
    for racer in racers:
        racer.close()


def status(reply: httpx.Response) -> tuple[int, str | None]:
    """A reply's status, and its problem's code if it is a problem."""
    return reply.status_code, reply.json()["code"] if reply.status_code >= 400 else None


ONE_DONE = [(409, "conflict")] * (WRITERS - 1)
ONE_CREATED = [(201, None), *ONE_DONE]


def test_users_added_with_one_login_at_once_make_one_user(race: Race, api: Api) -> None:
    for n in range(ROUNDS):
        logins = [f"racer{n}", f"Racer{n}", f"RACER{n}", f"racer{n}"]  # one login, any case
        made = race([("POST", "/users", {"login": login}) for login in logins])
        assert sorted(status(r) for r in made) == ONE_CREATED
        users = [u["login"].casefold() for u in api.ok("GET", "/users")["items"]]
        assert users.count(f"racer{n}") == 1


def test_groups_added_with_one_name_at_once_make_one_group(race: Race, api: Api) -> None:
    for n in range(ROUNDS):
        made = race([("POST", "/groups", {"name": f"Racers {n}"})] * WRITERS)
        assert sorted(status(r) for r in made) == ONE_CREATED
        groups = [g["name"] for g in api.ok("GET", "/groups")["items"]]
        assert groups.count(f"Racers {n}") == 1


def test_a_user_added_to_a_group_by_several_at_once_is_a_member_once(
    race: Race, api: Api, db: Database
) -> None:
    for n in range(ROUNDS):
        add_user(db, f"member{n}", [])
        api.ok("POST", "/groups", 201, json={"name": f"Team {n}"})
        made = race([("PUT", f"/groups/Team {n}/members/member{n}", None)] * WRITERS)
        assert [status(r) for r in made] == [(200, None)] * WRITERS
        assert api.ok("GET", f"/groups/Team {n}")["members"] == [f"member{n}"]


HOLDERS = [
    ("user", "grantee", "CLIENTS.view"),
    ("user", "grantee", "main-menu"),  # a global right: no directory (NULL)
    ("group", "Grantees", "CONTACTS.edit"),
    ("group", "Grantees", "dictionaries.add"),
]


def test_a_right_granted_by_several_at_once_is_held_once(
    race: Race, api: Api, db: Database
) -> None:
    add_user(db, "grantee", [])
    api.ok("POST", "/groups", 201, json={"name": "Grantees"})
    for holder, name, right in HOLDERS:
        made = race([("POST", "/grants", {"right": right, holder: name})] * WRITERS)
        # As when nobody races: the first grant is new (201), the others were held (200).
        assert sorted(r.status_code for r in made) == [200] * (WRITERS - 1) + [201]
        listed = api.ok("GET", "/grants", params={"right": right, holder: name})["items"]
        assert len(listed) == 1
        assert {r.json()["items"][0]["id"] for r in made} == {listed[0]["id"]}


def test_directories_added_with_one_code_at_once_make_one_directory(race: Race, api: Api) -> None:
    for n in range(ROUNDS):
        made = race(
            [("POST", "/directories", {"code": f"RACE{n}", "name": f"Races {n}"})] * WRITERS
        )
        assert sorted(status(r) for r in made) == ONE_CREATED
        codes = [d["code"] for d in api.ok("GET", "/directories")["items"]]
        assert codes.count(f"RACE{n}") == 1


def test_directories_added_with_one_name_at_once_make_one_directory(race: Race, api: Api) -> None:
    for n in range(ROUNDS):
        new = [{"code": f"NAMED{n}_{k}", "name": f"Named {n}"} for k in range(WRITERS)]
        made = race([("POST", "/directories", body) for body in new])
        assert sorted(status(r) for r in made) == ONE_CREATED
        names = [d["name"] for d in api.ok("GET", "/directories")["items"]]
        assert names.count(f"Named {n}") == 1


def field_names(api: Api) -> list[str]:
    return [f["name"] for f in api.ok("GET", "/directories/CLIENTS")["fields"]]


def test_fields_added_with_one_name_at_once_make_one_field(race: Race, api: Api) -> None:
    for n in range(ROUNDS):
        new = {"name": f"Race field {n}", "type": "text"}
        made = race([("POST", "/directories/CLIENTS/fields", new)] * WRITERS)
        assert sorted(status(r) for r in made) == ONE_CREATED
        assert field_names(api).count(f"Race field {n}") == 1


def test_fields_renamed_to_one_name_at_once_keep_names_apart(
    race: Race, api: Api, db: Database
) -> None:
    for n in range(ROUNDS):
        codes = [add_field(db, "CLIENTS", f"Field {n}.{k}", FieldType.TEXT) for k in range(WRITERS)]
        rename = {"name": f"Renamed {n}"}
        made = race([("PATCH", f"/directories/CLIENTS/fields/{code}", rename) for code in codes])
        assert sorted(status(r) for r in made) == [(200, None), *ONE_DONE]
        assert field_names(api).count(f"Renamed {n}") == 1
