"""Listing entries where the test writes first: entries made or changed to list, numbers
priced around a boundary, a database's time zone. Each test has a database of its own;
those that only read share one in test_api_listing.py."""

from datetime import UTC, datetime, timedelta

import pytest

from accord.services.transactions import Database
from tests.functional.api.test_api_listing import (
    BIG,
    COMPARE,
    JSON,
    PRODUCTS,
    ids,
    moments,
    searched,
)
from tests.functional.api_support import Api, problem


def test_a_quote_is_written_doubled_inside_a_text_value(api: Api):
    created = api.ok("POST", "/companies", 201, json={"org_name": "Macy's"})
    assert ids(api, "/companies", filter="org_name eq 'Macy''s'") == [created["id"]]
    assert ids(api, "/companies", filter="org_name contains 'y''s'") == [created["id"]]


@pytest.fixture
def priced(api: Api) -> dict[str, int]:
    """Product ids by price: the demo's four, and five more around 10.5 and far above."""
    found = {"10": 1, "5.5": 2, "2.5": 3, "100": 4}
    for price in ("10.49", "10.5", "10.51", f"{BIG}.4", f"{BIG}.5"):
        body = f'{{"product_name": "Priced {price}", "product_price": {price}}}'
        found[price] = api.ok("POST", PRODUCTS, 201, content=body, headers=JSON)["id"]
    return found


@pytest.mark.parametrize(
    ("op", "value", "prices"),
    [
        ("gt", "10.5", ["10.51", "100", f"{BIG}.4", f"{BIG}.5"]),
        ("ge", "10.50", ["10.5", "10.51", "100", f"{BIG}.4", f"{BIG}.5"]),
        ("lt", "10.5", ["2.5", "5.5", "10", "10.49"]),
        ("le", "10.5", ["2.5", "5.5", "10", "10.49", "10.5"]),
        ("eq", "10.5", ["10.5"]),
        ("ne", "10.5", ["10", "5.5", "2.5", "100", "10.49", "10.51", f"{BIG}.4", f"{BIG}.5"]),
        ("eq", "1.05e1", ["10.5"]),
        ("eq", "1e2", ["100"]),
        ("lt", "1E+1", ["2.5", "5.5"]),
        ("eq", "-0.0", []),
        ("gt", f"{BIG}.4", [f"{BIG}.5"]),
        ("eq", f"{BIG}.5", [f"{BIG}.5"]),
        ("in", "[10.49, 10.51, 2.5]", ["10.49", "10.51", "2.5"]),
        ("in", "[1e2, 5.50, 7.25]", ["100", "5.5"]),
    ],
)
def test_a_json_filter_compares_fractions_and_exponents_exactly(
    api: Api, priced: dict[str, int], op: str, value: str, prices: list[str]
):
    response = searched(
        api, PRODUCTS, f'{{"field": "product_price", "op": "{op}", "value": {value}}}'
    )
    assert response.status_code == 200, response.text
    assert [item["id"] for item in response.json()["items"]] == sorted(priced[p] for p in prices)


def use_time_zone(db: Database, zone: str) -> None:
    """Make PostgreSQL's sessions on this database run in `zone` from now on."""
    with db.engine.connect() as connection:
        connection.exec_driver_sql(
            f"ALTER DATABASE {db.engine.url.database} SET TimeZone = '{zone}'"
        )
        connection.commit()
    db.engine.dispose()


def test_a_time_without_an_offset_is_utc_whatever_the_database_zone(api: Api, db: Database):
    if db.engine.dialect.name == "postgresql":
        use_time_zone(db, "America/New_York")
    held = moments(api, "created_at")
    # Read back in UTC too, whatever zone the database's sessions would default to.
    assert {moment.utcoffset() for moment in held.values()} == {timedelta(0)}
    for minutes in (-30, 0, 30):
        moment = held[1] + timedelta(minutes=minutes)
        naive = moment.astimezone(UTC).replace(tzinfo=None).isoformat()
        for op, holds in COMPARE.items():
            expected = [i for i, at in held.items() if holds(at, moment)]
            assert ids(api, PRODUCTS, filter=f"created_at {op} '{naive}'") == expected, op
    day = held[1].astimezone(UTC).date()  # a date alone is midnight UTC of that day
    midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
    expected = [i for i, at in held.items() if at >= midnight]
    assert ids(api, PRODUCTS, filter=f"created_at ge '{day.isoformat()}'") == expected


def test_text_sorts_alphabetically_ignoring_case(api: Api):
    api.ok("POST", "/companies", 201, json={"org_name": "aardvark Ltd"})
    api.ok("POST", "/companies", 201, json={"org_name": "Zebra"})
    names = api.names("/companies", sort="org_name")
    assert names == sorted(names, key=str.casefold)
    assert (names[0], names[-1]) == ("aardvark Ltd", "Zebra")
    assert api.names("/companies", sort="-org_name") == names[::-1]


def test_entries_without_a_value_sort_together(api: Api):
    api.ok("PATCH", "/companies/3", json={"org_www": None})
    api.ok("PATCH", "/companies/9", json={"org_www": None})
    ascending = api.items("/companies", sort="org_www", fields="org_www")
    assert [(item["id"], item["org_www"]) for item in ascending[:2]] == [(3, None), (9, None)]
    assert all(item["org_www"] is not None for item in ascending[2:])
    descending = api.items("/companies", sort="-org_www,-id", fields="org_www")
    assert descending == ascending[::-1]


def test_the_default_page_holds_fifty_entries(api: Api):
    for n in range(45):
        api.ok("POST", "/contacts", 201, json={"contact_name": f"Extra {n}"})
    page = api.ok("GET", "/contacts")
    assert len(page["items"]) == 50
    assert api.ok("GET", "/contacts", params={"cursor": page["next_cursor"]})["next_cursor"] is None


def test_an_unknown_query_parameter_on_a_write_is_refused_and_writes_nothing(api: Api):
    body = problem(
        api.post("/companies", params={"dry_run": "1"}, json={"org_name": "Param Co"}),
        400,
        "invalid_query",
    )
    assert "dry_run" in body["detail"]
    assert ids(api, "/companies", filter="org_name eq 'Param Co'") == []
