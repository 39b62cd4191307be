"""legacy-api.md §2, the rights matrix: every command, called by a user who lacks exactly one
right it needs, gets `Permission denied: <right>` and changes nothing; with the rights it
succeeds, whether they are granted to the user, to a group, or held as an administrator."""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import pytest

from accord.domain.users import Actor
from accord.domain.values import RawValue
from accord.services import directories, entries, sync, users
from accord.services.transactions import Database, Transaction, open_database, run
from tests.support import API_PATH, Legacy, Server, dump

UPDATE_NOM = "/rest/catalog-rest/1.0/catalog/updateNom"
CLI = Actor.system("cli")
CLERK = "clerk"
GROUP = "Clerks"

# What `Permission denied: ...` names for each right given to grant(): the vendor's wording
# where it has one, else "<Action> <directory display name>" (legacy-api.md §2).
RIGHT_NAMES = {
    "main-menu": "CRM Main Menu",
    "dictionaries.add": "Add the values to dictionaries",
    "dictionaries.remove": "Remove the values from dictionaries",
    "companies.view": "View Companies",
    "companies.add": "Add companies",
    "companies.edit": "Edit companies",
    "companies.remove": "Remove Companies",
    "contacts.view": "View Contacts",
    "contacts.add": "Add contacts",
    "contacts.edit": "Edit contacts",
    "contacts.remove": "Remove Contacts",
    "products.view": "View Products",
    "products.add": "Add Products",
    "products.edit": "Edit Products",
    "transactions.view": "Search CRM transactions",
    "transactions.add": "Add Transactions",
    "projects.view": "View Projects",
    "projects.add": "Add Projects",
    "projects.edit": "Edit Projects",
}


@dataclass(frozen=True, slots=True)
class After:
    """What a user can look at once a call succeeded."""

    reply: dict[str, Any]
    admin: Legacy
    db: Database


@dataclass(frozen=True, slots=True)
class Case:
    """One call, the rights it needs besides the main menu, and its visible effect."""

    name: str
    params: dict[str, str]
    needs: tuple[str, ...]
    observe: Callable[[After], object]
    expected: object
    path: str = API_PATH


def names(listing: list[dict[str, str]]) -> list[str]:
    return [entry["name"] for entry in listing]


def search(admin: Legacy, table: str, name: str, value: str) -> list[dict[str, str]]:
    """The administrator's view of the entries of `table` whose field `name` is `value`."""
    reply = admin("searchentities", tableName=table, crm_param_1=name, crm_param_1_value=value)
    assert reply["success"] is True, reply
    records: list[dict[str, str]] = reply["records"]
    return records


def sync_jobs(db: Database) -> list[str]:
    return run(db, lambda tx: [job.status for job in sync.user_sync_jobs(tx)], write=False)


