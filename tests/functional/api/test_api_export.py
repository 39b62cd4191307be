"""CSV export over REST: `GET .../export` gives every entry (or those a filter selects) as
the legacy API lists them, one CSV row each, read back by Python's csv module; rights
and bad parameters are refused before anything is streamed."""

import csv
import io

import pytest
from openpyxl import load_workbook

from accord.domain.schema import FieldType
from accord.services.transactions import Database
from tests.functional.api_support import (
    Api,
    Clients,
    add_field,
    add_user,
    create_token,
    problem,
    set_values,
)
from tests.support import Legacy, custom_field, dump

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HOSTILE = 'He said "hi", then left;\nЁлка, ёж'


@pytest.fixture
def codes(db: Database) -> dict[str, str]:
    """Companies with every kind of field filled in: the demo's dictionaries (Services is
    multi-valued) and link, plus a number, a date, a checkbox, several contacts, and
    hostile text. Codes by short name."""
    found = {
        "amount": add_field(db, "CLIENTS", "Amount", FieldType.NUMBER),
        "since": add_field(db, "CLIENTS", "Since", FieldType.DATE),
        "active": add_field(db, "CLIENTS", "Active", FieldType.CHECKBOX),
        "people": add_field(
            db, "CLIENTS", "People", FieldType.LINK, link_to="CONTACTS", multiple=True
        ),
        "services": custom_field(db, "CLIENTS", "Services"),
        "notes": custom_field(db, "CLIENTS", "Notes"),
    }
    values = {
        "amount": "-12,50",
        "since": "15.03.2004",
        "active": "yes",
        "people": "(1),(2)",
        "services": "Development,Training",
        "notes": HOSTILE,
    }
    set_values(db, "CLIENTS", 1, {found[k]: v for k, v in values.items()})
    set_values(db, "CLIENTS", 2, {found["notes"]: '=HYPERLINK("http://evil.example")'})
    return found


def exported(api: Api, path: str = "/companies/export", **params: str) -> list[list[str]]:
    """The rows of an export that must succeed, read back with the csv module."""
    response = api.get(path, params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    return list(csv.reader(io.StringIO(response.content.decode("utf-8"), newline="")))


def test_an_export_reads_back_as_the_legacy_api_lists_every_entry(
    api: Api, legacy: Legacy, codes: dict[str, str]
):
    rows = exported(api, headers="codes", raw="true")
    header, body = rows[0], rows[1:]
    listed = legacy("searchentities", tableName="CLIENTS")["records"]
    records = {record["id"]: record for record in listed}
    assert [int(row[0]) for row in body] == sorted(int(i) for i in records)
    for row in body:
        record = records[row[0]]
        assert dict(zip(header[1:], row[1:], strict=True)) == {
            code: record[code] for code in header[1:]
        }
    first = dict(zip(header, body[0], strict=True))
    assert first["id"] == "1"
    assert first[codes["amount"]] == "-12.5"
    assert first[codes["since"]] == "2004-03-15"
    assert first[codes["active"]] == "true"
    assert first[codes["services"]] == "Development,Training"
    assert first[codes["people"]].count(",") == 1  # two contacts, by name
    assert first[codes["notes"]] == HOSTILE


def test_headers_are_display_names_by_default_and_the_reply_is_a_named_attachment(
    api: Api, codes: dict[str, str]
):
    response = api.get("/directories/clients/export")
    assert response.headers["content-disposition"] == 'attachment; filename="CLIENTS.csv"'
    header = next(csv.reader(io.StringIO(response.text)))
    fields = api.ok("GET", "/directories/CLIENTS")["fields"]
    assert header == ["id", *(field["name"] for field in fields)]
    assert {"Amount", "Since", "People", "Services", "Notes"} <= set(header)
    assert response.content.endswith(b"\r\n")


def test_a_cell_a_spreadsheet_would_read_as_a_formula_is_prefixed_unless_raw(
    api: Api, codes: dict[str, str]
):
    guarded = {row[0]: row for row in exported(api, headers="codes")}
    header = guarded["id"]
    notes, amount = header.index(codes["notes"]), header.index(codes["amount"])
    assert guarded["2"][notes] == '\'=HYPERLINK("http://evil.example")'
    assert guarded["1"][amount] == "-12.5"  # a number is no formula
    raw = {row[0]: row for row in exported(api, headers="codes", raw="true")}
    assert raw["2"][notes] == '=HYPERLINK("http://evil.example")'


def test_a_filter_selects_the_entries_exported(api: Api):
    rows = exported(api, "/directories/PRODUCTS/export", filter="product_vendor eq 'Atlassian'")
    assert [row[0] for row in rows[1:]] == ["1", "2"]
    assert exported(api, filter="org_name eq 'No such company'")[1:] == []


@pytest.mark.parametrize(
    ("path", "params", "status", "code"),
    [
        ("/companies/export", {"filter": "org_name eq"}, 400, "filter_syntax"),
        ("/companies/export", {"filter": "nope eq 1"}, 400, "invalid_query"),
        ("/directories/NOPE/export", {}, 404, "directory_not_found"),
        ("/companies/export", {"headers": "labels"}, 400, "invalid_query"),
    ],
)
def test_a_bad_filter_directory_or_parameter_is_a_problem_not_a_file(
    api: Api, path: str, params: dict[str, str], status: int, code: str
):
    problem(api.get(path, params=params), status, code)


def test_without_the_view_right_an_export_is_a_403_and_nothing_is_streamed(
    clients: Clients, db: Database
):
    add_user(db, "clerk", ["main-menu", "contacts.view"])
    clerk = clients(create_token(db, "clerk"))
    clerk.ok("GET", "/me")  # the token's first use is recorded; from now on nothing may change
    before = dump(db)
    denied = problem(clerk.get("/companies/export"), 403, "permission_denied")
    assert denied["detail"] == "Permission denied: View Companies"
    assert len(exported(clerk, "/contacts/export")) > 1
    assert dump(db) == before


def test_an_xlsx_export_holds_the_csv_exports_rows_every_cell_a_string(
    api: Api, codes: dict[str, str]
):
    response = api.get("/companies/export", params={"format": "xlsx", "headers": "codes"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == XLSX
    assert response.headers["content-disposition"] == 'attachment; filename="CLIENTS.xlsx"'
    sheet = load_workbook(io.BytesIO(response.content)).worksheets[0]
    rows = [[cell.value or "" for cell in row] for row in sheet.iter_rows()]
    assert rows == exported(api, headers="codes", raw="true")
    notes = rows[0].index(codes["notes"])
    cell = sheet.cell(row=3, column=notes + 1)
    assert (cell.value, cell.data_type) == ('=HYPERLINK("http://evil.example")', "s")


def test_an_xlsx_export_checks_rights_and_parameters_before_anything_is_sent(
    clients: Clients, db: Database, api: Api
):
    add_user(db, "clerk", ["main-menu", "contacts.view"])
    clerk = clients(create_token(db, "clerk"))
    denied = clerk.get("/companies/export", params={"format": "xlsx"})
    problem(denied, 403, "permission_denied")
    problem(api.get("/companies/export", params={"format": "ods"}), 400, "invalid_query")
    contacts = clerk.get("/directories/CONTACTS/export", params={"format": "xlsx"})
    assert contacts.headers["content-disposition"] == 'attachment; filename="CONTACTS.xlsx"'
    assert len(list(load_workbook(io.BytesIO(contacts.content)).worksheets[0].rows)) > 1
