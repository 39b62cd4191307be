"""Bad input to the legacy API: HTTP 200, a clear message, and nothing changed.

Sections 1 to 4 and 7 of docs/legacy-api.md, and the rule that bad input changes nothing.
Every refused call is checked against a snapshot of every table taken just before it.
The calls that must change nothing share one demo server per database (a fresh server
per call would cost ten times as much); the tests that change data on purpose get their
own.
"""

import functools
import http.client
import itertools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from accord.domain.schema import FieldType
from accord.domain.users import Actor
from accord.services import directories, users
from accord.services.transactions import Database, open_database, run
from tests.support import (
    API_PATH,
    KEY,
    InProcessServer,
    Legacy,
    LiveServer,
    Templates,
    custom_field,
    dump,
    settings_for,
)

AUTH = f"apiKey={KEY}&userName=admin"
LONG = "n" * 20_000
TWO_MB = 2 * 1024 * 1024


Rows = Callable[[], dict[str, list[tuple[Any, ...]]]]
"""Every row of every table (`tests.support.dump` of the shared database)."""


class Prefix(str):
    """An expected message of which only the start is fixed (it echoes a mangled value)."""


Expected = str | Prefix | None
"""The exact message, its start, or None: any clear failure (the reference names no message)."""


@dataclass
class Shared:
    legacy: Legacy
    rows: Rows
    port: int
    codes: dict[str, str]

    def refused(self, raw: str | bytes, expected: Expected = None, *, post: bool = False) -> str:
        """Send `raw` (a query, or a form body if `post`): it must fail and change nothing."""
        before = self.rows()
        reply = self.legacy.post(raw) if post else self.legacy.get(raw)
        assert reply["success"] is False, reply
        details = reply["details"]
        assert isinstance(details, str), reply
        assert details.strip(), reply
        assert self.rows() == before, f"the refused call changed the database: {reply}"
        if isinstance(expected, Prefix):
            assert details.startswith(expected), details
        elif expected is not None:
            assert details == expected
        return details


@pytest.fixture(scope="module")
def shared(templates: Templates) -> Iterator[Shared]:
    """One demo server for the calls that must change nothing (on a socket: one test sends
    a request target longer than httpx sends)."""
    with templates.fresh("demo") as url:
        database = open_database(url, sqlite_synchronous="NORMAL")
        codes = {
            "services": custom_field(database, "CLIENTS", "Services"),
            "notes": custom_field(database, "CLIENTS", "Notes"),
        }
        # Hundreds of wrong keys from one address: their messages, not their throttling.
        settings = settings_for(url, auth_failure_limit=0)
        with LiveServer(settings, database) as live:
            client = Legacy(live.client())
            yield Shared(client, functools.partial(dump, database), live.port, codes)
            client.close()
        database.dispose()


def ok(reply: dict[str, Any]) -> dict[str, Any]:
    assert reply["success"] is True, reply
    return reply


METHODS = ["GET", "POST"]