CASES = [
    # Companies.
    Case(
        "getcompanies",
        {"command": "getcompanies"},
        ("companies.view",),
        lambda s: (len(s.reply["companies"]), s.reply["companies"][1]["name"]),
        (16, "Teamlead"),
    ),
    Case(
        "getcompanybyname",
        {"command": "getcompanybyname", "companyName": "Teamlead"},
        ("companies.view",),
        lambda s: (s.reply["id"], s.reply["org_www"]),
        ("2", "teamlead.example"),
    ),
    Case(
        "addcompany",
        {"command": "addcompany", "clients-org_name": "Rights Co", "org_www": "rights.example"},
        ("companies.add",),
        lambda s: s.admin("getcompanybyname", companyName="Rights Co")["org_www"],
        "rights.example",
    ),
    Case(
        "editcompany",
        {"command": "editcompany", "companyId": "2", "clients-org_www": "edited.example"},
        ("companies.edit",),
        lambda s: s.admin("getcompanybyname", companyId="2")["org_www"],
        "edited.example",
    ),
    Case(
        "deletecompany",
        {"command": "deletecompany", "companyName": "Globex"},
        ("companies.remove",),
        lambda s: s.admin("getcompanybyname", companyName="Globex")["details"],
        "Company not found",
    ),
    # Contacts.
    Case(
        "getcontacts",
        {"command": "getcontacts"},
        ("contacts.view",),
        lambda s: (len(s.reply["contacts"]), s.reply["contacts"][5]["name"]),
        (10, "Ted Johnson"),
    ),
    Case(
        "getcontactbyname",
        {"command": "getcontactbyname", "contactName": "Ted Johnson"},
        ("contacts.view",),
        lambda s: (s.reply["id"], s.reply["contact_email"]),
        ("6", "ted@oceanic.example"),
    ),
    Case(
        # An existing company: no companies.add needed.
        "addcontact",
        {"command": "addcontact", "clients-contact_name": "Rita", "contact_company": "Adobe"},
        ("contacts.add",),
        lambda s: s.admin("getcontactbyname", contactName="Rita")["contact_company"],
        "Adobe",
    ),
    Case(
        "addcontact-new-company",
        {"command": "addcontact", "clients-contact_name": "Nina", "contact_company": "New Co"},
        ("contacts.add", "companies.add"),
        lambda s: s.admin("getcompanybyname", companyName="New Co")["name"],
        "New Co",
    ),
    Case(
        # A new position is added to the Position dictionary without dictionaries.add.
        "editcontact",
        {"command": "editcontact", "contactId": "6", "contact_position": "Rights Officer"},
        ("contacts.edit",),
        lambda s: s.admin("getcontactbyname", contactId="6")["contact_position"],
        "Rights Officer",
    ),
    Case(
        "editcontact-new-company",
        {"command": "editcontact", "contactName": "Ted Johnson", "contact_company": "New Co"},
        ("contacts.edit", "companies.add"),
        lambda s: s.admin("getcontactbyname", contactId="6")["contact_company"],
        "New Co",
    ),
    Case(
        "deletecontact",
        {"command": "deletecontact", "contactName": "Ted Johnson"},
        ("contacts.remove",),
        lambda s: s.admin("getcontactbyname", contactName="Ted Johnson")["details"],
        "Contact not found",
    ),
    Case(
        "setcontact",
        {"command": "setcontact", "contactName": "Ted Johnson", "companyName": "Adobe"},
        ("contacts.edit",),
        lambda s: s.admin("getcontactbyname", contactId="6")["contact_company"],
        "Adobe",
    ),
    # Dictionaries.
    Case(
        "adddictionaryvalue",
        {"command": "adddictionaryvalue", "dictionaryName": "Colors", "newvalue": "Green"},
        ("dictionaries.add",),
        lambda s: s.admin("adddictionaryvalue", dictionaryName="Colors", newvalue="Green"),
        {"success": False, "details": "Value 'Green' already exists in dictionary 'Colors'"},
    ),
    Case(
        "removedictionaryvalue",
        {"command": "removedictionaryvalue", "dictionaryName": "Colors", "valuetoremove": "Red"},
        ("dictionaries.remove",),
        lambda s: s.admin("removedictionaryvalue", dictionaryName="Colors", valuetoremove="Red"),
        {"success": False, "details": "Value 'Red' not found in dictionary 'Colors'"},
    ),
    # Any directory, by tableName: code, alias or display name.
    Case(
        "searchentities-companies",
        {
            "command": "searchEntities",
            "tableName": "COMPANIES",
            "crm_param_1": "Industry",
            "crm_param_1_value": "Finance",
        },
        ("companies.view",),
        lambda s: names(s.reply["records"]),
        ["Globex", "Wayne Enterprises"],
    ),
    Case(
        "searchentities-contacts",
        {
            "command": "searchentities",
            "tableName": "CONTACTS",
            "crm_param_1": "Company",
            "crm_param_1_value": "Teamlead",
        },
        ("contacts.view",),
        lambda s: names(s.reply["records"]),
        ["Bob Stone", "Eve Black", "Ivan Petrov"],
    ),
    Case(
        "searchentities-products",
        {
            "command": "searchentities",
            "tableName": "products",
            "crm_param_1": "Vendor",
            "crm_param_1_value": "Atlassian",
        },
        ("products.view",),
        lambda s: names(s.reply["records"]),
        ["Jira Software", "Confluence"],
    ),
    Case(
        "searchentities-transactions",
        {
            "command": "searchentities",
            "tableName": "Transactions",
            "crm_param_1": "Currency",
            "crm_param_1_value": "USD",
        },
        ("transactions.view",),
        lambda s: [t["transaction_comment"] for t in s.reply["records"]],
        ["Annual licence", "Renewal"],
    ),
    Case(
        "searchentities-custom",
        {"command": "searchentities", "tableName": "Projects"},
        ("projects.view",),
        lambda s: names(s.reply["records"]),
        ["Apollo"],
    ),
    Case(
        "updateOrCreateEntity-create-product",
        {
            "command": "updateOrCreateEntity",
            "tableName": "PRODUCTS",
            "id": "",
            "crm_param_1": "Product Name",
            "crm_param_1_value": "Rights Kit",
            "crm_param_2": "Price",
            "crm_param_2_value": "7",
        },
        ("products.add",),
        lambda s: [
            p["product_price"] for p in search(s.admin, "PRODUCTS", "Product Name", "Rights Kit")
        ],
        ["7"],
    ),
    Case(
        "updateOrCreateEntity-update-product",
        {"command": "updateOrCreateEntity", "tableName": "PRODUCTS", "id": "1", "Price": "42"},
        ("products.edit",),
        lambda s: [
            p["product_price"] for p in search(s.admin, "PRODUCTS", "Product Name", "Jira Software")
        ],
        ["42"],
    ),
    Case(
        "updateOrCreateEntity-create-company",
        {"command": "updateOrCreateEntity", "tableName": "CLIENTS", "id": "", "org_name": "Uno"},
        ("companies.add",),
        lambda s: s.admin("getcompanybyname", companyName="Uno")["name"],
        "Uno",
    ),
    Case(
        "updateOrCreateEntity-update-contact",
        {
            "command": "updateOrCreateEntity",
            "tableName": "Contacts",
            "id": "6",
            "E-mail": "ted@rights.example",
        },
        ("contacts.edit",),
        lambda s: s.admin("getcontactbyname", contactId="6")["contact_email"],
        "ted@rights.example",
    ),
    Case(
        "updateOrCreateEntity-create-transaction",
        {"command": "updateOrCreateEntity", "tableName": "TRANSACTIONS", "id": "", "Sale": "S-9"},
        ("transactions.add",),
        lambda s: len(s.admin("transactionslist", saleVal="S-9")["transactions"]),
        1,
    ),
    Case(
        "updateOrCreateEntity-update-custom",
        {"command": "updateOrCreateEntity", "tableName": "PROJECTS", "id": "1", "Name": "Gemini"},
        ("projects.edit",),
        lambda s: names(search(s.admin, "PROJECTS", "Name", "Gemini")),
        ["Gemini"],
    ),
    # The form endpoint: updateOrCreateEntity with `nomId`.
    Case(
        "updateNom-create",
        {"nomId": "", "tableName": "PRODUCTS", "clients-product_name": "Nom Kit"},
        ("products.add",),
        lambda s: names(search(s.admin, "PRODUCTS", "Product Name", "Nom Kit")),
        ["Nom Kit"],
        path=UPDATE_NOM,
    ),
    Case(
        "updateNom-update",
        {"nomId": "2", "tableName": "PRODUCTS", "clients-product_vendor": "Rights Inc"},
        ("products.edit",),
        lambda s: names(search(s.admin, "PRODUCTS", "Vendor", "Rights Inc")),
        ["Confluence"],
        path=UPDATE_NOM,
    ),
    # Transactions.
    Case(
        "transactionslist",
        {"command": "transactionslist", "saleVal": "SALES-1"},
        ("transactions.view",),
        lambda s: [t["transaction_comment"] for t in s.reply["transactions"]],
        ["Annual licence", "Renewal"],
    ),
    # Jira: the main menu is all they need.
    Case(
        "sync",
        {"command": "sync"},
        (),
        lambda s: sync_jobs(s.db),
        ["queued"],
    ),
    Case(
        "setcrmproperties",
        {
            "command": "setcrmproperties",
            "issueKey": "SALES-2",
            "customFieldId": "customfield_10100",
            "value": "(6)",
        },
        (),
        lambda s: s.admin("getContactEmail", issueKey="SALES-2", customFieldId="customfield_10100")[
            "email"
        ],
        "ted@oceanic.example",
    ),
    Case(
        "getContactEmail",
        {"command": "getContactEmail", "issueKey": "SALES-1", "customFieldId": "customfield_10100"},
        (),
        lambda s: sorted(s.reply["emails"]),
        ["bob@teamlead.example", "ted@oceanic.example"],
    ),
]