# legacy-api.md §4, command by command: (the query after the key and user, the message).
# `{services}` and `{notes}` stand for the codes of the demo's custom company fields.
REFUSED: list[tuple[str, Expected]] = [
    # getcompanybyname
    ("getcompanybyname", "Parameter companyName is required"),
    ("getcompanybyname&companyId=&companyName=", "Parameter companyName is required"),
    ("getcompanybyname&companyId=999", "Company not found"),
    ("getcompanybyname&companyId=999&companyName=Adobe", "Company not found"),
    ("getcompanybyname&companyId=abc", "Company not found"),
    ("getcompanybyname&companyId=99999999999999999999", "Company not found"),
    ("getcompanybyname&companyName=Nobody+Ltd", "Company not found"),
    ("getcompanybyname&companyName=Adobe%00", "Company not found"),
    # getcontactbyname
    ("getcontactbyname", "Parameter contactName is required"),
    ("getcontactbyname&contactId=999", "Contact not found"),
    ("getcontactbyname&contactName=Nobody", "Contact not found"),
    ("getcontactbyname&contactName=Ted%00Johnson", "Contact not found"),
    # addcompany
    ("addcompany", "Parameter Company name is required"),
    ("addcompany&clients-org_name=", "Parameter Company name is required"),
    ("addcompany&clients-org_name=+++&org_www=x.example", "Parameter Company name is required"),
    (
        "addcompany&clients-org_name=teamlead",
        "Value 'teamlead' of unique field 'Company name' already exists",
    ),
    (
        "addcompany&org_name=Teamlead",
        "Value 'Teamlead' of unique field 'Company name' already exists",
    ),
    (
        "addcompany&Company+name=TEAMLEAD",
        "Value 'TEAMLEAD' of unique field 'Company name' already exists",
    ),
    (
        "addcompany&crm_param_1=Company+name&crm_param_1_value=teamLead",
        "Value 'teamLead' of unique field 'Company name' already exists",
    ),
    (
        "addcompany&clients-org_name=Fresh&clients-no_such_field=1",
        "Field not found: clients-no_such_field",
    ),
    ("addcompany&clients-org_name=Fresh&Shoe+size=42", "Field not found: Shoe size"),
    (
        "addcompany&clients-org_name=Fresh&crm_param_1=Shoe+size&crm_param_1_value=42",
        "Field not found: Shoe size",
    ),
    ("addcompany&clients-org_name=Fresh&crm_param_1_value=42", "Parameter crm_param_1 is required"),
    (
        "addcompany&clients-org_name=Fresh&clients-contact_email=a@b.c",
        "Field not found: clients-contact_email",
    ),
    ("addcompany&clients-org_name=Fresh&org_type=Alien", "Invalid value for field Type: Alien"),
    (
        "addcompany&clients-org_name=Fresh&view-clients-org_sla=SLA-9+Gold",
        "Invalid value for field SLA: SLA-9 Gold",
    ),
    (
        "addcompany&clients-org_name=Fresh&org_contact=(999)",
        "Invalid value for field Main contact: (999)",
    ),
    (
        "addcompany&clients-org_name=Fresh&org_contact=999",
        "Invalid value for field Main contact: 999",
    ),
    (
        "addcompany&clients-org_name=Fresh&org_contact=Nobody",
        "Invalid value for field Main contact: Nobody",
    ),
    (
        "addcompany&clients-org_name=Fresh&org_www=two+words",
        "Invalid value for field Website: two words",
    ),
    (
        "addcompany&clients-org_name=Fresh&clients-{services}=Development,Cooking",
        "Invalid value for field Services: Cooking",
    ),
    ("addcompany&clients-org_name=Fresh&tableName=Invoices", "Directory not found: Invoices"),
    ("addcompany&clients-org_name=Fresh&tableName=PRODUCTS", None),
    ("addcompany&clients-org_name=Fresh&org_people=Ted+Johnson", None),
    ("addcompany&clients-org_name=Fresh%00", Prefix("Invalid value for field Company name: ")),
    # editcompany
    ("editcompany&org_www=x.example", "Parameter companyName is required"),
    ("editcompany&companyId=999&org_www=x.example", "Company not found"),
    ("editcompany&companyName=Nobody+Ltd&org_www=x.example", "Company not found"),
    (
        "editcompany&companyId=3&clients-org_name=Teamlead",
        "Value 'Teamlead' of unique field 'Company name' already exists",
    ),
    (
        "editcompany&companyName=Adobe&Company+name=teamlead",
        "Value 'teamlead' of unique field 'Company name' already exists",
    ),
    ("editcompany&companyId=3&clients-org_name=", None),
    ("editcompany&companyId=3&no_such_field=1", "Field not found: no_such_field"),
    ("editcompany&companyId=3&org_sla=Gold", "Invalid value for field SLA: Gold"),
    ("editcompany&companyId=3&org_industry=99999", "Invalid value for field Industry: 99999"),
    (
        "editcompany&companyId=3&clients-{services}=Cooking",
        "Invalid value for field Services: Cooking",
    ),
    # deletecompany
    ("deletecompany", "Parameter companyName is required"),
    ("deletecompany&companyId=999", "Company not found"),
    ("deletecompany&companyName=Nobody+Ltd", "Company not found"),
    # addcontact
    ("addcontact", "Parameter Full name is required"),
    ("addcontact&clients-contact_email=a@b.c", "Parameter Full name is required"),
    (
        "addcontact&clients-contact_name=New&clients-contact_email=not-an-email",
        "Invalid value for field E-mail: not-an-email",
    ),
    (
        "addcontact&clients-contact_name=New&contact_email=a@b@c",
        "Invalid value for field E-mail: a@b@c",
    ),
    (
        "addcontact&clients-contact_name=New&clients-contact_company=(999)",
        "Invalid value for field Company: (999)",
    ),
    (
        "addcontact&clients-contact_name=New&clients-contact_company=999",
        "Invalid value for field Company: 999",
    ),
    ("addcontact&clients-contact_name=New&Shoe+size=42", "Field not found: Shoe size"),
    (
        "addcontact&clients-contact_name=New&clients-org_www=x.example",
        "Field not found: clients-org_www",
    ),
    (
        "addcontact&clients-contact_name=New&contact_position=" + "P" * 300,
        Prefix("Invalid value for field Position: "),
    ),
    # editcontact
    ("editcontact&contact_phone=1", "Parameter contactName is required"),
    ("editcontact&contactId=999&contact_phone=1", "Contact not found"),
    ("editcontact&contactName=Nobody&contact_phone=1", "Contact not found"),
    (
        "editcontact&contactId=2&contact_email=not-an-email",
        "Invalid value for field E-mail: not-an-email",
    ),
    ("editcontact&contactId=2&clients-contact_name=", None),
    ("editcontact&contactId=2&no_such_field=1", "Field not found: no_such_field"),
    ("editcontact&contactId=2&contact_company=(999)", "Invalid value for field Company: (999)"),
    # deletecontact
    ("deletecontact", "Parameter contactName is required"),
    ("deletecontact&contactId=999", "Contact not found"),
    ("deletecontact&contactName=Nobody", "Contact not found"),
    # setcontact
    ("setcontact", "Parameter contactName is required"),
    ("setcontact&companyId=2", "Parameter contactName is required"),
    ("setcontact&contactId=2", "Parameter companyName is required"),
    ("setcontact&contactId=999&companyId=2", "Contact not found"),
    ("setcontact&contactId=2&companyId=999", "Company not found"),
    ("setcontact&contactName=Nobody&companyName=Adobe", "Contact not found"),
    ("setcontact&contactName=TedJohnson&companyName=Nobody+Ltd", "Company not found"),
    # adddictionaryvalue
    ("adddictionaryvalue", "Parameter dictionaryName is required"),
    ("adddictionaryvalue&newvalue=Green", "Parameter dictionaryName is required"),
    ("adddictionaryvalue&dictionaryName=Colors", "Parameter newvalue is required"),
    ("adddictionaryvalue&dictionaryName=Colors&newvalue=++", "Parameter newvalue is required"),
    ("adddictionaryvalue&dictionaryName=Flavours&newvalue=Green", "Dictionary not found: Flavours"),
    (
        "adddictionaryvalue&dictionaryName=Colors&newvalue=red",
        "Value 'red' already exists in dictionary 'Colors'",
    ),
    (
        "adddictionaryvalue&dictionaryName=colors&newvalue=+RED+",
        "Value 'RED' already exists in dictionary 'Colors'",
    ),
    ("adddictionaryvalue&dictionaryName=Colors&newvalue=Green,Blue", None),
    # removedictionaryvalue
    ("removedictionaryvalue", "Parameter dictionaryName is required"),
    ("removedictionaryvalue&valuetoremove=Red", "Parameter dictionaryName is required"),
    ("removedictionaryvalue&dictionaryName=Colors", "Parameter valuetoremove is required"),
    (
        "removedictionaryvalue&dictionaryName=Flavours&valuetoremove=Red",
        "Dictionary not found: Flavours",
    ),
    (
        "removedictionaryvalue&dictionaryName=Colors&valuetoremove=Green",
        "Value 'Green' not found in dictionary 'Colors'",
    ),
    # searchentities
    ("searchentities", "Parameter tableName is required"),
    (
        "searchentities&crm_param_1=Company&crm_param_1_value=Teamlead",
        "Parameter tableName is required",
    ),
    ("searchentities&tableName=Invoices", "Directory not found: Invoices"),
    (
        "searchentities&tableName=CLIENTS&crm_param_1=Shoe+size&crm_param_1_value=42",
        "Field not found: Shoe size",
    ),
    ("searchentities&tableName=CONTACTS&crm_param_2_value=x", "Parameter crm_param_2 is required"),
    # updateOrCreateEntity
    ("updateOrCreateEntity&id=&Product+Name=Fresh", "Parameter tableName is required"),
    ("updateOrCreateEntity&tableName=Invoices&id=", "Directory not found: Invoices"),
    ("updateOrCreateEntity&tableName=PRODUCTS&id=999&Price=1", "Entry not found"),
    ("updateOrCreateEntity&tableName=PRODUCTS&id=abc&Price=1", "Entry not found"),
    ("updateOrCreateEntity&tableName=PRODUCTS&id=&Price=1", "Parameter Product Name is required"),
    (
        "updateOrCreateEntity&tableName=PRODUCTS&id=&Product+Name=Confluence",
        "Value 'Confluence' of unique field 'Product Name' already exists",
    ),
    (
        "updateOrCreateEntity&tableName=PRODUCTS&id="
        "&crm_param_1=Product+Name&crm_param_1_value=jira+software",
        "Value 'jira software' of unique field 'Product Name' already exists",
    ),
    (
        "updateOrCreateEntity&tableName=PRODUCTS&id=2&Product+Name=CRM+for+Jira",
        "Value 'CRM for Jira' of unique field 'Product Name' already exists",
    ),
    (
        "updateOrCreateEntity&tableName=PRODUCTS&id=&Product+Name=Fresh&Price=ten",
        "Invalid value for field Price: ten",
    ),
    (
        "updateOrCreateEntity&tableName=PRODUCTS&id=&Product+Name=Fresh&Price=1e5",
        "Invalid value for field Price: 1e5",
    ),
    (
        "updateOrCreateEntity&tableName=PRODUCTS&id=&Product+Name=Fresh&Price=10,5,5",
        "Invalid value for field Price: 10,5,5",
    ),
    (
        "updateOrCreateEntity&tableName=PRODUCTS&id=&Product+Name=Fresh&Color=Purple",
        "Invalid value for field Color: Purple",
    ),
    (
        "updateOrCreateEntity&tableName=PRODUCTS&id=&Product+Name=Fresh&Shoe+size=42",
        "Field not found: Shoe size",
    ),
    (
        "updateOrCreateEntity&tableName=TRANSACTIONS&id=&Date=2026-02-30",
        "Invalid value for field Date: 2026-02-30",
    ),
    (
        "updateOrCreateEntity&tableName=TRANSACTIONS&id=&Date=31.02.2026",
        "Invalid value for field Date: 31.02.2026",
    ),
    (
        "updateOrCreateEntity&tableName=TRANSACTIONS&id=&Date=2026/01/15",
        "Invalid value for field Date: 2026/01/15",
    ),
    (
        "updateOrCreateEntity&tableName=TRANSACTIONS&id=&Date=yesterday",
        "Invalid value for field Date: yesterday",
    ),
    (
        "updateOrCreateEntity&tableName=TRANSACTIONS&id=&Amount=ten",
        "Invalid value for field Amount: ten",
    ),
    (
        "updateOrCreateEntity&tableName=TRANSACTIONS&id=&Currency=Doubloons",
        "Invalid value for field Currency: Doubloons",
    ),
    (
        "updateOrCreateEntity&tableName=TRANSACTIONS&id=&Company=(999)",
        "Invalid value for field Company: (999)",
    ),
    (
        "updateOrCreateEntity&tableName=TRANSACTIONS&id=1&Company=Nobody+Ltd",
        "Invalid value for field Company: Nobody Ltd",
    ),
    # transactionslist
    (
        "transactionslist&crm_param_1=Shoe+size&crm_param_1_value=42",
        "Field not found: Shoe size",
    ),
    ("transactionslist&saleVal=SALES-1&crm_param_2_value=x", "Parameter crm_param_2 is required"),
    # setcrmproperties
    ("setcrmproperties", "Parameter issueKey is required"),
    (
        "setcrmproperties&customFieldId=customfield_10100&value=(6)",
        "Parameter issueKey is required",
    ),
    ("setcrmproperties&issueKey=SALES-1&value=(6)", "Parameter customFieldId is required"),
    (
        "setcrmproperties&issueKey=SALES-2&customFieldId=customfield_10100&value=(999)",
        "Contact not found",
    ),
    (
        "setcrmproperties&issueKey=SALES-2&customFieldId=customfield_10100&value=(6),(999)",
        "Contact not found",
    ),
    (
        "setcrmproperties&issueKey=SALES-2&customFieldId=customfield_10100&value=Nobody",
        "Contact not found",
    ),
    ("setcrmproperties&issueKey=not+a+key&customFieldId=customfield_10100&value=(6)", None),
    # getContactEmail
    ("getContactEmail", "Parameter issueKey is required"),
    ("getContactEmail&customFieldId=customfield_10100", "Parameter issueKey is required"),
    ("getContactEmail&issueKey=SALES-1", "Parameter customFieldId is required"),
    # no command, or one that does not exist
    ("nope", "Unknown command: nope"),
    ("", "Unknown command: "),
    ("get+companies", "Unknown command: get companies"),
    ("%zz", "Unknown command: %zz"),
]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(("query", "message"), REFUSED, ids=[q[:80] for q, _ in REFUSED])
def test_a_refused_call_says_why_and_changes_nothing(
    shared: Shared, method: str, query: str, message: Expected
) -> None:
    raw = f"{AUTH}&command={query.format(**shared.codes)}"
    shared.refused(raw, message, post=method == "POST")


def test_a_call_without_any_command_is_an_unknown_command(shared: Shared) -> None:
    shared.refused(AUTH, "Unknown command: ")
    shared.refused(f"{AUTH}&companyId=2", "Unknown command: ")


# legacy-api.md §2: the key is checked, then the user, before any command runs.
COMMANDS_TRIED = [
    "getcompanies",
    "getcompanybyname&companyId=2",
    "addcompany&clients-org_name=Sneaky",
    "editcompany&companyId=2&org_www=sneaky.example",
    "deletecompany&companyId=2",
    "adddictionaryvalue&dictionaryName=Colors&newvalue=Green",
    "removedictionaryvalue&dictionaryName=Colors&valuetoremove=Red",
    "updateOrCreateEntity&tableName=PRODUCTS&id=&Product+Name=Sneaky",
    "sync",
]
CREDENTIALS = [
    ("userName=admin", "Wrong API key"),
    ("apiKey=&userName=admin", "Wrong API key"),
    ("apiKey=wrong-key&userName=admin", "Wrong API key"),
    ("apiKey=ACCORD-DEMO-KEY&userName=admin", "Wrong API key"),
    (f"apiKey={KEY}x&userName=admin", "Wrong API key"),
    ("apiKey=%FF%FE&userName=admin", "Wrong API key"),
    (f"apiKey={KEY}%FF&userName=admin", "Wrong API key"),
    (f"apiKey={KEY}", "User not found"),
    (f"apiKey={KEY}&userName=", "User not found"),
    (f"apiKey={KEY}&userName=nobody", "User not found"),
    (f"apiKey={KEY}&userName=%FF%FE", "User not found"),
    (f"apiKey={KEY}&userName=admin%FF", "User not found"),
    (f"apiKey={KEY}&userName=admin%00", "User not found"),
]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(("credentials", "message"), CREDENTIALS)
def test_a_wrong_key_or_user_refuses_every_command(
    shared: Shared, method: str, credentials: str, message: str
) -> None:
    before = shared.rows()
    send = shared.legacy.post if method == "POST" else shared.legacy.get
    for command in COMMANDS_TRIED:
        reply = send(f"command={command}&{credentials}")
        assert reply == {"success": False, "details": message}, command
    assert shared.rows() == before