SUCCESSES = [pytest.param(case, id=case.name) for case in CASES]
DENIALS = [
    pytest.param(case, right, id=f"{case.name}-without-{right}")
    for case in CASES
    for right in ("main-menu", *case.needs)
]
# How a right is held is resolved once for every command, so a group's grants and an
# administrator's rights are proved on one command of each kind of right, not on all.
HELD_ELSEWHERE = [
    pytest.param(case, holder, id=f"{case.name}-{holder}")
    for case in CASES
    if case.name
    in {
        "getcompanies",
        "addcontact-new-company",
        "removedictionaryvalue",
        "updateOrCreateEntity-update-custom",
        "transactionslist",
        "updateNom-create",
        "sync",
    }
    for holder in ("group", "admin")
]


def define(db: Database, work: Callable[[Transaction], object]) -> None:
    """Administer the instance the way the CLI does."""
    run(db, work, write=True)


def add_clerk(db: Database, rights: tuple[str, ...], *, holder: str = "user") -> None:
    """The user CLERK, holding `rights` through `holder`: "user" (granted to CLERK),
    "group" (granted to GROUP, of which CLERK is a member) or "admin" (no grant at all)."""

    def work(tx: Transaction) -> None:
        users.add_user(tx, CLERK, is_admin=holder == "admin", actor=CLI)
        if holder == "group":
            users.add_group(tx, GROUP, actor=CLI)
            users.add_members(tx, GROUP, [CLERK], actor=CLI)
        for right in rights if holder != "admin" else ():
            users.grant(tx, right, **grantee(holder), actor=CLI)

    define(db, work)