def test_a_wrong_key_in_the_header_is_refused(shared: Shared) -> None:
    before = shared.rows()
    for command in ("getcompanies", "addcompany&clients-org_name=Sneaky"):
        response = shared.legacy.http.get(
            f"{API_PATH}?command={command}&userName=admin", headers={"X-Api-Key": "wrong-key"}
        )
        assert Legacy.reply(response) == {"success": False, "details": "Wrong API key"}
    assert shared.rows() == before


# Undecodable bytes (%FF%FE is not UTF-8) in values, parameter names, the user and the key.
NON_UTF8: list[tuple[str, Expected]] = [
    (f"{AUTH}&command=addcompany&clients-org_name=Fresh{{bad}}", Prefix("Invalid value for field")),
    (
        f"{AUTH}&command=addcompany&org_name={{bad}}",
        Prefix("Invalid value for field Company name:"),
    ),
    (
        f"{AUTH}&command=addcontact&clients-contact_name=New&contact_phone={{bad}}",
        Prefix("Invalid value for field Phone: "),
    ),
    (
        f"{AUTH}&command=addcontact&clients-contact_name=New&contact_company={{bad}}",
        Prefix("Invalid value for field Company: "),
    ),
    (f"{AUTH}&command=addcompany&clients-org_name=Fresh&{{bad}}=1", Prefix("Field not found: ")),
    (
        f"{AUTH}&command=addcompany&clients-org_name=Fresh&clients-{{bad}}=1",
        Prefix("Field not found: clients-"),
    ),
    (
        f"{AUTH}&command=addcompany&clients-org_name=Fresh&crm_param_1={{bad}}&crm_param_1_value=1",
        Prefix("Field not found: "),
    ),
    (f"{AUTH}&command=getcompanies{{bad}}", Prefix("Unknown command: getcompanies")),
    (f"{AUTH}&command{{bad}}=getcompanies", "Unknown command: "),
    (f"{AUTH}&command=getcompanybyname&companyName={{bad}}", "Company not found"),
    (f"{AUTH}&command=getcompanybyname&companyName=Adobe{{bad}}", "Company not found"),
    (f"{AUTH}&command=getcontactbyname&contactName={{bad}}", "Contact not found"),
    (f"{AUTH}&command=editcompany&companyName={{bad}}&org_www=x.example", "Company not found"),
    (f"{AUTH}&command=editcontact&contactName={{bad}}&contact_phone=1", "Contact not found"),
    (f"{AUTH}&command=deletecompany&companyName={{bad}}", "Company not found"),
    (f"{AUTH}&command=deletecontact&contactName={{bad}}", "Contact not found"),
    (f"{AUTH}&command=setcontact&contactName={{bad}}&companyName=Adobe", "Contact not found"),
    (f"{AUTH}&command=setcontact&contactName=TedJohnson&companyName={{bad}}", "Company not found"),
    (
        f"{AUTH}&command=adddictionaryvalue&dictionaryName={{bad}}&newvalue=Green",
        Prefix("Dictionary not found: "),
    ),
    (f"{AUTH}&command=adddictionaryvalue&dictionaryName=Colors&newvalue={{bad}}", None),
    (
        f"{AUTH}&command=removedictionaryvalue&dictionaryName=Colors&valuetoremove={{bad}}",
        Prefix("Value '"),
    ),
    (f"{AUTH}&command=searchentities&tableName={{bad}}", Prefix("Directory not found: ")),
    (
        f"{AUTH}&command=updateOrCreateEntity&tableName=PRODUCTS&id=&Product+Name=Fresh"
        "&Vendor={bad}",
        Prefix("Invalid value for field Vendor: "),
    ),
    (
        f"{AUTH}&command=setcrmproperties&issueKey=SALES-2&customFieldId={{bad}}&value=(6)",
        None,
    ),
    ("command=getcompanies&apiKey={bad}&userName=admin", "Wrong API key"),
    ("command=addcompany&org_name=Fresh&apiKey={bad}&userName=admin", "Wrong API key"),
    (f"command=getcompanies&apiKey={KEY}&userName={{bad}}", "User not found"),
    (f"command=addcompany&org_name=Fresh&apiKey={KEY}&userName={{bad}}", "User not found"),
]
# The same bytes percent-encoded (GET and POST), and raw in a form body.
ENCODINGS = {"GET %FF%FE": b"%FF%FE", "POST %FF%FE": b"%FF%FE", "POST raw": b"\xff\xfe"}


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize(("template", "message"), NON_UTF8, ids=[t[:80] for t, _ in NON_UTF8])
def test_bytes_that_are_not_utf8_are_refused_cleanly(
    shared: Shared, encoding: str, template: str, message: Expected
) -> None:
    head, _, tail = template.partition("{bad}")
    raw = head.encode() + ENCODINGS[encoding] + tail.encode()
    shared.refused(raw, message, post=encoding.startswith("POST"))