def grantee(holder: str) -> dict[str, str]:
    return {"group": GROUP} if holder == "group" else {"user": CLERK}


def send(client: Legacy, case: Case) -> dict[str, Any]:
    query = urlencode({**case.params, "apiKey": client.key, "userName": client.user})
    return client.get(query, path=case.path)


def denied(right: str) -> dict[str, Any]:
    return {"success": False, "details": f"Permission denied: {RIGHT_NAMES[right]}"}


@pytest.fixture(autouse=True)
def projects(db: Database) -> None:
    """A custom directory, "Projects" (code PROJECTS), holding one entry: Apollo (id 1)."""

    def work(tx: Transaction) -> None:
        directory = directories.add_directory(tx, "PROJECTS", "Projects", actor=CLI)
        name = tx.schema.name_field(directory)
        entries.create_entry(tx, directory, [(name, RawValue("Apollo"))], actor=CLI)

    define(db, work)


@pytest.fixture
def clerk(server: Server) -> Iterator[Legacy]:
    client = Legacy(server.client(), user=CLERK)
    yield client
    client.close()


@pytest.fixture
def cli(demo_url: str) -> Iterator[Database]:
    """The same database opened apart from the server, as the CLI in another process does."""
    database = open_database(demo_url, sqlite_synchronous="NORMAL")
    yield database
    database.dispose()


@pytest.mark.parametrize(("case", "missing"), DENIALS)
def test_lacking_one_right_is_denied_and_changes_nothing(
    case: Case, missing: str, clerk: Legacy, db: Database
) -> None:
    add_clerk(db, tuple(r for r in ("main-menu", *case.needs) if r != missing))
    before = dump(db)
    assert send(clerk, case) == denied(missing)
    assert dump(db) == before


@pytest.mark.parametrize("case", SUCCESSES)
def test_with_the_rights_it_succeeds(
    case: Case, clerk: Legacy, legacy: Legacy, db: Database
) -> None:
    add_clerk(db, ("main-menu", *case.needs))
    reply = send(clerk, case)
    assert reply["success"] is True, reply
    assert case.observe(After(reply, legacy, db)) == case.expected


@pytest.mark.parametrize(("case", "holder"), HELD_ELSEWHERE)
def test_rights_of_a_group_and_of_an_administrator_work(
    case: Case, holder: str, clerk: Legacy, legacy: Legacy, db: Database
) -> None:
    add_clerk(db, ("main-menu", *case.needs), holder=holder)
    reply = send(clerk, case)
    assert reply["success"] is True, reply
    assert case.observe(After(reply, legacy, db)) == case.expected