@pytest.mark.parametrize(
    ("query", "field"),
    [
        (
            "searchentities&tableName=CLIENTS&crm_param_1=org_name&crm_param_1_value=%FF%FE",
            "Company name",
        ),
        ("searchentities&tableName=CONTACTS&crm_param_1=Company&crm_param_1_value=%FF", "Company"),
        (
            "searchentities&tableName=CONTACTS&crm_param_1=Company&crm_param_1_value=Teamlead%00",
            "Company",
        ),
        ("transactionslist&saleVal=SALES-1%FF", "Sale"),
        ("transactionslist&saleVal=%00", "Sale"),
    ],
)
def test_a_search_for_undecodable_text_is_refused_as_a_write_is(
    shared: Shared, query: str, field: str
) -> None:
    """Not answered with nothing found: that hides the error (and the REST API refuses
    such filter text with a 400)."""
    shared.refused(f"{AUTH}&command={query}", Prefix(f"Invalid value for field {field}: "))


# A malformed query string: the pieces that cannot be parameters never break the others.
MALFORMED = ["%zz", "&&&", "=x", "a=b=c", "%", "=", "%%%", "&=&=&", "%G0=%0G"]


@pytest.mark.parametrize("junk", MALFORMED)
def test_a_malformed_query_string_is_answered_cleanly(shared: Shared, junk: str) -> None:
    shared.refused(f"{AUTH}&{junk}", "Unknown command: ")
    shared.refused(junk, "Wrong API key")
    for query in (
        f"{junk}&command=getcompanybyname&{junk}&companyId=2&{AUTH}&{junk}",
        f"{AUTH}&command=getcompanybyname&companyId=2&{junk}",
    ):
        assert ok(shared.legacy.get(query))["name"] == "Teamlead"
        assert ok(shared.legacy.post(query))["name"] == "Teamlead"


def test_only_the_first_equals_sign_splits_a_parameter(shared: Shared) -> None:
    shared.refused(f"{AUTH}&command=getcompanybyname&companyId=2=3", "Company not found")
    shared.refused(f"{AUTH}&command=addcompany&org_name=Fresh&a=b=c", "Field not found: a")


# Very long values: refused with a clear message, never written, never a crash.
LONG_VALUES: list[tuple[str, Expected]] = [
    (
        f"addcompany&clients-org_name=Long&clients-{{notes}}={LONG}",
        Prefix("Invalid value for field Notes: nnn"),
    ),
    (
        f"editcompany&companyId=3&clients-{{notes}}={LONG}",
        Prefix("Invalid value for field Notes: nnn"),
    ),
    (f"addcompany&clients-org_name={LONG}", Prefix("Invalid value for field Company name: nnn")),
    (f"addcompany&clients-org_name=Long&{LONG}=1", Prefix("Field not found: nnn")),
    (f"getcompanybyname&companyName={LONG}", "Company not found"),
    (f"setcontact&contactName={LONG}&companyId=2", "Contact not found"),
    (f"adddictionaryvalue&dictionaryName=Colors&newvalue={LONG}", None),
    (f"adddictionaryvalue&dictionaryName={LONG}&newvalue=Green", Prefix("Dictionary not found: ")),
    (f"searchentities&tableName={LONG}", Prefix("Directory not found: ")),
    (LONG, Prefix("Unknown command: nnn")),
]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(
    ("query", "message"), LONG_VALUES, ids=[q.replace(LONG, "<20000>") for q, _ in LONG_VALUES]
)
def test_a_very_long_value_is_refused_cleanly(
    shared: Shared, method: str, query: str, message: Expected
) -> None:
    raw = f"{AUTH}&command={query.format(**shared.codes)}"
    shared.refused(raw, message, post=method == "POST")