def test_a_disabled_user_is_not_found(clerk: Legacy, db: Database, cli: Database) -> None:
    add_clerk(db, ("main-menu", "companies.view", "companies.add"))
    assert clerk("getcompanies")["success"] is True
    define(cli, lambda tx: users.set_user_active(tx, CLERK, False, actor=CLI))
    before = dump(db)
    not_found = {"success": False, "details": "User not found"}
    assert clerk("getcompanies") == not_found
    assert clerk("addcompany", **{"clients-org_name": "Ghost Co"}) == not_found
    assert dump(db) == before
    define(cli, lambda tx: users.set_user_active(tx, CLERK, True, actor=CLI))
    assert clerk("addcompany", **{"clients-org_name": "Ghost Co"})["success"] is True


@pytest.mark.parametrize("holder", ["user", "group"])
def test_a_revoked_right_stops_working_on_the_next_call(
    holder: str, clerk: Legacy, db: Database, cli: Database
) -> None:
    # The server caches each user's rights; a change made by another process must reach it.
    add_clerk(db, ("main-menu", "companies.view"), holder=holder)
    assert clerk("getcompanybyname", companyId="2")["name"] == "Teamlead"
    define(cli, lambda tx: users.revoke(tx, "companies.view", **grantee(holder), actor=CLI))
    assert clerk("getcompanybyname", companyId="2") == denied("companies.view")
    define(cli, lambda tx: users.grant(tx, "companies.view", **grantee(holder), actor=CLI))
    assert clerk("getcompanybyname", companyId="2")["name"] == "Teamlead"


def test_no_other_right_stands_in_for_a_directory_right(clerk: Legacy, db: Database) -> None:
    others = ("companies.all", "products.all", "transactions.all", "projects.all")
    add_clerk(db, ("main-menu", "dictionaries.add", "dictionaries.remove", *others))
    before = dump(db)
    assert clerk("getcontacts") == denied("contacts.view")
    assert clerk("addcontact", contact_name="Zed") == denied("contacts.add")
    assert clerk("editcontact", contactId="6", contact_phone="1") == denied("contacts.edit")
    assert clerk("setcontact", contactId="6", companyId="2") == denied("contacts.edit")
    assert clerk("deletecontact", contactId="6") == denied("contacts.remove")
    assert clerk("searchentities", tableName="CONTACTS") == denied("contacts.view")
    assert dump(db) == before


def test_the_demo_users_hold_the_rights_the_demo_gives_them(server: Server) -> None:
    # manager holds the Sales group's rights; viewer holds read rights of its own.
    manager = Legacy(server.client(), user="Manager")
    viewer = Legacy(server.client(), user="viewer")
    try:
        assert manager("addcompany", **{"clients-org_name": "Sold Co"})["success"] is True
        assert manager("searchentities", tableName="PRODUCTS")["success"] is True
        assert manager("updateOrCreateEntity", tableName="PRODUCTS", id="", Vendor="X") == (
            denied("products.add")
        )
        assert manager("removedictionaryvalue", dictionaryName="Colors", valuetoremove="Red") == (
            denied("dictionaries.remove")
        )
        assert viewer("getcompanybyname", companyName="Sold Co")["name"] == "Sold Co"
        assert viewer("addcompany", **{"clients-org_name": "Viewed Co"}) == denied("companies.add")
    finally:
        manager.close()
        viewer.close()


@pytest.mark.parametrize(
    ("command", "right"),
    [("adddictionaryvalue", "dictionaries.add"), ("removedictionaryvalue", "dictionaries.remove")],
)
def test_a_dictionary_command_checks_its_right_before_its_parameters(
    command: str, right: str, clerk: Legacy, db: Database
) -> None:
    # As every command does: a caller without the right learns nothing about the call.
    add_clerk(db, ("main-menu",))
    assert clerk(command) == denied(right)
    define(db, lambda tx: users.grant(tx, right, user=CLERK, actor=CLI))
    assert clerk(command) == {"success": False, "details": "Parameter dictionaryName is required"}