def _raw_get(port: int, target: str) -> tuple[int, str, bytes]:
    """GET a request target as is, however long (httpx refuses URLs over 64 KB)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request("GET", target)
        response = connection.getresponse()
        return response.status, response.getheader("content-type", ""), response.read()
    finally:
        connection.close()


def test_a_2_mb_query_string_gets_the_json_envelope(shared: Shared) -> None:
    before = shared.rows()
    notes = shared.codes["notes"]
    target = (
        f"{API_PATH}?{AUTH}&command=addcompany&clients-org_name=Huge&clients-{notes}="
        + "n" * TWO_MB
    )
    status, content_type, body = _raw_get(shared.port, target)
    assert (status, content_type) == (200, "application/json; charset=utf-8"), body[:200]
    reply = json.loads(body)
    assert reply["success"] is False, reply
    assert reply["details"], reply
    assert shared.rows() == before


def test_a_url_up_to_64_kib_is_served_and_a_longer_one_is_refused_in_json(
    shared: Shared,
) -> None:
    # The README: a URL holds at most 64 KiB (larger bodies go by POST, up to 1 MiB).
    base = f"{API_PATH}?{AUTH}&command=getcompanybyname&companyId=2&padding="
    status, content_type, body = _raw_get(shared.port, base + "x" * (65_535 - len(base)))
    assert (status, content_type) == (200, "application/json; charset=utf-8"), body[:200]
    assert b'"name":"Teamlead"' in body
    status, content_type, body = _raw_get(shared.port, base + "x" * (65_536 - len(base)))
    assert (status, content_type) == (200, "application/json; charset=utf-8"), body[:200]
    assert json.loads(body) == {"success": False, "details": "Request too large"}


def test_a_2_mb_form_body_is_refused_cleanly(shared: Shared) -> None:
    notes = shared.codes["notes"]
    body = f"{AUTH}&command=addcompany&clients-org_name=Huge&clients-{notes}=" + "n" * TWO_MB
    shared.refused(body, post=True)


# Transport (legacy-api.md §1): GET, POST, the key in a header, merging, order, decoding.


def test_get_post_and_the_key_header_give_the_same_answer(shared: Shared) -> None:
    legacy = shared.legacy
    query = "command=getcompanybyname&companyName=Teamlead&userName=admin"
    header = {"X-Api-Key": KEY}
    by_get = ok(legacy.get(f"{query}&apiKey={KEY}"))
    by_post = ok(legacy.post(f"{query}&apiKey={KEY}"))
    by_header = ok(Legacy.reply(legacy.http.get(f"{API_PATH}?{query}", headers=header)))
    by_post_header = ok(
        Legacy.reply(
            legacy.http.post(
                API_PATH,
                content=query,
                headers={**header, "content-type": "application/x-www-form-urlencoded"},
            )
        )
    )
    split = ok(
        legacy.post(
            f"companyName=Teamlead&apiKey={KEY}", query="command=getcompanybyname&userName=admin"
        )
    )
    assert by_get["id"] == "2"
    assert by_get == by_post == by_header == by_post_header == split


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "OPTIONS"])
@pytest.mark.parametrize("path", [API_PATH, "/rest/catalog-rest/1.0/catalog/updateNom"])
def test_a_method_the_servlet_does_not_serve_is_a_405_in_the_envelope(
    shared: Shared, method: str, path: str
) -> None:
    before = shared.rows()
    query = f"{AUTH}&command=addcompany&clients-org_name=By+{method}&tableName=CLIENTS&nomId="
    response = shared.legacy.http.request(method, f"{path}?{query}")
    assert response.status_code == 405
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert response.headers["allow"] == "GET, HEAD, POST"
    assert response.json() == {"success": False, "details": f"Method {method} is not allowed"}
    assert shared.rows() == before


@pytest.mark.parametrize(
    ("query", "body", "expected_id"),
    [
        (f"{AUTH}&command=getcompanybyname&companyId=2", "companyId=3", "3"),
        (f"{AUTH}&command=getcompanies", "command=getcompanybyname&companyId=3", "3"),
        (
            "command=getcompanybyname&companyId=3&apiKey=wrong-key&userName=nobody",
            AUTH,
            "3",
        ),
        (
            f"{AUTH}&command=getcompanybyname&companyName=Teamlead",
            "companyId=&companyName=Adobe",
            "3",
        ),
    ],
)
def test_body_parameters_override_query_parameters(
    shared: Shared, query: str, body: str, expected_id: str
) -> None:
    assert ok(shared.legacy.post(body, query=query))["id"] == expected_id


def test_a_wrong_key_in_the_body_overrides_a_right_one_in_the_query(shared: Shared) -> None:
    query = f"{AUTH}&command=addcompany&clients-org_name=Sneaky"
    before = shared.rows()
    reply = shared.legacy.post("apiKey=wrong-key", query=query)
    assert reply == {"success": False, "details": "Wrong API key"}
    assert shared.rows() == before


def test_parameter_order_does_not_matter(shared: Shared) -> None:
    parts = ["command=getcompanybyname", "companyName=Teamlead", f"apiKey={KEY}", "userName=admin"]
    replies = [shared.legacy.get("&".join(order)) for order in itertools.permutations(parts)]
    assert replies[0]["id"] == "2"
    assert all(reply == replies[0] for reply in replies)
    pairs = [
        "crm_param_1=Company",
        "crm_param_1_value=Teamlead",
        "crm_param_2=Position",
        "crm_param_2_value=Engineer",
    ]
    found = [
        ok(shared.legacy.get(f"{AUTH}&command=searchEntities&tableName=CONTACTS&" + "&".join(o)))
        for o in (pairs, pairs[::-1], pairs[2:] + pairs[:2])
    ]
    assert [r["name"] for r in found[0]["records"]] == ["Eve Black"]
    assert found[0] == found[1] == found[2]


@pytest.mark.parametrize("method", METHODS)
def test_plus_decodes_as_a_space(shared: Shared, method: str) -> None:
    send: Callable[[str], dict[str, Any]] = (
        shared.legacy.post if method == "POST" else shared.legacy.get
    )
    by_plus = ok(send(f"{AUTH}&command=getcompanybyname&companyName=Oceanic+Airlines"))
    by_escape = ok(send(f"{AUTH}&command=getcompanybyname&companyName=Oceanic%20Airlines"))
    assert by_plus["id"] == by_escape["id"] == "15"
    assert ok(send(f"{AUTH}&command=getcontactbyname&contactName=+Ted+Johnson+"))["id"] == "6"
    # An encoded plus is a plus, not a space.
    shared.refused(f"{AUTH}&command=getcompanybyname&companyName=Oceanic%2BAirlines")


@pytest.mark.parametrize(
    "command",
    ["getcompanybyname", "GETCOMPANYBYNAME", "GetCompanyByName", "getCompanyByName"],
)
def test_command_names_are_case_insensitive(shared: Shared, command: str) -> None:
    assert ok(shared.legacy.get(f"{AUTH}&command={command}&companyId=2"))["name"] == "Teamlead"


@pytest.mark.parametrize("command", ["searchEntities", "searchentities", "SEARCHENTITIES"])
def test_search_command_names_are_case_insensitive(shared: Shared, command: str) -> None:
    query = f"{AUTH}&command={command}&tableName=contacts&crm_param_1=Company"
    records = ok(shared.legacy.get(f"{query}&crm_param_1_value=Teamlead"))["records"]
    assert {r["name"] for r in records} == {"Bob Stone", "Eve Black", "Ivan Petrov"}


# Tests that change data on purpose: each on its own fresh demo database.


def test_a_write_works_by_post_with_the_key_in_a_header(legacy: Legacy) -> None:
    response = legacy.http.post(
        API_PATH,
        content="command=addcompany&userName=admin&clients-org_name=Posted+Ltd&org_www=p.example",
        headers={"X-Api-Key": KEY, "content-type": "application/x-www-form-urlencoded"},
    )
    added = ok(Legacy.reply(response))
    assert (added["name"], added["org_www"]) == ("Posted Ltd", "p.example")
    assert ok(legacy("getcompanybyname", companyName="Posted Ltd"))["id"] == added["id"]


def test_view_parameters_other_than_view_clients_are_reserved(legacy: Legacy) -> None:
    # legacy-api.md §3.1: every `view-*` parameter is reserved; only `view-clients-<code>` is read.
    assert ok(legacy("getcompanybyname", companyId="2"))["org_type"] == "Partner"
    edited = ok(legacy("editcompany", companyId="2", **{"view-org_type": "Lead"}))
    assert edited["org_type"] == "Partner"
    edited = ok(legacy("editcompany", companyId="2", **{"view-clients-org_type": "Lead"}))
    assert edited["org_type"] == "Lead"


# (the failing call, its message, the same call put right). The failure comes after
# something was already written (a new company, a new position label, a changed row),
# so it proves the whole call is rolled back; the corrected call proves it would have
# written something.
HALFWAY = [
    pytest.param(
        "addcontact&clients-contact_name=New+contact&clients-contact_company=Brand+New+Co"
        "&clients-contact_position=Chief+Fun+Officer&clients-contact_email=not-an-email",
        "Invalid value for field E-mail: not-an-email",
        "addcontact&clients-contact_name=New+contact&clients-contact_company=Brand+New+Co"
        "&clients-contact_position=Chief+Fun+Officer&clients-contact_email=new@new.com",
        id="addcontact: new company and position, then a bad e-mail",
    ),
    pytest.param(
        "addcontact&clients-contact_company=newCompany&view-clients-contact_company=newCompany"
        "&clients-contact_email=new@new.com",
        "Parameter Full name is required",
        "addcontact&clients-contact_company=newCompany&view-clients-contact_company=newCompany"
        "&clients-contact_email=new@new.com&clients-contact_name=new+contact",
        id="addcontact: new company, then no name",
    ),
    pytest.param(
        "addcontact&clients-contact_name=New+contact&view-clients-contact_company=Brand+New+Co"
        "&clients-contact_email=new@@new.com",
        "Invalid value for field E-mail: new@@new.com",
        "addcontact&clients-contact_name=New+contact&view-clients-contact_company=Brand+New+Co"
        "&clients-contact_email=new@new.com",
        id="addcontact: new company by display text, then a bad e-mail",
    ),
    pytest.param(
        "editcontact&contactId=2&clients-contact_company=Brand+New+Co"
        "&clients-contact_position=Chief+Fun+Officer&clients-contact_email=not-an-email",
        "Invalid value for field E-mail: not-an-email",
        "editcontact&contactId=2&clients-contact_company=Brand+New+Co"
        "&clients-contact_position=Chief+Fun+Officer&clients-contact_email=bob@new.com",
        id="editcontact: new company and position, then a bad e-mail",
    ),
    pytest.param(
        "editcompany&companyId=3&org_www=new.example&org_type=Lead&clients-org_name=Teamlead",
        "Value 'Teamlead' of unique field 'Company name' already exists",
        "editcompany&companyId=3&org_www=new.example&org_type=Lead&clients-org_name=Adobe+Inc",
        id="editcompany: a row changed, then a duplicate name",
    ),
    pytest.param(
        "addcompany&org_www=x.example&org_type=Client&clients-org_name=TEAMLEAD",
        "Value 'TEAMLEAD' of unique field 'Company name' already exists",
        "addcompany&org_www=x.example&org_type=Client&clients-org_name=Teamlead+Two",
        id="addcompany: a row inserted, then a duplicate name",
    ),
    pytest.param(
        "updateOrCreateEntity&tableName=PRODUCTS&id=1&Price=20&Product+Name=Confluence",
        "Value 'Confluence' of unique field 'Product Name' already exists",
        "updateOrCreateEntity&tableName=PRODUCTS&id=1&Price=20&Product+Name=Jira",
        id="updateOrCreateEntity: a row changed, then a duplicate name",
    ),
    pytest.param(
        "updateOrCreateEntity&tableName=PRODUCTS&id=&Product+Name=Fresh&Price=20&Color=Purple",
        "Invalid value for field Color: Purple",
        "updateOrCreateEntity&tableName=PRODUCTS&id=&Product+Name=Fresh&Price=20&Color=Red",
        id="updateOrCreateEntity: create, then a bad dictionary label",
    ),
    pytest.param(
        "setcrmproperties&issueKey=SALES-2&customFieldId=customfield_10100&value=(6),(999)",
        "Contact not found",
        "setcrmproperties&issueKey=SALES-2&customFieldId=customfield_10100&value=(6),(2)",
        id="setcrmproperties: one contact found, the next not",
    ),
]


@pytest.mark.parametrize(("failing", "message", "corrected"), HALFWAY)
def test_a_write_failing_halfway_leaves_no_trace(
    legacy: Legacy, db: Database, failing: str, message: str, corrected: str
) -> None:
    before = dump(db)
    assert legacy.get(f"{AUTH}&command={failing}") == {"success": False, "details": message}
    assert dump(db) == before
    ok(legacy.get(f"{AUTH}&command={corrected}"))
    assert dump(db) != before


def test_a_failed_write_leaves_nothing_that_a_later_write_could_trip_on(
    legacy: Legacy, db: Database
) -> None:
    # The refused call added "Chief Fun Officer" to the Position dictionary in its
    # transaction: neither the database nor a cache may keep it.
    refused = "editcontact&contactId=2&contact_position=Chief+Fun+Officer&contact_email=x"
    assert legacy.get(f"{AUTH}&command={refused}")["success"] is False
    assert ok(legacy("getcontactbyname", contactId="2"))["contact_position"] == "CTO"
    edited = ok(legacy("editcontact", contactId="5", contact_position="Chief Fun Officer"))
    assert edited["contact_position"] == "Chief Fun Officer"
    ok(
        legacy(
            "removedictionaryvalue", dictionaryName="Position", valuetoremove="Chief Fun Officer"
        )
    )
    assert ok(legacy("getcontactbyname", contactId="5"))["contact_position"] == ""


def _add_field(db: Database, kind: FieldType, **options: Any) -> str:
    def work(tx: Any) -> str:
        field = directories.add_field(
            tx, "PRODUCTS", "Extra", kind, actor=Actor.system("test"), **options
        )
        return field.code

    return run(db, work, write=True)


# A custom field of each type the demo lacks: (type, a value that does not fit, one that
# does, and how that one reads back).
CUSTOM_TYPES = [
    (FieldType.CHECKBOX, "maybe", "yes", "true"),
    (FieldType.CHECKBOX, "2", "off", "false"),
    (FieldType.EMAIL, "not-an-email", "a@b.c", "a@b.c"),
    (FieldType.DATE, "2026-13-01", "01.02.2026", "2026-02-01"),
    (FieldType.NUMBER, "1+000", "10,5", "10.5"),
    (FieldType.USER, "nobody", "MANAGER", "manager"),
    (FieldType.GROUP, "Nobodies", "sales", "Sales"),
]


@pytest.mark.parametrize(("kind", "bad", "good", "shown"), CUSTOM_TYPES)
def test_a_custom_field_refuses_a_value_that_does_not_fit_its_type(
    legacy: Legacy, db: Database, kind: FieldType, bad: str, good: str, shown: str
) -> None:
    code = _add_field(db, kind)
    base = f"{AUTH}&command=updateOrCreateEntity&tableName=PRODUCTS&id=1"
    before = dump(db)
    printed = bad.replace("+", " ")
    for raw in (f"{base}&clients-{code}={bad}", f"{base}&Extra={bad}", f"{base}&{code}={bad}"):
        reply = legacy.get(raw)
        assert reply == {"success": False, "details": f"Invalid value for field Extra: {printed}"}
    assert dump(db) == before
    assert ok(legacy.get(f"{base}&Extra={good}"))[code] == shown


def test_a_deactivated_user_is_not_found(legacy: Legacy, db: Database) -> None:
    viewer = f"apiKey={KEY}&userName=viewer"
    assert ok(legacy.get(f"{viewer}&command=getcompanybyname&companyId=2"))["id"] == "2"
    run(
        db,
        lambda tx: users.set_user_active(tx, "viewer", False, actor=Actor.system("test")),
        write=True,
    )
    before = dump(db)
    for command in ("getcompanybyname&companyId=2", "addcompany&org_name=Sneaky", "sync"):
        reply = legacy.get(f"{viewer}&command={command}")
        assert reply == {"success": False, "details": "User not found"}
    assert dump(db) == before


def test_an_instance_without_a_key_refuses_every_call(empty_db: Database, empty_url: str) -> None:
    before = dump(empty_db)
    with InProcessServer(settings_for(empty_url), empty_db) as served:
        client = Legacy(served.client())
        try:
            for query in (
                f"{AUTH}&command=getcompanies",
                f"{AUTH}&command=addcompany&clients-org_name=Fresh",
                f"{AUTH}&command=nope",
                "command=getcompanies",
                "",
            ):
                expected = {"success": False, "details": "API key is not configured"}
                assert client.get(query) == expected
                assert client.post(query) == expected
            response = client.http.get(
                f"{API_PATH}?command=getcompanies&userName=admin", headers={"X-Api-Key": KEY}
            )
            assert Legacy.reply(response)["details"] == "API key is not configured"
        finally:
            client.close()
    assert dump(empty_db) == before
